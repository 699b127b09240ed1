import { MatrixError, badRequest, forbidden, invalidParam } from '../errors.js';
import type { Notifier } from '../storage/changes.js';
import { afterCommit, type Db, type Tx } from '../storage/database.js';
import type { EventWrite } from '../storage/stores/event-writes.js';
import { membershipOf } from '../storage/stores/presence.js';
import { isMineId } from './account-data.js';
import type { Requester } from './auth.js';
import type { PersistHook } from './rooms/persister.js';

/** The notification topic of typing changes, keyed by room ID. */
export const TYPING_TOPIC = 'typing';
/** Synapse's default and largest typing timeouts (ms). */
export const DEFAULT_TYPING_TIMEOUT_MS = 30_000;
export const MAX_TYPING_TIMEOUT_MS = 120_000;
/** Expiries are checked on this grid (ms), so one timer serves every typer. */
const GRANULARITY_MS = 1_000;
/** A room whose typing set has been empty this long is forgotten (clients time typing out themselves). */
const FORGET_MS = 10 * 60_000;

export interface TypingEvent {
  type: 'm.typing';
  content: { user_ids: string[] };
}

interface RoomTyping {
  /** User ID → time (ms) their typing expires. Insertion order is the order clients see. */
  readonly until: Map<string, number>;
  /** The typing position of this room's last change. */
  serial: number;
  /** When it last changed (ms). */
  changedAt: number;
}

/**
 * Typing notifications (spec "Typing Notifications"), in memory as in Synapse: per process, lost
 * on restart (clients time typing out themselves). Every change moves the typing position by one
 * and is published on topic 'typing' keyed by room ID. Expiry runs on one timer set to the
 * earliest expiry (rounded up to a one-second grid), never one timer per typer. A user whose
 * membership leaves 'join' stops typing (a persister hook sees the membership commit).
 */
export class TypingService implements PersistHook {
  private serial = 0;
  private readonly rooms = new Map<string, RoomTyping>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  /** Called when a user sets their typing state (presence counts it as activity). */
  onActivity: (userId: string) => void = () => {};

  constructor(
    private readonly db: Db,
    private readonly serverName: string,
    private readonly notifier: Notifier,
    private readonly now: () => number = Date.now,
  ) {}

  /** The typing position: every change moves it by one. */
  get position(): number {
    return this.serial;
  }

  /**
   * PUT /rooms/{roomId}/typing/{userId}: starts (for `timeout` ms, capped at 120 s; default 30 s)
   * or stops the caller's typing. Synapse's answers: another server's user 400, another user 400
   * M_FORBIDDEN, not joined 403. A shadow-banned user's request succeeds and does nothing.
   */
  async setTyping(requester: Requester, roomId: string, userId: string, typing: boolean, timeout?: number): Promise<void> {
    if (!userId.startsWith('@') || !userId.includes(':')) throw invalidParam(`Invalid user id: ${userId}`);
    if (!isMineId(userId, this.serverName)) throw badRequest('User is not hosted on this homeserver');
    if (userId !== requester.userId) throw new MatrixError(400, 'M_FORBIDDEN', "Cannot set another user's typing state");
    if (requester.shadowBanned) return;
    if ((await membershipOf(this.db, userId, roomId)) !== 'join') throw forbidden(`User ${userId} not in room ${roomId}`);
    // Activity for presence once the request is accepted (a refused request changes nothing).
    this.onActivity(userId);
    if (typing) this.start(roomId, userId, Math.min(Math.max(timeout ?? DEFAULT_TYPING_TIMEOUT_MS, 0), MAX_TYPING_TIMEOUT_MS));
    else this.stop(roomId, userId);
  }

  /**
   * `m.typing` events for rooms in roomIds whose typing set changed after `from` (from = 0 or
   * from > position, e.g. after a restart: every room that has typers).
   */
  typingForSync(roomIds: readonly string[], from: number): Map<string, TypingEvent> {
    const out = new Map<string, TypingEvent>();
    const all = from <= 0 || from > this.serial;
    if (!all && from === this.serial) return out;
    const visit = (roomId: string, room: RoomTyping) => {
      if (all ? room.until.size > 0 : room.serial > from) out.set(roomId, { type: 'm.typing', content: { user_ids: [...room.until.keys()] } });
    };
    if (roomIds.length <= this.rooms.size) {
      for (const roomId of roomIds) {
        const room = this.rooms.get(roomId);
        if (room) visit(roomId, room);
      }
    } else {
      const wanted = new Set(roomIds);
      for (const [roomId, room] of this.rooms) if (wanted.has(roomId)) visit(roomId, room);
    }
    return out;
  }

  /** Who is typing in a room now (tests, /events). */
  typingIn(roomId: string): string[] {
    return [...(this.rooms.get(roomId)?.until.keys() ?? [])];
  }

  // ---- PersistHook: a user whose membership leaves 'join' stops typing once it commits. ----

  async prepare(): Promise<void> {}

  async write(tx: Tx, writes: readonly EventWrite[]): Promise<void> {
    for (const w of writes) {
      const m = w.member;
      if (!m || m.membership === 'join' || !this.rooms.get(w.roomId)?.until.has(m.userId)) continue;
      afterCommit(tx, () => this.stop(w.roomId, m.userId));
    }
  }

  /** Stops the expiry timer (shutdown). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private start(roomId: string, userId: string, timeout: number): void {
    const now = this.now();
    let room = this.rooms.get(roomId);
    if (!room) this.rooms.set(roomId, (room = { until: new Map(), serial: 0, changedAt: now }));
    const wasTyping = room.until.has(userId);
    room.until.set(userId, now + timeout);
    this.schedule(now + timeout);
    // Already typing: the new timeout replaces the old one; nothing for clients to see.
    if (!wasTyping) this.changed(roomId, room, now);
  }

  private stop(roomId: string, userId: string): void {
    const room = this.rooms.get(roomId);
    if (!room?.until.delete(userId)) return;
    const now = this.now();
    this.changed(roomId, room, now);
    this.schedule(now + FORGET_MS);
  }

  private changed(roomId: string, room: RoomTyping, now: number): void {
    room.serial = ++this.serial;
    room.changedAt = now;
    this.notifier.publish([{ topic: TYPING_TOPIC, keys: [roomId] }]);
  }

  /** Makes sure the one timer fires by `at` (rounded up to the grid). */
  private schedule(at: number): void {
    const due = Math.ceil(at / GRANULARITY_MS) * GRANULARITY_MS;
    if (due >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = due;
    this.timer = setTimeout(() => this.sweep(), Math.max(0, due - this.now()));
    this.timer.unref();
  }

  /** Expires typers whose time is up, forgets long-quiet rooms, and sets the timer for what is left. */
  private sweep(): void {
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [roomId, room] of this.rooms) {
      let changed = false;
      for (const [userId, until] of room.until) {
        if (until <= now) {
          room.until.delete(userId);
          changed = true;
        } else if (until < next) next = until;
      }
      if (changed) this.changed(roomId, room, now);
      if (room.until.size === 0) {
        if (now - room.changedAt >= FORGET_MS) this.rooms.delete(roomId);
        else next = Math.min(next, room.changedAt + FORGET_MS);
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.schedule(next);
  }
}
