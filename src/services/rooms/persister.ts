import type { Logger } from 'pino';
import { announce, withTransaction, type Db, type Tx } from '../../storage/database.js';
import { writeEvents, type EventWrite } from '../../storage/stores/event-writes.js';
import type { StreamPositions } from './stream-positions.js';

/** An event handed to the persister; `streamOrdering` is filled in when its batch forms. */
export type PendingWrite = Omit<EventWrite, 'streamOrdering'>;

interface Queued {
  write: PendingWrite;
  /** The room actor's generation when the event was built (see `RoomActor.generation`). */
  generation: number;
  resolve: (streamOrdering: number) => void;
  reject: (err: unknown) => void;
}

/** Largest batch: ~20 rows per event keeps every multi-row statement far under SQLite's variable limit. */
const MAX_BATCH = 200;

/**
 * Work that rides along with a batch of events: `prepare` runs before the batch's transaction (it
 * may read the database, e.g. to load push rules), `write` inside it, so its rows commit (or not)
 * with the events.
 */
export interface PersistHook {
  prepare(writes: readonly EventWrite[]): Promise<void>;
  write(tx: Tx, writes: readonly EventWrite[]): Promise<void>;
}

/** The topic announced after commit, keyed by room ID (sync and caches listen). */
export const ROOM_EVENTS_TOPIC = 'room_events';
/** Announced with the local users whose membership the committed events changed. */
export const ROOM_MEMBERS_TOPIC = 'room_members';

/**
 * Group commit. Events from every room queue here; one loop writes whatever has queued since the
 * previous transaction as the next transaction, so under load many events share one commit, and
 * an idle server commits each event at once. Batches commit one after another, so stream
 * positions (allocated as a batch forms) commit in order.
 *
 * When a batch fails, its events are retried room by room: a room whose events cannot be written
 * has them (and any later event of that room already queued, which builds on them) rejected, and
 * its actor reloads from the database; other rooms' events are unaffected.
 */
export class Persister {
  private queue: Queued[] = [];
  private running = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  /** Hooks run with every batch (see PersistHook). */
  readonly hooks: PersistHook[] = [];

  constructor(
    private readonly db: Db,
    private readonly positions: StreamPositions,
    private readonly log: Logger,
    /** Called when a room's writes failed: its actor must forget what it assumed. */
    private readonly onRoomFailed: (roomId: string, generation: number) => void,
  ) {}

  /** Queues an event; resolves with its stream ordering once committed. */
  persist(write: PendingWrite, generation: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ write, generation, resolve, reject });
      if (!this.running) this.start();
    });
  }

  /** Resolves when everything queued so far is written (or failed). */
  drained(): Promise<void> {
    return this.running ? this.idle : Promise.resolve();
  }

  private start(): void {
    this.running = true;
    this.idle = new Promise((r) => (this.markIdle = r));
    // Let the current turn of the event loop queue what it will before the first batch forms.
    setImmediate(() => void this.loop());
  }

  private async loop(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, MAX_BATCH);
        await this.writeBatch(batch);
      }
    } finally {
      this.running = false;
      this.markIdle();
    }
  }

  private async writeBatch(batch: Queued[]): Promise<void> {
    const positions = this.positions.allocate(batch.length);
    const writes = batch.map((q, i) => ({ ...q.write, streamOrdering: positions[i]! }));
    for (const h of this.hooks) {
      // A hook that cannot prepare (say, its read failed) costs its own rows, never the events.
      await h.prepare(writes).catch((err: unknown) => this.log.error({ err }, 'a persister hook failed to prepare; its rows are skipped'));
    }
    try {
      await this.commit(writes);
      this.positions.finish(positions);
      batch.forEach((q, i) => q.resolve(positions[i]!));
      return;
    } catch (e) {
      if (new Set(writes.map((w) => w.roomId)).size === 1) {
        this.positions.finish(positions);
        this.failRoom(batch, e);
        return;
      }
    }
    // Several rooms: retry each room's events on their own, so one room's failure stays its own.
    const byRoom = new Map<string, number[]>();
    batch.forEach((q, i) => byRoom.set(q.write.roomId, [...(byRoom.get(q.write.roomId) ?? []), i]));
    for (const indexes of byRoom.values()) {
      const roomWrites = indexes.map((i) => writes[i]!);
      try {
        await this.commit(roomWrites);
        indexes.forEach((i) => batch[i]!.resolve(positions[i]!));
      } catch (e) {
        this.failRoom(
          indexes.map((i) => batch[i]!),
          e,
        );
      }
    }
    this.positions.finish(positions);
  }

  private async commit(writes: EventWrite[]): Promise<void> {
    await withTransaction(this.db, async (tx) => {
      await writeEvents(tx, writes);
      for (const h of this.hooks) await h.write(tx, writes);
      announce(tx, ROOM_EVENTS_TOPIC, [...new Set(writes.map((w) => w.roomId))]);
      // A local user's new membership concerns them before they are in the room (an invite, say).
      const members = [...new Set(writes.flatMap((w) => (w.member?.local ? [w.member.userId] : [])))];
      if (members.length > 0) announce(tx, ROOM_MEMBERS_TOPIC, members);
    });
  }

  /** Rejects a room's failed events and every later queued event of that room built on them. */
  private failRoom(failed: Queued[], err: unknown): void {
    const roomId = failed[0]!.write.roomId;
    this.log.error({ err, roomId, events: failed.length }, 'writing room events failed; the room reloads from the database');
    const generation = failed[0]!.generation;
    const later = this.queue.filter((q) => q.write.roomId === roomId && q.generation === generation);
    this.queue = this.queue.filter((q) => !later.includes(q));
    this.onRoomFailed(roomId, generation);
    for (const q of [...failed, ...later]) q.reject(err);
  }
}
