import type SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import type pg from 'pg';
import type { DatabaseConfig } from '../config/schema.js';
import type { DialectName } from './dialect.js';
import type { Database } from './schema/tables.js';

/** A handle stores take: the database itself or an open transaction on it. */
export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

export interface Storage {
  db: Db;
  dialect: DialectName;
  /**
   * A value that changes whenever anything in the database may have changed: our own writes and
   * commits by any other connection or process (an operator's `sqlite3`). Caches of database reads
   * stay exact by keying on it. Null where no such cheap signal exists (PostgreSQL): don't cache.
   */
  changeStamp(): string | null;
  close(): Promise<void>;
}

/**
 * Wraps better-sqlite3 for Kysely's SqliteDialect with what Kysely lacks: a prepared statement
 * cache (Kysely re-prepares every query, which costs more than running it), binding of JS
 * booleans as 0/1 (better-sqlite3 refuses booleans), and a count of our own writing statements
 * (for `changeStamp`).
 */
function cachingSqlite(raw: SqliteDatabase.Database, onWrite: () => void) {
  const cache = new Map<string, { reader: boolean; all(p: ReadonlyArray<unknown>): unknown[]; run(p: ReadonlyArray<unknown>): SqliteDatabase.RunResult; iterate(p: ReadonlyArray<unknown>): IterableIterator<unknown> }>();
  const bind = (params: ReadonlyArray<unknown>) => params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
  return {
    close: () => raw.close(),
    prepare(sql: string) {
      let wrapped = cache.get(sql);
      if (!wrapped) {
        const s = raw.prepare(sql);
        // Anything that is not read-only (INSERT … RETURNING included, BEGIN/COMMIT too) counts.
        const writes = !s.readonly;
        wrapped = {
          reader: s.reader,
          all: (p) => (writes && onWrite(), s.all(bind(p))),
          run: (p) => (writes && onWrite(), s.run(bind(p))),
          iterate: (p) => (writes && onWrite(), s.iterate(bind(p))),
        };
        if (cache.size > 2000) cache.clear();
        cache.set(sql, wrapped);
      }
      return wrapped;
    },
  };
}

export async function openSqlite(path: string): Promise<Storage> {
  const { default: Sqlite } = await import('better-sqlite3');
  const raw = new Sqlite(path);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('busy_timeout = 5000');
  raw.pragma('foreign_keys = ON');
  // data_version changes when another connection (any process) commits; own writes are counted.
  const dataVersion = raw.prepare('PRAGMA data_version').pluck();
  let ownWrites = 0;
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingSqlite(raw, () => void ownWrites++) as never }) });
  return {
    db,
    dialect: 'sqlite',
    changeStamp: () => `${ownWrites}.${dataVersion.get() as number}`,
    close: () => db.destroy(),
  };
}

const INT8_OID = 20;
const MAX_NAMED_STATEMENTS = 500;

/**
 * Runs parameterised queries as named prepared statements, so each pooled connection parses and
 * plans a query once instead of on every call (pg keeps the per-connection statement cache).
 * Only the first MAX_NAMED_STATEMENTS distinct texts get names, bounding that cache.
 */
function namedStatements(pool: pg.Pool) {
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (name === undefined && names.size < MAX_NAMED_STATEMENTS) {
      name = `axon_${names.size}`;
      names.set(text, name);
    }
    return name;
  };
  // One wrapper per pooled client, so Kysely keeps recognising (and reusing) its connections.
  const wrappers = new WeakMap<pg.PoolClient, object>();
  const wrap = (client: pg.PoolClient) => ({
    query(text: string, values?: unknown[]) {
      const name = values && values.length > 0 ? nameOf(text) : undefined;
      return name ? client.query({ name, text, values }) : client.query(text, values);
    },
    release: (err?: Error | boolean) => client.release(err),
  });
  return {
    async connect() {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (!wrapper) wrappers.set(client, (wrapper = wrap(client)));
      return wrapper;
    },
    end: () => pool.end(),
  };
}

export async function openPostgres(cfg: Extract<DatabaseConfig, { kind: 'postgres' }>): Promise<Storage> {
  const { default: pg } = await import('pg');
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
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: namedStatements(pool) as never }) });
  return { db, dialect: 'postgres', changeStamp: () => null, close: () => db.destroy() };
}

/** Opens the configured engine, loading only its driver. */
export function openStorage(cfg: DatabaseConfig): Promise<Storage> {
  return cfg.kind === 'sqlite' ? openSqlite(cfg.path) : openPostgres(cfg);
}

export function withTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction().execute(fn);
}
