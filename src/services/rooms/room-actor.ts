import type { AuthEvent, AuthState } from '../../matrix/auth-rules.js';
import { resolveRoomVersion, type RoomVersion } from '../../matrix/room-versions.js';
import type { Db } from '../../storage/database.js';
import { getRoom, loadRoomHead } from '../../storage/stores/events.js';
import type { EventWrite } from '../../storage/stores/event-writes.js';

/** A current-state event as the actor keeps it: the signed event with its ID. */
export type StateEntry = AuthEvent & { readonly event_id: string; readonly state_key: string; readonly content: Record<string, unknown> };

/** Every so many state events a room's state group is a full snapshot instead of a delta. */
export const SNAPSHOT_INTERVAL = 100;

const key = (type: string, stateKey: string) => `${type}\u0000${stateKey}`;

/** Thrown into requests queued on an actor whose assumptions a failed write invalidated; they retry. */
export class StaleRoom extends Error {}

/** Allocates state group IDs in memory (resumes after the highest stored one). */
export class StateGroupIds {
  constructor(private last: number) {}
  next(): number {
    return ++this.last;
  }
}

/**
 * One room's head, held in memory: current state, forward extremities, depth and state group.
 * Work on a room runs one piece at a time (`run`), so events are built, checked and queued in
 * order and concurrent sends never fork the room. An event is applied to the head as soon as it
 * is queued for writing (the next one builds on it without waiting for the commit); if the write
 * fails, the actor is dropped and the room reloads from what was committed.
 */
export class RoomActor {
  private readonly state = new Map<string, StateEntry>();
  private tail: Promise<unknown> = Promise.resolve();
  /** Set once a write of this room failed: queued work must start again on a fresh actor. */
  stale = false;
  readonly counts = { join: 0, invite: 0, leave: 0, ban: 0, knock: 0, localJoined: 0 };

  constructor(
    readonly roomId: string,
    readonly version: RoomVersion,
    /** Distinguishes this actor's queued writes from those of its successor after a failure. */
    readonly generation: number,
    private readonly isLocalUser: (userId: string) => boolean,
    public extremities: string[],
    public depth: number,
    public stateGroup: number | null,
    /** State events since the last full snapshot group. */
    public hops: number,
  ) {}

  /** Work queued on the actor plus its writes not yet committed: only an idle actor may be evicted. */
  private busy = 0;

  /** Runs `fn` after every earlier piece of work on this room. */
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    this.busy++;
    const next = this.tail.then(() => {
      if (this.stale) throw new StaleRoom(this.roomId);
      return fn();
    });
    this.tail = next.catch(() => undefined);
    void this.tail.then(() => this.busy--);
    return next;
  }

  /** Counts a write built on this head until it settles (the head is ahead of the database meanwhile). */
  holdUntil(write: Promise<unknown>): void {
    this.busy++;
    const done = () => {
      this.busy--;
    };
    write.then(done, done);
  }

  /** Nothing queued and every write committed: the database holds all this actor knows. */
  get idle(): boolean {
    return this.busy === 0;
  }

  get(type: string, stateKey: string): StateEntry | undefined {
    return this.state.get(key(type, stateKey));
  }

  readonly authState: AuthState = { get: (type, stateKey) => this.get(type, stateKey) };

  stateEntries(): IterableIterator<StateEntry> {
    return this.state.values();
  }

  membershipOf(userId: string): string | undefined {
    const m = this.get('m.room.member', userId)?.content.membership;
    return typeof m === 'string' ? m : undefined;
  }

  /** Puts a state event into the current state (loading, or once it is queued for writing). */
  setState(entry: StateEntry): void {
    if (entry.type === 'm.room.member') {
      const previous = this.membershipOf(entry.state_key);
      this.count(entry.state_key, previous, -1);
      this.count(entry.state_key, typeof entry.content.membership === 'string' ? entry.content.membership : undefined, 1);
    }
    this.state.set(key(entry.type, entry.state_key), entry);
  }

  private count(userId: string, membership: string | undefined, delta: number): void {
    if (membership === undefined || !(membership in this.counts)) return;
    this.counts[membership as 'join'] += delta;
    if (membership === 'join' && this.isLocalUser(userId)) this.counts.localJoined += delta;
  }

  /** Room statistics as Synapse's room_stats_current / room_stats_state hold them. */
  stats(): NonNullable<EventWrite['stats']> {
    const content = (type: string) => this.get(type, '')?.content ?? {};
    const str = (v: unknown) => (typeof v === 'string' ? v : null);
    const create = content('m.room.create');
    return {
      current: {
        current_state_events: this.state.size,
        joined_members: this.counts.join,
        invited_members: this.counts.invite,
        left_members: this.counts.leave,
        banned_members: this.counts.ban,
        knocked_members: this.counts.knock,
        local_users_in_room: this.counts.localJoined,
        completed_delta_stream_id: 0,
      },
      state: {
        name: str(content('m.room.name').name),
        canonical_alias: str(content('m.room.canonical_alias').alias),
        join_rules: str(content('m.room.join_rules').join_rule),
        history_visibility: str(content('m.room.history_visibility').history_visibility),
        encryption: str(content('m.room.encryption').algorithm),
        avatar: str(content('m.room.avatar').url),
        guest_access: str(content('m.room.guest_access').guest_access),
        is_federatable: create['m.federate'] === false ? 0 : 1,
        topic: str(content('m.room.topic').topic),
        room_type: str(create.type),
      },
    };
  }
}

