import type { Kysely } from 'kysely';
import { withIdColumn, type DialectName } from '../dialect.js';

/**
 * Reports filed by clients, in Synapse's tables and columns (`event_reports`, `room_reports`,
 * `user_reports`), so moderators' SQL and tools read them as on Synapse; and Axon's own
 * `admin_audit_log`, one row per state-changing Admin API call (who, when, what, target, outcome).
 */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  // Synapse stores the whole request body in `content` (the admin API reads `score` from it).
  await withIdColumn(dialect, db.schema.createTable('event_reports'))
    .addColumn('received_ts', 'bigint', (c) => c.notNull())
    .addColumn('room_id', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('content', 'text')
    .execute();
  await db.schema.createIndex('event_reports_received_ts').on('event_reports').columns(['received_ts', 'id']).execute();

  await withIdColumn(dialect, db.schema.createTable('room_reports'))
    .addColumn('received_ts', 'bigint', (c) => c.notNull())
    .addColumn('room_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .execute();

  await withIdColumn(dialect, db.schema.createTable('user_reports'))
    .addColumn('received_ts', 'bigint', (c) => c.notNull())
    .addColumn('target_user_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('user_reports_received_ts').on('user_reports').columns(['received_ts', 'id']).execute();

  // No request bodies, ever: they carry passwords and tokens. `path` has access_token redacted.
  await withIdColumn(dialect, db.schema.createTable('admin_audit_log'))
    .addColumn('ts', 'bigint', (c) => c.notNull())
    .addColumn('user_id', 'text')
    .addColumn('authenticated_by', 'text')
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('request_id', 'text')
    .execute();
  await db.schema.createIndex('admin_audit_log_user').on('admin_audit_log').columns(['user_id', 'id']).execute();
  await db.schema.createIndex('admin_audit_log_target').on('admin_audit_log').columns(['target', 'id']).execute();
}
