import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * Room administration (issue 9): Synapse's `blocked_rooms`, the indexes the admin room list sorts
 * by, and change capture on the tables that list reads, so its cached totals and pages are dropped
 * when any writer (the persister, a deletion, an operator's SQL) changes them.
 */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const run = (statement: string) => sql.raw(statement).execute(db);
  // Synapse's table: one row per blocked room, naming the admin who blocked it. Rooms the server
  // has never seen may be blocked too, so there is no reference to `rooms`.
  await run('CREATE TABLE blocked_rooms (room_id TEXT NOT NULL, user_id TEXT NOT NULL)');
  await run('CREATE UNIQUE INDEX blocked_rooms_idx ON blocked_rooms (room_id)');
  // GET /_synapse/admin/v1/rooms?order_by=joined_members (and the other counts) reads the first
  // page straight off an index instead of sorting every room; ties are broken by room ID.
  await run('CREATE INDEX room_stats_current_joined ON room_stats_current (joined_members, room_id)');
  await run('CREATE INDEX room_stats_current_local ON room_stats_current (local_users_in_room, room_id)');
  await run('CREATE INDEX room_stats_current_state_events ON room_stats_current (current_state_events, room_id)');
  await run('CREATE INDEX room_stats_state_name ON room_stats_state (name, room_id)');
  // SQLite captures through Axon's TEMP triggers (src/storage/changes.ts WATCHED_TABLES).
  if (dialect !== 'postgres') return;
  const fn = "EXECUTE FUNCTION axon_capture_changes('room_id')";
  for (const t of ['rooms', 'room_stats_current', 'room_stats_state', 'blocked_rooms']) {
    await run(`CREATE TRIGGER axon_capture_insert AFTER INSERT ON ${t} REFERENCING NEW TABLE AS axon_rows FOR EACH STATEMENT ${fn}`);
    await run(`CREATE TRIGGER axon_capture_update AFTER UPDATE ON ${t} REFERENCING NEW TABLE AS axon_rows FOR EACH STATEMENT ${fn}`);
    await run(`CREATE TRIGGER axon_capture_delete AFTER DELETE ON ${t} REFERENCING OLD TABLE AS axon_rows FOR EACH STATEMENT ${fn}`);
    await run(`CREATE TRIGGER axon_capture_truncate AFTER TRUNCATE ON ${t} FOR EACH STATEMENT ${fn}`);
  }
}
