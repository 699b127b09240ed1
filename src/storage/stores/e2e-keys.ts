import { sql } from 'kysely';
import type { Db } from '../database.js';
import { sharesAJoinedRoomWith } from './shared-rooms.js';
import type {} from '../schema/e2e-tables.js';

// Device keys ---------------------------------------------------------------------------------

export async function getDeviceKeyJson(db: Db, userId: string, deviceId: string): Promise<string | undefined> {
  const row = await db.selectFrom('e2e_device_keys_json').select('key_json').where('user_id', '=', userId).where('device_id', '=', deviceId).executeTakeFirst();
  return row?.key_json;
}

export async function setDeviceKeyJson(db: Db, userId: string, deviceId: string, keyJson: string, now: number): Promise<void> {
  await db.deleteFrom('e2e_device_keys_json').where('user_id', '=', userId).where('device_id', '=', deviceId).execute();
  await db.insertInto('e2e_device_keys_json').values({ user_id: userId, device_id: deviceId, ts_added_ms: now, key_json: keyJson }).execute();
}

export interface DeviceKeysRow {
  user_id: string;
  device_id: string;
  key_json: string;
  display_name: string | null;
}

/** Device keys of a user's devices (all of them, or those named), with each device's display name. */
export async function deviceKeysOf(db: Db, userId: string, deviceIds: string[] | 'all'): Promise<DeviceKeysRow[]> {
  if (deviceIds !== 'all' && deviceIds.length === 0) return [];
  let q = db
    .selectFrom('e2e_device_keys_json as k')
    .innerJoin('devices as d', (j) => j.onRef('d.user_id', '=', 'k.user_id').onRef('d.device_id', '=', 'k.device_id'))
    .select(['k.user_id', 'k.device_id', 'k.key_json', 'd.display_name'])
    .where('k.user_id', '=', userId);
  if (deviceIds !== 'all') q = q.where('k.device_id', 'in', deviceIds);
  return q.orderBy('k.device_id').execute();
}

/** Which of the named devices have device keys. */
export async function keyedDeviceIds(db: Db, userId: string, deviceIds: string[] | 'all'): Promise<string[]> {
  if (deviceIds !== 'all' && deviceIds.length === 0) return [];
  let q = db.selectFrom('e2e_device_keys_json').select('device_id').where('user_id', '=', userId);
  if (deviceIds !== 'all') q = q.where('device_id', 'in', deviceIds);
  return (await q.execute()).map((r) => r.device_id);
}

/** Everything end-to-end of the given devices: keys, one-time and fallback keys, their inbox. */
export async function deleteDevicesE2e(db: Db, userId: string, deviceIds: string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  for (const table of ['e2e_device_keys_json', 'e2e_one_time_keys_json', 'e2e_fallback_keys_json', 'device_inbox'] as const) {
    await db.deleteFrom(table).where('user_id', '=', userId).where('device_id', 'in', deviceIds).execute();
  }
  await db
    .deleteFrom('e2e_cross_signing_signatures')
    .where('target_user_id', '=', userId)
    .where('target_device_id', 'in', deviceIds)
    .execute();
}

/** Up to `limit` rows of one of a user's per-device tables; returns how many went (see inChunks). */
export async function deleteSomeUserE2e(
  db: Db,
  table: 'e2e_device_keys_json' | 'e2e_one_time_keys_json' | 'e2e_fallback_keys_json' | 'device_inbox',
  userId: string,
  limit: number,
): Promise<number> {
  const ids = (await db.selectFrom(table).select('device_id').distinct().where('user_id', '=', userId).limit(limit).execute()).map((r) => r.device_id);
  if (ids.length === 0) return 0;
  await db.deleteFrom(table).where('user_id', '=', userId).where('device_id', 'in', ids).execute();
  return ids.length;
}

// One-time and fallback keys ------------------------------------------------------------------

export async function oneTimeKeyJson(db: Db, userId: string, deviceId: string, algorithm: string, keyId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('e2e_one_time_keys_json')
    .select('key_json')
    .where('user_id', '=', userId)
    .where('device_id', '=', deviceId)
    .where('algorithm', '=', algorithm)
    .where('key_id', '=', keyId)
    .executeTakeFirst();
  return row?.key_json;
}

