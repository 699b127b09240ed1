import { sql } from 'kysely';
import type { Db } from '../database.js';
import type { E2eRoomKeysTable } from '../schema/e2e-tables.js';

export interface BackupVersionRow {
  version: number;
  algorithm: string;
  auth_data: string;
  etag: number | null;
  deleted: number;
}

const normalise = (r: BackupVersionRow): BackupVersionRow => ({ ...r, version: Number(r.version), etag: r.etag === null ? null : Number(r.etag), deleted: Number(r.deleted) });

/** The user's current (latest, not deleted) backup version. */
export async function currentVersion(db: Db, userId: string): Promise<BackupVersionRow | undefined> {
  const row = await db
    .selectFrom('e2e_room_keys_versions')
    .select(['version', 'algorithm', 'auth_data', 'etag', 'deleted'])
    .where('user_id', '=', userId)
    .where('deleted', '=', 0)
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? normalise(row) : undefined;
}

/** One version, deleted or not. */
export async function getVersion(db: Db, userId: string, version: number): Promise<BackupVersionRow | undefined> {
  const row = await db
    .selectFrom('e2e_room_keys_versions')
    .select(['version', 'algorithm', 'auth_data', 'etag', 'deleted'])
    .where('user_id', '=', userId)
    .where('version', '=', version)
    .executeTakeFirst();
  return row ? normalise(row) : undefined;
}

/** A new version above every earlier one, deleted ones included (versions are never reused). */
export async function createVersion(db: Db, userId: string, algorithm: string, authData: string): Promise<number> {
  const max = await db.selectFrom('e2e_room_keys_versions').select(sql<number>`max(version)`.as('m')).where('user_id', '=', userId).executeTakeFirst();
  const version = Number(max?.m ?? 0) + 1;
  await db.insertInto('e2e_room_keys_versions').values({ user_id: userId, version, algorithm, auth_data: authData, deleted: 0, etag: 0 }).execute();
  return version;
}

export async function setAuthData(db: Db, userId: string, version: number, authData: string): Promise<void> {
  await db.updateTable('e2e_room_keys_versions').set({ auth_data: authData }).where('user_id', '=', userId).where('version', '=', version).execute();
}

export async function markDeleted(db: Db, userId: string, version: number): Promise<void> {
  await db.updateTable('e2e_room_keys_versions').set({ deleted: 1 }).where('user_id', '=', userId).where('version', '=', version).execute();
}

export async function bumpEtag(db: Db, userId: string, version: number): Promise<number> {
  await db
    .updateTable('e2e_room_keys_versions')
    .set({ etag: sql`COALESCE(etag, 0) + 1` })
    .where('user_id', '=', userId)
    .where('version', '=', version)
    .execute();
  const row = await db.selectFrom('e2e_room_keys_versions').select('etag').where('user_id', '=', userId).where('version', '=', version).executeTakeFirst();
  return Number(row?.etag ?? 0);
}

export async function countKeys(db: Db, userId: string, version: number): Promise<number> {
  const row = await db
    .selectFrom('e2e_room_keys')
    .select(sql<number>`count(*)`.as('n'))
    .where('user_id', '=', userId)
    .where('version', '=', version)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export type RoomKeyRow = Pick<E2eRoomKeysTable, 'room_id' | 'session_id' | 'first_message_index' | 'forwarded_count' | 'is_verified' | 'session_data'>;

export async function getKeys(db: Db, userId: string, version: number, roomId?: string, sessionId?: string): Promise<RoomKeyRow[]> {
  let q = db
    .selectFrom('e2e_room_keys')
    .select(['room_id', 'session_id', 'first_message_index', 'forwarded_count', 'is_verified', 'session_data'])
    .where('user_id', '=', userId)
    .where('version', '=', version);
  if (roomId !== undefined) q = q.where('room_id', '=', roomId);
  if (sessionId !== undefined) q = q.where('session_id', '=', sessionId);
  return q.orderBy('room_id').orderBy('session_id').execute();
}

export async function insertKey(db: Db, userId: string, version: number, k: RoomKeyRow): Promise<void> {
  await db.insertInto('e2e_room_keys').values({ user_id: userId, version, ...k }).execute();
}

export async function updateKey(db: Db, userId: string, version: number, k: RoomKeyRow): Promise<void> {
  await db
    .updateTable('e2e_room_keys')
    .set({ first_message_index: k.first_message_index, forwarded_count: k.forwarded_count, is_verified: k.is_verified, session_data: k.session_data })
    .where('user_id', '=', userId)
    .where('version', '=', version)
    .where('room_id', '=', k.room_id)
    .where('session_id', '=', k.session_id)
    .execute();
}

export async function deleteKeys(db: Db, userId: string, version: number, roomId?: string, sessionId?: string): Promise<void> {
  let q = db.deleteFrom('e2e_room_keys').where('user_id', '=', userId).where('version', '=', version);
  if (roomId !== undefined) q = q.where('room_id', '=', roomId);
  if (sessionId !== undefined) q = q.where('session_id', '=', sessionId);
  await q.execute();
}
