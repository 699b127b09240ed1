import { MatrixError, badJson, missingParam, notFound } from '../errors.js';
import { withTransaction, type Db } from '../storage/database.js';
import { isUniqueViolation } from '../storage/dialect.js';
import * as store from '../storage/stores/key-backup.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

export interface BackupKey {
  first_message_index: number;
  forwarded_count: number;
  is_verified: boolean;
  session_data: Json;
}

/** Versions are decimal integers; anything else names no backup. */
const versionNumber = (v: string): number | undefined => (/^\d{1,15}$/.test(v) ? Number(v) : undefined);
const unknownVersion = () => notFound('Unknown backup version');

/**
 * Whether an uploaded session key replaces the stored one (spec, "Server-side key backups"):
 * a verified key beats an unverified one; then the lower first_message_index; then the lower
 * forwarded_count.
 */
export function shouldReplace(stored: BackupKey | undefined, incoming: BackupKey): boolean {
  if (!stored) return true;
  if (incoming.is_verified !== stored.is_verified) return incoming.is_verified;
  if (incoming.first_message_index !== stored.first_message_index) return incoming.first_message_index < stored.first_message_index;
  return incoming.forwarded_count < stored.forwarded_count;
}

const toKey = (r: store.RoomKeyRow): BackupKey => ({
  first_message_index: Number(r.first_message_index ?? 0),
  forwarded_count: Number(r.forwarded_count ?? 0),
  is_verified: Boolean(r.is_verified),
  session_data: JSON.parse(r.session_data) as Json,
});

function checkKey(v: unknown, where: string): BackupKey {
  if (!isObject(v)) throw badJson(`${where} must be a JSON object`);
  if (!isInt(v.first_message_index) || v.first_message_index < 0) throw badJson(`${where}: first_message_index must be a non-negative integer`);
  if (!isInt(v.forwarded_count) || v.forwarded_count < 0) throw badJson(`${where}: forwarded_count must be a non-negative integer`);
  if (typeof v.is_verified !== 'boolean') throw badJson(`${where}: is_verified must be a boolean`);
  if (!isObject(v.session_data)) throw badJson(`${where}: session_data must be a JSON object`);
  return { first_message_index: v.first_message_index, forwarded_count: v.forwarded_count, is_verified: v.is_verified, session_data: v.session_data };
}

/**
 * Server-side key backups (Client-Server API "Server-side key backups") in Synapse's
 * `e2e_room_keys_versions` and `e2e_room_keys`. Session data is opaque (encrypted by the client);
 * the server only keeps the best copy of each session and an etag that moves when keys change.
 */
export class KeyBackupService {
  constructor(private readonly db: Db) {}

  async createVersion(userId: string, body: Json): Promise<{ version: string }> {
    const { algorithm, authData } = checkVersionBody(body);
    const version = await withTransaction(this.db, (tx) => store.createVersion(tx, userId, algorithm, authData));
    return { version: String(version) };
  }

  /** The current version, or the one named (404 "No backup found" / "Unknown backup version"). */
  async getVersion(userId: string, version?: string): Promise<Json> {
    let row: store.BackupVersionRow | undefined;
    if (version === undefined) {
      row = await store.currentVersion(this.db, userId);
      if (!row) throw notFound('No backup found');
    } else {
      const n = versionNumber(version);
      row = n === undefined ? undefined : await store.getVersion(this.db, userId, n);
      if (!row || row.deleted) throw unknownVersion();
    }
    return {
      algorithm: row.algorithm,
      auth_data: JSON.parse(row.auth_data) as Json,
      version: String(row.version),
      etag: String(row.etag ?? 0),
      count: await store.countKeys(this.db, userId, row.version),
    };
  }

  /** Replaces a version's auth_data; its algorithm and (if given) version must match. */
  async updateVersion(userId: string, version: string, body: Json): Promise<void> {
    const { algorithm, authData } = checkVersionBody(body);
    const n = versionNumber(version);
    if (body.version !== undefined && body.version !== version) throw new MatrixError(400, 'M_INVALID_PARAM', 'Version in body does not match');
    await withTransaction(this.db, async (tx) => {
      const row = n === undefined ? undefined : await store.getVersion(tx, userId, n);
      if (!row || row.deleted) throw unknownVersion();
      if (row.algorithm !== algorithm) throw new MatrixError(400, 'M_INVALID_PARAM', 'Algorithm does not match');
      await store.setAuthData(tx, userId, row.version, authData);
    });
  }

  /** Deletes a version and its keys; deleting it again succeeds (spec), an unknown one is 404. */
  async deleteVersion(userId: string, version?: string): Promise<void> {
    await withTransaction(this.db, async (tx) => {
      let row: store.BackupVersionRow | undefined;
      if (version === undefined) row = await store.currentVersion(tx, userId);
      else {
        const n = versionNumber(version);
        row = n === undefined ? undefined : await store.getVersion(tx, userId, n);
      }
      if (!row) throw unknownVersion();
      await store.deleteKeys(tx, userId, row.version);
      await store.markDeleted(tx, userId, row.version);
    });
  }

