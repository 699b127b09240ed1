import type { ChangedKeys, Notifier } from './changes.js';
import type { Db, Tx } from './database.js';

/** Attempts of a transaction that fails on a deadlock, a serialization failure or a busy database. */
export const MAX_ATTEMPTS = 6;

interface TxState {
  afterCommit: Array<() => void>;
  /** Run when the attempt ends, committed or rolled back, before the afterCommit callbacks. */
  settled: Array<() => void>;
}

const open = new WeakMap<object, TxState>();
const notifiers = new WeakMap<object, Notifier>();

/** Links a database handle to its notifier (done once by the storage that opens it). */
export function registerNotifier(db: Db, notifier: Notifier): void {
  notifiers.set(db, notifier);
}

/**
 * Errors worth running the whole transaction again for: PostgreSQL's deadlock (40P01) and
 * serialization failure (40001), and SQLite's busy database (another process holding the lock
 * past the driver's own retries).
 */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001' || code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Exponential back-off with full jitter: 0–5 ms, 0–10 ms, … capped at 160 ms. */
const backoff = (attempt: number) => Math.random() * Math.min(160, 5 * 2 ** (attempt - 1));

/**
 * Runs `fn` in a transaction. Deadlocks and serialization failures roll it back and run it again
 * (at most MAX_ATTEMPTS times, with jittered back-off), so `fn` must do nothing outside the
 * database that cannot be repeated. Callbacks registered with `afterCommit` run once it has
 * committed; after a rollback they are dropped.
 */
export async function withTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const state: TxState = { afterCommit: [], settled: [] };
    let result: T;
    try {
      result = await db.transaction().execute(async (tx) => {
        open.set(tx, state);
        notifiers.set(tx, notifiers.get(db)!);
        return fn(tx);
      });
    } catch (e) {
      for (const cb of state.settled) cb();
      if (attempt >= MAX_ATTEMPTS || !isRetryable(e)) throw e;
      await sleep(backoff(attempt));
      continue;
    }
    for (const cb of state.settled) cb();
    for (const cb of state.afterCommit) cb();
    return result;
  }
}

/** Runs `cb` once the transaction `db` belongs to has committed (at once outside a transaction). */
export function afterCommit(db: Db, cb: () => void): void {
  const state = open.get(db);
  if (state) state.afterCommit.push(cb);
  else cb();
}

/**
 * Runs `cb` when the transaction `db` belongs to ends, whether it commits or rolls back (a retried
 * attempt counts as rolled back), before any afterCommit callback; at once outside a transaction.
 * For releasing what the attempt held, e.g. an in-memory stream position it allocated.
 */
export function afterSettle(db: Db, cb: () => void): void {
  const state = open.get(db);
  if (state) state.settled.push(cb);
  else cb();
}

/**
 * A service's announcement on the notification bus, delivered once the transaction has committed
 * (never if it rolls back). `keys` say what it concerns (user or room IDs, say), or '*'.
 */
export function announce(db: Db, topic: string, keys: ChangedKeys): void {
  const notifier = notifiers.get(db);
  if (!notifier) throw new Error('announce: this database handle has no notifier');
  afterCommit(db, () => notifier.publish([{ topic, keys }]));
}
