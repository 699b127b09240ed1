import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { badRequest, forbidden, invalidParam } from '../errors.js';
import { afterSettle, announce, withTransaction, type Db } from '../storage/database.js';
import { shareARoom } from '../storage/stores/shared-rooms.js';
import * as store from '../storage/stores/presence.js';
import type { PresenceRow } from '../storage/stores/presence.js';
import type { Requester } from './auth.js';
import { StreamPositions } from './rooms/stream-positions.js';

export type PresenceState = 'online' | 'unavailable' | 'offline';
const VALID_STATES: ReadonlySet<string> = new Set(['online', 'unavailable', 'offline']);

/** The notification topic of presence changes, keyed by the user whose presence changed. */
export const PRESENCE_TOPIC = 'presence';
/** Synapse's timers: online users idle this long become unavailable… */
export const IDLE_TIMER_MS = 5 * 60_000;
/** …users not syncing for this long go offline… */
export const SYNC_ONLINE_TIMEOUT_MS = 30_000;
/** …and an online user active within this window is `currently_active`. */
export const LAST_ACTIVE_GRANULARITY_MS = 60_000;
/** How often the timeouts are checked (one sweep for every user, as Synapse's 5 s timer). */
export const SWEEP_INTERVAL_MS = 5_000;

export interface PresenceEvent {
  type: 'm.presence';
  sender: string;
  content: Record<string, unknown>;
}

type Mutation = (row: PresenceRow, now: number) => PresenceRow | null;
/** A change to one user's row, or a job run in queue order after the batch's changes (a flush). */
type Op = ({ userId: string; mutate: Mutation } | { run: () => Promise<void> }) & { resolve: () => void; reject: (e: unknown) => void };

const offlineRow = (userId: string): PresenceRow => ({
  stream_id: 0,
  user_id: userId,
  state: 'offline',
  last_active_ts: 0,
  last_federation_update_ts: 0,
  last_user_sync_ts: 0,
  status_msg: null,
  currently_active: 0,
});

const activeAt = (row: PresenceRow, now: number): number => (row.state === 'online' && now - row.last_active_ts < LAST_ACTIVE_GRANULARITY_MS ? 1 : 0);

/** Synapse's `should_notify`: whether a change is worth a stream position (clients see it). */
function shouldNotify(prev: PresenceRow, next: PresenceRow): boolean {
  if (prev.stream_id === 0) return true;
  if (prev.status_msg !== next.status_msg || prev.state !== next.state) return true;
  const bumped = next.last_active_ts - prev.last_active_ts > LAST_ACTIVE_GRANULARITY_MS;
  if (prev.state === 'online') return prev.currently_active !== next.currently_active || (bumped && next.currently_active === 0);
  return bumped;
}

const sameRow = (a: PresenceRow, b: PresenceRow) =>
  a.state === b.state &&
  a.status_msg === b.status_msg &&
  a.last_active_ts === b.last_active_ts &&
  a.last_user_sync_ts === b.last_user_sync_ts &&
  a.currently_active === b.currently_active;

/** Synapse's `format_user_presence_state`; `last_active_ago` and `currently_active` as of `now`. */
export function formatPresence(row: PresenceRow, now: number, includeUserId: boolean): Record<string, unknown> {
  const content: Record<string, unknown> = { presence: row.state };
  if (includeUserId) content.user_id = row.user_id;
  if (row.last_active_ts) content.last_active_ago = Math.max(0, now - row.last_active_ts);
  if (row.status_msg) content.status_msg = row.status_msg;
  if (row.state === 'online') content.currently_active = activeAt(row, now) === 1;
  return content;
}