  /**
   * Stores keys in the current backup. A `version` other than the current one is 403
   * M_WRONG_ROOM_KEYS_VERSION with `current_version` (404 when it names no backup at all).
   */
  async putKeys(userId: string, version: string | undefined, rooms: Record<string, Record<string, unknown>>): Promise<{ etag: string; count: number }> {
    if (version === undefined) throw missingParam("Missing string query parameter 'version'");
    const parsed: Array<{ roomId: string; sessionId: string; key: BackupKey }> = [];
    for (const [roomId, sessions] of Object.entries(rooms)) {
      for (const [sessionId, key] of Object.entries(sessions)) parsed.push({ roomId, sessionId, key: checkKey(key, `rooms.${roomId}.sessions.${sessionId}`) });
    }
    // Two uploads of a new session at once: one inserts, the other runs again and compares.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.putParsed(userId, version, parsed);
      } catch (e) {
        if (attempt > 0 || !isUniqueViolation(e)) throw e;
      }
    }
  }

  private async putParsed(userId: string, version: string, parsed: Array<{ roomId: string; sessionId: string; key: BackupKey }>): Promise<{ etag: string; count: number }> {
    return withTransaction(this.db, async (tx) => {
      const n = versionNumber(version);
      const current = await store.currentVersion(tx, userId);
      if (!current || current.version !== n) {
        const named = n === undefined ? undefined : await store.getVersion(tx, userId, n);
        if (!current || !named || named.deleted) throw unknownVersion();
        throw new MatrixError(403, 'M_WRONG_ROOM_KEYS_VERSION', `Wrong room_keys version. Current version is ${current.version}`, { current_version: String(current.version) });
      }
      let changed = false;
      for (const p of parsed) {
        const [stored] = await store.getKeys(tx, userId, current.version, p.roomId, p.sessionId);
        if (!shouldReplace(stored ? toKey(stored) : undefined, p.key)) continue;
        const row = { room_id: p.roomId, session_id: p.sessionId, ...p.key, session_data: JSON.stringify(p.key.session_data) };
        if (stored) await store.updateKey(tx, userId, current.version, row);
        else await store.insertKey(tx, userId, current.version, row);
        changed = true;
      }
      const etag = changed ? await store.bumpEtag(tx, userId, current.version) : (current.etag ?? 0);
      return { etag: String(etag), count: await store.countKeys(tx, userId, current.version) };
    });
  }

  async getKeys(userId: string, version: string | undefined, roomId?: string, sessionId?: string): Promise<Json> {
    const row = await this.liveVersion(this.db, userId, version);
    const rows = await store.getKeys(this.db, userId, row.version, roomId, sessionId);
    if (sessionId !== undefined) {
      if (rows.length === 0) throw notFound('No room_keys found');
      return toKey(rows[0]!) as unknown as Json;
    }
    const rooms: Record<string, { sessions: Record<string, BackupKey> }> = {};
    for (const r of rows) (rooms[r.room_id] ??= { sessions: {} }).sessions[r.session_id] = toKey(r);
    if (roomId !== undefined) return rooms[roomId] ?? { sessions: {} };
    return { rooms };
  }

  async deleteKeys(userId: string, version: string | undefined, roomId?: string, sessionId?: string): Promise<{ etag: string; count: number }> {
    return withTransaction(this.db, async (tx) => {
      const row = await this.liveVersion(tx, userId, version);
      await store.deleteKeys(tx, userId, row.version, roomId, sessionId);
      const etag = await store.bumpEtag(tx, userId, row.version);
      return { etag: String(etag), count: await store.countKeys(tx, userId, row.version) };
    });
  }

  private async liveVersion(db: Db, userId: string, version: string | undefined): Promise<store.BackupVersionRow> {
    if (version === undefined) throw missingParam("Missing string query parameter 'version'");
    const n = versionNumber(version);
    const row = n === undefined ? undefined : await store.getVersion(db, userId, n);
    if (!row || row.deleted) throw unknownVersion();
    return row;
  }
}

function checkVersionBody(body: Json): { algorithm: string; authData: string } {
  if (body.algorithm === undefined) throw missingParam("Missing params: ['algorithm']");
  if (body.auth_data === undefined) throw missingParam("Missing params: ['auth_data']");
  if (typeof body.algorithm !== 'string') throw badJson('algorithm must be a string');
  if (!isObject(body.auth_data)) throw badJson('auth_data must be a JSON object');
  return { algorithm: body.algorithm, authData: JSON.stringify(body.auth_data) };
}
