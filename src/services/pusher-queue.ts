import type { Logger } from 'pino';
import type { ChangedKeys, Notifier } from '../storage/changes.js';
import type { Db } from '../storage/database.js';
import { getEvent } from '../storage/stores/events.js';
import { roomsWithMembership } from '../storage/stores/memberships.js';
import * as store from '../storage/stores/pusher-queue.js';
import type { PusherRow } from '../storage/stores/pushers.js';
import type { NotificationsService } from './notifications.js';
import { ROOM_EVENTS_TOPIC } from './rooms/persister.js';
import type { StreamPositions } from './rooms/stream-positions.js';

type Json = Record<string, unknown>;

export interface PusherQueueOptions {
  /** Deliver to push gateways (`start_pushers`, and `push.enabled`). Off: the queue is only recorded. */
  deliver: boolean;
  /** `push.include_content`. */
  includeContent: boolean;
  /** `push.group_unread_count_by_room`: the badge counts rooms with notifications (true) or notifications. */
  groupUnreadCountByRoom: boolean;
  /** Synapse's HttpPusher timings: first retry after 1 s, doubling to 1 h; give up on a push after 24 h of failures. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  giveUpAfterMs?: number;
  /** Per request. */
  requestTimeoutMs?: number;
  now?: () => number;
}

/** Push actions read per round of a pusher. */
const BATCH = 20;

interface PusherState {
  running: boolean;
  /** Another round is wanted once the current one ends. */
  again: boolean;
  backoffMs: number;
  /** A retry scheduled after a failure: rounds wait for it. */
  timer: NodeJS.Timeout | null;
  /** The badge last sent (Synapse sends a badge-only push on receipts when it changed). */
  lastBadge: number | null;
}

/**
 * The pusher queue (spec "Push Notifications", push gateway API `POST /_matrix/push/v1/notify`).
 * Every HTTP pusher is owed the events its user has notifying push actions for
 * (`event_push_actions`, written with each event) after the pusher's `last_stream_ordering`; the
 * queue is that column, so it survives restarts and needs no table of its own. A new pusher starts
 * at the stream position of its creation (PushersService), as in Synapse.
 *
 * Wakes on 'room_events' (after the events commit, once their positions are published; never on
 * the send path): one statement finds the pushers of users with push actions in the woken rooms
 * since the wake (all pushers owed anything at start-up or when a notification names every room),
 * and each runs on its own, one request in flight per pusher, oldest action first. A delivered push moves `last_stream_ordering` and stamps `last_success`; a push
 * for an event the user has already read (a receipt at or after it) is skipped, as Synapse does.
 * A failure (network, timeout, non-2xx) sets `failing_since` and retries the same push after a
 * back-off doubling from 1 s to 1 h; after 24 h of failures that push is given up (skipped). A
 * gateway that answers `rejected: [pushkey]` removes the pusher (Synapse's behaviour).
 *
 * With delivery off (`start_pushers: false`), nothing is sent and positions stay where they are:
 * what is owed is the rows after each pusher's `last_stream_ordering` (docs/notifications.md has
 * the SQL an admin runs to see it).
 */
export class PusherQueue {
  private readonly state = new Map<number, PusherState>();
  /** Rooms woken since the last scan, each with the published position when it was woken (its events are after it). */
  private pending = new Map<string, number>();
  /** Scan every pusher (start-up, or a notification naming every room). */
  private pendingAll = true;
  private unsubscribe: (() => void) | null = null;
  private scanning = false;
  private rescan = false;
  private stopped = false;
  private readonly active = new Set<Promise<void>>();
  private readonly now: () => number;

  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
    /** Room event stream positions (`current`: published). */
    private readonly positions: StreamPositions,
    private readonly notifications: NotificationsService,
    private readonly log: Logger,
    private readonly opts: PusherQueueOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Subscribes to new room events and resumes what is owed from before a restart. */
  start(): void {
    if (!this.opts.deliver || this.unsubscribe) return;
    this.unsubscribe = this.notifier.subscribe([ROOM_EVENTS_TOPIC], (n) => this.onRoomEvents(n.keys));
    this.wake();
  }

  /** Stops waking and retrying; waits for requests in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const s of this.state.values()) if (s.timer) clearTimeout(s.timer);
    while (this.active.size) await Promise.allSettled([...this.active]);
  }

  /** Receipts moved for these users: their pushers get a badge-only push if the badge changed. */
  onReceipts(userIds: readonly string[]): void {
    if (!this.opts.deliver || this.stopped) return;
    this.track(
      (async () => {
        for (const p of await store.httpPushersOf(this.db, userIds)) {
          const st = this.stateOf(p.id);
          if (st.running || st.timer) continue;
          const badge = await this.badge(p.user_name);
          if (st.lastBadge === badge) continue;
          st.lastBadge = badge;
          const ok = await this.post(p, { id: '', type: null, sender: '', counts: { unread: badge }, devices: [this.device(p, {})] });
          if (ok === 'failed') st.lastBadge = null;
        }
      })(),
    );
  }

