import { randomBytes } from 'node:crypto';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';
import type pg from 'pg';
import { ChangeSet, type Notifier } from './changes.js';

/**
 * PostgreSQL through pg's public API only: a pool, named prepared statements (a connection parses
 * and plans a hot query once), and change capture for the notification bus:
 *
 * - Statement-level triggers on the watched tables (migration 004) append `table|keys` to the
 *   transaction-local setting `axon.changes` and send the same as a NOTIFY on `axon_changes`,
 *   prefixed with the writer's application_name.
 * - Our own commits read `axon.changes` in the same round trip as COMMIT and publish it at once,
 *   so the very next request sees its own writes through any cache.
 * - A listening connection receives everyone else's commits (another Axon process, an operator's
 *   psql) moments after they happen; ours it recognises by application_name and skips. While that
 *   connection is down, caches are bypassed (`Notifier.trusted` answers false), and on reconnecting
 *   everything counts as changed.
 * - Writes outside a transaction run inside one, so their changes are captured the same way.
 */

const INT8_OID = 20;
const MAX_NAMED_STATEMENTS = 500;
/** Statements with more bind values than this vary with batch sizes and stay unnamed. */
const MAX_NAMED_PARAMETERS = 100;
const CHANNEL = 'axon_changes';
const APP_SEPARATOR = '\u001d';
/** Reads the transaction's captured changes and commits, in one round trip. */
const COMMIT_CAPTURING = "SELECT current_setting('axon.changes', true) AS changes; COMMIT";

/**
 * A statement that only reads: it may run outside a transaction. Anything else (writes, locking
 * reads, sequence and setting functions) runs inside one so its changes are captured.
 */
const isPlainRead = (text: string) =>
  /^\s*(select|with)\b/i.test(text) &&
  !/\b(insert|update|delete|for\s+(no\s+key\s+update|update|share|key\s+share)|advisory|set_config|nextval|setval|pg_notify)\b/i.test(text);

export interface PgSettings {
  connection: pg.ClientConfig;
  poolMin: number;
  poolMax: number;
}

function toResult(r: pg.QueryResult): QueryResult<unknown> {
  const counts = r.command === 'INSERT' || r.command === 'UPDATE' || r.command === 'DELETE' || r.command === 'MERGE';
  return { ...(counts ? { numAffectedRows: BigInt(r.rowCount ?? 0) } : {}), rows: r.rows ?? [] };
}

