import { badRequest, forbidden, invalidParam, notFound } from '../errors.js';
import { afterSettle, announce, withTransaction, type Db } from '../storage/database.js';
import { isUniqueViolation } from '../storage/dialect.js';
import * as accountDataStore from '../storage/stores/account-data.js';
import { getEvent, type StoredEvent } from '../storage/stores/events.js';
import * as store from '../storage/stores/receipts.js';
import { isValidRoomId, type AccountDataService } from './account-data.js';
import type { Requester } from './auth.js';
import { StreamPositions } from './rooms/stream-positions.js';
import type { RoomVisibility } from './rooms/visibility.js';

/** The topic announced after a receipt commits, keyed by room ID (/sync wakes the room's pollers). */
export const RECEIPTS_TOPIC = 'receipts';

/** Receipt types the endpoints accept (Synapse's known types), in the order its error names them. */
export const RECEIPT_TYPES = ['m.read', 'm.read.private', 'm.fully_read'] as const;
const MAIN_TIMELINE = 'main';

type Json = Record<string, unknown>;

/** What a new receipt tells others: called after commit with the users whose receipts moved. */
export type ReceiptListener = (userIds: readonly string[]) => void;

/**
 * Read receipts (spec "Receipts", incl. private and threaded receipts) and read markers (spec
 * "Fully read markers").
 *
 * A receipt is stored as the user's one current receipt per (room, type, thread) in Synapse's
 * `receipts_linearized` (plus `receipts_graph`), at a new position of an in-memory receipts stream
 * (allocated inside the transaction, published in order, announced as 'receipts' keyed by room
 * ID). As in Synapse, a receipt never moves backwards: one for an event at or before the current
 * receipt's event (same type and thread) is accepted and ignored. The fully-read marker is room
 * account data `m.fully_read` ({event_id}), written through AccountDataService (its own stream and
 * 'account_data' announcement); it moves forward only, as in Synapse 1.94.
 *
 * Checks, in order: ids well formed, known type, `thread_id` (a non-empty string; none on
 * m.fully_read; the event must belong to that thread, as Synapse's "vague" relation check), the
 * sender joined to the room (403), the event in the room (404), the event visible to them (403).
 */
export class ReceiptsService {
  /** Per (room, user): one receipt or marker change at a time (Synapse's read-marker linearizer). */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Told after commit which users' receipts moved (the pusher queue sends badge updates). */
  readonly listeners: ReceiptListener[] = [];

  private constructor(
    private readonly db: Db,
    private readonly positions: StreamPositions,
    private readonly visibility: RoomVisibility,
    private readonly accountData: AccountDataService,
    private readonly now: () => number,
  ) {}

  static async open(db: Db, visibility: RoomVisibility, accountData: AccountDataService, now: () => number = Date.now): Promise<ReceiptsService> {
    return new ReceiptsService(db, new StreamPositions(await store.maxReceiptStreamId(db)), visibility, accountData, now);
  }

  /** The published receipts position: /sync reads receipts up to it. */
  get position(): number {
    return this.positions.current;
  }

  /** Resolves once every position allocated so far is visible to readers (/sync waits on it before sleeping). */
  visible(): Promise<void> {
    return this.positions.caughtUp();
  }

  /** The checks Synapse makes before it reads a receipt's body (400 M_UNKNOWN, as Synapse answers). */
  checkReceiptPath(roomId: string, receiptType: string, eventId: string): void {
    if (!isValidRoomId(roomId) || !eventId.startsWith('$')) throw badRequest('A valid room ID and event ID must be specified');
    if (!(RECEIPT_TYPES as readonly string[]).includes(receiptType)) throw badRequest(`Receipt type must be ${RECEIPT_TYPES.join(', ')}`);
  }

  /** POST /rooms/{roomId}/receipt/{receiptType}/{eventId}. */
  async postReceipt(requester: Requester, roomId: string, receiptType: string, eventId: string, body: Json): Promise<void> {
    this.checkReceiptPath(roomId, receiptType, eventId);
    let threadId: string | null = null;
    if ('thread_id' in body) {
      const t = body.thread_id;
      if (typeof t !== 'string' || t === '') throw invalidParam('thread_id field must be a non-empty string');
      if (receiptType === 'm.fully_read') throw invalidParam('thread_id is not compatible with m.fully_read receipts.');
      if (!(await this.isEventInThread(roomId, eventId, t))) throw invalidParam(`event_id ${eventId} is not related to thread ${t}`);
      threadId = t;
    }
    const ev = await this.checkedEvent(requester.userId, roomId, eventId);
    if (receiptType === 'm.fully_read') await this.setReadMarker(requester.userId, roomId, ev);
    else await this.insertReceipt(requester.userId, roomId, receiptType, ev, threadId);
  }

  /**
   * POST /rooms/{roomId}/read_markers: `m.fully_read`, `m.read`, `m.read.private`, each optional
   * (unknown keys are ignored, as in Synapse, which only logs them). Each event ID is checked as
   * for a receipt; non-string values are refused (Synapse's TODO; they would be 500s there).
   */
  async postReadMarkers(requester: Requester, roomId: string, body: Json): Promise<void> {
    if (!isValidRoomId(roomId)) throw badRequest('A valid room ID must be specified');
    const wanted: Array<[string, string]> = [];
    for (const type of ['m.read', 'm.fully_read', 'm.read.private']) {
      const v = body[type];
      if (v === undefined || v === null || v === '') continue;
      if (typeof v !== 'string' || !v.startsWith('$')) throw invalidParam(`${type} must be an event ID`);
      wanted.push([type, v]);
    }
    const checked = new Map<string, StoredEvent>();
    for (const [, eventId] of wanted) if (!checked.has(eventId)) checked.set(eventId, await this.checkedEvent(requester.userId, roomId, eventId));
    for (const [type, eventId] of wanted) {
      const ev = checked.get(eventId)!;
      if (type === 'm.fully_read') await this.setReadMarker(requester.userId, roomId, ev);
      else await this.insertReceipt(requester.userId, roomId, type, ev, null);
    }
  }

