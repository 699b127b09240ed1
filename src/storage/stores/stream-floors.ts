import { sql } from 'kysely';
import type { Db } from '../database.js';

/**
 * Floors of the in-memory streams, in Synapse's `stream_positions` table. A stream's position is
 * seeded at start-up from the highest row it has; deleting rows (a room deletion takes its events
 * and receipts) could lower that, and a restart would then hand out positions clients have already
 * seen in tokens. So whoever deletes the rows that may hold a stream's highest position records
 * that position here first, in the same transaction.
 */
const INSTANCE = 'master';

export async function streamFloor(db: Db, stream: string): Promise<number> {
  const row = await db.selectFrom('stream_positions').select('stream_id').where('stream_name', '=', stream).where('instance_name', '=', INSTANCE).executeTakeFirst();
  return Number(row?.stream_id ?? 0);
}

/** Raises the stream's floor to `position` (never lowers it). */
export async function recordStreamFloor(db: Db, stream: string, position: number): Promise<void> {
  if (position <= 0) return;
  const updated = await db
    .updateTable('stream_positions')
    .set({ stream_id: position })
    .where('stream_name', '=', stream)
    .where('instance_name', '=', INSTANCE)
    .where('stream_id', '<', position)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) > 0) return;
  const exists = await db.selectFrom('stream_positions').select('stream_id').where('stream_name', '=', stream).where('instance_name', '=', INSTANCE).executeTakeFirst();
  if (!exists) await db.insertInto('stream_positions').values({ stream_name: stream, instance_name: INSTANCE, stream_id: position }).execute();
}

/** The highest value of a column (0 for an empty table). */
export async function maxOf(db: Db, table: 'events' | 'receipts_linearized', column: 'stream_ordering' | 'stream_id'): Promise<number> {
  const row = await sql<{ m: number | string | null }>`SELECT max(${sql.ref(column)}) AS m FROM ${sql.table(table)}`.execute(db);
  return Number(row.rows[0]?.m ?? 0);
}
