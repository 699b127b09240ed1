import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * State that must survive a restart: user-interactive-auth sessions with Synapse's table and
 * column names (`ui_auth_sessions`, `ui_auth_sessions_credentials`), and the nonces of
 * shared-secret registration (Synapse keeps those in memory; Axon keeps them bounded here).
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('ui_auth_sessions')
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('creation_time', 'bigint', (c) => c.notNull())
    .addColumn('serverdict', 'text', (c) => c.notNull())
    .addColumn('clientdict', 'text', (c) => c.notNull())
    .addColumn('uri', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addUniqueConstraint('ui_auth_sessions_session_id_key', ['session_id'])
    .execute();
  // The expiry sweep scans by age.
  await db.schema.createIndex('ui_auth_sessions_creation_time').on('ui_auth_sessions').column('creation_time').execute();

  await db.schema
    .createTable('ui_auth_sessions_credentials')
    .addColumn('session_id', 'text', (c) => c.notNull().references('ui_auth_sessions.session_id'))
    .addColumn('stage_type', 'text', (c) => c.notNull())
    .addColumn('result', 'text', (c) => c.notNull())
    .addUniqueConstraint('ui_auth_sessions_credentials_session_id_stage_type_key', ['session_id', 'stage_type'])
    .execute();

  await db.schema
    .createTable('registration_nonces')
    .addColumn('nonce', 'text', (c) => c.notNull().primaryKey())
    .addColumn('created_ts', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('registration_nonces_created_ts').on('registration_nonces').column('created_ts').execute();
}