  private track(p: Promise<void>): void {
    const t = p.catch((err: unknown) => this.log.error({ err }, 'pusher queue: a round failed'));
    this.active.add(t);
    void t.finally(() => this.active.delete(t));
  }

  /**
   * Room events committed: they are announced before their positions are published, so the scan
   * waits until everything allocated by now is published.
   */
  private onRoomEvents(keys: ChangedKeys): void {
    const floor = this.positions.current;
    if (keys === '*') this.pendingAll = true;
    else for (const k of keys) if (!this.pending.has(k)) this.pending.set(k, floor);
    void this.positions.caughtUp().then(() => this.wake());
  }

  /** Coalesces wake-ups: one scan at a time, one more if woken meanwhile. */
  private wake(): void {
    if (this.stopped) return;
    if (this.scanning) {
      this.rescan = true;
      return;
    }
    this.scanning = true;
    // After this turn: the persister publishes a batch's positions right after its commit.
    setImmediate(() =>
      this.track(
        (async () => {
          try {
            do {
              this.rescan = false;
              const upTo = this.positions.current;
              const all = this.pendingAll;
              const rooms = this.pending;
              this.pendingAll = false;
              this.pending = new Map();
              const ids = all
                ? await store.pushersOwed(this.db, upTo)
                : rooms.size > 0
                  ? await store.pushersWithActionsIn(this.db, [...rooms.keys()], Math.min(...rooms.values()), upTo)
                  : [];
              for (const id of ids) this.kick(id);
            } while (this.rescan && !this.stopped);
          } finally {
            this.scanning = false;
          }
        })(),
      ),
    );
  }

  private stateOf(id: number): PusherState {
    let st = this.state.get(id);
    if (!st) this.state.set(id, (st = { running: false, again: false, backoffMs: this.opts.initialBackoffMs ?? 1000, timer: null, lastBadge: null }));
    return st;
  }

  /** Runs a pusher's round unless one is running (then once more after it) or a retry is pending. */
  private kick(id: number): void {
    const st = this.stateOf(id);
    if (st.timer) return;
    if (st.running) {
      st.again = true;
      return;
    }
    st.running = true;
    this.track(
      (async () => {
        try {
          do {
            st.again = false;
            await this.round(id, st);
          } while (st.again && !st.timer && !this.stopped);
        } finally {
          st.running = false;
        }
      })(),
    );
  }

