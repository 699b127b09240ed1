import { MatrixError, badRequest, forbidden, notFound } from '../errors.js';
import { parseServerName } from '../matrix/server-name.js';
import { withTransaction, type Db } from '../storage/database.js';
import * as store from '../storage/stores/account-data.js';
import * as users from '../storage/stores/users.js';
import type { Requester } from './auth.js';

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

/** Account data (spec "Client Config"): per-user JSON blobs, global or scoped to a room. */
export class AccountDataService {
  constructor(
    private readonly db: Db,
    private readonly serverName: string,
  ) {}

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
    const json = JSON.stringify(content);
    await withTransaction(this.db, async (tx) => {
      const streamId = await store.nextStreamId(tx);
      if (roomId === undefined) await store.putGlobal(tx, userId, type, json, streamId);
      else await store.putRoom(tx, userId, roomId, type, json, streamId);
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
