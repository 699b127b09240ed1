import { eventMatchesFilter, filterLimit, MAX_TIMELINE_LIMIT, type RoomEventFilter, type RoomFilter } from '../../matrix/filters.js';
import type { Db } from '../../storage/database.js';
import * as events from '../../storage/stores/events.js';
import type { StoredEvent } from '../../storage/stores/events.js';
import * as store from '../../storage/stores/sync.js';
import type { Requester } from '../auth.js';
import { strippedState, toClientEvent, type ClientEvent } from '../rooms/client-events.js';
import type { RoomHistoryService } from '../rooms/history.js';
import type { RoomActor, RoomActors } from '../rooms/room-actor.js';
import { JoinedView, type UserRoomView } from '../rooms/visibility.js';

/** State types copied into invite_state / knock_state (Synapse's room_prejoin_state defaults). */
const STRIPPED_TYPES = ['m.room.create', 'm.room.join_rules', 'm.room.canonical_alias', 'm.room.avatar', 'm.room.encryption', 'm.room.name', 'm.room.topic'];
/** Rounds of reading further back when visibility or the filter drop timeline events. */
const MAX_ROUNDS = 4;
const MEMBER = 'm.room.member';
const stateKeyOf = (type: string, stateKey: string) => `${type}\u0000${stateKey}`;

export interface Timeline {
  events: ClientEvent[];
  limited: boolean;
  prev_batch: string;
}

/** One room's part of a /sync answer, before the service adds ephemeral data, account data and counts. */
export interface RoomSection {
  timeline: Timeline;
  state: ClientEvent[];
  summary?: Record<string, unknown>;
}

/** What a room section is built from: the window (from, to] of stream positions and how. */
export interface RoomWindow {
  roomId: string;
  /** Timeline events after this position (0: from the room's beginning). */
  from: number;
  /** Up to this position (the sync's room position, or the user's leave). */
  to: number;
  /** Send the room's whole state at the timeline's start, not only what changed since `from`. */
  fullState: boolean;
  /** Include the room summary (heroes and member counts). */
  summary: boolean;
  /** The position of the user's current join, when they are joined (a window after it needs no visibility query). */
  joinedSince?: number;
}

/**
 * Per-device memory of the member events a lazy-loading client already has, so an incremental
 * sync does not send them again (the spec lets a server resend them; Synapse keeps a cache too).
 */
export class LazyMemberCache {
  private readonly sent = new Map<string, Map<string, Set<string>>>();
  constructor(private readonly maxDevices = 10_000) {}

  private of(key: string): Map<string, Set<string>> {
    let m = this.sent.get(key);
    if (m) {
      this.sent.delete(key);
    } else {
      m = new Map();
      if (this.sent.size >= this.maxDevices) this.sent.delete(this.sent.keys().next().value!);
    }
    this.sent.set(key, m);
    return m;
  }

  has(device: string, roomId: string, eventId: string): boolean {
    return this.of(device).get(roomId)?.has(eventId) ?? false;
  }

  add(device: string, roomId: string, eventIds: Iterable<string>): void {
    const rooms = this.of(device);
    let set = rooms.get(roomId);
    if (!set) rooms.set(roomId, (set = new Set()));
    for (const id of eventIds) set.add(id);
  }

  /** A full-state or initial sync starts the client's memory afresh. */
  reset(device: string, roomId: string): void {
    this.of(device).delete(roomId);
  }
}

/**
 * Builds the rooms part of /sync: timelines (newest `limit` visible events of the window,
 * `limited` when more exist, `prev_batch` a /messages token before the first), state (the whole
 * state at the timeline's start, or what changed in it since the window opened, minus what the
 * timeline carries; lazy-loaded members trimmed to the timeline's senders) and summaries.
 */
export class RoomSections {
  readonly lazyMembers = new LazyMemberCache();
  /**
   * Window reads in flight, shared by identical ones: the pollers of a room woken by one message
   * all read the same (from, to] of it. Dropped once settled, so nothing is ever served stale.
   */
  private readonly windowReads = new Map<string, Promise<StoredEvent[]>>();

  constructor(
    private readonly db: Db,
    private readonly actors: RoomActors,
    private readonly history: RoomHistoryService,
  ) {}