export async function insertOneTimeKeys(
  db: Db,
  rows: Array<{ user_id: string; device_id: string; algorithm: string; key_id: string; ts_added_ms: number; key_json: string }>,
): Promise<void> {
  if (rows.length > 0) await db.insertInto('e2e_one_time_keys_json').values(rows).execute();
}

export async function oneTimeKeyCounts(db: Db, userId: string, deviceId: string): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('e2e_one_time_keys_json')
    .select(['algorithm', sql<number>`count(*)`.as('n')])
    .where('user_id', '=', userId)
    .where('device_id', '=', deviceId)
    .groupBy('algorithm')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.algorithm, Number(r.n)]));
}

/**
 * Takes one one-time key of the algorithm, atomically: the row is deleted by its key, so of two
 * claims that picked the same key only one deletes it; the other picks again.
 */
export async function claimOneTimeKey(db: Db, userId: string, deviceId: string, algorithm: string): Promise<{ key_id: string; key_json: string } | undefined> {
  for (;;) {
    const pick = await db
      .selectFrom('e2e_one_time_keys_json')
      .select('key_id')
      .where('user_id', '=', userId)
      .where('device_id', '=', deviceId)
      .where('algorithm', '=', algorithm)
      .orderBy('key_id')
      .limit(1)
      .executeTakeFirst();
    if (!pick) return undefined;
    const taken = await db
      .deleteFrom('e2e_one_time_keys_json')
      .where('user_id', '=', userId)
      .where('device_id', '=', deviceId)
      .where('algorithm', '=', algorithm)
      .where('key_id', '=', pick.key_id)
      .returning(['key_id', 'key_json'])
      .executeTakeFirst();
    if (taken) return taken;
  }
}

export interface FallbackKeyRow {
  algorithm: string;
  key_id: string;
  key_json: string;
  used: boolean | number;
}

export async function fallbackKeys(db: Db, userId: string, deviceId: string): Promise<FallbackKeyRow[]> {
  return db.selectFrom('e2e_fallback_keys_json').select(['algorithm', 'key_id', 'key_json', 'used']).where('user_id', '=', userId).where('device_id', '=', deviceId).execute();
}

export async function setFallbackKey(db: Db, userId: string, deviceId: string, algorithm: string, keyId: string, keyJson: string): Promise<void> {
  await db.deleteFrom('e2e_fallback_keys_json').where('user_id', '=', userId).where('device_id', '=', deviceId).where('algorithm', '=', algorithm).execute();
  await db.insertInto('e2e_fallback_keys_json').values({ user_id: userId, device_id: deviceId, algorithm, key_id: keyId, key_json: keyJson, used: false }).execute();
}

/** The fallback key of the algorithm, marked used (it is handed out again until replaced). */
export async function useFallbackKey(db: Db, userId: string, deviceId: string, algorithm: string): Promise<{ key_id: string; key_json: string } | undefined> {
  return db
    .updateTable('e2e_fallback_keys_json')
    .set({ used: true })
    .where('user_id', '=', userId)
    .where('device_id', '=', deviceId)
    .where('algorithm', '=', algorithm)
    .returning(['key_id', 'key_json'])
    .executeTakeFirst();
}

// Cross-signing -------------------------------------------------------------------------------

export interface CrossSigningKeyRow {
  keytype: string;
  keydata: string;
  stream_id: number;
  updatable_without_uia_before_ms: number | null;
}

/** A user's current cross-signing key of each type (the latest upload). */
export async function currentCrossSigningKeys(db: Db, userId: string): Promise<Map<string, CrossSigningKeyRow>> {
  const rows = await db
    .selectFrom('e2e_cross_signing_keys')
    .select(['keytype', 'keydata', 'stream_id', 'updatable_without_uia_before_ms'])
    .where('user_id', '=', userId)
    .orderBy('stream_id')
    .execute();
  const out = new Map<string, CrossSigningKeyRow>();
  for (const r of rows) out.set(r.keytype, { ...r, stream_id: Number(r.stream_id), updatable_without_uia_before_ms: r.updatable_without_uia_before_ms === null ? null : Number(r.updatable_without_uia_before_ms) });
  return out;
}

export async function insertCrossSigningKey(db: Db, userId: string, keytype: string, keydata: string, streamId: number): Promise<void> {
  await db.insertInto('e2e_cross_signing_keys').values({ user_id: userId, keytype, keydata, stream_id: streamId, updatable_without_uia_before_ms: null }).execute();
}

