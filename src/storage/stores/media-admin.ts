import { sql, type SqlBool } from 'kysely';
import type { Db } from '../database.js';
import { inList, lockForTransaction } from '../dialect.js';
import { flag, lockQuarantine, type LocalMediaRow, type RemoteMediaRow } from './media.js';

/**
 * SQL of the media Admin API (catalogue §3.12, §7, §8.1): listings, bulk selections, quarantine
 * with Synapse's hash propagation, and the scans that find which media rooms and profiles still
 * reference. Row reads and writes shared with the client media repository live in media.ts.
 */

const CHUNK = 500;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function localRow(r: LocalMediaRow): LocalMediaRow {
  return {
    ...r,
    media_length: num(r.media_length),
    created_ts: Number(r.created_ts),
    last_access_ts: num(r.last_access_ts),
    safe_from_quarantine: flag(r.safe_from_quarantine),
    authenticated: flag(r.authenticated),
  };
}

export function remoteRow(r: RemoteMediaRow): RemoteMediaRow {
  return {
    ...r,
    media_length: num(r.media_length),
    created_ts: num(r.created_ts),
    last_access_ts: num(r.last_access_ts),
    authenticated: flag(r.authenticated),
  };
}

/** The columns a user's media list may be ordered by, in Synapse's order (its error message lists them so). */
export const USER_MEDIA_ORDER = ['media_id', 'upload_name', 'created_ts', 'last_access_ts', 'media_length', 'media_type', 'quarantined_by', 'safe_from_quarantine'] as const;
export type UserMediaOrder = (typeof USER_MEDIA_ORDER)[number];

export interface UserMediaPage {
  from: number;
  limit: number;
  orderBy: UserMediaOrder;
  dir: 'f' | 'b';
}

