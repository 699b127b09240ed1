import { Kysely, type Dialect, type Transaction } from 'kysely';
import type { DatabaseConfig } from '../config/schema.js';
import { Notifier } from './changes.js';
import type { DialectName } from './dialect.js';
import { PgEngine, postgresDialect } from './postgres.js';
import type { Database } from './schema/tables.js';
import { SqliteEngine, sqliteDialect } from './sqlite.js';
import { registerNotifier } from './transaction.js';

export { afterCommit, afterSettle, announce, withTransaction } from './transaction.js';

/** A handle stores take: the database itself or an open transaction on it. */
export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

export interface Storage {
  db: Db;
  dialect: DialectName;
  /** Committed changes, ours and everyone else's (see ./changes.ts). */
  notifier: Notifier;
  /** Starts change capture once the schema is migrated (the watched tables exist). */
  watchChanges(): Promise<void>;
  close(): Promise<void>;
}

/** The Storage around an engine's Kysely dialect: one notifier, registered for announce(). */
function assemble(dialect: DialectName, kyselyDialect: Dialect, notifier: Notifier, watchChanges: () => Promise<void>): Storage {
  const db = new Kysely<Database>({ dialect: kyselyDialect });
  registerNotifier(db, notifier);
  return {
    db,
    dialect,
    notifier,
    watchChanges,
    close: async () => {
      await notifier.close();
      await db.destroy();
    },
  };
}

export async function openSqlite(path: string): Promise<Storage> {
  const { default: Sqlite } = await import('better-sqlite3');
  const notifier = new Notifier();
  const engine = new SqliteEngine(Sqlite, path, notifier);
  return assemble('sqlite', sqliteDialect(engine), notifier, async () => engine.watchTables());
}

export async function openPostgres(cfg: Extract<DatabaseConfig, { kind: 'postgres' }>): Promise<Storage> {
  const { default: pg } = await import('pg');
  const notifier = new Notifier();
  const { connectionString, host, port, user, password, database } = cfg;
  const engine = new PgEngine(pg, { connection: { connectionString, host, port, user, password, database }, poolMin: cfg.poolMin, poolMax: cfg.poolMax }, notifier);
  return assemble('postgres', postgresDialect(engine), notifier, () => engine.listen());
}

/** Opens the configured engine, loading only its driver. */
export function openStorage(cfg: DatabaseConfig): Promise<Storage> {
  return cfg.kind === 'sqlite' ? openSqlite(cfg.path) : openPostgres(cfg);
}
