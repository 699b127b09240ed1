import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { MatrixError, badJson, badRequest, missingParam, notFound } from '../errors.js';
import { isObject } from '../matrix/event-validation.js';
import { parseUserId } from '../matrix/ids.js';
import type { Db } from '../storage/database.js';
import * as profiles from '../storage/stores/profiles.js';
import { noticeRoomsOf } from '../storage/stores/server-notices.js';
import { getUser } from '../storage/stores/users.js';
import { isMineId, type AccountDataService } from './account-data.js';
import type { AccountsService } from './accounts.js';
import type { Requester } from './auth.js';
import type { RoomsService } from './rooms/rooms.js';

/** The room tag that marks a user's server-notices room (clients show it apart). */
export const SERVER_NOTICE_TAG = 'm.server_notice';
/** How long a PUT's transaction ID answers the first response (Synapse's transaction cache). */
const TXN_TTL_MS = 30 * 60_000;

type NoticesConfig = NonNullable<Config['serverNotices']>;

/** The server acting as a user: no device, token, rate limit or shadow-ban. */
const actingAs = (userId: string): Requester => ({ userId, deviceId: null, tokenId: 0, isGuest: false, admin: false, shadowBanned: false, authenticatedBy: null });

/**
 * Server notices (Synapse's `server_notices`): messages from a system user into one private room
 * per user. The system user's account (no password, so nobody can log in as it; its name can no
 * longer be registered) is created on first use with the configured display name and avatar. The
 * room is created by the system user with the user invited (joined too with `auto_join`), members
 * other than the system user at power -10 so they cannot speak, and tagged `m.server_notice` in
 * the user's room tags. It is reused for as long as the user is invited or joined and the
 * system user joined; otherwise a new one is made, as Synapse does.
 */