/** A user's local media, one page in the given order (ties by media_id ascending), with the user's total. */
export async function listUserMedia(db: Db, userId: string, p: UserMediaPage): Promise<{ rows: LocalMediaRow[]; total: number }> {
  const [rows, count] = await Promise.all([
    db
      .selectFrom('local_media_repository')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy(sql.ref(p.orderBy), p.dir === 'b' ? 'desc' : 'asc')
      .orderBy('media_id', 'asc')
      .limit(p.limit)
      .offset(p.from)
      .execute(),
    db.selectFrom('local_media_repository').select(sql<number | string>`count(*)`.as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow(),
  ]);
  return { rows: rows.map(localRow), total: Number(count.n) };
}

export async function getLocalMediaRows(db: Db, mediaIds: readonly string[]): Promise<LocalMediaRow[]> {
  const out: LocalMediaRow[] = [];
  for (const ids of chunks(mediaIds)) {
    const rows = await db.selectFrom('local_media_repository').selectAll().where(inList(db, 'media_id', ids)).execute();
    out.push(...rows.map(localRow));
  }
  return out;
}

export async function getRemoteMediaRow(db: Db, origin: string, mediaId: string): Promise<RemoteMediaRow | undefined> {
  const r = await db.selectFrom('remote_media_cache').selectAll().where('media_origin', '=', origin).where('media_id', '=', mediaId).executeTakeFirst();
  return r ? remoteRow(r) : undefined;
}

/**
 * Removes local media rows (media, thumbnails, URL-preview cache entries) and returns the IDs
 * that were there. Run it in a transaction; the files go after it commits.
 */
export async function deleteLocalMedia(db: Db, mediaIds: readonly string[]): Promise<string[]> {
  const gone: string[] = [];
  for (const ids of chunks(mediaIds)) {
    // RETURNING: only what this transaction removed counts (a concurrent deletion of the same
    // item reports it once).
    const found = (await db.deleteFrom('local_media_repository').where(inList(db, 'media_id', ids)).returning('media_id').execute()).map((r) => r.media_id);
    if (found.length === 0) continue;
    await db.deleteFrom('local_media_repository_thumbnails').where(inList(db, 'media_id', found)).execute();
    await db.deleteFrom('local_media_repository_url_cache').where(inList(db, 'media_id', found)).execute();
    gone.push(...found);
  }
  return gone;
}

/**
 * Local media not used since `beforeTs` (last access before it, or never accessed and created
 * before it), larger than `sizeGt`, neither quarantined nor protected (Synapse skips both).
 */
export async function oldLocalMedia(db: Db, beforeTs: number, sizeGt: number): Promise<string[]> {
  const rows = await db
    .selectFrom('local_media_repository')
    .select('media_id')
    .where((eb) => eb.or([eb('last_access_ts', '<', beforeTs), eb.and([eb('last_access_ts', 'is', null), eb('created_ts', '<', beforeTs)])]))
    .where('media_length', '>', sizeGt)
    .where('quarantined_by', 'is', null)
    .where(sql<SqlBool>`NOT safe_from_quarantine`)
    .orderBy('created_ts')
    .orderBy('media_id')
    .execute();
  return rows.map((r) => r.media_id);
}

/** Cached remote media last accessed before `beforeTs`, except quarantined items. */
export async function oldRemoteMedia(db: Db, beforeTs: number): Promise<Array<{ origin: string; mediaId: string; filesystemId: string | null }>> {
  const rows = await db
    .selectFrom('remote_media_cache')
    .select(['media_origin', 'media_id', 'filesystem_id'])
    .where('last_access_ts', '<', beforeTs)
    .where('quarantined_by', 'is', null)
    .execute();
  return rows.map((r) => ({ origin: r.media_origin, mediaId: r.media_id, filesystemId: r.filesystem_id }));
}

/** Removes one cached remote item's rows (media and thumbnails); true when it was there. */
export async function deleteRemoteMedia(db: Db, origin: string, mediaId: string): Promise<boolean> {
  await db.deleteFrom('remote_media_cache_thumbnails').where('media_origin', '=', origin).where('media_id', '=', mediaId).execute();
  const r = await db.deleteFrom('remote_media_cache').where('media_origin', '=', origin).where('media_id', '=', mediaId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

// ---- Quarantine (catalogue §7.5): by ID, propagated to every item with the same sha256 ----

export interface MediaKeys {
  local: readonly string[];
  remote: ReadonlyArray<{ origin: string; mediaId: string }>;
}

/**
 * Sets (`by` a user ID) or clears (`by` null) `quarantined_by` on the given items and on every
 * local or cached remote item with the same content hash. Protected local media is never
 * quarantined. Every row that changed (items already in that state do not) is logged in the
 * quarantine change feed; returns how many. Run it in a transaction. Later uploads of content
 * quarantined here are quarantined by the upload path (`isHashQuarantined`).
 */
export async function setQuarantine(db: Db, keys: MediaKeys, by: string | null): Promise<number> {
  // First of all: an upload of the same content then either commits before this (and is updated by
  // hash below) or waits and sees the outcome (see lockQuarantine).
  await lockQuarantine(db, 'exclusive');
  const quarantining = by !== null;
  const hashes = new Set<string>();
  const local = new Set<string>();
  const remote = new Map<string, { origin: string; mediaId: string }>();
  const addRemote = (rows: Array<{ media_origin: string; media_id: string }>) => {
    for (const r of rows) remote.set(JSON.stringify([r.media_origin, r.media_id]), { origin: r.media_origin, mediaId: r.media_id });
  };
  for (const ids of chunks(keys.local)) {
    let hq = db.selectFrom('local_media_repository').select('sha256').where(inList(db, 'media_id', ids)).where('sha256', 'is not', null);
    if (quarantining) hq = hq.where(sql<SqlBool>`NOT safe_from_quarantine`);
    for (const r of await hq.execute()) hashes.add(r.sha256!);
    let q = db.updateTable('local_media_repository').set({ quarantined_by: by }).where(inList(db, 'media_id', ids));
    q = quarantining ? q.where('quarantined_by', 'is', null).where(sql<SqlBool>`NOT safe_from_quarantine`) : q.where('quarantined_by', 'is not', null);
    for (const r of await q.returning('media_id').execute()) local.add(r.media_id);
  }
  for (const k of keys.remote) {
    const row = await db.selectFrom('remote_media_cache').select('sha256').where('media_origin', '=', k.origin).where('media_id', '=', k.mediaId).executeTakeFirst();
    if (!row) continue;
    if (row.sha256) hashes.add(row.sha256);
    let q = db.updateTable('remote_media_cache').set({ quarantined_by: by }).where('media_origin', '=', k.origin).where('media_id', '=', k.mediaId);
    q = quarantining ? q.where('quarantined_by', 'is', null) : q.where('quarantined_by', 'is not', null);
    addRemote(await q.returning(['media_origin', 'media_id']).execute());
  }
  for (const hs of chunks([...hashes])) {
    let lq = db.updateTable('local_media_repository').set({ quarantined_by: by }).where(inList(db, 'sha256', hs));
    lq = quarantining ? lq.where('quarantined_by', 'is', null).where(sql<SqlBool>`NOT safe_from_quarantine`) : lq.where('quarantined_by', 'is not', null);
    for (const r of await lq.returning('media_id').execute()) local.add(r.media_id);
    let rq = db.updateTable('remote_media_cache').set({ quarantined_by: by }).where(inList(db, 'sha256', hs));
    rq = quarantining ? rq.where('quarantined_by', 'is', null) : rq.where('quarantined_by', 'is not', null);
    addRemote(await rq.returning(['media_origin', 'media_id']).execute());
  }
  const changes = [...[...local].map((mediaId) => ({ origin: '', mediaId })), ...remote.values()];
  await logQuarantineChanges(db, changes, quarantining);
  return changes.length;
}

/** An arbitrary constant naming the feed's advisory lock on PostgreSQL. */
const FEED_LOCK = 7_011_015;

/**
 * Appends changes to the feed at the next stream positions. PostgreSQL takes a transaction-scoped
 * lock first, so positions are handed out (and become visible) in commit order and a poller never
 * skips a change; SQLite's writer is one at a time already.
 */
async function logQuarantineChanges(db: Db, changes: ReadonlyArray<{ origin: string; mediaId: string }>, quarantined: boolean): Promise<void> {
  if (changes.length === 0) return;
  await lockForTransaction(db, FEED_LOCK);
  let next = (await quarantineFeedPosition(db)) + 1;
  const ts = Date.now();
  for (const batch of chunks(changes, 200)) {
    await db
      .insertInto('axon_media_quarantine_changes')
      .values(batch.map((c) => ({ stream_id: next++, origin: c.origin, media_id: c.mediaId, quarantined, ts })))
      .execute();
  }
}

/** The feed's current position (0 when empty). */
export async function quarantineFeedPosition(db: Db): Promise<number> {
  const r = await db.selectFrom('axon_media_quarantine_changes').select(sql<number | string | null>`max(stream_id)`.as('m')).executeTakeFirst();
  return Number(r?.m ?? 0);
}

/** Changes after `from`, oldest first, at most `limit`. */
export async function quarantineChangesAfter(db: Db, from: number, limit: number): Promise<Array<{ streamId: number; origin: string; mediaId: string; quarantined: boolean }>> {
  const rows = await db.selectFrom('axon_media_quarantine_changes').selectAll().where('stream_id', '>', from).orderBy('stream_id').limit(limit).execute();
  return rows.map((r) => ({ streamId: Number(r.stream_id), origin: r.origin, mediaId: r.media_id, quarantined: flag(r.quarantined) }));
}

export async function localMediaOfUser(db: Db, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('local_media_repository').select('media_id').where('user_id', '=', userId).execute();
  return rows.map((r) => r.media_id);
}

export async function setProtected(db: Db, mediaId: string, safe: boolean): Promise<void> {
  await db.updateTable('local_media_repository').set({ safe_from_quarantine: safe }).where('media_id', '=', mediaId).execute();
}

/** Other items (local and cached remote) with this content hash, oldest first. */
export async function sameHash(db: Db, sha256: string, limit: number): Promise<{ local: string[]; remote: Array<{ origin: string; mediaId: string }> }> {
  const [local, remote] = await Promise.all([
    db.selectFrom('local_media_repository').select('media_id').where('sha256', '=', sha256).orderBy('created_ts').orderBy('media_id').limit(limit).execute(),
    db.selectFrom('remote_media_cache').select(['media_origin', 'media_id']).where('sha256', '=', sha256).orderBy('created_ts').orderBy('media_id').limit(limit).execute(),
  ]);
  return { local: local.map((r) => r.media_id), remote: remote.map((r) => ({ origin: r.media_origin, mediaId: r.media_id })) };
}

// ---- Where media is referenced (room events, profiles, member events) ----

/**
 * Event JSON of events that carry a `url` in their content (`contains_url`), not outliers and not
 * redacted: what Synapse scans for a room's media. Keyset pages by stream ordering; `roomId` null
 * scans every room.
 */
export async function urlEventsPage(db: Db, roomId: string | null, afterStream: number | null, limit: number): Promise<Array<{ stream: number; json: string }>> {
  let q = db
    .selectFrom('events as e')
    .innerJoin('event_json as j', 'j.event_id', 'e.event_id')
    .select(['e.stream_ordering', 'j.json'])
    // As the partial index event_contains_url_index is written, so it serves the room scans.
    .where(sql<SqlBool>`e.contains_url = TRUE AND e.outlier = FALSE`)
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('redactions as r').select('r.event_id').whereRef('r.redacts', '=', 'e.event_id'))));
  if (roomId !== null) q = q.where('e.room_id', '=', roomId);
  if (afterStream !== null) q = q.where('e.stream_ordering', '>', afterStream);
  const rows = await q.orderBy('e.stream_ordering').limit(limit).execute();
  return rows.map((r) => ({ stream: Number(r.stream_ordering), json: r.json }));
}

