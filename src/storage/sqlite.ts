import type SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';
import { ChangeSet, WATCHED_TABLES, type Notifier } from './changes.js';
import { Checkpointer } from './sqlite-checkpointer.js';

/**
 * SQLite for an event loop. better-sqlite3 is synchronous, so the design keeps every call short:
 *
 * - Two connections in WAL mode. Plain reads outside a transaction run on the reader at once, even
 *   while a transaction is open on the writer across awaits (they see the last commit); the writer
 *   takes transactions and writes, one at a time (an async mutex, not a busy wait).
 * - Write transactions are short; bulk work is split into short transactions (`chunked` in
 *   ./bulk.ts) that yield to the event loop between chunks, so no request waits long behind one.
 * - BEGIN IMMEDIATE takes the write lock up front; when another process holds it, the writer does
 *   not busy-wait on the event loop (busy_timeout is tiny) but retries asynchronously.
 * - Row changes of the watched tables are captured by TEMP triggers on the writer connection (they
 *   exist only in this connection, so an operator's sqlite3 is untouched) calling a JS function,
 *   and published when the transaction commits. Commits by any other connection move the writer's
 *   `PRAGMA data_version` (the reader never writes), which the notifier's probe turns into
 *   "everything changed".
 */

type Statement = SqliteDatabase.Statement<unknown[], unknown>;

/** How long a write waits in total for another process's write lock before failing with SQLITE_BUSY. */
const WRITE_LOCK_WAIT_MS = 10_000;

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => next);
    await prev;
    return release;
  }
}

const bind = (params: ReadonlyArray<unknown>) => params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isBusy = (e: unknown) => /^SQLITE_BUSY/.test(String((e as { code?: unknown })?.code ?? ''));

/** Prepared statements per connection: Kysely would re-prepare every query, which costs more than running it. */
class Statements {
  private readonly cache = new Map<string, Statement>();
  constructor(private readonly raw: SqliteDatabase.Database) {}
  get(sql: string): Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.raw.prepare(sql);
      if (this.cache.size > 2000) this.cache.clear();
      this.cache.set(sql, s);
    }
    return s;
  }
}

function run(s: Statement, parameters: ReadonlyArray<unknown>): QueryResult<unknown> {
  const p = bind(parameters) as unknown as unknown[];
  if (s.reader) return { rows: s.all(p) };
  const { changes, lastInsertRowid } = s.run(p);
  return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
}

export class SqliteEngine {
  readonly reader: SqliteDatabase.Database;
  readonly writer: SqliteDatabase.Database;
  private readonly readStatements: Statements;
  private readonly writeStatements: Statements;
  private readonly writeLock = new Mutex();
  /** Changes captured by the TEMP triggers since the last commit or rollback. */
  private readonly pending = new ChangeSet();
  private readonly dataVersion: SqliteDatabase.Statement<unknown[], number>;
  private lastDataVersion: number;
  private readonly checkpointer: Checkpointer | null = null;

  constructor(
    Sqlite: typeof SqliteDatabase,
    path: string,
    private readonly notifier: Notifier,
  ) {
    this.writer = new Sqlite(path);
    this.writer.pragma('journal_mode = WAL');
    this.writer.pragma('synchronous = NORMAL');
    // Waiting for another process's lock happens asynchronously (see writeLocked), not in here.
    this.writer.pragma('busy_timeout = 5');
    this.writer.pragma('foreign_keys = ON');
    // Checkpoints run in a worker thread (see sqlite-checkpointer.ts), never inside our commits.
    // An in-memory database has no WAL to checkpoint.
    if (path !== ':memory:' && path !== '') {
      this.writer.pragma('wal_autocheckpoint = 0');
      this.checkpointer = new Checkpointer(path, () => {
        if (this.writer.open) this.writer.pragma('wal_autocheckpoint = 1000');
      });
    }
    this.reader = new Sqlite(path);
    this.reader.pragma('busy_timeout = 5000');
    // Database pages are read through a memory map instead of a read() per page.
    for (const c of [this.writer, this.reader]) c.pragma('mmap_size = 268435456');
    this.reader.pragma('foreign_keys = ON');
    this.readStatements = new Statements(this.reader);
    this.writeStatements = new Statements(this.writer);
    this.writer.function('axon_changed', { deterministic: false, directOnly: true }, (table: unknown, key: unknown) => {
      this.pending.add(String(table), key === null ? null : String(key));
      return null;
    });
    this.dataVersion = this.writer.prepare('PRAGMA data_version').pluck() as SqliteDatabase.Statement<unknown[], number>;
    this.lastDataVersion = this.dataVersion.get()!;
    notifier.probe = () => {
      const v = this.dataVersion.get()!;
      if (v !== this.lastDataVersion) {
        this.lastDataVersion = v;
        this.notifier.everythingChanged();
      }
    };
  }