  /**
   * One `m.receipt` event per room of `roomIds` with receipts whose stream position is in
   * (from, to] (from = 0: every current receipt of those rooms). Others' m.read.private receipts
   * are left out. Content per spec: {eventId: {type: {userId: {ts, thread_id?}}}}.
   */
  async receiptsForSync(userId: string, roomIds: readonly string[], from: number, to: number): Promise<Map<string, { type: 'm.receipt'; content: Record<string, unknown> }>> {
    const out = new Map<string, { type: 'm.receipt'; content: Record<string, unknown> }>();
    if (roomIds.length === 0 || to <= from) return out;
    const rows = await store.receiptsInRooms(this.db, roomIds, from, to, userId);
    for (const r of rows) {
      let ev = out.get(r.room_id);
      if (!ev) out.set(r.room_id, (ev = { type: 'm.receipt', content: {} }));
      const byEvent = (ev.content[r.event_id] ??= {}) as Record<string, Record<string, Json>>;
      const byUser = (byEvent[r.receipt_type] ??= {});
      const data = parseData(r.data);
      if (r.thread_id !== null) data.thread_id = r.thread_id;
      byUser[r.user_id] = data;
    }
    return out;
  }

  /** Membership first (no event existence leaks to non-members), then the event, then its visibility. */
  private async checkedEvent(userId: string, roomId: string, eventId: string): Promise<StoredEvent> {
    const view = await this.visibility.forUser(roomId, userId);
    if (view.membership !== 'join') throw forbidden(`User ${userId} not in room ${roomId}`);
    const ev = await getEvent(this.db, eventId);
    if (!ev || ev.roomId !== roomId) throw notFound(`Could not find event ${eventId} in room ${roomId}`);
    if (!view.maySee(ev)) throw forbidden("You don't have permission to access that event.");
    return ev;
  }

  /**
   * Synapse's check that a receipt's event belongs to its thread: for 'main', the event is not in
   * a thread (a thread root is); for a thread, the event is in it, is its root, or relates (one
   * hop, any relation) to such an event.
   */
  private async isEventInThread(roomId: string, eventId: string, threadId: string): Promise<boolean> {
    const own = (await store.relationsOf(this.db, [eventId])).get(eventId);
    let threadOf = MAIN_TIMELINE;
    let anchor = eventId;
    if (own?.relType === 'm.thread') threadOf = own.target;
    else if (own) {
      anchor = own.target;
      const parent = (await store.relationsOf(this.db, [own.target])).get(own.target);
      if (parent?.relType === 'm.thread') threadOf = parent.target;
    }
    if (threadId === MAIN_TIMELINE) return threadOf === MAIN_TIMELINE;
    if (threadOf !== MAIN_TIMELINE) return threadOf === threadId;
    return anchor === threadId && (await store.isThreadRoot(this.db, roomId, anchor));
  }

  private async serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return run;
  }

  /** Stores an m.read / m.read.private receipt unless it would move backwards; true if stored. */
  private async insertReceipt(userId: string, roomId: string, receiptType: string, ev: StoredEvent, threadId: string | null): Promise<boolean> {
    return this.serial(`${roomId}\u0000${userId}`, async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          const stored = await withTransaction(this.db, async (tx) => {
            const current = await store.currentReceiptOrdering(tx, roomId, receiptType, userId, threadId);
            if (current !== undefined && current !== null && current >= ev.streamOrdering) return false;
            const [streamId] = this.positions.allocate(1) as [number];
            afterSettle(tx, () => this.positions.finish([streamId]));
            await store.replaceReceipt(tx, {
              streamId,
              roomId,
              receiptType,
              userId,
              eventId: ev.eventId,
              threadId,
              eventStreamOrdering: ev.streamOrdering,
              data: JSON.stringify({ ts: this.now() }),
            });
            announce(tx, RECEIPTS_TOPIC, [roomId]);
            return true;
          });
          if (stored) for (const l of this.listeners) l([userId]);
          return stored;
        } catch (e) {
          // Another process wrote the same receipt at once: read again and decide again.
          if (!isUniqueViolation(e) || attempt >= 2) throw e;
        }
      }
    });
  }

  /** The fully-read marker, forward only (an older or unknown-order event leaves it). */
  private async setReadMarker(userId: string, roomId: string, ev: StoredEvent): Promise<void> {
    await this.serial(`${roomId}\u0000${userId}`, async () => {
      const existing = await accountDataStore.getRoom(this.db, userId, roomId, 'm.fully_read');
      if (existing !== undefined) {
        const oldId = parseData(existing).event_id;
        if (oldId === ev.eventId) return;
        const old = typeof oldId === 'string' ? await getEvent(this.db, oldId) : undefined;
        if (old && old.roomId === roomId) {
          const newer = ev.topologicalOrdering > old.topologicalOrdering || (ev.topologicalOrdering === old.topologicalOrdering && ev.streamOrdering > old.streamOrdering);
          if (!newer) return;
        }
      }
      await this.accountData.putInternal(userId, 'm.fully_read', { event_id: ev.eventId }, roomId);
    });
  }
}

function parseData(text: string): Json {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
  } catch {
    return {};
  }
}