/** Event JSON of the given events (any kind), for media they reference before they are purged. */
export async function eventJsons(db: Db, eventIds: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const ids of chunks(eventIds)) {
    const rows = await db.selectFrom('event_json').select('json').where(inList(db, 'event_id', ids)).execute();
    out.push(...rows.map((r) => r.json));
  }
  return out;
}

/** Avatar URLs in use: global profiles and every member event's avatar (per-room profiles). */
export async function avatarUrls(db: Db): Promise<string[]> {
  const [profiles, members] = await Promise.all([
    db.selectFrom('profiles').select('avatar_url').where('avatar_url', 'like', 'mxc://%').distinct().execute(),
    db.selectFrom('room_memberships').select('avatar_url').where('avatar_url', 'like', 'mxc://%').distinct().execute(),
  ]);
  return [...profiles, ...members].map((r) => r.avatar_url!);
}

/** The current `m.room.avatar` events' JSON of every room. */
export async function roomAvatarJsons(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('current_state_events as c')
    .innerJoin('event_json as j', 'j.event_id', 'c.event_id')
    .select('j.json')
    .where('c.type', '=', 'm.room.avatar')
    .where('c.state_key', '=', '')
    .execute();
  return rows.map((r) => r.json);
}

/** All local media, oldest first, as (id, created_ts), for the unreferenced listing. */
export async function allLocalMediaIds(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('local_media_repository').select('media_id').where('media_length', 'is not', null).orderBy('created_ts').orderBy('media_id').execute();
  return rows.map((r) => r.media_id);
}

