import type { Kysely } from 'kysely';
import { withIdColumn, type DialectName } from '../dialect.js';

/** Accounts, tokens, devices, profiles and the tables the users admin API reads (Synapse's names). */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('name', 'text', (c) => c.unique())
    .addColumn('password_hash', 'text')
    .addColumn('creation_ts', 'bigint')
    .addColumn('admin', 'smallint', (c) => c.notNull().defaultTo(0))
    .addColumn('upgrade_ts', 'bigint')
    .addColumn('is_guest', 'smallint', (c) => c.notNull().defaultTo(0))
    .addColumn('appservice_id', 'text')
    .addColumn('consent_version', 'text')
    .addColumn('consent_server_notice_sent', 'text')
    .addColumn('user_type', 'text', (c) => c.defaultTo(null))
    .addColumn('deactivated', 'smallint', (c) => c.notNull().defaultTo(0))
    .addColumn('shadow_banned', 'boolean')
    .addColumn('consent_ts', 'bigint')
    .addColumn('approved', 'boolean')
    .addColumn('locked', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('suspended', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema.createIndex('users_creation_ts').on('users').column('creation_ts').execute();

  await withIdColumn(dialect, db.schema.createTable('access_tokens'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text')
    .addColumn('token', 'text', (c) => c.notNull().unique())
    .addColumn('valid_until_ms', 'bigint')
    .addColumn('puppets_user_id', 'text')
    .addColumn('last_validated', 'bigint')
    .addColumn('refresh_token_id', 'bigint')
    .addColumn('used', 'boolean')
    .execute();
  await db.schema.createIndex('access_tokens_device_id').on('access_tokens').columns(['user_id', 'device_id']).execute();

  await db.schema
    .createTable('devices')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text')
    .addColumn('last_seen', 'bigint')
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('hidden', 'boolean', (c) => c.notNull().defaultTo(false))
    .addPrimaryKeyConstraint('device_uniqueness', ['user_id', 'device_id'])
    .execute();

  await db.schema
    .createTable('profiles')
    .addColumn('user_id', 'text', (c) => c.notNull().unique())
    .addColumn('full_user_id', 'text', (c) => c.notNull().unique())
    .addColumn('displayname', 'text')
    .addColumn('avatar_url', 'text')
    .execute();

  await db.schema
    .createTable('user_threepids')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('medium', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('validated_at', 'bigint', (c) => c.notNull())
    .addColumn('added_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('medium_address', ['medium', 'address'])
    .execute();
  await db.schema.createIndex('user_threepids_user_id').on('user_threepids').column('user_id').execute();

  await db.schema
    .createTable('user_external_ids')
    .addColumn('auth_provider', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addUniqueConstraint('user_external_ids_auth_provider_external_id_key', ['auth_provider', 'external_id'])
    .execute();
  await db.schema.createIndex('user_external_ids_user_id_idx').on('user_external_ids').column('user_id').execute();

  await db.schema
    .createTable('erased_users')
    .addColumn('user_id', 'text', (c) => c.notNull().unique())
    .execute();

  await db.schema
    .createTable('account_data')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('account_data_type', 'text', (c) => c.notNull())
    .addColumn('stream_id', 'bigint', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addUniqueConstraint('account_data_uniqueness', ['user_id', 'account_data_type'])
    .execute();

  await db.schema
    .createTable('room_account_data')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('room_id', 'text', (c) => c.notNull())
    .addColumn('account_data_type', 'text', (c) => c.notNull())
    .addColumn('stream_id', 'bigint', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addUniqueConstraint('room_account_data_uniqueness', ['user_id', 'room_id', 'account_data_type'])
    .execute();
}
