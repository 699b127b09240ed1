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
/** Reads queued at once on the shared connection; past this they take a pooled connection. */
const SHARED_MAX_IN_FLIGHT = 16;
/**
 * A read joins the shared connection's queue only while the oldest one there has been out for
 * less than this: point reads take well under a millisecond, so an older one is a slow query, and
 * nothing more should wait behind it.
 */
const SHARED_MAX_WAIT_MS = 2;

/** What the wrapper knows of one SQL text: its statement name, and whether it may be shared. */
interface Statement {
  name: string | undefined;
  shared: boolean;
}

/**
 * A plain read: a SELECT that takes no row locks and changes no session state, so it may run on a
 * connection other requests use at the same time (unlike BEGIN…COMMIT, writes, Kysely's migration
 * lock, or anything a caller pinned a connection for).
 */
const isPlainRead = (text: string) =>
  /^\s*select\b/i.test(text) && !/\bfor\s+(no\s+key\s+update|update|share|key\s+share)\b|advisory|set_config|nextval|setval|pg_sleep/i.test(text);

/** The shared connection, with when each read in flight went out and its socket (for corking). */
interface Shared {
  client: pg.Client;
  sentAt: number[];
  stream: { cork(): void; uncork(): void } | undefined;
  corked: boolean;
}

/**
 * One connection in pg's pipeline mode, shared by concurrent plain reads. Each read is still its
 * own statement, run when it arrives and answered from the data committed by then, exactly as on
 * a pooled connection; but reads from many requests travel in the same writes and reads on one
 * socket, and PostgreSQL serves them from one backend without a wake-up per query, which roughly
 * halves the CPU a point read costs on both sides. Answers come back in order, so `sentAt` (when
 * each read in flight went out) tells how long the head of the queue has been waiting.
 */
class SharedReads {
  private conn: Shared | null = null;
  private connecting: Promise<Shared> | null = null;
  private ending = false;

  constructor(private readonly open: () => pg.Client) {}

  /** Whether a read may join the queue now without waiting behind a slow query. */
  available(): boolean {
    const c = this.conn;
    if (this.ending) return false;
    if (c === null) return true;
    const n = c.sentAt.length;
    return n === 0 || (n < SHARED_MAX_IN_FLIGHT && performance.now() - c.sentAt[0]! < SHARED_MAX_WAIT_MS);
  }

  async query(run: (client: pg.Client) => Promise<pg.QueryResult>): Promise<pg.QueryResult> {
    const c = this.conn ?? (await (this.connecting ??= this.connect()));
    if (!c.corked && c.stream?.cork) {
      // Reads issued in the same turn of the event loop leave in one write.
      c.corked = true;
      c.stream.cork();
      setImmediate(() => {
        c.corked = false;
        c.stream!.uncork();
      });
    }
    c.sentAt.push(performance.now());
    try {
      return await run(c.client);
    } finally {
      c.sentAt.shift();
    }
  }

  private async connect() {
    const client = this.open();
    const drop = () => {
      if (this.conn?.client === client) this.conn = null;
    };
    // A lost connection fails the reads in flight (as a pooled one would) and is replaced by the next read.
    client.on('error', drop);
    client.on('end', drop);
    try {
      await client.connect();
      const stream = (client as unknown as { connection?: { stream?: Shared['stream'] } }).connection?.stream;
      const c: Shared = { client, sentAt: [], stream, corked: false };
      if (!this.ending) this.conn = c;
      return c;
    } finally {
      this.connecting = null;
    }
  }

  async end(): Promise<void> {
    this.ending = true;
    const c = this.conn ?? (await this.connecting?.catch(() => null));
    this.conn = null;
    await c?.client.end();
  }
}

