import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * Filters, push rules and notifications, in Synapse's tables and columns (`user_filters`,
 * `push_rules`, `push_rules_enable`, `push_rules_stream`, `event_push_actions`,
 * `event_push_summary`), so operators' SQL from Synapse's docs works. Differences: `filter_json`
 * is TEXT (Synapse: BYTEA) so it reads as JSON in psql and sqlite3; `event_push_actions` is keyed
 * by (user_id, stream_ordering), what both its readers seek on (a user's notifications, newest
 * first, and a room's unread counts after a receipt), instead of Synapse's five indexes: every
 * message writes a row per notified member, so each index costs on the send path.
 */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const sqlite = dialect === 'sqlite';
  const id = sqlite ? 'id INTEGER PRIMARY KEY AUTOINCREMENT' : 'id BIGSERIAL PRIMARY KEY';
  const keyed = sqlite ? ' WITHOUT ROWID' : '';
  const statements = [
    `CREATE TABLE user_filters (
      user_id TEXT NOT NULL,
      full_user_id TEXT NOT NULL,
      filter_id BIGINT NOT NULL,
      filter_json TEXT NOT NULL
    )`,
    'CREATE UNIQUE INDEX full_users_filters_unique_idx ON user_filters (full_user_id, filter_id)',
    `CREATE TABLE push_rules (
      ${id},
      user_name TEXT NOT NULL,
      rule_id TEXT NOT NULL,
      priority_class SMALLINT NOT NULL,
      priority INTEGER NOT NULL DEFAULT 0,
      conditions TEXT NOT NULL,
      actions TEXT NOT NULL,
      UNIQUE (user_name, rule_id)
    )`,
    `CREATE TABLE push_rules_enable (
      ${id},
      user_name TEXT NOT NULL,
      rule_id TEXT NOT NULL,
      enabled SMALLINT,
      UNIQUE (user_name, rule_id)
    )`,
    `CREATE TABLE push_rules_stream (
      stream_id BIGINT NOT NULL,
      event_stream_ordering BIGINT NOT NULL,
      user_id TEXT NOT NULL,
      rule_id TEXT NOT NULL,
      op TEXT NOT NULL,
      priority_class SMALLINT,
      priority INTEGER,
      conditions TEXT,
      actions TEXT,
      instance_name TEXT
    )`,
    'CREATE INDEX push_rules_stream_id ON push_rules_stream (stream_id)',
    'CREATE INDEX push_rules_stream_user_stream_id ON push_rules_stream (user_id, stream_id)',
    `CREATE TABLE event_push_actions (
      room_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      user_id TEXT NOT NULL,
      profile_tag VARCHAR(32),
      actions TEXT NOT NULL,
      topological_ordering BIGINT,
      stream_ordering BIGINT NOT NULL,
      notif SMALLINT,
      highlight SMALLINT,
      unread SMALLINT,
      thread_id TEXT,
      PRIMARY KEY (user_id, stream_ordering)
    )${keyed}`,
    // Purges and room deletions remove a room's rows.
    'CREATE INDEX event_push_actions_room_stream ON event_push_actions (room_id, stream_ordering)',
    `CREATE TABLE event_push_summary (
      user_id TEXT NOT NULL,
      room_id TEXT NOT NULL,
      notif_count BIGINT NOT NULL,
      stream_ordering BIGINT NOT NULL,
      unread_count BIGINT,
      last_receipt_stream_ordering BIGINT,
      thread_id TEXT
    )`,
    'CREATE UNIQUE INDEX event_push_summary_unique_index2 ON event_push_summary (user_id, room_id, thread_id)',
  ];
  for (const s of statements) await sql.raw(s).execute(db);
}