  /** Creates the change-capturing TEMP triggers (after migrations: the tables must exist). */
  watchTables(): void {
    const exists = this.writer.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").pluck();
    for (const [table, column] of Object.entries(WATCHED_TABLES)) {
      if (!exists.get(table)) continue;
      for (const [event, row] of [
        ['INSERT', 'new'],
        ['UPDATE', 'new'],
        ['DELETE', 'old'],
      ] as const) {
        this.writer.exec(
          `CREATE TEMP TRIGGER IF NOT EXISTS axon_watch_${table}_${event.toLowerCase()} AFTER ${event} ON main.${table} ` +
            `BEGIN SELECT axon_changed('${table}', ${row}.${column}); END`,
        );
      }
    }
  }

  /** Whether a statement only reads (and so may run on the reader). */
  readsOnly(sql: string): boolean {
    return this.readStatements.get(sql).readonly;
  }

  read(q: CompiledQuery): QueryResult<unknown> {
    return run(this.readStatements.get(q.sql), q.parameters);
  }

  /** Runs a statement on the writer inside the current transaction (the caller holds the lock). */
  inTransaction(q: CompiledQuery): QueryResult<unknown> {
    return run(this.writeStatements.get(q.sql), q.parameters);
  }

  /** Takes the writer for a transaction: BEGIN IMMEDIATE, waiting for other processes without blocking. */
  async begin(): Promise<() => void> {
    const release = await this.writeLock.lock();
    try {
      await this.retryBusy(() => this.writer.exec('BEGIN IMMEDIATE'));
    } catch (e) {
      release();
      throw e;
    }
    return release;
  }

  commit(): void {
    this.writer.exec('COMMIT');
    this.notifier.publish(this.pending.drain());
  }

  rollback(): void {
    if (this.writer.inTransaction) this.writer.exec('ROLLBACK');
    this.pending.drain();
  }

  /** One writing statement outside any transaction (SQLite commits it by itself). */
  async write(q: CompiledQuery): Promise<QueryResult<unknown>> {
    const release = await this.writeLock.lock();
    try {
      const result = await this.retryBusy(() => run(this.writeStatements.get(q.sql), q.parameters));
      this.notifier.publish(this.pending.drain());
      return result;
    } catch (e) {
      this.pending.drain();
      throw e;
    } finally {
      release();
    }
  }

  private async retryBusy<T>(fn: () => T): Promise<T> {
    const deadline = Date.now() + WRITE_LOCK_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        return fn();
      } catch (e) {
        if (!isBusy(e) || Date.now() > deadline) throw e;
        this.pending.drain();
        await sleep(Math.min(50, 1 + attempt * 2) * (0.5 + Math.random()));
      }
    }
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    this.reader.close();
    this.writer.close();
  }
}

/** A Kysely connection that decides per statement: plain reads on the reader, the rest on the writer. */
class SqliteConnection implements DatabaseConnection {
  /** Set while this connection holds the writer for a transaction: the lock's release. */
  release: (() => void) | null = null;

  constructor(private readonly engine: SqliteEngine) {}

  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    if (this.release) return this.engine.inTransaction(q) as QueryResult<R>;
    if (this.engine.readsOnly(q.sql)) return this.engine.read(q) as QueryResult<R>;
    return (await this.engine.write(q)) as QueryResult<R>;
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported on SQLite here');
  }
}

class SqliteEngineDriver implements Driver {
  private readonly free: SqliteConnection[] = [];
  constructor(private readonly engine: SqliteEngine) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.free.pop() ?? new SqliteConnection(this.engine);
  }
  async beginTransaction(c: DatabaseConnection): Promise<void> {
    (c as SqliteConnection).release = await this.engine.begin();
  }
  async commitTransaction(c: DatabaseConnection): Promise<void> {
    // A failed COMMIT leaves the transaction open for Kysely's rollback.
    this.engine.commit();
    this.finish(c as SqliteConnection);
  }
  async rollbackTransaction(c: DatabaseConnection): Promise<void> {
    try {
      this.engine.rollback();
    } finally {
      this.finish(c as SqliteConnection);
    }
  }
  async releaseConnection(c: DatabaseConnection): Promise<void> {
    this.free.push(c as SqliteConnection);
  }
  async destroy(): Promise<void> {
    await this.engine.close();
  }
  private finish(c: SqliteConnection) {
    const release = c.release;
    c.release = null;
    release?.();
  }
}

export function sqliteDialect(engine: SqliteEngine): Dialect {
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new SqliteEngineDriver(engine),
    createIntrospector: (db: Kysely<any>) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}
