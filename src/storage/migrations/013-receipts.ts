import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * Read receipts, in Synapse's tables and columns (`receipts_linearized`, `receipts_graph`) so
 * operators' SQL from Synapse's docs works. One current receipt per (room, type, user, thread):
 * `thread_id` NULL is the unthreaded receipt, 'main' the main timeline, an event ID a thread.
 * Uniqueness with a NULL thread is kept as Synapse ≥ 1.7x keeps it, by two partial unique indexes
 * (one over the unthreaded rows, one over the threaded ones): a plain unique index treats NULLs
 * as distinct on both engines, and SQLite has no NULLS NOT DISTINCT.
 *
 * `receipts_linearized.event_stream_ordering` is the stream ordering of the receipt's event, what
 * notification counts compare with `event_push_actions.stream_ordering`; `stream_id` is the
 * receipt's own position on the receipts stream (what /sync pages on). `data` is JSON text.
 *
 * Plus an index on `event_push_actions` (user_id, room_id, stream_ordering): unread counts seek a
 * user's rows in one room after their receipt (Synapse has the same index,
 * `event_push_actions_rm_tokens`), and the pusher queue reads `pushers` by user.
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  const statements = [
    `CREATE TABLE receipts_linearized (
      stream_id BIGINT NOT NULL,
      room_id TEXT NOT NULL,
      receipt_type TEXT NOT NULL,
      user_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      thread_id TEXT,
      event_stream_ordering BIGINT,
      data TEXT NOT NULL,
      instance_name TEXT
    )`,
    'CREATE UNIQUE INDEX receipts_linearized_unique_index ON receipts_linearized (room_id, receipt_type, user_id) WHERE thread_id IS NULL',
    'CREATE UNIQUE INDEX receipts_linearized_uniqueness_thread ON receipts_linearized (room_id, receipt_type, user_id, thread_id) WHERE thread_id IS NOT NULL',
    'CREATE INDEX receipts_linearized_id ON receipts_linearized (stream_id)',
    'CREATE INDEX receipts_linearized_room_stream ON receipts_linearized (room_id, stream_id)',
    'CREATE INDEX receipts_linearized_user ON receipts_linearized (user_id, room_id)',
    `CREATE TABLE receipts_graph (
      room_id TEXT NOT NULL,
      receipt_type TEXT NOT NULL,
      user_id TEXT NOT NULL,
      event_ids TEXT NOT NULL,
      thread_id TEXT,
      data TEXT NOT NULL
    )`,
    'CREATE UNIQUE INDEX receipts_graph_unique_index ON receipts_graph (room_id, receipt_type, user_id) WHERE thread_id IS NULL',
    'CREATE UNIQUE INDEX receipts_graph_uniqueness_thread ON receipts_graph (room_id, receipt_type, user_id, thread_id) WHERE thread_id IS NOT NULL',
    'CREATE INDEX event_push_actions_user_room_stream ON event_push_actions (user_id, room_id, stream_ordering)',
    'CREATE INDEX pushers_user_name ON pushers (user_name)',
  ];
  for (const s of statements) await sql.raw(s).execute(db);
}