export class PgEngine {
  readonly pool: pg.Pool;
  /** Identifies this process's connections in NOTIFY payloads. */
  readonly applicationName = `axon-${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly names = new Map<string, string>();
  private listener: pg.Client | null = null;
  private listening = false;
  private closing = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly pgModule: typeof pg,
    private readonly settings: PgSettings,
    private readonly notifier: Notifier,
  ) {
    const types = {
      // BIGINT columns hold timestamps and ids well inside 2^53: read them as numbers.
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (v: string) => Number(v) : pgModule.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    };
    this.settings = { ...settings, connection: { ...settings.connection, types, application_name: this.applicationName } };
    this.pool = new pgModule.Pool({ ...this.settings.connection, min: settings.poolMin, max: settings.poolMax });
    // An idle client losing its connection must not crash the process.
    this.pool.on('error', () => {});
    notifier.trusted = () => this.listening;
    notifier.fence = () => this.fence();
  }

  private fenceInFlight: Promise<void> | null = null;
  private fenceNext: Promise<void> | null = null;

  /**
   * A round trip on the listening connection. PostgreSQL signals listening sessions before it
   * acknowledges a commit, and a session sends the notifications it has pending before it answers
   * its next query; so once `SELECT 1` is answered there, every commit that finished before it was
   * sent has been delivered. Callers arriving while one is in flight share the next one (a fence
   * sent before they arrived proves nothing to them): at most one fence per round trip.
   */
  private fence(): Promise<void> {
    if (this.fenceNext) return this.fenceNext;
    const send = (): Promise<void> => {
      const l = this.listener;
      const p = (this.listening && l ? l.query('SELECT 1').then(() => {}) : Promise.resolve()).catch(() => {});
      this.fenceInFlight = p.finally(() => {
        if (this.fenceInFlight === q) this.fenceInFlight = null;
      });
      const q = this.fenceInFlight;
      return q;
    };
    if (!this.fenceInFlight) return send();
    this.fenceNext = this.fenceInFlight.then(() => {
      this.fenceNext = null;
      return send();
    });
    return this.fenceNext;
  }

  /**
   * Runs one statement; parameterised texts become named prepared statements (the first 500).
   * Multi-row writes whose text varies with the batch (more than MAX_NAMED_PARAMETERS values) are
   * not named: they would fill the 500 with one-off texts, and nothing is remembered for them.
   */
  query(client: pg.ClientBase, q: CompiledQuery): Promise<pg.QueryResult> {
    const values = q.parameters as unknown[];
    if (values.length === 0) return client.query(q.sql);
    let name = this.names.get(q.sql);
    if (name === undefined && values.length <= MAX_NAMED_PARAMETERS && this.names.size < MAX_NAMED_STATEMENTS) {
      name = `axon_${this.names.size}`;
      this.names.set(q.sql, name);
    }
    return name ? client.query({ name, text: q.sql, values }) : client.query(q.sql, values);
  }

  /** Commits, publishing the changes the triggers captured. Throws if the transaction had failed. */
  async commit(client: pg.ClientBase): Promise<void> {
    const results = (await client.query(COMMIT_CAPTURING)) as unknown as pg.QueryResult[];
    const commit = results[1];
    if (commit?.command !== 'COMMIT') throw new Error('transaction rolled back at commit');
    const captured = results[0]?.rows[0]?.changes as string | null | undefined;
    if (captured) {
      const set = new ChangeSet();
      set.addEncoded(captured);
      this.notifier.publish(set.drain());
    }
  }

  /** Starts listening for other processes' changes; reconnects in the background when it drops. */
  async listen(): Promise<void> {
    if (this.closing) return;
    const client = new this.pgModule.Client({ ...this.settings.connection, application_name: `${this.applicationName}-listen` });
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = null;
      this.listening = false;
      client.end().catch(() => {});
      if (!this.closing) this.retry = setTimeout(() => void this.listen(), 500);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (msg) => this.received(msg.payload ?? ''));
    this.listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch {
      lost();
      return;
    }
    // Whatever happened while nobody listened is unknown: start from scratch.
    this.notifier.everythingChanged();
    this.listening = true;
  }

  private received(payload: string): void {
    const cut = payload.indexOf(APP_SEPARATOR);
    if (cut < 0 || payload.slice(0, cut) === this.applicationName) return;
    const set = new ChangeSet();
    set.addEncoded(payload.slice(cut + 1));
    this.notifier.deliver(set.drain());
  }

  async close(): Promise<void> {
    this.closing = true;
    this.listening = false;
    if (this.retry) clearTimeout(this.retry);
    const l = this.listener;
    this.listener = null;
    await l?.end().catch(() => {});
    await this.pool.end();
  }
}

class PgConnection implements DatabaseConnection {
  inTransaction = false;
  constructor(
    readonly client: pg.PoolClient,
    private readonly engine: PgEngine,
  ) {}

  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    if (this.inTransaction || isPlainRead(q.sql)) return toResult(await this.engine.query(this.client, q)) as QueryResult<R>;
    await this.client.query('BEGIN');
    try {
      const result = await this.engine.query(this.client, q);
      await this.engine.commit(this.client);
      return toResult(result) as QueryResult<R>;
    } catch (e) {
      await this.client.query('ROLLBACK').catch(() => {});
      throw e;
    }
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported here');
  }
}

class PgEngineDriver implements Driver {
  private readonly connections = new WeakMap<pg.PoolClient, PgConnection>();
  constructor(private readonly engine: PgEngine) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    const client = await this.engine.pool.connect();
    let c = this.connections.get(client);
    if (!c) this.connections.set(client, (c = new PgConnection(client, this.engine)));
    return c;
  }
  async beginTransaction(c: DatabaseConnection): Promise<void> {
    await (c as PgConnection).client.query('BEGIN');
    (c as PgConnection).inTransaction = true;
  }
  async commitTransaction(c: DatabaseConnection): Promise<void> {
    await this.engine.commit((c as PgConnection).client);
    (c as PgConnection).inTransaction = false;
  }
  async rollbackTransaction(c: DatabaseConnection): Promise<void> {
    const conn = c as PgConnection;
    conn.inTransaction = false;
    await conn.client.query('ROLLBACK');
  }
  async releaseConnection(c: DatabaseConnection): Promise<void> {
    const conn = c as PgConnection;
    // A connection released mid-transaction (an error in COMMIT itself) is not reused.
    conn.client.release(conn.inTransaction ? true : undefined);
    if (conn.inTransaction) this.connections.delete(conn.client);
  }
  async destroy(): Promise<void> {
    await this.engine.close();
  }
}

export function postgresDialect(engine: PgEngine): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new PgEngineDriver(engine),
    createIntrospector: (db: Kysely<any>) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}