/**
 * Kysely's pool for pg. Parameterised queries run as named prepared statements, so a connection
 * parses and plans a query once instead of on every call (pg keeps the per-connection statement
 * cache; only the first MAX_NAMED_STATEMENTS distinct texts get names, bounding it). A connection
 * Kysely checks out takes a pooled client only when it needs one: a plain read that is the first
 * query on it goes to the shared pipelined connection instead (see SharedReads); BEGIN, writes and
 * everything after the first query run on a pooled client of their own, as before.
 */
function pgPool(PgQuery: typeof pg.Query, pool: pg.Pool, shared: SharedReads | null) {
  /**
   * Runs a named statement. Built from the text and named afterwards: pg copies a config object
   * through property descriptors on every query, which shows in profiles of the hot path.
   */
  const runNamed = (client: pg.ClientBase, name: string, text: string, values: unknown[]) =>
    new Promise<pg.QueryResult>((resolve, reject) => {
      const q = new PgQuery(text, values, (err, res) => (err ? reject(err) : resolve(res as unknown as pg.QueryResult)));
      (q as pg.Query & { name?: string }).name = name;
      client.query(q);
    });
  const statements = new Map<string, Statement>();
  const statementOf = (text: string): Statement => {
    let st = statements.get(text);
    if (st === undefined) {
      st = { name: undefined, shared: shared !== null && isPlainRead(text) };
      if (statements.size < MAX_NAMED_STATEMENTS) {
        st.name = `axon_${statements.size}`;
        statements.set(text, st);
      }
    }
    return st;
  };
  // Checked-out connections are reused, so Kysely keeps recognising its connection objects.
  const free: Array<{ query(text: string, values?: unknown[]): Promise<pg.QueryResult>; release(err?: Error | boolean): void }> = [];
  const checkout = () => {
    let client: Promise<pg.PoolClient> | undefined;
    let used = false;
    const conn = {
      async query(text: string, values?: unknown[]) {
        const first = !used;
        used = true;
        if (!values || values.length === 0) return (await (client ??= pool.connect())).query(text, values);
        const st = statementOf(text);
        const run = (c: pg.ClientBase) => (st.name ? runNamed(c, st.name, text, values) : c.query(text, values));
        if (first && client === undefined && st.shared && shared!.available()) return shared!.query(run);
        return run(await (client ??= pool.connect()));
      },
      release(err?: Error | boolean) {
        const c = client;
        client = undefined;
        used = false;
        void c?.then((pc) => pc.release(err), () => {});
        if (!err) free.push(conn);
      },
    };
    return conn;
  };
  return {
    async connect() {
      return free.pop() ?? checkout();
    },
    async end() {
      await shared?.end();
      await pool.end();
    },
  };
}

export async function openPostgres(cfg: Extract<DatabaseConfig, { kind: 'postgres' }>): Promise<Storage> {
  const { default: pg } = await import('pg');
  const connection = {
    connectionString: cfg.connectionString,
    host: cfg.host,
    port: cfg.port,
    user: cfg.user,
    password: cfg.password,
    database: cfg.database,
    // BIGINT columns hold timestamps and ids well inside 2^53: read them as numbers.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  };
  // The shared reading connection counts against cp_max (none when cp_max leaves no room for it).
  const sharing = cfg.poolMax > 1;
  const pool = new pg.Pool({ ...connection, min: Math.min(cfg.poolMin, cfg.poolMax - 1 || 1), max: sharing ? cfg.poolMax - 1 : cfg.poolMax });
  // An idle client losing its connection must not crash the process.
  pool.on('error', () => {});
  const shared = sharing ? new SharedReads(() => new pg.Client({ ...connection, pipeline: true } as pg.ClientConfig)) : null;
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: pgPool(pg.Query, pool, shared) as never }) });
  return { db, dialect: 'postgres', changeStamp: () => null, close: () => db.destroy() };
}

/** Opens the configured engine, loading only its driver. */
export function openStorage(cfg: DatabaseConfig): Promise<Storage> {
  return cfg.kind === 'sqlite' ? openSqlite(cfg.path) : openPostgres(cfg);
}

export function withTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction().execute(fn);
}
