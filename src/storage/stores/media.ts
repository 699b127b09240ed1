import { sql } from 'kysely';
import type { Db } from '../database.js';
import { lockForTransaction } from '../dialect.js';
import type { LocalMediaRepositoryTable, LocalMediaRepositoryThumbnailsTable, RemoteMediaCacheTable } from '../schema/media-tables.js';

/** Row reads and writes of the media repository tables (migration 012). */

export type LocalMediaRow = LocalMediaRepositoryTable;
export type LocalThumbnailRow = LocalMediaRepositoryThumbnailsTable;
export type RemoteMediaRow = RemoteMediaCacheTable;

/** BOOLEAN columns read as true/false on PostgreSQL and 0/1 on SQLite. */
export function flag(v: boolean | number | null | undefined): boolean {
  return v === true || v === 1;
}

function localRow(r: LocalMediaRow): LocalMediaRow {
  return {
    ...r,
    media_length: r.media_length === null ? null : Number(r.media_length),
    created_ts: Number(r.created_ts),
    last_access_ts: r.last_access_ts === null ? null : Number(r.last_access_ts),
    safe_from_quarantine: flag(r.safe_from_quarantine),
    authenticated: flag(r.authenticated),
  };
}

export async function getLocalMedia(db: Db, mediaId: string): Promise<LocalMediaRow | undefined> {
  const r = await db.selectFrom('local_media_repository').selectAll().where('media_id', '=', mediaId).executeTakeFirst();
  return r ? localRow(r) : undefined;
}

/** A complete upload: the row is written once the file is in place. */
export async function insertLocalMedia(db: Db, row: Omit<LocalMediaRow, 'quarantined_by' | 'url_cache' | 'safe_from_quarantine'> & Partial<LocalMediaRow>): Promise<void> {
  await db
    .insertInto('local_media_repository')
    .values({ quarantined_by: null, url_cache: null, safe_from_quarantine: false, ...row })
    .execute();
}

/** An asynchronous upload's reservation (`POST /_matrix/media/v1/create`): no type, length or hash yet. */
export async function insertPendingMedia(db: Db, mediaId: string, userId: string, createdTs: number, authenticated: boolean): Promise<void> {
  await db
    .insertInto('local_media_repository')
    .values({ media_id: mediaId, user_id: userId, created_ts: createdTs, media_length: null, media_type: null, upload_name: null, last_access_ts: null, authenticated, sha256: null, quarantined_by: null, url_cache: null, safe_from_quarantine: false })
    .execute();
}

/**
 * Fills in a reserved media ID once its content is in place. Only a row still without content is
 * updated; returns false when another upload got there first. `quarantinedBy` quarantines it; null
 * leaves `quarantined_by` as it is (an admin may have quarantined the reservation already).
 */