/**
 * Presence (spec "Presence"), stored as Synapse does: one `presence_stream` row per user with the
 * user's position on the presence stream. State changes that clients should see (Synapse's
 * `should_notify`) take a position, allocated inside their transaction and published in order, and
 * are announced on topic 'presence' keyed by the user. Mere activity (a sync, a keystroke) only
 * updates the in-memory row; those times are written in the periodic sweep, batched.
 *
 * All changes go through one queue and are applied in group commits (one transaction per batch),
 * so concurrent syncs of many users cost one write. One sweep every 5 s runs Synapse's timeouts for
 * every user held in memory (everyone not offline): online and idle 5 minutes → unavailable; not
 * syncing for 30 s → offline; `currently_active` drops a minute after the last activity.
 *
 * Config (`presence.enabled`, legacy `use_presence`): disabled → PUT is accepted and ignored, GET
 * answers offline, /sync shows none; 'untracked' → the API works but syncs, activity and timeouts
 * change nobody's presence.
 */
export class PresenceService {
  /** Rows of users not offline, and of users changed since the last flush. */
  private readonly cache = new Map<string, PresenceRow>();
  /** Users whose cached activity times are newer than their stored row. */
  private readonly dirty = new Set<string>();
  /** Syncs in flight per user (a syncing user does not time out to offline). */
  private readonly syncing = new Map<string, number>();
  private pending: Op[] = [];
  private draining: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    private readonly db: Db,
    private readonly config: Config['presence'],
    private readonly positions: StreamPositions,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  static async open(db: Db, config: Config['presence'], log: Logger, now: () => number = Date.now): Promise<PresenceService> {
    const svc = new PresenceService(db, config, new StreamPositions(await store.maxPresenceStreamId(db)), log, now);
    // Users left online by the previous run time out as usual (they are not syncing here).
    if (config.enabled) for (const row of await store.nonOfflinePresence(db)) svc.cache.set(row.user_id, row);
    return svc;
  }

  /** The presence position readers may see. */
  get position(): number {
    return this.positions.current;
  }

