import { sql } from 'kysely';
import type { Db } from '../database.js';
import { sharesAJoinedRoomWith } from './shared-rooms.js';
import type { PresenceStreamTable } from '../schema/presence-tables.js';

/** Presence rows (Synapse's `presence_stream`, one per user) and the membership reads presence and typing need. */

export type PresenceRow = Omit<PresenceStreamTable, 'instance_name'>;

const COLUMNS = ['stream_id', 'user_id', 'state', 'last_active_ts', 'last_federation_update_ts', 'last_user_sync_ts', 'status_msg', 'currently_active'] as const;

const fromDb = (r: PresenceRow): PresenceRow => ({
  ...r,
  stream_id: Number(r.stream_id),
  last_active_ts: Number(r.last_active_ts),
  last_federation_update_ts: Number(r.last_federation_update_ts),
  last_user_sync_ts: Number(r.last_user_sync_ts),
  currently_active: Number(r.currently_active),
});

export async function maxPresenceStreamId(db: Db): Promise<number> {
  const row = await db.selectFrom('presence_stream').select(sql<number>`coalesce(max(stream_id), 0)`.as('m')).executeTakeFirstOrThrow();
  return Number(row.m);
}

export async function getPresence(db: Db, userId: string): Promise<PresenceRow | undefined> {
  const row = await db.selectFrom('presence_stream').select(COLUMNS).where('user_id', '=', userId).executeTakeFirst();
  return row && fromDb(row);
}

/** Every user whose stored presence is not offline (loaded at start-up so their timeouts run). */
export async function nonOfflinePresence(db: Db): Promise<PresenceRow[]> {
  const rows = await db.selectFrom('presence_stream').select(COLUMNS).where('state', '!=', 'offline').execute();
  return rows.map(fromDb);
}

/** Writes a user's presence (the one row per user). */
export async function upsertPresence(db: Db, row: PresenceRow): Promise<void> {
  const { user_id: _u, ...rest } = row;
  await db
    .insertInto('presence_stream')
    .values({ ...row, instance_name: null })
    .onConflict((oc) => oc.column('user_id').doUpdateSet(rest))
    .execute();
}

/** Updates the activity times of a user without moving their stream position (batched flushes). */
export async function touchPresenceTimes(db: Db, userId: string, lastActiveTs: number, lastUserSyncTs: number): Promise<void> {
  await db.updateTable('presence_stream').set({ last_active_ts: lastActiveTs, last_user_sync_ts: lastUserSyncTs }).where('user_id', '=', userId).execute();
}

/**
 * Presence rows in stream range (from, to] of userId and of the users who share a joined room with
 * them; offline rows only when `includeOffline`.
 */
export async function presenceOfUsersSharingRooms(db: Db, userId: string, from: number, to: number, includeOffline: boolean): Promise<PresenceRow[]> {
  if (to <= from) return [];
  let q = db
    .selectFrom('presence_stream as p')
    .select(COLUMNS.map((c) => `p.${c}` as const))
    .where('p.stream_id', '>', from)
    .where('p.stream_id', '<=', to)
    .where((eb) =>
      eb.or([
        eb('p.user_id', '=', userId),
        sharesAJoinedRoomWith(eb, userId, 'p.user_id'),
      ]),
    );
  if (!includeOffline) q = q.where('p.state', '!=', 'offline');
  const rows = await q.orderBy('p.stream_id').execute();
  return rows.map(fromDb);
}


/** A local user's current membership of a room, if any. */
export async function membershipOf(db: Db, userId: string, roomId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('local_current_membership')
    .select('membership')
    .where('user_id', '=', userId)
    .where('room_id', '=', roomId)
    .executeTakeFirst();
  return row?.membership;
}