  /** Sends what the pusher is owed, oldest first, until it is done or a push fails. */
  private async round(id: number, st: PusherState): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const p = await store.pusherById(this.db, id);
      if (!p || p.kind !== 'http' || !p.enabled) {
        this.state.delete(id);
        return;
      }
      const actions = await store.owedActions(this.db, p.user_name, Number(p.last_stream_ordering ?? 0), this.positions.current, BATCH);
      if (actions.length === 0) return;
      const read = await this.notifications.readThresholds(p.user_name, [...new Set(actions.map((a) => a.room_id))]);
      for (const a of actions) {
        const t = read.get(a.room_id);
        const readUpTo = t ? Math.max(t.unthreaded, t.threads.get(a.thread_id ?? 'main') ?? 0) : 0;
        if (a.stream_ordering <= readUpTo) {
          await store.advancePusher(this.db, id, a.stream_ordering, null);
          continue;
        }
        const outcome = await this.pushOne(p, a);
        if (outcome === 'rejected') {
          await store.deletePusherById(this.db, id);
          this.state.delete(id);
          return;
        }
        if (outcome === 'sent' || outcome === 'dropped') {
          await store.advancePusher(this.db, id, a.stream_ordering, outcome === 'sent' ? this.now() : null);
          st.backoffMs = this.opts.initialBackoffMs ?? 1000;
          continue;
        }
        // Failed: retry this push later, or give it up after a day of failures.
        const failingSince = p.failing_since === null ? this.now() : Number(p.failing_since);
        if (p.failing_since === null) await store.setFailingSince(this.db, id, failingSince);
        if (this.now() - failingSince > (this.opts.giveUpAfterMs ?? 24 * 3600_000)) {
          this.log.warn({ pusher: id, user: p.user_name, event: a.event_id }, 'giving up on a push notification');
          await store.advancePusher(this.db, id, a.stream_ordering, null);
          st.backoffMs = this.opts.initialBackoffMs ?? 1000;
          continue;
        }
        const delay = st.backoffMs;
        st.backoffMs = Math.min(st.backoffMs * 2, this.opts.maxBackoffMs ?? 3600_000);
        this.log.info({ pusher: id, delayMs: delay }, 'push failed; retrying later');
        st.timer = setTimeout(() => {
          st.timer = null;
          this.kick(id);
        }, delay);
        st.timer.unref?.();
        return;
      }
    }
  }

  /** The badge: rooms with notifications (or notifications) plus invites, as Synapse's get_badge_count. */
  private async badge(userId: string): Promise<number> {
    const rooms = await roomsWithMembership(this.db, userId, ['join', 'invite']);
    const joined = rooms.filter((r) => r.membership === 'join').map((r) => r.roomId);
    let badge = rooms.length - joined.length;
    const counts = await this.notifications.unreadCountsForSync(userId, joined, false);
    for (const c of counts.values()) {
      if (c.notification_count > 0) badge += this.opts.groupUnreadCountByRoom ? 1 : c.notification_count;
    }
    return badge;
  }

  private device(p: PusherRow, tweaks: Json): Json {
    const data = parseObject(p.data);
    delete data.url;
    return { app_id: p.app_id, pushkey: p.pushkey, pushkey_ts: Math.floor(Number(p.ts) / 1000), data, tweaks };
  }

  private async pushOne(p: PusherRow, a: store.OwedAction): Promise<'sent' | 'failed' | 'rejected' | 'dropped'> {
    const actions = parseArray(a.actions);
    if (!actions.includes('notify')) return 'dropped';
    const ev = await getEvent(this.db, a.event_id);
    // Purged since: nothing to push.
    if (!ev) return 'dropped';
    const tweaks: Json = {};
    for (const x of actions) {
      if (typeof x === 'object' && x !== null && typeof (x as Json).set_tweak === 'string') {
        const t = x as Json;
        tweaks[t.set_tweak as string] = 'value' in t ? t.value : t.set_tweak === 'highlight' ? true : undefined;
      }
    }
    const pdu = ev.pdu;
    const badge = await this.badge(p.user_name);
    const prio = pdu.type === 'm.room.encrypted' || tweaks.highlight || tweaks.sound ? 'high' : 'low';
    const data = parseObject(p.data);
    let n: Json;
    if (data.format === 'event_id_only') {
      n = { event_id: ev.eventId, room_id: ev.roomId, counts: { unread: badge }, prio, devices: [this.device(p, tweaks)] };
    } else {
      n = { event_id: ev.eventId, room_id: ev.roomId, type: pdu.type, sender: pdu.sender, prio, counts: { unread: badge }, devices: [this.device(p, tweaks)] };
      if (pdu.type === 'm.room.member' && typeof pdu.state_key === 'string') {
        const content = (pdu.content ?? {}) as Json;
        n.membership = content.membership;
        n.user_is_target = pdu.state_key === p.user_name;
      }
      const content = pdu.content as Json | undefined;
      if (this.opts.includeContent && content && Object.keys(content).length > 0) n.content = content;
      const senderName = typeof pdu.sender === 'string' ? await store.displayNameIn(this.db, ev.roomId, pdu.sender) : null;
      if (senderName) n.sender_display_name = senderName;
      const name = await store.roomName(this.db, ev.roomId);
      if (name) n.room_name = name;
    }
    const st = this.stateOf(p.id);
    st.lastBadge = badge;
    return this.post(p, n);
  }

  /** POSTs one notification to the pusher's gateway. */
  private async post(p: PusherRow, notification: Json): Promise<'sent' | 'failed' | 'rejected'> {
    const url = parseObject(p.data).url;
    if (typeof url !== 'string') return 'rejected';
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ notification }),
        signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 30_000),
      });
      const text = await res.text();
      if (!res.ok) {
        this.log.info({ pusher: p.id, status: res.status }, 'push gateway refused a notification');
        return 'failed';
      }
      let body: unknown = {};
      try {
        body = JSON.parse(text);
      } catch {
        // Synapse accepts any 2xx.
      }
      const rejected = (body as { rejected?: unknown }).rejected;
      if (Array.isArray(rejected) && rejected.includes(p.pushkey)) return 'rejected';
      return 'sent';
    } catch (err) {
      this.log.info({ pusher: p.id, err: (err as Error).message }, 'push gateway unreachable');
      return 'failed';
    }
  }
}

function parseObject(text: string | null): Json {
  if (text === null) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
  } catch {
    return {};
  }
}

function parseArray(text: string): unknown[] {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}
