/**
 * The after-commit notification bus. Two kinds of notification travel on it, both only once the
 * transaction behind them has committed (never before, never after a rollback):
 *
 * - row changes, captured by the storage engine itself (`topic` = a watched table's name, `keys`
 *   = the user IDs of the rows written, or '*' when unknown or too many), whoever wrote them: our
 *   own transactions, another Axon process, or an operator's `sqlite3` / `psql`;
 * - announcements services make with `announce()` in a transaction (`topic` = a name of theirs).
 *
 * Caches subscribe to the tables they read and drop exactly what changed. A Transport carries
 * what this process publishes to other processes (a Redis pub/sub transport can implement it
 * later; PostgreSQL's own NOTIFY already carries row changes between processes).
 */

/** Tables whose row changes are captured, with the column that names the user a row belongs to. */
export const WATCHED_TABLES = {
  users: 'name',
  access_tokens: 'user_id',
  account_validity: 'user_id',
  devices: 'user_id',
  user_ips: 'user_id',
  erased_users: 'user_id',
  profiles: 'full_user_id',
  user_threepids: 'user_id',
  user_external_ids: 'user_id',
  ratelimit_override: 'user_id',
  // The admin room list's caches (keyed by room ID; migration 008).
  rooms: 'room_id',
  room_stats_current: 'room_id',
  room_stats_state: 'room_id',
  blocked_rooms: 'room_id',
  // The media repository's row cache (keyed by media ID; migration 017).
  local_media_repository: 'media_id',
} as const;

/** Keys of the rows that changed, or every row ('*'). */
export type ChangedKeys = readonly string[] | '*';

export interface Notification {
  topic: string;
  keys: ChangedKeys;
}

export type Listener = (n: Notification) => void;

/** Carries notifications between processes: `send` what this one published, `receive` the others'. */
export interface Transport {
  send(batch: readonly Notification[]): void;
  receive(deliver: (batch: readonly Notification[]) => void): void;
  close(): Promise<void>;
}

/** Largest number of keys a notification lists before it says '*' instead. */
export const MAX_KEYS = 64;

export class Notifier {
  private readonly listeners = new Map<string, Set<Listener>>();
  private transport: Transport | null = null;
  /**
   * Set by the engine: reports changes made outside this process that the engine only notices
   * when asked (SQLite's data_version). A file-lock round trip on SQLite, so `sync` runs it at
   * most once per turn of the event loop.
   */
  probe: () => void = () => {};
  /**
   * Set by the engine: false while it has no trustworthy change signal (PostgreSQL's listening
   * connection down); caches then read fresh.
   */
  trusted: () => boolean = () => true;
  /**
   * Set by the engine: resolves once every change committed before the call has been delivered
   * (PostgreSQL: a round trip on the listening connection, which receives pending notifications
   * before the answer). Nothing to wait for where `probe` sees everything (SQLite).
   */
  fence: () => Promise<void> = async () => {};
  /** Whether `probe` already ran in this turn of the event loop. */
  private probed = false;

  /** Subscribes to topics; returns the unsubscribe function. */
  subscribe(topics: readonly string[], fn: Listener): () => void {
    for (const t of topics) {
      let set = this.listeners.get(t);
      if (!set) this.listeners.set(t, (set = new Set()));
      set.add(fn);
    }
    return () => {
      for (const t of topics) this.listeners.get(t)?.delete(fn);
    };
  }

  /** Delivers committed notifications here and hands them to the transport. */
  publish(batch: readonly Notification[]): void {
    if (batch.length === 0) return;
    this.deliver(batch);
    this.transport?.send(batch);
  }

  /** Delivers notifications that another process (or the database) reported, without re-sending them. */
  deliver(batch: readonly Notification[]): void {
    for (const n of batch) {
      const set = this.listeners.get(n.topic);
      if (set) for (const fn of set) fn(n);
    }
  }

  /** Every watched table changed in unknown ways (a lost change signal, another process's commit). */
  everythingChanged(): void {
    this.deliver(Object.keys(WATCHED_TABLES).map((topic) => ({ topic, keys: '*' as const })));
  }

  /** Whether caches may be used now (see `trusted`); their freshness comes from `sync`. */
  fresh(): boolean {
    return this.trusted();
  }

  /**
   * Waits until every change committed before now has been delivered, so that what a request
   * reads from caches afterwards is at least as new as the database was when it arrived (an
   * operator's UPDATE is seen by the very next request). Call once at the start of a request.
   * Requests whose data arrived in the same turn of the event loop share one probe: it runs after
   * the poll that delivered them all, so after anything committed before any of them was sent.
   */
  async sync(): Promise<void> {
    await this.fence();
    if (this.probed) return;
    this.probed = true;
    setImmediate(() => (this.probed = false));
    this.probe();
  }

  useTransport(t: Transport): void {
    this.transport = t;
    t.receive((batch) => this.deliver(batch));
  }

  async close(): Promise<void> {
    await this.transport?.close();
    this.transport = null;
  }
}

/**
 * Collects row changes inside one transaction (or one statement outside any), merged per table,
 * to be published at commit or dropped at rollback.
 */
export class ChangeSet {
  private readonly byTable = new Map<string, Set<string> | '*'>();

  add(table: string, key: string | null | '*'): void {
    const cur = this.byTable.get(table);
    if (cur === '*') return;
    if (key === null || key === '*') {
      this.byTable.set(table, '*');
      return;
    }
    const set = cur ?? new Set<string>();
    set.add(key);
    this.byTable.set(table, set.size > MAX_KEYS ? '*' : set);
  }

  /** Parses the `table|key<RS>key…` entries PostgreSQL's triggers write (see migration 004). */
  addEncoded(entries: string): void {
    for (const entry of entries.split(ENTRY_SEPARATOR)) {
      if (!entry) continue;
      const bar = entry.indexOf('|');
      if (bar < 0) continue;
      const table = entry.slice(0, bar);
      const keys = entry.slice(bar + 1);
      if (keys === '*') this.add(table, '*');
      else for (const k of keys.split(KEY_SEPARATOR)) this.add(table, k);
    }
  }

  drain(): Notification[] {
    const out: Notification[] = [];
    for (const [topic, keys] of this.byTable) out.push({ topic, keys: keys === '*' ? '*' : [...keys] });
    this.byTable.clear();
    return out;
  }
}

/** Separators of the encoded form (ASCII record/unit separators cannot occur in user IDs). */
export const KEY_SEPARATOR = '\u001e';
export const ENTRY_SEPARATOR = '\u001f';