  /** The room's section for `w`, or null when the room is gone. */
  async build(requester: Requester, w: RoomWindow, filter: RoomFilter | undefined): Promise<RoomSection | null> {
    const actor = await this.actors.get(w.roomId);
    if (!actor) return null;
    const view =
      w.joinedSince !== undefined && w.from >= w.joinedSince
        ? new JoinedView(w.roomId, requester.userId, w.joinedSince)
        : await this.history.visibility.forUser(w.roomId, requester.userId);
    const tf = filter?.timeline;
    const limit = Math.min(filterLimit(tf), MAX_TIMELINE_LIMIT);
    const { picked, limited } = await this.timelineEvents(view, w, tf, limit);
    const first = picked[0];
    const timelineStart = first ? first.streamOrdering - 1 : w.to;

    const sf = filter?.state;
    const lazy = sf?.lazy_load_members === true;
    // State: at the timeline's start; on incremental syncs only what changed since `from`. An
    // incremental sync whose timeline is not limited needs none of it (the timeline carries every
    // change), unless lazy loading wants the senders' members: most woken long-polls skip it.
    const needStart = w.fullState || w.from === 0 || limited || lazy;
    const startState = needStart ? await this.stateAt(w.roomId, timelineStart) : new Map<string, string>();
    let stateIds: Map<string, string>;
    if (w.fullState || w.from === 0) stateIds = new Map(startState);
    else if (limited) {
      const before = await this.stateAt(w.roomId, w.from);
      stateIds = new Map([...startState].filter(([k, id]) => before.get(k) !== id));
    } else stateIds = new Map();

    const device = `${requester.userId}|${requester.deviceId ?? ''}`;
    if (lazy) {
      if (w.fullState || w.from === 0) this.lazyMembers.reset(device, w.roomId);
      // Members of the timeline's senders (and the user's own), at the timeline's start.
      const wanted = new Set(picked.map((e) => String(e.pdu.sender)));
      wanted.add(requester.userId);
      for (const k of [...stateIds.keys()]) if (k.startsWith(`${MEMBER}\u0000`)) stateIds.delete(k);
      for (const user of wanted) {
        const id = startState.get(stateKeyOf(MEMBER, user));
        if (id === undefined) continue;
        if (sf.include_redundant_members !== true && this.lazyMembers.has(device, w.roomId, id)) continue;
        stateIds.set(stateKeyOf(MEMBER, user), id);
      }
    }
    const inTimeline = new Set(picked.map((e) => e.eventId));
    const stateEvents = (await events.getEvents(this.db, [...stateIds.values()].filter((id) => !inTimeline.has(id))))
      .filter((e) => eventMatchesFilter(e.pdu, sf))
      .sort((a, b) => a.streamOrdering - b.streamOrdering);
    if (lazy) {
      const members = [...stateEvents, ...picked].filter((e) => e.pdu.type === MEMBER).map((e) => e.eventId);
      this.lazyMembers.add(device, w.roomId, members);
    }

    const [timeline, state] = await Promise.all([this.history.clientEvents(picked, actor, requester, view), this.plain(stateEvents, actor, requester)]);
    const section: RoomSection = {
      timeline: { events: timeline, limited, prev_batch: `s${timelineStart}` },
      state,
    };
    // The summary changes only with memberships: sent on initial and full-state syncs and when the
    // window carries member events, as Synapse does (clients keep the last one they got).
    const memberChange = picked.some((e) => e.pdu.type === MEMBER) || stateEvents.some((e) => e.pdu.type === MEMBER);
    if (w.summary && (w.from === 0 || w.fullState || memberChange)) section.summary = await this.summary(w.roomId, requester.userId, actor);
    return section;
  }

