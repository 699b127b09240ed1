import { sql } from 'kysely';
import type { Db } from '../database.js';
import { plannerRoomShares, tableBytes } from '../dialect.js';

/**
 * The tables whose size grows with a room's history and that carry `room_id`: Synapse's list
 * (event_json, events, event_edges, state_groups_state; the others it names do not exist in
 * Axon) and the other per-room tables Axon keeps.
 */
export const ROOM_SIZE_TABLES = ['event_json', 'events', 'event_edges', 'event_auth', 'state_groups_state', 'state_events', 'current_state_events', 'room_memberships'] as const;

/** Each room's share of a table's rows: the planner's statistics when there are any, else counted. */
async function roomShares(db: Db, table: string): Promise<Map<string, number>> {
  const planner = await plannerRoomShares(db, table);
  if (planner) return planner;
  const rows = await sql<{ room_id: string; n: number | string }>`SELECT room_id, count(*) AS n FROM ${sql.table(table)} GROUP BY room_id`.execute(db);
  const total = rows.rows.reduce((s, r) => s + Number(r.n), 0);
  const out = new Map<string, number>();
  if (total > 0) for (const r of rows.rows) out.set(r.room_id, Number(r.n) / total);
  return out;
}

/** Estimated bytes per room over ROOM_SIZE_TABLES: each table's size split by the rooms' shares of its rows. */
export async function roomSizeEstimates(db: Db): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const table of ROOM_SIZE_TABLES) {
    const bytes = await tableBytes(db, table);
    if (!bytes) continue;
    for (const [roomId, share] of await roomShares(db, table)) sizes.set(roomId, (sizes.get(roomId) ?? 0) + Math.floor(share * bytes));
  }
  return sizes;
}