export class ServerNoticesService {
  /** Per-user queue: two first notices to one user must not make two rooms. */
  private readonly perUser = new Map<string, Promise<unknown>>();
  /** `PUT …/send_server_notice/{txnId}` answers, per access token and transaction ID. */
  private readonly txns = new Map<string, { at: number; result: Promise<string> }>();

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly accounts: AccountsService,
    /** A RoomsService without rate limits or shadow-ban: these events are the server's. */
    private readonly rooms: RoomsService,
    private readonly log: Logger,
    /** Room tags: the notices room is tagged `m.server_notice`. */
    private readonly accountData: AccountDataService,
  ) {}

  /** POST/PUT /_synapse/admin/v1/send_server_notice[/{txnId}]: the notice's event ID. */
  async send(requester: Requester, body: Record<string, unknown>, txnId?: string): Promise<string> {
    if (txnId === undefined) return this.sendNow(body);
    const now = Date.now();
    for (const [k, v] of this.txns) if (now - v.at > TXN_TTL_MS) this.txns.delete(k);
    const key = `${requester.tokenId}\u0000${txnId}`;
    const cached = this.txns.get(key);
    if (cached) return cached.result;
    const result = this.sendNow(body);
    this.txns.set(key, { at: now, result });
    // A failed attempt is not remembered: the client may retry with the same ID.
    result.catch(() => this.txns.delete(key));
    return result;
  }

  private async sendNow(body: Record<string, unknown>): Promise<string> {
    const absent = ['user_id', 'content'].filter((k) => !(k in body));
    if (absent.length) throw missingParam(`Missing params: [${absent.map((k) => `'${k}'`).join(', ')}]`);
    const type = body.type ?? 'm.room.message';
    const stateKey = body.state_key;
    const cfg = this.config.serverNotices;
    if (!cfg) throw badRequest('Server notices are not enabled on this server');
    if (typeof body.user_id !== 'string') throw badJson("'user_id' must be a string");
    const userId = parseUserId(body.user_id).full;
    if (!isMineId(userId, this.config.serverName)) throw badRequest('Server notices can only be sent to local users');
    if (!(await getUser(this.db, userId))) throw notFound('User not found');
    if (!isObject(body.content)) throw badJson("'content' must be a JSON object");
    if (typeof type !== 'string') throw badJson("'type' must be a string");
    if (stateKey !== undefined && stateKey !== null && typeof stateKey !== 'string') throw badJson("'state_key' must be a string");
    const content = body.content;
    return this.serialised(userId, async () => {
      const roomId = await this.noticeRoomFor(cfg, userId);
      return this.rooms.creator.send(roomId, cfg.systemUserId, { type, content, stateKey: typeof stateKey === 'string' ? stateKey : undefined });
    });
  }

  private serialised<T>(userId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.perUser.get(userId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.perUser.set(userId, tail);
    void tail.then(() => {
      if (this.perUser.get(userId) === tail) this.perUser.delete(userId);
    });
    return run;
  }

  /** The user's notices room, created (and tagged) when there is none. */
  private async noticeRoomFor(cfg: NoticesConfig, userId: string): Promise<string> {
    await this.ensureSystemUser(cfg);
    const existing = (await noticeRoomsOf(this.db, userId, cfg.systemUserId))[0];
    if (existing) {
      await this.refreshRoom(cfg, existing);
      return existing;
    }
    const system = actingAs(cfg.systemUserId);
    const request: Record<string, unknown> = {
      preset: 'private_chat',
      name: cfg.roomName,
      invite: [userId],
      power_level_content_override: { users_default: -10 },
    };
    if (cfg.roomTopic !== null) request.topic = cfg.roomTopic;
    if (cfg.roomAvatarUrl !== null) request.initial_state = [{ type: 'm.room.avatar', state_key: '', content: { url: cfg.roomAvatarUrl } }];
    const { room_id: roomId } = await this.rooms.createRoom(system, request);
    if (cfg.autoJoin) await this.rooms.changeMembership(actingAs(userId), roomId, 'join', userId);
    await this.tagRoom(userId, roomId);
    this.log.info({ userId, roomId }, 'created the server notices room');
    return roomId;
  }

  /**
   * The system user's account and profile, as configured. Made on first use; a configured display
   * name or avatar that changed since is written to the profile.
   */
  private async ensureSystemUser(cfg: NoticesConfig): Promise<void> {
    const localpart = parseUserId(cfg.systemUserId).localpart;
    if (!(await getUser(this.db, cfg.systemUserId))) {
      try {
        await this.accounts.register({ localpart, password: null, displayname: cfg.displayName ?? localpart, inhibitLogin: true });
      } catch (e) {
        // Made by a concurrent first notice to another user: carry on with it.
        if (!(e instanceof MatrixError && e.errcode === 'M_USER_IN_USE')) throw e;
      }
    }
    const profile = await profiles.getProfile(this.db, cfg.systemUserId);
    if (cfg.displayName !== null && profile?.displayname !== cfg.displayName) await profiles.setDisplayname(this.db, cfg.systemUserId, cfg.displayName);
    if (cfg.avatarUrl !== null && profile?.avatar_url !== cfg.avatarUrl) await profiles.setAvatarUrl(this.db, cfg.systemUserId, cfg.avatarUrl);
  }

  /** An existing room follows the configuration: the system user's name and avatar, the room's name, topic and avatar. */
  private async refreshRoom(cfg: NoticesConfig, roomId: string): Promise<void> {
    const actor = await this.rooms.creator.actors.get(roomId);
    if (!actor) return;
    const system = cfg.systemUserId;
    const member = actor.get('m.room.member', system)?.content ?? {};
    const wanted: Record<string, unknown> = { membership: 'join' };
    const profile = await profiles.getProfile(this.db, system);
    if (profile?.displayname != null) wanted.displayname = profile.displayname;
    if (profile?.avatar_url != null) wanted.avatar_url = profile.avatar_url;
    if (member.displayname !== wanted.displayname || member.avatar_url !== wanted.avatar_url) {
      await this.rooms.creator.send(roomId, system, { type: 'm.room.member', stateKey: system, content: wanted });
    }
    const state: Array<[string, string, unknown, Record<string, unknown>]> = [['m.room.name', 'name', cfg.roomName, { name: cfg.roomName }]];
    if (cfg.roomTopic !== null) state.push(['m.room.topic', 'topic', cfg.roomTopic, { topic: cfg.roomTopic }]);
    if (cfg.roomAvatarUrl !== null) state.push(['m.room.avatar', 'url', cfg.roomAvatarUrl, { url: cfg.roomAvatarUrl }]);
    for (const [type, field, value, content] of state) {
      if (actor.get(type, '')?.content[field] !== value) await this.rooms.creator.send(roomId, system, { type, stateKey: '', content });
    }
  }

  /** Tags the user's notices room `m.server_notice` (room_tags, as Synapse), keeping their other tags. */
  private async tagRoom(userId: string, roomId: string): Promise<void> {
    await this.accountData.putTagInternal(userId, roomId, SERVER_NOTICE_TAG, {});
  }
}