export async function completePendingMedia(
  db: Db,
  mediaId: string,
  values: { media_type: string; media_length: number; upload_name: string | null; sha256: string; last_access_ts: number },
  quarantinedBy: string | null = null,
): Promise<boolean> {
  const r = await db
    .updateTable('local_media_repository')
    .set(quarantinedBy === null ? values : { ...values, quarantined_by: quarantinedBy })
    .where('media_id', '=', mediaId)
    .where('media_length', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** An arbitrary constant naming the advisory lock that orders uploads and quarantine changes on PostgreSQL. */
const QUARANTINE_LOCK = 7_011_017;

/**
 * Orders an upload's quarantine-by-hash check against quarantine changes (PostgreSQL; SQLite runs
 * one write transaction at a time already). Uploads take the lock shared, so they never wait for
 * each other; a quarantine change takes it exclusive as its first statement. Either the upload
 * commits first, and the quarantine's update by hash sees its row, or the quarantine commits
 * first, and the upload's check sees it: no upload of quarantined content slips between the two.
 * Transaction-scoped: call inside the transaction.
 */
export async function lockQuarantine(db: Db, mode: 'shared' | 'exclusive'): Promise<void> {
  await lockForTransaction(db, QUARANTINE_LOCK, mode);
}

/**
 * Whether some local or cached remote media with this content hash is quarantined (Synapse ≥ 1.128
 * quarantines a new upload of such content).
 */
export async function isHashQuarantined(db: Db, sha256: string): Promise<boolean> {
  const local = await db.selectFrom('local_media_repository').select('media_id').where('sha256', '=', sha256).where('quarantined_by', 'is not', null).limit(1).executeTakeFirst();
  if (local) return true;
  const remote = await db.selectFrom('remote_media_cache').select('media_id').where('sha256', '=', sha256).where('quarantined_by', 'is not', null).limit(1).executeTakeFirst();
  return remote !== undefined;
}

/** A user's reservations made after `since` that have no content yet (Synapse's `max_pending_media_uploads`). */
export async function countPendingMedia(db: Db, userId: string, since: number): Promise<number> {
  const r = await db
    .selectFrom('local_media_repository')
    .select(sql<number>`count(*)`.as('n'))
    .where('user_id', '=', userId)
    .where('media_length', 'is', null)
    .where('created_ts', '>', since)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** Reservations never uploaded to, made before `before` (expired): returned so their IDs can be forgotten. */
export async function deleteExpiredPendingMedia(db: Db, before: number): Promise<number> {
  const r = await db.deleteFrom('local_media_repository').where('media_length', 'is', null).where('created_ts', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}

export async function getLocalThumbnails(db: Db, mediaId: string): Promise<LocalThumbnailRow[]> {
  const rows = await db.selectFrom('local_media_repository_thumbnails').selectAll().where('media_id', '=', mediaId).execute();
  return rows.map((r) => ({ ...r, thumbnail_width: Number(r.thumbnail_width), thumbnail_height: Number(r.thumbnail_height), thumbnail_length: Number(r.thumbnail_length) }));
}

/** Records a generated thumbnail; a row for the same (size, type, method) is replaced. */
export async function upsertLocalThumbnail(db: Db, row: LocalThumbnailRow): Promise<void> {
  await db
    .insertInto('local_media_repository_thumbnails')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['media_id', 'thumbnail_width', 'thumbnail_height', 'thumbnail_type', 'thumbnail_method']).doUpdateSet({ thumbnail_length: row.thumbnail_length }),
    )
    .execute();
}

/** Sets `last_access_ts` for many media at once (downloads are batched, not one write per request). */
export async function touchLocalMedia(db: Db, mediaIds: readonly string[], ts: number): Promise<void> {
  for (let i = 0; i < mediaIds.length; i += 500) {
    await db.updateTable('local_media_repository').set({ last_access_ts: ts }).where('media_id', 'in', mediaIds.slice(i, i + 500)).execute();
  }
}

export async function touchRemoteMedia(db: Db, keys: ReadonlyArray<{ origin: string; mediaId: string }>, ts: number): Promise<void> {
  for (const k of keys) {
    await db.updateTable('remote_media_cache').set({ last_access_ts: ts }).where('media_origin', '=', k.origin).where('media_id', '=', k.mediaId).execute();
  }
}

/** Deletes local media rows and their thumbnail rows (the caller removes the files). */
export async function deleteLocalMediaRows(db: Db, mediaIds: readonly string[]): Promise<void> {
  for (let i = 0; i < mediaIds.length; i += 500) {
    const ids = mediaIds.slice(i, i + 500);
    await db.deleteFrom('local_media_repository_thumbnails').where('media_id', 'in', ids).execute();
    await db.deleteFrom('local_media_repository').where('media_id', 'in', ids).execute();
  }
}

export async function deleteLocalThumbnailRows(db: Db, mediaId: string): Promise<void> {
  await db.deleteFrom('local_media_repository_thumbnails').where('media_id', '=', mediaId).execute();
}

/** Sets or clears `quarantined_by` on local media; protected media (`safe_from_quarantine`) is skipped when quarantining. */
export async function setLocalQuarantine(db: Db, mediaIds: readonly string[], quarantinedBy: string | null): Promise<number> {
  let n = 0;
  for (let i = 0; i < mediaIds.length; i += 500) {
    let q = db.updateTable('local_media_repository').set({ quarantined_by: quarantinedBy }).where('media_id', 'in', mediaIds.slice(i, i + 500));
    if (quarantinedBy !== null) q = q.where('safe_from_quarantine', '=', false);
    n += Number((await q.executeTakeFirst()).numUpdatedRows);
  }
  return n;
}

export async function setLocalProtected(db: Db, mediaId: string, safe: boolean): Promise<number> {
  const r = await db.updateTable('local_media_repository').set({ safe_from_quarantine: safe }).where('media_id', '=', mediaId).executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Other local media with the same content (beyond Synapse: duplicates reported by the admin's media info). */
export async function localMediaBySha256(db: Db, sha256: string, limit = 100): Promise<string[]> {
  const rows = await db.selectFrom('local_media_repository').select('media_id').where('sha256', '=', sha256).orderBy('created_ts').limit(limit).execute();
  return rows.map((r) => r.media_id);
}

export async function getRemoteMedia(db: Db, origin: string, mediaId: string): Promise<RemoteMediaRow | undefined> {
  const r = await db.selectFrom('remote_media_cache').selectAll().where('media_origin', '=', origin).where('media_id', '=', mediaId).executeTakeFirst();
  return r ? { ...r, authenticated: flag(r.authenticated), media_length: r.media_length === null ? null : Number(r.media_length) } : undefined;
}