  /** Resolves once every position allocated so far is visible to readers (/sync waits on it before sleeping). */
  visible(): Promise<void> {
    return this.positions.caughtUp();
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** Starts the periodic sweep (when presence is tracked). */
  start(): void {
    if (!this.config.enabled || !this.config.tracked || this.timer) return;
    this.timer = setInterval(() => void this.sweep().catch((err: unknown) => this.log.error({ err }, 'presence sweep failed')), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops the sweep and writes what is pending. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.closed) await this.push({ run: () => this.flush() }).catch((err: unknown) => this.log.error({ err }, 'presence flush failed'));
    this.closed = true;
  }

  // ---- Client API ----

  /**
   * GET /presence/{userId}/status: the caller's own, or of a user sharing a room with them
   * (otherwise 403, as Synapse); `{presence: 'offline'}` for everyone while presence is off.
   */
  async getStatus(requester: Requester, userId: string): Promise<Record<string, unknown>> {
    checkUserId(userId);
    if (!this.config.enabled) return { presence: 'offline' };
    if (userId !== requester.userId && !(await shareARoom(this.db, requester.userId, userId))) {
      throw forbidden('You are not allowed to see their presence.');
    }
    return formatPresence(await this.current(userId), this.now(), false);
  }

  /** The checks Synapse makes before it reads the PUT body. */
  checkPut(requester: Requester, userId: string): void {
    checkUserId(userId);
    if (userId !== requester.userId) throw forbidden('Can only set your own presence state');
  }

  /** PUT /presence/{userId}/status with `{presence, status_msg?}` (no other keys, as Synapse). */
  async setStatus(requester: Requester, userId: string, body: Record<string, unknown>): Promise<void> {
    this.checkPut(requester, userId);
    const { presence, status_msg: statusMsg, ...rest } = body;
    if (!('presence' in body)) throw badRequest('Unable to parse state');
    if ('status_msg' in body && typeof statusMsg !== 'string') throw badRequest('status_msg must be a string.');
    if (Object.keys(rest).length > 0) throw badRequest('Unable to parse state');
    if (!this.config.enabled) return;
    if (typeof presence !== 'string' || !VALID_STATES.has(presence)) throw badRequest('Invalid presence state');
    await this.enqueue(userId, (row, now) => {
      row.state = presence;
      row.status_msg = typeof statusMsg === 'string' ? statusMsg : null;
      if (presence === 'online') row.last_active_ts = now;
      return row;
    });
  }

  // ---- Sync-facing ----

  /**
   * Called by /sync at the start of each request with its set_presence (default 'online'): the user
   * counts as syncing and takes that presence; 'offline' leaves everything as it is (spec: the
   * client is not marked online), as Synapse, which does not count such a sync either.
   */
  async syncStarted(userId: string, setPresence: PresenceState): Promise<void> {
    if (!this.config.enabled || !this.config.tracked || setPresence === 'offline') return;
    this.syncing.set(userId, (this.syncing.get(userId) ?? 0) + 1);
    await this.enqueue(userId, (row, now) => {
      row.last_user_sync_ts = now;
      row.state = setPresence;
      if (setPresence === 'online') row.last_active_ts = now;
      return row;
    });
  }

  /** Called by /sync when a request started with `syncStarted` (not 'offline') ends. */
  syncEnded(userId: string): void {
    const n = this.syncing.get(userId);
    if (n === undefined) return;
    if (n <= 1) this.syncing.delete(userId);
    else this.syncing.set(userId, n - 1);
    const at = this.now();
    this.enqueue(userId, (row) => {
      if (row.stream_id === 0) return null;
      row.last_user_sync_ts = Math.max(row.last_user_sync_ts, at);
      return row;
    }).catch((err: unknown) => this.log.error({ err, userId }, 'presence update failed'));
  }

  /** The user did something (sent, typed, read): Synapse's `bump_presence_active_time`. */
  bumpActive(userId: string): void {
    if (!this.config.enabled || !this.config.tracked) return;
    this.enqueue(userId, (row, now) => {
      row.last_active_ts = now;
      if (row.state === 'unavailable') row.state = 'online';
      return row;
    }).catch((err: unknown) => this.log.error({ err, userId }, 'presence update failed'));
  }

  /**
   * m.presence events ({type, sender, content:{presence, last_active_ago?, currently_active?,
   * status_msg?}}) of userId and users sharing a room with userId whose presence changed in
   * (from, to]. from = 0: all such users' current presence, excluding never-seen and offline
   * users (Synapse leaves offline users out of an initial sync).
   */
  async presenceForSync(userId: string, from: number, to: number): Promise<PresenceEvent[]> {
    if (!this.config.enabled) return [];
    const rows = await store.presenceOfUsersSharingRooms(this.db, userId, from, to, from > 0);
    const now = this.now();
    return rows.map((stored) => {
      // Activity times may be newer in memory than in the row (they are flushed in batches).
      const cached = this.cache.get(stored.user_id);
      const row = cached && cached.stream_id === stored.stream_id ? cached : stored;
      return { type: 'm.presence', sender: row.user_id, content: formatPresence(row, now, true) };
    });
  }

  // ---- Timeouts ----

  /** Runs the timeouts for every user held in memory and writes pending activity times (every 5 s). */
  async sweep(): Promise<void> {
    if (!this.config.enabled || !this.config.tracked) return;
    const users = [...this.cache.keys()].filter((u) => this.cache.get(u)!.state !== 'offline');
    await Promise.all(
      users.map((u) =>
        this.enqueue(u, (row, now) => {
          if (row.state === 'offline') return null;
          if (row.state === 'online' && now - row.last_active_ts > IDLE_TIMER_MS) row.state = 'unavailable';
          if (!this.syncing.has(u) && now - row.last_user_sync_ts > SYNC_ONLINE_TIMEOUT_MS) row.state = 'offline';
          return row;
        }),
      ),
    );
    await this.push({ run: () => this.flush() });
    // Offline users with nothing left to write need not stay in memory.
    for (const [u, row] of this.cache) if (row.state === 'offline' && !this.dirty.has(u) && !this.syncing.has(u)) this.cache.delete(u);
  }

  // ---- Internals ----

  /** A user's presence: the in-memory row, else the stored one, else offline and never seen. */
  private async current(userId: string): Promise<PresenceRow> {
    const cached = this.cache.get(userId);
    if (cached) return { ...cached };
    return (await store.getPresence(this.db, userId)) ?? offlineRow(userId);
  }

  private enqueue(userId: string, mutate: Mutation): Promise<void> {
    return this.push({ userId, mutate });
  }

  private push(op: { userId: string; mutate: Mutation } | { run: () => Promise<void> }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ ...op, resolve, reject });
      this.draining ??= this.drain().finally(() => (this.draining = null));
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      const changes = batch.filter((op): op is Extract<Op, { mutate: Mutation }> => 'mutate' in op);
      try {
        await this.apply(changes);
        for (const op of changes) op.resolve();
      } catch (e) {
        for (const op of changes) op.reject(e);
      }
      for (const op of batch) {
        if (!('run' in op)) continue;
        await op.run().then(op.resolve, op.reject);
      }
    }
  }

  /** Applies a batch of changes: one transaction for those clients should see, memory for the rest. */
  private async apply(batch: ReadonlyArray<{ userId: string; mutate: Mutation }>): Promise<void> {
    const before = new Map<string, PresenceRow>();
    for (const op of batch) if (!before.has(op.userId)) before.set(op.userId, await this.current(op.userId));
    const now = this.now();
    const after = new Map<string, PresenceRow>();
    for (const op of batch) {
      const row = { ...(after.get(op.userId) ?? before.get(op.userId)!) };
      const next = op.mutate(row, now);
      if (next) after.set(op.userId, next);
    }
    const loud: PresenceRow[] = [];
    const quiet: PresenceRow[] = [];
    for (const [u, next] of after) {
      const prev = before.get(u)!;
      next.currently_active = activeAt(next, now);
      if (sameRow(prev, next)) continue;
      (shouldNotify(prev, next) ? loud : quiet).push(next);
    }
    let written: PresenceRow[] = [];
    if (loud.length > 0) {
      written = await withTransaction(this.db, async (tx) => {
        const ids = this.positions.allocate(loud.length);
        afterSettle(tx, () => this.positions.finish(ids));
        const rows = loud.map((r, i) => ({ ...r, stream_id: ids[i]! }));
        for (const r of rows) await store.upsertPresence(tx, r);
        announce(tx, PRESENCE_TOPIC, rows.map((r) => r.user_id));
        return rows;
      });
    }
    for (const r of written) {
      this.cache.set(r.user_id, r);
      this.dirty.delete(r.user_id);
    }
    for (const r of quiet) {
      this.cache.set(r.user_id, r);
      this.dirty.add(r.user_id);
    }
  }

  /** Writes the activity times held only in memory, in one transaction. */
  private async flush(): Promise<void> {
    if (this.dirty.size === 0) return;
    const rows = [...this.dirty].map((u) => this.cache.get(u)).filter((r): r is PresenceRow => r !== undefined);
    this.dirty.clear();
    try {
      await withTransaction(this.db, async (tx) => {
        for (const r of rows) await store.touchPresenceTimes(tx, r.user_id, r.last_active_ts, r.last_user_sync_ts);
      });
    } catch (e) {
      for (const r of rows) this.dirty.add(r.user_id);
      throw e;
    }
  }
}

/** Synapse's `UserID.from_string`: `@localpart:server`, else 400 M_INVALID_PARAM. */
function checkUserId(userId: string): void {
  if (!userId.startsWith('@') || !userId.includes(':')) throw invalidParam(`Invalid user id: ${userId}`);
}

