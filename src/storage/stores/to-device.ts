import { sql } from 'kysely';
import type { Db } from '../database.js';
import { recordStreamFloor, streamFloor } from './stream-floors.js';
import type {} from '../schema/e2e-tables.js';

const STREAM = 'to_device';
const INSTANCE = 'master';

/** The highest to-device position ever handed out: in the inbox, or recorded when rows went. */
export async function maxToDeviceStreamId(db: Db): Promise<number> {
  const a = await db.selectFrom('device_inbox').select(sql<number>`max(stream_id)`.as('m')).executeTakeFirst();
  const b = await db.selectFrom('to_device_txns').select(sql<number>`max(stream_id)`.as('m')).executeTakeFirst();
  return Math.max(Number(a?.m ?? 0), Number(b?.m ?? 0), await streamFloor(db, STREAM));
}

export async function txnStreamId(db: Db, userId: string, deviceId: string, txnId: string): Promise<number | undefined> {
  const row = await db.selectFrom('to_device_txns').select('stream_id').where('user_id', '=', userId).where('device_id', '=', deviceId).where('txn_id', '=', txnId).executeTakeFirst();
  return row ? Number(row.stream_id) : undefined;
}

export async function insertTxn(db: Db, userId: string, deviceId: string, txnId: string, streamId: number, now: number): Promise<void> {
  await db.insertInto('to_device_txns').values({ user_id: userId, device_id: deviceId, txn_id: txnId, stream_id: streamId, inserted_ts: now }).execute();
}

/** The existing, visible devices among those named (all of the user's with 'all'). */
export async function existingDeviceIds(db: Db, userId: string, deviceIds: string[] | 'all'): Promise<string[]> {
  if (deviceIds !== 'all' && deviceIds.length === 0) return [];
  let q = db.selectFrom('devices').select('device_id').where('user_id', '=', userId).where('hidden', '=', false);
  if (deviceIds !== 'all') q = q.where('device_id', 'in', deviceIds);
  return (await q.execute()).map((r) => r.device_id);
}

export async function insertMessages(db: Db, rows: Array<{ user_id: string; device_id: string; stream_id: number; message_json: string }>): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await db
      .insertInto('device_inbox')
      .values(rows.slice(i, i + 500).map((r) => ({ ...r, instance_name: INSTANCE })))
      .execute();
  }
}

/** Messages for a device with a position in (since, upTo], oldest first, at most `limit`. */
export async function messagesSince(db: Db, userId: string, deviceId: string, since: number, upTo: number, limit: number): Promise<Array<{ stream_id: number; message_json: string }>> {
  const rows = await db
    .selectFrom('device_inbox')
    .select(['stream_id', 'message_json'])
    .where('user_id', '=', userId)
    .where('device_id', '=', deviceId)
    .where('stream_id', '>', since)
    .where('stream_id', '<=', upTo)
    .orderBy('stream_id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ stream_id: Number(r.stream_id), message_json: r.message_json }));
}

/**
 * Deletes a device's messages up to a position. When that empties the inbox of its highest
 * position, the position is recorded in `stream_positions` first, so a restart continues above it.
 */
export async function deleteMessagesUpTo(db: Db, userId: string, deviceId: string, upTo: number): Promise<number> {
  const mine = await db
    .selectFrom('device_inbox')
    .select(sql<number>`max(stream_id)`.as('m'))
    .where('user_id', '=', userId)
    .where('device_id', '=', deviceId)
    .where('stream_id', '<=', upTo)
    .executeTakeFirst();
  if (mine?.m === null || mine?.m === undefined) return 0;
  const top = await db.selectFrom('device_inbox').select(sql<number>`max(stream_id)`.as('m')).executeTakeFirst();
  if (Number(top?.m) <= Number(mine.m)) await recordStreamFloor(db, STREAM, Number(mine.m));
  const res = await db.deleteFrom('device_inbox').where('user_id', '=', userId).where('device_id', '=', deviceId).where('stream_id', '<=', upTo).executeTakeFirst();
  return Number(res.numDeletedRows);
}

