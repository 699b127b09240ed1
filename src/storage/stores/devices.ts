import type { Selectable } from 'kysely';
import type { Db } from '../database.js';
import type { DevicesTable } from '../schema/tables.js';

export type DeviceRow = Selectable<DevicesTable>;

export async function getDevice(db: Db, userId: string, deviceId: string): Promise<DeviceRow | undefined> {
  return db.selectFrom('devices').selectAll().where('user_id', '=', userId).where('device_id', '=', deviceId).executeTakeFirst();
}

export async function listDevices(db: Db, userId: string): Promise<DeviceRow[]> {
  return db.selectFrom('devices').selectAll().where('user_id', '=', userId).where('hidden', '=', false).orderBy('device_id').execute();
}

/** Creates the device, or keeps the existing one (a login may reuse a device ID). */
export async function upsertDevice(db: Db, userId: string, deviceId: string, displayName: string | null): Promise<void> {
  const existing = await getDevice(db, userId, deviceId);
  if (existing) {
    if (displayName !== null && existing.display_name !== displayName) await setDeviceDisplayName(db, userId, deviceId, displayName);
    return;
  }
  await db
    .insertInto('devices')
    .values({ user_id: userId, device_id: deviceId, display_name: displayName, last_seen: null, ip: null, user_agent: null })
    .execute();
}

export async function setDeviceDisplayName(db: Db, userId: string, deviceId: string, displayName: string | null): Promise<void> {
  await db.updateTable('devices').set({ display_name: displayName }).where('user_id', '=', userId).where('device_id', '=', deviceId).execute();
}

export async function deleteDevices(db: Db, userId: string, deviceIds: string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  await db.deleteFrom('devices').where('user_id', '=', userId).where('device_id', 'in', deviceIds).execute();
}

/** Deletes up to `limit` of a user's devices; returns how many went (see inChunks). */
export async function deleteSomeDevices(db: Db, userId: string, limit: number): Promise<number> {
  // Keys first, then a delete by key: a DELETE … IN (SELECT … LIMIT $n) run as a prepared
  // statement can get a generic plan on PostgreSQL that re-runs the subquery for every row.
  const ids = (await db.selectFrom('devices').select('device_id').where('user_id', '=', userId).limit(limit).execute()).map((r) => r.device_id);
  await deleteDevices(db, userId, ids);
  return ids.length;
}

export async function deviceIdsOf(db: Db, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('devices').select('device_id').where('user_id', '=', userId).execute();
  return rows.map((r) => r.device_id);
}
