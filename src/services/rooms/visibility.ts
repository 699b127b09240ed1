import { mayUserSeeEvent, visibilityOf, type HistoryVisibility } from '../../matrix/history-visibility.js';
import type { Db } from '../../storage/database.js';
import type { StoredEvent } from '../../storage/stores/events.js';
import { membershipTimeline, visibilityTimeline } from '../../storage/stores/room-history.js';
import type { RoomActors } from './room-actor.js';

interface Change<T> {
  stream: number;
  value: T;
}

/** The last change at or before `stream` (`strict`: before it), or undefined. Lists are in stream order. */
function at<T>(list: ReadonlyArray<Change<T>>, stream: number, strict = false): Change<T> | undefined {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const s = list[mid]!.stream;
    if (strict ? s < stream : s <= stream) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? undefined : list[lo - 1];
}

/**
 * What one user may see of one room's history, decided from two timelines read once per request:
 * the user's membership events (room_memberships) and the room's history-visibility events, both
 * in stream order. A room of this server is linear in stream order, so "the state at an event" for
 * these two keys is the last change at or before the event's stream position. Then the spec's rules
 * (src/matrix/history-visibility.ts) decide each event without another query.
 */
export class UserRoomView {
  constructor(
    readonly roomId: string,
    readonly userId: string,
    private readonly memberships: ReadonlyArray<Change<string>>,
    private readonly visibilities: ReadonlyArray<Change<HistoryVisibility>>,
    /** Whether the user's latest membership was forgotten (/forget). */
    readonly forgotten: boolean,
  ) {}

  /** The user's membership now (as committed), or null. */
  get membership(): string | null {
    return this.memberships.at(-1)?.value ?? null;
  }

  /** The stream position of the user's latest membership event. */
  get membershipStream(): number | null {
    return this.memberships.at(-1)?.stream ?? null;
  }

  /** The room's history visibility now. */
  get visibility(): HistoryVisibility {
    return this.visibilities.at(-1)?.value ?? 'shared';
  }

  /** Whether the user may see an event of this room. */
  maySee(ev: StoredEvent): boolean {
    if (ev.roomId !== this.roomId) return false;
    const s = ev.streamOrdering;
    const pdu = ev.pdu;
    const joinedAfter = this.memberships.some((m) => m.stream > s && m.value === 'join');
    return mayUserSeeEvent({
      visibility: at(this.visibilities, s)?.value ?? 'shared',
      membershipAtEvent: at(this.memberships, s)?.value ?? null,
      joinedAfterEvent: joinedAfter,
      event: { type: String(pdu.type), state_key: typeof pdu.state_key === 'string' ? pdu.state_key : undefined, content: pdu.content },
      userId: this.userId,
      previousVisibility: at(this.visibilities, s, true)?.value ?? null,
      previousMembership: at(this.memberships, s, true)?.value ?? null,
    });
  }

  filter(events: readonly StoredEvent[]): StoredEvent[] {
    return events.filter((e) => this.maySee(e));
  }
}

/**
 * The view of a member joined since `since` (the position of their current membership event),
 * for reads that start after it: a joined member sees every event while joined, whatever the
 * history visibility, so no query is needed. Earlier events are hidden rather than decided (a
 * bundled aggregation of an older event is left out, never leaked).
 */
export class JoinedView extends UserRoomView {
  constructor(
    roomId: string,
    userId: string,
    private readonly since: number,
  ) {
    super(roomId, userId, [{ stream: since, value: 'join' }], [], false);
  }

  override maySee(ev: StoredEvent): boolean {
    return ev.roomId === this.roomId && ev.streamOrdering > this.since;
  }
}

/** Most rooms' visibility timelines kept (they change rarely; the actor tells when one is stale). */
const CACHE_SIZE = 2000;

/**
 * Builds UserRoomViews: one query for the user's memberships, and the room's visibility timeline
 * from a cache that is valid while its last event is the room's current m.room.history_visibility
 * (single-server rooms change it only by appending), otherwise one more query.
 */
export class RoomVisibility {
  private readonly timelines = new Map<string, { last: string | null; list: Array<Change<HistoryVisibility>> }>();

  constructor(
    private readonly db: Db,
    private readonly actors: RoomActors,
  ) {}

  async forUser(roomId: string, userId: string): Promise<UserRoomView> {
    const [memberships, visibilities] = await Promise.all([membershipTimeline(this.db, roomId, userId), this.visibilityTimeline(roomId)]);
    return new UserRoomView(
      roomId,
      userId,
      memberships.map((m) => ({ stream: m.stream, value: m.membership })),
      visibilities,
      memberships.at(-1)?.forgotten ?? false,
    );
  }

  private async visibilityTimeline(roomId: string): Promise<Array<Change<HistoryVisibility>>> {
    const actor = await this.actors.get(roomId);
    const current = actor?.get('m.room.history_visibility', '')?.event_id ?? null;
    const cached = this.timelines.get(roomId);
    if (cached && cached.last === current) return cached.list;
    const rows = await visibilityTimeline(this.db, roomId);
    const list = rows.map((r) => ({ stream: r.stream, value: visibilityOf(r.content) }));
    const last = rows.at(-1)?.eventId ?? null;
    // Only keep what matches the actor (an event queued but not yet committed would not be in the rows).
    if (last === current) {
      this.timelines.delete(roomId);
      this.timelines.set(roomId, { last, list });
      if (this.timelines.size > CACHE_SIZE) this.timelines.delete(this.timelines.keys().next().value!);
    }
    return list;
  }
}

/** A server admin's view through the Admin API: every event of the room, no membership needed (Synapse's admin privilege). */
export class AdminRoomView extends UserRoomView {
  constructor(roomId: string, userId: string) {
    super(roomId, userId, [], [], false);
  }

  override maySee(ev: StoredEvent): boolean {
    return ev.roomId === this.roomId;
  }
}
