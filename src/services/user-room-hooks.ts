/**
 * What an account change does in the user's rooms, run after the change has committed. The room
 * pipeline implements it (src/services/rooms/membership-effects.ts); accounts and profiles call
 * it through `AccountsService.roomHooks`, set once in src/context.ts, because they are built
 * before the rooms and must not depend on them.
 */
export interface UserRoomHooks {
  /** Deactivation: leave every joined or knocked room and reject every pending invite. */
  afterDeactivation(userId: string): Promise<void>;
  /** A new displayname or avatar_url: a fresh join event in every joined room. */
  afterProfileChange(userId: string): Promise<void>;
}
