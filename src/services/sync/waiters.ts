import type { Notification, Notifier } from '../../storage/changes.js';

/** What a held long-poll listens for: its user, and the rooms that user is in. */
interface Waiter {
  userId: string;
  rooms: readonly string[];
  wake: () => void;
}

/** Topics whose keys are user IDs that concern only that user. */
const ROOM_MEMBERS_TOPIC = 'room_members';
const USER_TOPICS = ['to_device', 'account_data', 'push_rules', ROOM_MEMBERS_TOPIC];
/** Topics whose keys are room IDs: they concern everyone in the room. */
const ROOM_TOPICS = ['typing', 'receipts'];
/** Topics whose keys are users whose change concerns everyone sharing a room with them. */
const SHARED_TOPICS = ['device_lists', 'presence'];
/**
 * Polls woken per turn of the event loop. One message in a room of a thousand pollers would
 * otherwise start a thousand /sync builds at once, advancing in lockstep: none answers before all
 * are done and all their intermediate results are alive together (the heap, and RSS, balloon).
 * In batches the first answers go out at once and the garbage of one batch dies young.
 */
const WAKE_BATCH = 32;

export interface WaiterHooks {
  /** The room event topic, whose announcement can precede the position readers may see. */
  roomEventsTopic: string;
  /** Resolves once every room event allocated so far is visible to readers. */
  roomEventsVisible: () => Promise<void>;
  /** The rooms a user is joined to (a change of theirs concerns those rooms' pollers). */
  roomsOf: (userId: string) => Promise<readonly string[]>;
}

/**
 * The long-polls being held, indexed by user and by room, woken by after-commit notifications
 * that concern them: a room's events, typing or receipts wake the pollers in that room; a user's
 * to-device messages, account data, push rules or new memberships wake that user's pollers; a
 * user's device-list or presence change wakes everyone sharing a room with them. Waking costs a
 * map lookup per key; nobody else's poll is touched.
 */
export class SyncWaiters {
  private readonly byUser = new Map<string, Set<Waiter>>();
  private readonly byRoom = new Map<string, Set<Waiter>>();
  private readonly unsubscribe: () => void;

  constructor(
    notifier: Notifier,
    private readonly hooks: WaiterHooks,
  ) {
    const topics = [hooks.roomEventsTopic, ...USER_TOPICS, ...ROOM_TOPICS, ...SHARED_TOPICS];
    this.unsubscribe = notifier.subscribe(topics, (n) => void this.onNotification(n));
  }

  /** Number of polls held (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  /**
   * Resolves when something concerning `userId` (or one of `rooms`) is announced, after
   * `timeoutMs`, or when `signal` aborts, whichever comes first.
   */
  wait(userId: string, rooms: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted || timeoutMs <= 0) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.remove(waiter);
        resolve();
      };
      const waiter: Waiter = { userId, rooms, wake: done };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      add(this.byUser, userId, waiter);
      for (const r of rooms) add(this.byRoom, r, waiter);
    });
  }

  close(): void {
    this.unsubscribe();
    this.wakeAll();
  }

  private remove(w: Waiter): void {
    del(this.byUser, w.userId, w);
    for (const r of w.rooms) del(this.byRoom, r, w);
  }

  /** Ends every held poll (shutdown). */
  wakeAll(): void {
    for (const set of [...this.byUser.values()]) for (const w of [...set]) w.wake();
  }

  private wakeRooms(rooms: readonly string[]): void {
    const woken = new Set<Waiter>();
    for (const r of rooms) for (const w of this.byRoom.get(r) ?? []) woken.add(w);
    wakeInBatches([...woken]);
  }

  private wakeUsers(users: readonly string[]): void {
    const woken: Waiter[] = [];
    for (const u of users) for (const w of this.byUser.get(u) ?? []) woken.push(w);
    wakeInBatches(woken);
  }

  private async onNotification(n: Notification): Promise<void> {
    if (this.byUser.size === 0) return;
    if (n.keys === '*') {
      if (n.topic === this.hooks.roomEventsTopic) await this.hooks.roomEventsVisible();
      return this.wakeAll();
    }
    if (n.topic === this.hooks.roomEventsTopic) {
      if (!n.keys.some((r) => this.byRoom.has(r))) return;
      // The commit is announced before its stream positions are published to readers.
      await this.hooks.roomEventsVisible();
      return this.wakeRooms(n.keys);
    }
    if (ROOM_TOPICS.includes(n.topic)) return this.wakeRooms(n.keys);
    // New memberships are room events too: visible to readers only once their positions are published.
    if (n.topic === ROOM_MEMBERS_TOPIC) {
      if (!n.keys.some((u) => this.byUser.has(u))) return;
      await this.hooks.roomEventsVisible();
    }
    this.wakeUsers(n.keys);
    if (SHARED_TOPICS.includes(n.topic)) {
      for (const u of n.keys) this.wakeRooms(await this.hooks.roomsOf(u).catch(() => []));
    }
  }
}

/** Wakes the first WAKE_BATCH now and the rest a batch per event-loop turn (waking twice is harmless). */
function wakeInBatches(waiters: Waiter[], from = 0): void {
  const end = Math.min(from + WAKE_BATCH, waiters.length);
  for (let i = from; i < end; i++) waiters[i]!.wake();
  if (end < waiters.length) setImmediate(() => wakeInBatches(waiters, end));
}

function add(map: Map<string, Set<Waiter>>, key: string, w: Waiter): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(w);
}

function del(map: Map<string, Set<Waiter>>, key: string, w: Waiter): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(w);
  if (set.size === 0) map.delete(key);
}