// ---- Statistics (catalogue §8.1) ----

export const USER_STATS_ORDER = ['media_length', 'media_count', 'user_id', 'displayname'] as const;
export type UserStatsOrder = (typeof USER_STATS_ORDER)[number];

export interface UserStatsQuery {
  from: number;
  limit: number;
  orderBy: UserStatsOrder;
  dir: 'f' | 'b';
  fromTs: number;
  untilTs?: number;
  searchTerm?: string;
}

export interface UserMediaStats {
  user_id: string;
  displayname: string | null;
  media_count: number;
  media_length: number;
}

const likePattern = (term: string) => `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Per uploader of local media created in [fromTs, untilTs]: count and total bytes, with the
 * user's display name. Synapse's search matches the localpart or the display name with LIKE.
 */
export async function userMediaStats(db: Db, q: UserStatsQuery): Promise<{ users: UserMediaStats[]; total: number }> {
  let base = db
    .selectFrom('local_media_repository as m')
    .innerJoin('users as u', 'u.name', 'm.user_id')
    .leftJoin('profiles as p', 'p.full_user_id', 'm.user_id')
    .where('m.created_ts', '>=', q.fromTs);
  if (q.untilTs !== undefined) base = base.where('m.created_ts', '<=', q.untilTs);
  if (q.searchTerm !== undefined) {
    const pattern = likePattern(q.searchTerm);
    const localpartPattern = `@${pattern}:%`;
    base = base.where((eb) =>
      eb.or([sql<SqlBool>`m.user_id LIKE ${localpartPattern} ESCAPE '\\'`, sql<SqlBool>`p.displayname LIKE ${pattern} ESCAPE '\\'`]),
    );
  }
  const grouped = base
    .select([
      'm.user_id as user_id',
      sql<string | null>`max(p.displayname)`.as('displayname'),
      sql<number | string>`count(*)`.as('media_count'),
      sql<number | string>`coalesce(sum(m.media_length), 0)`.as('media_length'),
    ])
    .groupBy('m.user_id');
  const dir = q.dir === 'b' ? 'desc' : 'asc';
  const [rows, count] = await Promise.all([
    db
      .selectFrom(grouped.as('s'))
      .selectAll()
      .orderBy(sql.ref(`s.${q.orderBy}`), dir)
      .orderBy('s.user_id', 'asc')
      .limit(q.limit)
      .offset(q.from)
      .execute(),
    db.selectFrom(grouped.as('s')).select(sql<number | string>`count(*)`.as('n')).executeTakeFirstOrThrow(),
  ]);
  return {
    users: rows.map((r) => ({ user_id: r.user_id as string, displayname: (r.displayname as string | null) ?? null, media_count: Number(r.media_count), media_length: Number(r.media_length) })),
    total: Number(count.n),
  };
}