/** Sets the replacement window on the user's current master key; false when there is none. */
export async function setMasterKeyReplaceableUntil(db: Db, userId: string, untilMs: number): Promise<boolean> {
  const latest = await db
    .selectFrom('e2e_cross_signing_keys')
    .select('stream_id')
    .where('user_id', '=', userId)
    .where('keytype', '=', 'master')
    .orderBy('stream_id', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!latest) return false;
  await db
    .updateTable('e2e_cross_signing_keys')
    .set({ updatable_without_uia_before_ms: untilMs })
    .where('user_id', '=', userId)
    .where('keytype', '=', 'master')
    .where('stream_id', '=', latest.stream_id)
    .execute();
  return true;
}

export async function insertSignature(db: Db, row: { user_id: string; key_id: string; target_user_id: string; target_device_id: string; signature: string }): Promise<void> {
  // One signature per signer key and target: a re-upload replaces it.
  await db
    .deleteFrom('e2e_cross_signing_signatures')
    .where('user_id', '=', row.user_id)
    .where('key_id', '=', row.key_id)
    .where('target_user_id', '=', row.target_user_id)
    .where('target_device_id', '=', row.target_device_id)
    .execute();
  await db.insertInto('e2e_cross_signing_signatures').values(row).execute();
}

export interface SignatureRow {
  user_id: string;
  key_id: string;
  target_device_id: string;
  signature: string;
}

/** Signatures on a user's keys (devices or master key), by the given signers. */
export async function signaturesOn(db: Db, targetUserId: string, targetIds: string[], signers: string[]): Promise<SignatureRow[]> {
  if (targetIds.length === 0 || signers.length === 0) return [];
  return db
    .selectFrom('e2e_cross_signing_signatures')
    .select(['user_id', 'key_id', 'target_device_id', 'signature'])
    .where('target_user_id', '=', targetUserId)
    .where('target_device_id', 'in', targetIds)
    .where('user_id', 'in', signers)
    .execute();
}

// Device-list stream --------------------------------------------------------------------------

export async function maxDeviceListStreamId(db: Db): Promise<number> {
  const a = await db.selectFrom('device_lists_stream').select(sql<number>`max(stream_id)`.as('m')).executeTakeFirst();
  const b = await db.selectFrom('e2e_cross_signing_keys').select(sql<number>`max(stream_id)`.as('m')).executeTakeFirst();
  return Math.max(Number(a?.m ?? 0), Number(b?.m ?? 0));
}

export async function insertDeviceListChanges(db: Db, streamId: number, userId: string, deviceIds: string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  await db
    .insertInto('device_lists_stream')
    .values(deviceIds.map((d) => ({ stream_id: streamId, user_id: userId, device_id: d })))
    .execute();
}

/**
 * Users whose device lists changed in (from, to] and who are `userId` or share a joined room with
 * them (all users are local, so `local_current_membership` knows every membership).
 */
export async function changedUsersSharingRooms(db: Db, userId: string, from: number, to: number): Promise<string[]> {
  const rows = await db
    .selectFrom('device_lists_stream as d')
    .select('d.user_id')
    .distinct()
    .where('d.stream_id', '>', from)
    .where('d.stream_id', '<=', to)
    .where((eb) =>
      eb.or([
        eb('d.user_id', '=', userId),
        sharesAJoinedRoomWith(eb, userId, 'd.user_id'),
      ]),
    )
    .execute();
  return rows.map((r) => r.user_id);
}

/** Users who joined or left a room `userId` is or was joined to, by membership events in stream range (from, to]. */
export async function membershipChangesInRange(db: Db, userId: string, from: number, to: number): Promise<Array<{ user_id: string; membership: string }>> {
  if (to <= from) return [];
  const rows = await db
    .selectFrom('room_memberships as rm')
    .select(['rm.user_id', 'rm.membership'])
    .where('rm.event_stream_ordering', '>', from)
    .where('rm.event_stream_ordering', '<=', to)
    .where('rm.room_id', 'in', db.selectFrom('room_memberships').select('room_id').where('user_id', '=', userId).where('membership', '=', 'join'))
    .orderBy('rm.event_stream_ordering')
    .execute();
  return rows.map((r) => ({ user_id: r.user_id, membership: r.membership }));
}

