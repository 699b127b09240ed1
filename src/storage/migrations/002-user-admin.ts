import type { Kysely } from 'kysely';
import { withIdColumn, type DialectName } from '../dialect.js';

/** Tables behind the rest of the users admin API: client IPs, pushers, rate-limit overrides, registration tokens, account validity, per-user experimental features. */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('user_ips')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('access_token', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text')
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('user_agent', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('user_ips_user_token_ip_unique_index', ['user_id', 'access_token', 'ip'])
    .execute();
  await db.schema.createIndex('user_ips_user_id_last_seen').on('user_ips').columns(['user_id', 'last_seen']).execute();

  await withIdColumn(dialect, db.schema.createTable('pushers'))
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('access_token', 'bigint')
    .addColumn('profile_tag', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('app_id', 'text', (c) => c.notNull())
    .addColumn('app_display_name', 'text')
    .addColumn('device_display_name', 'text')
    .addColumn('pushkey', 'text', (c) => c.notNull())
    .addColumn('ts', 'bigint', (c) => c.notNull())
    .addColumn('lang', 'text')
    .addColumn('data', 'text')
    .addColumn('last_stream_ordering', 'bigint')
    .addColumn('last_success', 'bigint')
    .addColumn('failing_since', 'bigint')
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('device_id', 'text')
    .addUniqueConstraint('pushers2_app_id_pushkey_user_name_key', ['app_id', 'pushkey', 'user_name'])
    .execute();

  await db.schema
    .createTable('ratelimit_override')
    .addColumn('user_id', 'text', (c) => c.notNull().unique())
    .addColumn('messages_per_second', 'bigint')
    .addColumn('burst_count', 'bigint')
    .execute();

  await db.schema
    .createTable('registration_tokens')
    .addColumn('token', 'text', (c) => c.notNull().unique())
    .addColumn('uses_allowed', 'integer')
    .addColumn('pending', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('completed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expiry_time', 'bigint')
    .execute();

  await db.schema
    .createTable('account_validity')
    .addColumn('user_id', 'text', (c) => c.notNull().primaryKey())
    .addColumn('expiration_ts_ms', 'bigint', (c) => c.notNull())
    .addColumn('email_sent', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('renewal_token', 'text')
    .addColumn('token_used_ts_ms', 'bigint')
    .execute();

  await db.schema
    .createTable('per_user_experimental_features')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('feature', 'text', (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(false))
    .addPrimaryKeyConstraint('per_user_experimental_features_pkey', ['user_id', 'feature'])
    .execute();
}
