import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config/schema.js';
import type { DialectName } from './dialect.js';
import type { Database } from './schema/tables.js';

/** A handle stores take: the database itself or an open transaction on it. */
export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

export interface Storage {
  db: Db;
  dialect: DialectName;
  close(): Promise<void>;
}

/**
 * Wraps better-sqlite3 for Kysely's SqliteDialect with two things Kysely lacks: a prepared
 * statement cache (Kysely re-prepares every query, which costs more than running it) and
 * binding of JS booleans as 0/1 (better-sqlite3 refuses booleans).
 */
function cachingSqlite(raw: SqliteDatabase.Database) {
  const cache = new Map<string, SqliteDatabase.Statement>();
  const bind = (params: ReadonlyArray<unknown>) =>
    params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
  return {
    close: () => raw.close(),
    prepare(sql: string) {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = raw.prepare(sql);
        if (cache.size > 2000) cache.clear();
        cache.set(sql, stmt);
      }
      const s = stmt;
      return {
        reader: s.reader,
        all: (params: ReadonlyArray<unknown>) => s.all(bind(params)),
        run: (params: ReadonlyArray<unknown>) => s.run(bind(params)),
        iterate: (params: ReadonlyArray<unknown>) => s.iterate(bind(params)),
      };
    },
  };
}

export function openSqlite(path: string): Storage {
  const raw = new SqliteDatabase(path);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('busy_timeout = 5000');
  raw.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingSqlite(raw) as never }) });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

const INT8_OID = 20;

export function openPostgres(cfg: Extract<DatabaseConfig, { kind: 'postgres' }>): Storage {
  const pool = new pg.Pool({
    connectionString: cfg.connectionString,
    host: cfg.host,
    port: cfg.port,
    user: cfg.user,
    password: cfg.password,
    database: cfg.database,
    min: cfg.poolMin,
    max: cfg.poolMax,
    // BIGINT columns hold timestamps and ids well inside 2^53: read them as numbers.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its connection must not crash the process.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', close: () => db.destroy() };
}

export function openStorage(cfg: DatabaseConfig): Storage {
  return cfg.kind === 'sqlite' ? openSqlite(cfg.path) : openPostgres(cfg);
}

export function withTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction().execute(fn);
}