/**
 * The live room actors, loaded lazily from the database. A failed write drops the room's actor
 * (marking it stale), so the next request reloads the room as committed.
 */
export class RoomActors {
  private readonly actors = new Map<string, RoomActor>();
  private readonly loading = new Map<string, Promise<RoomActor | null>>();
  /** Rooms being shut down or deleted: unknown to every request until reopened (see `close`). */
  private readonly closed = new Set<string>();
  private generations = 0;
  /**
   * Actors kept in memory. Past it, the least recently used idle ones are dropped (their rooms
   * reload from the database when next touched); an actor with queued work or uncommitted writes
   * is never dropped, since its head is ahead of the database.
   */
  maxActors = 10_000;

  constructor(
    private readonly db: Db,
    private readonly isLocalUser: (userId: string) => boolean,
  ) {}

  /** Remembers an actor as the most recently used, evicting idle ones beyond `maxActors`. */
  private keep(actor: RoomActor): void {
    this.actors.delete(actor.roomId);
    this.actors.set(actor.roomId, actor);
    if (this.actors.size <= this.maxActors) return;
    for (const [roomId, a] of this.actors) {
      if (this.actors.size <= this.maxActors) break;
      if (a !== actor && a.idle) {
        // Whoever still holds it must not build on it beside its successor: work queued on it
        // later fails as stale (EventCreator.send retries on the fresh actor) instead of forking.
        a.stale = true;
        this.actors.delete(roomId);
      }
    }
  }

  /** How many actors are in memory. */
  get size(): number {
    return this.actors.size;
  }

  /** The room's actor, or null when no such room exists (or it is being deleted). */
  async get(roomId: string): Promise<RoomActor | null> {
    if (this.closed.has(roomId)) return null;
    const actor = await this.getEvenIfClosed(roomId);
    return this.closed.has(roomId) ? null : actor;
  }

  /**
   * Closes a room while it is shut down or deleted: `get` answers null for it, so every request
   * finds no room (nothing half-deleted is visible, nothing new is sent) while the deletion still
   * sends its own events through `getEvenIfClosed`.
   */
  close(roomId: string): void {
    this.closed.add(roomId);
  }

  /** Opens a closed room again (a shutdown without purge), or forgets it was closed (after the purge). */
  reopen(roomId: string): void {
    this.closed.delete(roomId);
  }

  /** Drops the room's actor (its rows are being removed); a later load reads what is stored. */
  forget(roomId: string): void {
    const actor = this.actors.get(roomId);
    if (actor) actor.stale = true;
    this.actors.delete(roomId);
  }

  /** The room's actor even while the room is closed (the deletion's own events). */
  async getEvenIfClosed(roomId: string): Promise<RoomActor | null> {
    const live = this.actors.get(roomId);
    if (live) {
      this.keep(live);
      return live;
    }
    let pending = this.loading.get(roomId);
    if (!pending) {
      pending = this.load(roomId).finally(() => this.loading.delete(roomId));
      this.loading.set(roomId, pending);
    }
    return pending;
  }

  /** An actor for a room being created now (nothing stored yet). */
  create(roomId: string, version: RoomVersion): RoomActor {
    const actor = new RoomActor(roomId, version, ++this.generations, this.isLocalUser, [], 0, null, 0);
    this.keep(actor);
    return actor;
  }

  /** Forgets a room's actor after a failed write (only the generation that failed). */
  invalidate(roomId: string, generation: number): void {
    const actor = this.actors.get(roomId);
    if (actor && actor.generation === generation) {
      actor.stale = true;
      this.actors.delete(roomId);
    }
  }

  /** Whether a room is known (in memory or stored). */
  async exists(roomId: string): Promise<boolean> {
    return (await this.get(roomId)) !== null;
  }

  private async load(roomId: string): Promise<RoomActor | null> {
    const room = await getRoom(this.db, roomId);
    if (!room) return null;
    const head = await loadRoomHead(this.db, roomId);
    const version = resolveRoomVersion(room.room_version ?? '1');
    // After a restart the next state event starts a full snapshot: counting hops would need the edges.
    const actor = new RoomActor(roomId, version, ++this.generations, this.isLocalUser, head.extremities, head.depth, head.stateGroup, SNAPSHOT_INTERVAL);
    for (const s of head.state) actor.setState({ ...(s.pdu as object), event_id: s.eventId } as StateEntry);
    // A concurrent create of the same ID (not possible with random IDs) would win; keep the first.
    const existing = this.actors.get(roomId);
    if (existing) return existing;
    this.keep(actor);
    return actor;
  }
}
