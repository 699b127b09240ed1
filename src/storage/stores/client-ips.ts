import type { Db } from '../database.js';

/** Client IP tracking: `user_ips` (one row per user, token and IP) and the `devices` last-seen columns. */

export interface ClientIpWrite {
  userId: string;
  accessToken: string;
  deviceId: string | null;
  ip: string;
  userAgent: string;
  /** ms */
  lastSeen: number;
}

export interface UserIpRow {
  access_token: string;
  device_id: string | null;
  ip: string;
  user_agent: string;
  last_seen: number;
}

// Six parameters a row: well under SQLite's and PostgreSQL's bind limits.
const CHUNK = 500;

/** Upserts rows keyed on (user_id, access_token, ip); the caller guarantees unique keys within a batch. */
export async function upsertUserIps(db: Db, rows: ClientIpWrite[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await db
      .insertInto('user_ips')
      .values(
        rows.slice(i, i + CHUNK).map((r) => ({
          user_id: r.userId,
          access_token: r.accessToken,
          device_id: r.deviceId,
          ip: r.ip,
          user_agent: r.userAgent,
          last_seen: r.lastSeen,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['user_id', 'access_token', 'ip']).doUpdateSet((eb) => ({
          user_agent: eb.ref('excluded.user_agent'),
          device_id: eb.ref('excluded.device_id'),
          last_seen: eb.ref('excluded.last_seen'),
        })),
      )
      .execute();
  }
}

/** Sets a device's last-seen columns; never re-creates a device deleted meanwhile. */
export async function updateDeviceLastSeen(db: Db, r: { userId: string; deviceId: string; ip: string; userAgent: string; lastSeen: number }): Promise<void> {
  await db
    .updateTable('devices')
    .set({ ip: r.ip, user_agent: r.userAgent, last_seen: r.lastSeen })
    .where('user_id', '=', r.userId)
    .where('device_id', '=', r.deviceId)
    .execute();
}

/** Every recorded connection of a user, newest first. */
export async function listUserIps(db: Db, userId: string): Promise<UserIpRow[]> {
  const rows = await db
    .selectFrom('user_ips')
    .select(['access_token', 'device_id', 'ip', 'user_agent', 'last_seen'])
    .where('user_id', '=', userId)
    .orderBy('last_seen', 'desc')
    .execute();
  return rows.map((r) => ({ ...r, last_seen: Number(r.last_seen) }));
}
