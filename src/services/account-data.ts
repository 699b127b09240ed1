import { MatrixError, badRequest, forbidden, notFound } from '../errors.js';
import { parseServerName } from '../matrix/server-name.js';
import { afterSettle, announce, withTransaction, type Db, type Tx } from '../storage/database.js';
import * as store from '../storage/stores/account-data.js';
import * as users from '../storage/stores/users.js';
import type { Requester } from './auth.js';
import { StreamPositions } from './rooms/stream-positions.js';

export type JsonObject = Record<string, unknown>;

/** Global and per-room account data of a user, as the admin API shows it (catalogue §3.11). */
export interface AccountDataDump {
  global: Record<string, unknown>;
  rooms: Record<string, Record<string, unknown>>;
}

/** Synapse's RoomID.is_valid: `!localpart:server_name` with a valid server name. */
export function isValidRoomId(s: string): boolean {
  if (!s.startsWith('!')) return false;
  const colon = s.indexOf(':');
  return colon >= 0 && parseServerName(s.slice(colon + 1)) !== null;
}

/** Types that have their own endpoints (read markers, push rules) and cannot be written here. */
function checkWritableType(type: string): void {
  if (type === 'm.fully_read') {
    throw new MatrixError(405, 'M_BAD_JSON', 'Cannot set m.fully_read through this API. Use /rooms/!roomId:server.name/read_markers');
  }
  if (type === 'm.push_rules') throw new MatrixError(405, 'M_BAD_JSON', 'Cannot set m.push_rules through this API. Use /pushrules');
}

/** An account-data event as /sync shows it. */
export interface AccountDataEvent {
  type: string;
  content: unknown;
}

/** The room tag event type: built from `room_tags`, not stored as account data. */
export const TAG_TYPE = 'm.tag';

const parseObject = (json: string): JsonObject => {
  try {
    const v: unknown = JSON.parse(json);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : {};
  } catch {
    return {};
  }
};

/**
 * Account data (spec "Client Config"): per-user JSON blobs, global or scoped to a room, and room
 * tags (spec "Room Tagging"), which share the account-data stream as in Synapse. Positions come
 * from an in-memory stream allocated inside each writing transaction and published in order, so a
 * reader that saw position n never misses a lower one that commits later; commits are announced
 * on topic 'account_data' keyed by the user ID.
 */
export class AccountDataService {
  private constructor(
    private readonly db: Db,
    private readonly serverName: string,
    private readonly positions: StreamPositions,
  ) {}

  static async open(db: Db, serverName: string): Promise<AccountDataService> {
    return new AccountDataService(db, serverName, new StreamPositions(await store.maxStreamId(db)));
  }

  /** The account-data position readers may see. */
  get position(): number {
    return this.positions.current;
  }

  /** Resolves once every position allocated so far is visible to readers (/sync waits on it before sleeping). */
  visible(): Promise<void> {
    return this.positions.caughtUp();
  }

  /** Resolves once `position` is visible to readers (tests, and writers that must answer after it). */
  reached(position: number): Promise<void> {
    return this.positions.reached(position);
  }

  /**
   * Runs `write` in a transaction at a fresh stream position, announced for `userId` once it
   * commits. The position is released whatever happens (a retried attempt takes a new one).
   */
  private async atNextPosition(userId: string, write: (tx: Tx, streamId: number) => Promise<void>): Promise<number> {
    return withTransaction(this.db, async (tx) => {
      const [streamId] = this.positions.allocate(1) as [number];
      afterSettle(tx, () => this.positions.finish([streamId]));
      await write(tx, streamId);
      announce(tx, 'account_data', [userId]);
      return streamId;
    });
  }

  /**
   * The checks Synapse makes before it reads the body of a PUT: the caller's own data only, a
   * valid room ID, a type that may be set here.
   */
  checkWrite(requester: Requester, userId: string, type: string, roomId?: string): void {
    if (userId !== requester.userId) throw forbidden('Cannot add account data for other users.');
    if (roomId !== undefined && !isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `${roomId} is not a valid room ID`);
    checkWritableType(type);
  }

  /** Stores `content` under `type` (globally, or for `roomId`), at the next stream position. */
  async put(requester: Requester, userId: string, type: string, content: JsonObject, roomId?: string): Promise<void> {
    this.checkWrite(requester, userId, type, roomId);
    await this.putInternal(userId, type, content, roomId);
  }

  /** For internal writers (read markers' m.fully_read, server notices' tags): no type check. */
  async putInternal(userId: string, type: string, content: object, roomId?: string): Promise<void> {
    const json = JSON.stringify(content);
    await this.atNextPosition(userId, async (tx, streamId) => {
      if (roomId === undefined) await store.putGlobal(tx, userId, type, json, streamId);
      else await store.putRoom(tx, userId, roomId, type, json, streamId);
    });
  }

