import type { Logger } from 'pino';
import type { Db } from '../../storage/database.js';
import { roomsWithMembership } from '../../storage/stores/memberships.js';
import { getProfile } from '../../storage/stores/profiles.js';
import type { UserRoomHooks } from '../user-room-hooks.js';
import type { EventCreator } from './event-creator.js';

/** The membership changed between the listing and the send: nothing to do in that room. */
class Moved extends Error {}

/**
 * Membership events the server sends on a user's behalf when their account changes, as Synapse
 * does: on deactivation a leave in every room they are joined to, invited to or knocking on
 * (rejecting the invites, withdrawing the knocks); on a profile change a new join event carrying
 * the new displayname and avatar_url in every joined room. Each room is its own send through the
 * EventCreator (never inside another transaction); a room whose send fails is logged and skipped,
 * so one broken room does not keep the user in all the others. Not rate limited, not shadow-banned.
 */
export class MembershipEffects implements UserRoomHooks {
  constructor(
    private readonly db: Db,
    private readonly creator: EventCreator,
    private readonly log: Logger,
  ) {}

  // Both run after the account change has committed and answered for: they log, never throw.

  async afterDeactivation(userId: string): Promise<void> {
    await this.guard(userId, 'deactivation', async () => {
      const rooms = await roomsWithMembership(this.db, userId, ['join', 'invite', 'knock']);
      for (const { roomId } of rooms) {
        await this.sendMember(roomId, userId, { membership: 'leave' }, ['join', 'invite', 'knock'], 'leaving a room on deactivation');
      }
    });
  }

  async afterProfileChange(userId: string): Promise<void> {
    await this.guard(userId, 'profile change', async () => {
      const profile = await getProfile(this.db, userId);
      const content: Record<string, unknown> = { membership: 'join' };
      if (profile?.displayname != null) content.displayname = profile.displayname;
      if (profile?.avatar_url != null) content.avatar_url = profile.avatar_url;
      for (const { roomId } of await roomsWithMembership(this.db, userId, ['join'])) {
        await this.sendMember(roomId, userId, { ...content }, ['join'], 'updating the member event after a profile change');
      }
    });
  }

  private async guard(userId: string, what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.log.error({ err, userId }, `room effects of a ${what} failed`);
    }
  }

  /** Sends the user's own member event, only while their membership is still one of `from`. */
  private async sendMember(roomId: string, userId: string, content: Record<string, unknown>, from: string[], what: string): Promise<void> {
    try {
      await this.creator.send(roomId, userId, { type: 'm.room.member', stateKey: userId, content }, {
        precheck: (actor) => {
          if (!from.includes(actor.membershipOf(userId) ?? '')) throw new Moved();
        },
      });
    } catch (err) {
      if (err instanceof Moved) return;
      this.log.warn({ err, roomId, userId }, `${what} failed; carrying on with the other rooms`);
    }
  }
}