  /**
   * The newest events of the window the user may see and the filter passes, oldest first; more
   * rounds are read when some are dropped, so a page of hidden events does not hide older ones.
   */
  private async timelineEvents(view: UserRoomView, w: RoomWindow, filter: RoomEventFilter | undefined, limit: number): Promise<{ picked: StoredEvent[]; limited: boolean }> {
    const picked: StoredEvent[] = [];
    let upTo = w.to;
    let batch = limit + 1;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const rows = await this.latestEvents(w.roomId, w.from, upTo, batch);
      for (const ev of rows) {
        if (!view.maySee(ev) || !eventMatchesFilter(ev.pdu, filter)) continue;
        if (picked.length === limit) return { picked: picked.reverse(), limited: true };
        picked.push(ev);
      }
      if (rows.length < batch) return { picked: picked.reverse(), limited: false };
      upTo = rows.at(-1)!.streamOrdering - 1;
      batch = Math.min(batch * 2, 1000);
    }
    // Gave up looking further back: say there may be more.
    return { picked: picked.reverse(), limited: true };
  }

  /** store.latestEvents, shared with an identical read in flight (the result is never mutated). */
  private latestEvents(roomId: string, from: number, to: number, limit: number): Promise<StoredEvent[]> {
    const key = `${roomId}\u0000${from}\u0000${to}\u0000${limit}`;
    const inFlight = this.windowReads.get(key);
    if (inFlight) return inFlight;
    const read = store.latestEvents(this.db, roomId, from, to, limit);
    this.windowReads.set(key, read);
    const forget = () => {
      if (this.windowReads.get(key) === read) this.windowReads.delete(key);
    };
    read.then(forget, forget);
    return read;
  }

  /** The room's state (type\0state_key → event ID) after its last event at or before `stream`. */
  async stateAt(roomId: string, stream: number): Promise<Map<string, string>> {
    if (stream <= 0) return new Map();
    const last = await store.lastEventAt(this.db, roomId, stream);
    if (!last) return new Map();
    const group = await events.stateGroupOf(this.db, last);
    return group === undefined ? new Map() : events.stateOfGroup(this.db, group);
  }

  private async plain(stored: readonly StoredEvent[], actor: RoomActor, requester: Requester): Promise<ClientEvent[]> {
    const redactionIds = stored.map((e) => e.redactedBy).filter((x): x is string => x !== null);
    const redactions = new Map((await events.getEvents(this.db, redactionIds)).map((r) => [r.eventId, r]));
    const viewer = { userId: requester.userId, deviceId: requester.deviceId };
    return stored.map((e) => toClientEvent(e, actor.version, viewer, e.redactedBy ? redactions.get(e.redactedBy) : undefined));
  }

  /**
   * `m.heroes` (up to five other members, joined or invited first, else those who left) and the
   * joined and invited counts. Heroes are left out when the room has a name or canonical alias,
   * as Synapse does: clients only need them to name an unnamed room.
   */
  async summary(roomId: string, userId: string, actor: RoomActor): Promise<Record<string, unknown>> {
    // Counts from the room's head (kept as its state changes, like its name below), heroes picked
    // in the database: a woken long-poll in a room of thousands must not load every member
    // (1,000 polls × 1,000 members was most of a wake-up's time).
    const out: Record<string, unknown> = { 'm.joined_member_count': actor.counts.join, 'm.invited_member_count': actor.counts.invite };
    const named = typeof actor.get('m.room.name', '')?.content.name === 'string' && actor.get('m.room.name', '')!.content.name !== '';
    const aliased = typeof actor.get('m.room.canonical_alias', '')?.content.alias === 'string';
    if (named || aliased) return out;
    let heroes = await store.roomHeroes(this.db, roomId, userId, ['join', 'invite'], 5);
    if (heroes.length === 0) heroes = await store.roomHeroes(this.db, roomId, userId, ['leave', 'ban'], 5);
    out['m.heroes'] = heroes;
    return out;
  }

  /**
   * invite_state / knock_state: the room's stripped prejoin state at the membership event, and
   * the membership event itself (so the client sees who invited them and when).
   */
  async strippedStateAt(roomId: string, membershipEventId: string): Promise<ClientEvent[]> {
    const group = await events.stateGroupOf(this.db, membershipEventId);
    const state = group === undefined ? new Map<string, string>() : await events.stateOfGroup(this.db, group);
    const ids = STRIPPED_TYPES.map((t) => state.get(stateKeyOf(t, ''))).filter((x): x is string => x !== undefined);
    const [stored, own] = await Promise.all([events.getEvents(this.db, ids), events.getEvent(this.db, membershipEventId)]);
    const out = stored.map((e) => strippedState({ type: String(e.pdu.type), state_key: String(e.pdu.state_key ?? ''), content: e.pdu.content, sender: String(e.pdu.sender) }));
    if (own && own.roomId === roomId) {
      const sender = String(own.pdu.sender);
      const senderMember = state.get(stateKeyOf(MEMBER, sender));
      if (senderMember && sender !== own.pdu.state_key) {
        const m = await events.getEvent(this.db, senderMember);
        if (m) out.push(strippedState({ type: MEMBER, state_key: sender, content: m.pdu.content, sender }));
      }
      out.push({ ...strippedState({ type: MEMBER, state_key: String(own.pdu.state_key), content: own.pdu.content, sender }), event_id: own.eventId, origin_server_ts: own.pdu.origin_server_ts });
    }
    return out;
  }
}