  /**
   * Global and per-room account data of userId changed in (from, to] (from = 0: all of it),
   * including `m.tag` per room built from room_tags ({type:'m.tag', content:{tags:{…}}}; a room
   * whose tags were all removed yields {tags:{}}).
   */
  async accountDataForSync(
    userId: string,
    from: number,
    to: number,
  ): Promise<{ global: AccountDataEvent[]; rooms: Map<string, AccountDataEvent[]> }> {
    const rooms = new Map<string, AccountDataEvent[]>();
    if (to <= from) return { global: [], rooms };
    const [global, byRoom, tagRooms] = await Promise.all([
      store.globalChanged(this.db, userId, from, to),
      store.roomChanged(this.db, userId, from, to),
      store.tagRoomsChanged(this.db, userId, from, to),
    ]);
    // Tags: every room whose tags changed in range, with its whole tag set; on an initial sync
    // (from = 0) only rooms that still have some.
    const tags = new Map<string, Record<string, unknown>>();
    if (tagRooms.length > 0) {
      for (const r of tagRooms) tags.set(r, {});
      for (const row of await store.tagsOf(this.db, userId)) {
        const t = tags.get(row.room_id);
        if (t) t[row.tag] = parseObject(row.content);
      }
      if (from <= 0) for (const [r, t] of tags) if (Object.keys(t).length === 0) tags.delete(r);
    }
    for (const row of byRoom) {
      // m.tag comes from room_tags (Synapse keeps tags apart from room account data).
      if (row.account_data_type === TAG_TYPE && tags.has(row.room_id)) continue;
      let list = rooms.get(row.room_id);
      if (!list) rooms.set(row.room_id, (list = []));
      list.push({ type: row.account_data_type, content: parseObject(row.content) });
    }
    for (const [roomId, t] of tags) {
      let list = rooms.get(roomId);
      if (!list) rooms.set(roomId, (list = []));
      list.push({ type: TAG_TYPE, content: { tags: t } });
    }
    return { global: global.map((r) => ({ type: r.account_data_type, content: parseObject(r.content) })), rooms };
  }

  // ---- Room tags (spec "Room Tagging"): the caller's own only, any room ID, as Synapse. ----

  /** GET /user/{userId}/rooms/{roomId}/tags: `{tags: {tag: content}}`. */
  async getTags(requester: Requester, userId: string, roomId: string): Promise<{ tags: Record<string, unknown> }> {
    if (userId !== requester.userId) throw forbidden('Cannot get tags for other users.');
    const tags: Record<string, unknown> = {};
    for (const row of await store.tagsOf(this.db, userId, roomId)) tags[row.tag] = parseObject(row.content);
    return { tags };
  }

  /** The caller's own tags only (checked before the body is read). */
  checkTagWrite(requester: Requester, userId: string): void {
    if (userId !== requester.userId) throw forbidden('Cannot add tags for other users.');
  }

  /** PUT /user/{userId}/rooms/{roomId}/tags/{tag}: the body (e.g. `{order}`) is the tag's content. */
  async putTag(requester: Requester, userId: string, roomId: string, tag: string, content: JsonObject): Promise<void> {
    this.checkTagWrite(requester, userId);
    await this.putTagInternal(userId, roomId, tag, content);
  }

  /** Adds or replaces a tag without access checks (server notices tag their room `m.server_notice`). */
  async putTagInternal(userId: string, roomId: string, tag: string, content: object): Promise<void> {
    const json = JSON.stringify(content);
    await this.atNextPosition(userId, async (tx, streamId) => {
      await store.putTag(tx, userId, roomId, tag, json);
      await store.bumpTagRevision(tx, userId, roomId, streamId);
    });
  }

  /** DELETE /user/{userId}/rooms/{roomId}/tags/{tag}: removing an absent tag succeeds (as Synapse). */
  async deleteTag(requester: Requester, userId: string, roomId: string, tag: string): Promise<void> {
    this.checkTagWrite(requester, userId);
    await this.atNextPosition(userId, async (tx, streamId) => {
      await store.deleteTag(tx, userId, roomId, tag);
      await store.bumpTagRevision(tx, userId, roomId, streamId);
    });
  }

  async get(requester: Requester, userId: string, type: string, roomId?: string): Promise<unknown> {
    if (userId !== requester.userId) throw forbidden('Cannot get account data for other users.');
    if (roomId === undefined) {
      const content = await store.getGlobal(this.db, userId, type);
      if (content === undefined) throw notFound('Account data not found');
      return JSON.parse(content);
    }
    if (!isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `${roomId} is not a valid room ID`);
    const content = await store.getRoom(this.db, userId, roomId, type);
    if (content === undefined) throw notFound('Room account data not found');
    return JSON.parse(content);
  }

  /** GET /_synapse/admin/v1/users/<user_id>/accountdata. */
  async dump(userId: string): Promise<AccountDataDump> {
    if (!isMineId(userId, this.serverName)) throw badRequest('Can only look up local users');
    if (!(await users.getUser(this.db, userId))) throw notFound('User not found');
    const [global, byRoom] = await Promise.all([store.listGlobal(this.db, userId), store.listRoom(this.db, userId)]);
    const out: AccountDataDump = { global: {}, rooms: {} };
    for (const row of global) out.global[row.account_data_type] = JSON.parse(row.content);
    for (const row of byRoom) (out.rooms[row.room_id] ??= {})[row.account_data_type] = JSON.parse(row.content);
    return out;
  }
}

/**
 * Synapse's `is_mine_id`: the text after the first ':' is our server name. No other parsing, so
 * a malformed ID is simply "not local".
 */
export function isMineId(userId: string, serverName: string): boolean {
  const colon = userId.indexOf(':');
  return colon >= 0 && userId.slice(colon + 1) === serverName;
}
