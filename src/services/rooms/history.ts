import { badRequest, forbidden, invalidParam, MatrixError, notFound } from '../../errors.js';
import type { Db } from '../../storage/database.js';
import * as events from '../../storage/stores/events.js';
import type { StoredEvent } from '../../storage/stores/events.js';
import * as history from '../../storage/stores/room-history.js';
import type { Position, SqlFilter } from '../../storage/stores/room-history.js';
import type { Requester } from '../auth.js';
import { toClientEvent, type ClientEvent } from './client-events.js';
import type { RoomActor, RoomActors } from './room-actor.js';
import type { StreamPositions } from './stream-positions.js';
import { AdminRoomView, RoomVisibility, type UserRoomView } from './visibility.js';

// ---------------------------------------------------------------------------------------------
// Tokens. Opaque to clients, in Synapse's shapes: `t<topological>-<stream>` is a position in a
// room's order, just after the event with those orderings; `s<stream>` is a position in stream
// order (what /sync hands out). Anything after a `_` (Synapse's other stream positions) is ignored,
// so Synapse-style sync tokens are accepted too.

const MAX_ORDERING = Number.MAX_SAFE_INTEGER;

export function parsePosition(token: string): Position | undefined {
  const head = token.split('_', 1)[0]!;
  let m = /^t(\d{1,16})-(\d{1,16})$/.exec(head);
  if (m) {
    const topo = Number(m[1]);
    const stream = Number(m[2]);
    return topo <= MAX_ORDERING && stream <= MAX_ORDERING ? { kind: 'topo', topo, stream } : undefined;
  }
  m = /^s(\d{1,16})$/.exec(head);
  if (m) {
    const stream = Number(m[1]);
    return stream <= MAX_ORDERING ? { kind: 'stream', stream } : undefined;
  }
  return undefined;
}

export const positionToken = (p: Position): string => (p.kind === 'topo' ? `t${p.topo}-${p.stream}` : `s${p.stream}`);

/** The position just past an event when reading in `dir` (before it for b, after it for f). */
const pastEvent = (ev: StoredEvent, dir: 'b' | 'f'): Position => ({
  kind: 'topo',
  topo: ev.topologicalOrdering,
  stream: dir === 'b' ? ev.streamOrdering - 1 : ev.streamOrdering,
});

// Synapse's messages for unparsable tokens (400 with its default errcode).
const badToken = (name: string) => badRequest(`'${name}' parameter is invalid`);

function tokenParam(value: string | undefined, name: string): Position | undefined {
  if (value === undefined || value === '' || (name === 'from' && value === 'END')) return undefined;
  const p = parsePosition(value);
  if (!p) throw badToken(name);
  return p;
}

// ---------------------------------------------------------------------------------------------
// RoomEventFilter (the `filter` query parameter of /messages and /context).

export interface RoomEventFilter {
  types?: string[];
  notTypes?: string[];
  senders?: string[];
  notSenders?: string[];
  containsUrl?: boolean;
  lazyLoadMembers: boolean;
  limit?: number;
}

/** Parses the JSON of a RoomEventFilter; a malformed one is 400 (never a 500). */
export function parseRoomEventFilter(text: string | undefined): RoomEventFilter | undefined {
  if (text === undefined || text === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MatrixError(400, 'M_NOT_JSON', 'Content not JSON.');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalidParam('filter must be a JSON object');
  const o = json as Record<string, unknown>;
  const strings = (key: string): string[] | undefined => {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalidParam(`filter: '${key}' must be a list of strings`);
    return v as string[];
  };
  const bool = (key: string): boolean | undefined => {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw invalidParam(`filter: '${key}' must be a boolean`);
    return v;
  };
  let limit: number | undefined;
  if (o.limit !== undefined && o.limit !== null) {
    if (typeof o.limit !== 'number' || !Number.isInteger(o.limit) || o.limit < 1) throw invalidParam("filter: 'limit' must be a positive integer");
    limit = Math.min(o.limit, MAX_LIMIT);
  }
  return {
    types: strings('types'),
    notTypes: strings('not_types'),
    senders: strings('senders'),
    notSenders: strings('not_senders'),
    containsUrl: bool('contains_url'),
    lazyLoadMembers: bool('lazy_load_members') ?? false,
    limit,
  };
}

/** Synapse's glob: a trailing `*` matches any suffix. */
const matchesPattern = (value: string, pattern: string) => (pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : value === pattern);

function matchesFilter(ev: StoredEvent, f: RoomEventFilter | undefined): boolean {
  if (!f) return true;
  const type = String(ev.pdu.type);
  const sender = String(ev.pdu.sender);
  if (f.notTypes?.some((p) => matchesPattern(type, p))) return false;
  if (f.types && !f.types.some((p) => matchesPattern(type, p))) return false;
  if (f.notSenders?.includes(sender)) return false;
  if (f.senders && !f.senders.includes(sender)) return false;
  if (f.containsUrl !== undefined) {
    const content = ev.pdu.content as Record<string, unknown> | undefined;
    if ((typeof content?.url === 'string') !== f.containsUrl) return false;
  }
  return true;
}

/** The part of a filter the SQL can apply (exact values; globs are matched afterwards). */
function sqlFilterOf(f: RoomEventFilter | undefined): SqlFilter | undefined {
  if (!f) return undefined;
  const exact = (list: string[] | undefined) => list?.filter((p) => !p.endsWith('*'));
  return {
    types: f.types && f.types.every((p) => !p.endsWith('*')) ? f.types : undefined,
    notTypes: exact(f.notTypes),
    senders: f.senders,
    notSenders: f.notSenders,
    containsUrl: f.containsUrl,
  };
}

// ---------------------------------------------------------------------------------------------

/** Pages whose bundled aggregations are kept (see RoomHistoryService.aggregationsOf). */
const AGGREGATION_PAGES = 256;
/** Synapse's cap on pagination limits (larger values are lowered to it, not refused). */
export const MAX_LIMIT = 1000;
/** Rounds of reading past invisible or filtered-out events before answering with a shorter page. */
const MAX_ROUNDS = 5;

type PageFn = (from: Position | undefined, limit: number) => Promise<StoredEvent[]>;

interface Collected {
  events: StoredEvent[];
  /** Where to continue, when there may be more. */
  next?: Position;
}

export interface MessagesRequest {
  from?: string;
  to?: string;
  dir: 'b' | 'f';
  limit?: number;
  filter?: string;
}

/** Thrown by the admin reads for a room the server does not know; callers answer as Synapse does. */
export class UnknownRoom extends Error {}

const notInRoom = (userId: string, roomId: string) => forbidden(`User ${userId} not in room ${roomId}, and room previews are disabled`);
const eventNotFound = () => notFound('Event not found.');

/**
 * The read paths of a room's history: /messages, /context, /event, /members, /joined_members,
 * relations, threads, timestamp_to_event and the space hierarchy. Every event passes the history
 * visibility of the requester (one UserRoomView per request: two queries at most), and pages are
 * read with keyset queries on the events indexes.
 */
export class RoomHistoryService {
  readonly visibility: RoomVisibility;

  constructor(
    private readonly db: Db,
    private readonly actors: RoomActors,
    private readonly positions: StreamPositions,
  ) {
    this.visibility = new RoomVisibility(db, actors);
  }

  /** Client-format events, redactions applied (as RoomsService.toClient). */
  private async toClient(stored: readonly StoredEvent[], actor: RoomActor, requester: Requester): Promise<ClientEvent[]> {
    const redactionIds = stored.map((e) => e.redactedBy).filter((x): x is string => x !== null);
    const redactions = new Map((await events.getEvents(this.db, redactionIds)).map((r) => [r.eventId, r]));
    const viewer = { userId: requester.userId, deviceId: requester.deviceId };
    return stored.map((e) => toClientEvent(e, actor.version, viewer, e.redactedBy ? redactions.get(e.redactedBy) : undefined));
  }

  /**
   * The requester's view of a room, if they may read it at all (Synapse's "in room or world
   * readable"): joined; departed (left, not forgotten) when `allowDeparted`; or the room is
   * world_readable. Otherwise 403, also for unknown rooms.
   */
  private async viewOf(requester: Requester, roomId: string, allowDeparted = true, admin = false): Promise<{ view: UserRoomView; actor: RoomActor }> {
    const actor = await this.actors.get(roomId);
    if (!actor) throw admin ? new UnknownRoom() : notInRoom(requester.userId, roomId);
    // The Admin API reads every event of a room, whatever the admin's membership (Synapse's admin privilege).
    if (admin) return { view: new AdminRoomView(roomId, requester.userId), actor };
    const view = await this.visibility.forUser(roomId, requester.userId);
    if (view.membership === 'join') return { view, actor };
    if (allowDeparted && view.membership === 'leave' && !view.forgotten) return { view, actor };
    if (view.visibility === 'world_readable') return { view, actor };
    throw notInRoom(requester.userId, roomId);
  }

  /** The highest stream position this user may read in the room: a member who left stops at their leave. */
  private readableUpTo(view: UserRoomView): number {
    const current = this.positions.current;
    if (view.membership === 'leave' && view.visibility !== 'world_readable' && view.membershipStream !== null) return Math.min(current, view.membershipStream);
    return current;
  }

  /**
   * Reads pages until `limit` events pass visibility and the filter, the history ends, or
   * MAX_ROUNDS pages were read (then `next` lets the client continue).
   */
  private async collect(view: UserRoomView, page: PageFn, dir: 'b' | 'f', from: Position | undefined, limit: number, filter?: RoomEventFilter): Promise<Collected> {
    const out: StoredEvent[] = [];
    if (limit <= 0) return { events: out };
    let cursor = from;
    let batch = limit + 1;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const rows = await page(cursor, batch);
      for (let i = 0; i < rows.length; i++) {
        const ev = rows[i]!;
        if (!matchesFilter(ev, filter) || !view.maySee(ev)) continue;
        out.push(ev);
        if (out.length === limit) {
          const next = pastEvent(ev, dir);
          // More exists when this page goes on, or (it ended here) one more row is there.
          const more = i < rows.length - 1 || (rows.length === batch && (await page(next, 1)).length > 0);
          return more ? { events: out, next } : { events: out };
        }
      }
      if (rows.length < batch) return { events: out };
      cursor = pastEvent(rows.at(-1)!, dir);
      batch = Math.min(batch * 2, MAX_LIMIT);
    }
    return { events: out, next: cursor };
  }

  private roomPage(roomId: string, dir: 'b' | 'f', to: Position | undefined, maxStream: number, filter?: RoomEventFilter): PageFn {
    const sqlFilter = sqlFilterOf(filter);
    return (from, limit) => history.pageEvents(this.db, { roomId, dir, from, to, maxStream, limit, filter: sqlFilter });
  }

  /** GET /rooms/{roomId}/messages. */
  async messages(requester: Requester, roomId: string, req: MessagesRequest, admin = false): Promise<Record<string, unknown>> {
    const from = tokenParam(req.from, 'from');
    const to = tokenParam(req.to, 'to');
    const filter = parseRoomEventFilter(req.filter);
    const { view, actor } = await this.viewOf(requester, roomId, true, admin);
    const limit = Math.min(req.limit ?? filter?.limit ?? 10, MAX_LIMIT);
    const maxStream = this.readableUpTo(view);
    const startPos: Position = from ?? (req.dir === 'b' ? { kind: 'stream', stream: this.positions.current } : { kind: 'topo', topo: 0, stream: 0 });
    const got = await this.collect(view, this.roomPage(roomId, req.dir, to, maxStream, filter), req.dir, startPos, limit, filter);
    const body: Record<string, unknown> = { chunk: await this.serialize(got.events, actor, requester, view), start: positionToken(startPos) };
    if (got.next) body.end = positionToken(got.next);
    if (filter?.lazyLoadMembers && got.events.length) body.state = await this.memberStateAt(got.events[0]!, got.events, actor, requester);
    return body;
  }

  /**
   * The room part of the legacy GET /rooms/{roomId}/initialSync: the latest `limit` events the user
   * may see, oldest first, read as /messages reads backwards from the end (a member who left stops
   * at their leave), with `start` before the oldest and `end` at the end; and the state then (the
   * current state, or the state at the leave). `membership` is null for a world_readable peek.
   */
  async snapshot(requester: Requester, roomId: string, limit: number): Promise<{ membership: string | null; chunk: ClientEvent[]; start: string; end: string; state: ClientEvent[] }> {
    const { view, actor } = await this.viewOf(requester, roomId);
    const maxStream = this.readableUpTo(view);
    const endPos: Position = { kind: 'stream', stream: maxStream };
    const got = await this.collect(view, this.roomPage(roomId, 'b', undefined, maxStream), 'b', endPos, Math.min(Math.max(limit, 0), MAX_LIMIT));
    const oldest = got.events.at(-1);
    const startPos = got.next ?? (oldest ? pastEvent(oldest, 'b') : endPos);
    const chunk = await this.serialize([...got.events].reverse(), actor, requester, view);
    let state: ClientEvent[];
    if (maxStream < this.positions.current) {
      const last = await history.lastEventAtOrBefore(this.db, roomId, endPos, maxStream);
      state = last ? await this.toClient(await events.getEvents(this.db, [...(await this.stateMapAt(last)).values()]), actor, requester) : [];
    } else {
      state = await this.toClient(await events.getEvents(this.db, [...actor.stateEntries()].map((e) => e.event_id)), actor, requester);
    }
    const membership = view.membership === 'join' || (view.membership === 'leave' && !view.forgotten) ? view.membership : null;
    return { membership, chunk, start: positionToken(startPos), end: positionToken(endPos), state };
  }

  /** GET /rooms/{roomId}/event/{eventId}: 404 when unknown, elsewhere, or not visible. */
  async event(requester: Requester, roomId: string, eventId: string): Promise<ClientEvent> {
    const ev = await events.getEvent(this.db, eventId);
    if (!ev || ev.roomId !== roomId) throw eventNotFound();
    const actor = await this.actors.get(roomId);
    if (!actor) throw eventNotFound();
    const view = await this.visibility.forUser(roomId, requester.userId);
    if (!view.maySee(ev)) throw eventNotFound();
    return (await this.serialize([ev], actor, requester, view))[0]!;
  }

  /** GET /rooms/{roomId}/context/{eventId}. */
  async context(requester: Requester, roomId: string, eventId: string, opts: { limit?: number; filter?: string }, admin = false): Promise<Record<string, unknown>> {
    const filter = parseRoomEventFilter(opts.filter);
    const { view, actor } = await this.viewOf(requester, roomId, true, admin);
    const ev = await events.getEvent(this.db, eventId);
    if (!ev || ev.roomId !== roomId || !view.maySee(ev)) throw eventNotFound();
    const limit = Math.min(opts.limit ?? filter?.limit ?? 10, MAX_LIMIT);
    const beforeLimit = Math.floor(limit / 2);
    const maxStream = this.readableUpTo(view);
    const before = await this.collect(view, this.roomPage(roomId, 'b', undefined, maxStream, filter), 'b', pastEvent(ev, 'b'), beforeLimit, filter);
    const after = await this.collect(view, this.roomPage(roomId, 'f', undefined, maxStream, filter), 'f', pastEvent(ev, 'f'), limit - beforeLimit, filter);
    const oldest = before.events.at(-1) ?? ev;
    const newest = after.events.at(-1) ?? ev;
    const [client, beforeClient, afterClient] = await Promise.all([
      this.serialize([ev], actor, requester, view),
      this.serialize(before.events, actor, requester, view),
      this.serialize(after.events, actor, requester, view),
    ]);
    const state = filter?.lazyLoadMembers
      ? await this.memberStateAt(newest, [ev, ...before.events, ...after.events], actor, requester)
      : await this.stateAt(newest, actor, requester);
    return {
      event: client[0],
      events_before: beforeClient,
      events_after: afterClient,
      start: positionToken(pastEvent(oldest, 'b')),
      end: positionToken(pastEvent(newest, 'f')),
      state,
    };
  }

  /** The full state after an event, in client format. */
  private async stateAt(ev: StoredEvent, actor: RoomActor, requester: Requester): Promise<ClientEvent[]> {
    const state = await this.stateMapAt(ev.eventId);
    return this.toClient(await events.getEvents(this.db, [...state.values()]), actor, requester);
  }

  private async stateMapAt(eventId: string): Promise<Map<string, string>> {
    const group = await events.stateGroupOf(this.db, eventId);
    return group === undefined ? new Map() : events.stateOfGroup(this.db, group);
  }

  /** lazy_load_members: the member events, after `at`, of the senders of `evs`. */
  private async memberStateAt(at: StoredEvent, evs: readonly StoredEvent[], actor: RoomActor, requester: Requester): Promise<ClientEvent[]> {
    const state = await this.stateMapAt(at.eventId);
    const senders = new Set(evs.map((e) => String(e.pdu.sender)));
    const ids = [...senders].map((s) => state.get(`m.room.member\u0000${s}`)).filter((x): x is string => x !== undefined);
    return this.toClient(await events.getEvents(this.db, ids), actor, requester);
  }

  /** GET /rooms/{roomId}/members. */
  async members(requester: Requester, roomId: string, opts: { at?: string; membership?: string; notMembership?: string }): Promise<{ chunk: ClientEvent[] }> {
    const at = tokenParam(opts.at, 'at');
    const { view, actor } = await this.viewOf(requester, roomId);
    const maxStream = this.readableUpTo(view);
    let ids: string[];
    if (at || maxStream < this.positions.current) {
      // A past membership list: the state after the last event at `at` (or at the user's leave).
      const last = await history.lastEventAtOrBefore(this.db, roomId, at ?? { kind: 'stream', stream: maxStream }, maxStream);
      const state = last ? await this.stateMapAt(last) : new Map<string, string>();
      ids = [...state.entries()].filter(([k]) => k.startsWith('m.room.member\u0000')).map(([, id]) => id);
    } else {
      ids = [...actor.stateEntries()].filter((e) => e.type === 'm.room.member').map((e) => e.event_id);
    }
    const stored = (await events.getEvents(this.db, ids)).filter((e) => {
      const m = (e.pdu.content as Record<string, unknown> | undefined)?.membership;
      if (opts.membership !== undefined && m !== opts.membership) return false;
      if (opts.notMembership !== undefined && m === opts.notMembership) return false;
      return true;
    });
    stored.sort((a, b) => a.streamOrdering - b.streamOrdering);
    return { chunk: await this.toClient(stored, actor, requester) };
  }

  /** GET /rooms/{roomId}/joined_members: current members only (Synapse refuses departed users). */
  async joinedMembers(requester: Requester, roomId: string): Promise<{ joined: Record<string, { display_name?: string; avatar_url?: string }> }> {
    const { view } = await this.viewOf(requester, roomId);
    if (view.membership !== 'join' && view.visibility !== 'world_readable') {
      throw forbidden('Getting joined members while not being a current member of the room is forbidden.');
    }
    const joined: Record<string, { display_name?: string; avatar_url?: string }> = {};
    for (const m of await history.joinedMembers(this.db, roomId)) {
      const entry: { display_name?: string; avatar_url?: string } = {};
      if (m.displayName !== null) entry.display_name = m.displayName;
      if (m.avatarUrl !== null) entry.avatar_url = m.avatarUrl;
      joined[m.userId] = entry;
    }
    return { joined };
  }

  /** GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]. */
  async relations(
    requester: Requester,
    roomId: string,
    eventId: string,
    opts: { relType?: string; eventType?: string; from?: string; to?: string; dir: 'b' | 'f'; limit?: number; recurse: boolean },
  ): Promise<Record<string, unknown>> {
    const from = tokenParam(opts.from, 'from');
    const to = tokenParam(opts.to, 'to');
    const { view, actor } = await this.viewOf(requester, roomId);
    const parent = await events.getEvent(this.db, eventId);
    if (!parent || parent.roomId !== roomId || !view.maySee(parent)) throw notFound('Unknown parent event.');
    const limit = Math.min(opts.limit ?? 5, MAX_LIMIT);
    const depth = opts.recurse ? 3 : 1;
    const maxStream = this.readableUpTo(view);
    const page: PageFn = (f, n) =>
      history.relatedEvents(this.db, { roomId, parentId: eventId, relType: opts.relType, eventType: opts.eventType, depth, dir: opts.dir, from: f, to, maxStream, limit: n });
    const got = await this.collect(view, page, opts.dir, from, limit);
    const body: Record<string, unknown> = { chunk: await this.serialize(got.events, actor, requester, view) };
    if (got.next) body.next_batch = positionToken(got.next);
    if (from) body.prev_batch = positionToken(from);
    if (opts.recurse) body.recursion_depth = depth;
    return body;
  }

  /** GET /_matrix/client/v1/rooms/{roomId}/threads: roots by latest activity, newest first. */
  async threads(requester: Requester, roomId: string, opts: { include: 'all' | 'participated'; from?: string; limit?: number }): Promise<Record<string, unknown>> {
    let before: { topo: number; stream: number } | undefined;
    if (opts.from !== undefined) {
      const m = /^(\d{1,16})_(\d{1,16})$/.exec(opts.from);
      if (!m) throw badRequest('Invalid threads token');
      before = { topo: Number(m[1]), stream: Number(m[2]) };
    }
    const { view, actor } = await this.viewOf(requester, roomId);
    const limit = Math.min(opts.limit ?? 5, MAX_LIMIT);
    const participant = opts.include === 'participated' ? requester.userId : undefined;
    const out: StoredEvent[] = [];
    let nextBatch: string | undefined;
    let batch = limit + 1;
    for (let round = 0; round < MAX_ROUNDS && limit > 0; round++) {
      const rows = await history.threadsPage(this.db, roomId, { before, participant, limit: batch });
      const roots = new Map((await events.getEvents(this.db, rows.map((r) => r.threadId))).map((e) => [e.eventId, e]));
      let full = false;
      for (let i = 0; i < rows.length; i++) {
        const root = roots.get(rows[i]!.threadId);
        before = { topo: rows[i]!.topo, stream: rows[i]!.stream };
        if (!root || root.roomId !== roomId || !view.maySee(root)) continue;
        out.push(root);
        if (out.length === limit) {
          full = true;
          if (i < rows.length - 1 || rows.length === batch) nextBatch = `${before.topo}_${before.stream}`;
          break;
        }
      }
      if (full || rows.length < batch) break;
      batch = Math.min(batch * 2, MAX_LIMIT);
      if (round === MAX_ROUNDS - 1) nextBatch = `${before!.topo}_${before!.stream}`;
    }
    const body: Record<string, unknown> = { chunk: await this.serialize(out, actor, requester, view) };
    if (nextBatch) body.next_batch = nextBatch;
    return body;
  }

  /** GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event: the nearest visible event. */
  async timestampToEvent(requester: Requester, roomId: string, ts: number, dir: 'b' | 'f', admin = false): Promise<{ event_id: string; origin_server_ts: number }> {
    const { view } = await this.viewOf(requester, roomId, true, admin);
    const maxStream = this.readableUpTo(view);
    const batch = 50;
    for (let round = 0; round < MAX_ROUNDS * 4; round++) {
      const rows = await history.eventNearTimestamp(this.db, roomId, ts, dir, maxStream, round * batch, batch);
      const hit = rows.find((e) => view.maySee(e));
      if (hit) return { event_id: hit.eventId, origin_server_ts: Number(hit.pdu.origin_server_ts) };
      if (rows.length < batch) break;
    }
    throw notFound(`Unable to find event from ${ts} in direction ${dir}`);
  }

  // -------------------------------------------------------------------------------------------
  // Client format with bundled aggregations.

  /**
   * Thread summaries and edits of a page's events. A page read by many users at the same stream
   * position (a thousand long-polls woken by one message) is looked up once: the answer is kept
   * per (room, position, events) for the few pages most recently asked for.
   */
  private aggregationsOf(roomId: string, ids: readonly string[]): Promise<[Awaited<ReturnType<typeof history.threadSummaries>>, Awaited<ReturnType<typeof history.editsOf>>]> {
    const key = `${roomId}\u0000${this.positions.current}\u0000${ids.join('\u0000')}`;
    const known = this.aggregations.get(key);
    if (known) return known;
    const read = Promise.all([history.threadSummaries(this.db, roomId, ids), history.editsOf(this.db, roomId, ids)]);
    this.aggregations.set(key, read);
    read.catch(() => this.aggregations.delete(key));
    if (this.aggregations.size > AGGREGATION_PAGES) this.aggregations.delete(this.aggregations.keys().next().value!);
    return read;
  }

  private readonly aggregations = new Map<string, ReturnType<RoomHistoryService['aggregationsOf']>>();

  /** Client-format events with bundled aggregations, as every read path serves them (/sync too). */
  clientEvents(stored: readonly StoredEvent[], actor: RoomActor, requester: Requester, view: UserRoomView): Promise<ClientEvent[]> {
    return this.serialize(stored, actor, requester, view);
  }

  /**
   * Client-format events with the aggregations Element reads in `unsigned["m.relations"]`:
   * `m.thread` (latest reply, count, current_user_participated) for thread roots and `m.replace`
   * (the latest valid edit). A fixed handful of batched queries per page, whatever its size.
   */
  private async serialize(stored: readonly StoredEvent[], actor: RoomActor, requester: Requester, view: UserRoomView): Promise<ClientEvent[]> {
    const client = await this.toClient(stored, actor, requester);
    const live = stored.filter((e) => !e.redactedBy);
    if (live.length === 0) return client;
    const ids = live.map((e) => e.eventId);
    const [threads, edits] = await this.aggregationsOf(actor.roomId, ids);
    const replied = threads.size ? await history.threadsRepliedBy(this.db, [...threads.keys()], requester.userId) : new Set<string>();

    const byId = new Map(live.map((e) => [e.eventId, e]));
    // The latest edit: by the original's sender, same type, not of a state event; newest by ts then ID.
    const latestEdit = new Map<string, { eventId: string; ts: number }>();
    for (const e of edits) {
      const original = byId.get(e.originalId);
      if (!original || original.pdu.state_key !== undefined || e.sender !== original.pdu.sender) continue;
      const best = latestEdit.get(e.originalId);
      if (!best || e.ts > best.ts || (e.ts === best.ts && e.eventId > best.eventId)) latestEdit.set(e.originalId, { eventId: e.eventId, ts: e.ts });
    }
    const wanted = [...[...threads.values()].map((t) => t.latestEventId), ...[...latestEdit.values()].map((e) => e.eventId)];
    if (wanted.length === 0) return client;
    const fetched = (await events.getEvents(this.db, wanted)).filter((e) => view.maySee(e));
    const fetchedClient = await this.toClient(fetched, actor, requester);
    const clientById = new Map(fetched.map((e, i) => [e.eventId, { stored: e, client: fetchedClient[i]! }]));

    stored.forEach((ev, i) => {
      if (ev.redactedBy) return;
      const relations: Record<string, unknown> = {};
      const thread = threads.get(ev.eventId);
      const latest = thread && clientById.get(thread.latestEventId);
      if (thread && latest) {
        relations['m.thread'] = {
          latest_event: latest.client,
          count: thread.count,
          current_user_participated: ev.pdu.sender === requester.userId || replied.has(ev.eventId),
        };
      }
      const edit = latestEdit.get(ev.eventId);
      const editEvent = edit && clientById.get(edit.eventId);
      if (editEvent && editEvent.stored.pdu.type === ev.pdu.type) relations['m.replace'] = editEvent.client;
      if (Object.keys(relations).length === 0) return;
      const c = client[i]!;
      const unsigned = (c.unsigned ?? {}) as Record<string, unknown>;
      unsigned['m.relations'] = relations;
      c.unsigned = unsigned;
    });
    return client;
  }

  // -------------------------------------------------------------------------------------------
  // Space hierarchy.

  /** GET /_matrix/client/v1/rooms/{roomId}/hierarchy: the local rooms of a space, breadth first. */
  async hierarchy(
    requester: Requester,
    roomId: string,
    opts: { suggestedOnly: boolean; limit?: number; maxDepth?: number; from?: string },
    admin = false,
  ): Promise<{ rooms: Array<Record<string, unknown>>; next_batch?: string }> {
    let offset = 0;
    if (opts.from !== undefined) {
      const m = /^h(\d{1,9})$/.exec(opts.from);
      if (!m) throw invalidParam('Unknown pagination token');
      offset = Number(m[1]);
    }
    if (opts.limit === 0) throw invalidParam("'limit' must be a positive integer");
    const limit = Math.min(opts.limit ?? HIERARCHY_MAX_ROOMS, HIERARCHY_MAX_ROOMS);
    // Admins skip every access check (rooms the server is not in are simply missing).
    const mayPreview = admin ? async (ids: readonly string[]) => new Set(ids) : (ids: readonly string[]) => this.mayPreview(requester.userId, ids);
    if (!admin && !(await mayPreview([roomId])).has(roomId)) throw notInRoom(requester.userId, roomId);

    const rooms: Array<Record<string, unknown>> = [];
    const seen = new Set<string>();
    let queue: Array<{ roomId: string; depth: number }> = [{ roomId, depth: 0 }];
    let produced = 0;
    while (queue.length) {
      // One level's worth of rooms at a time: summaries and access in batched queries.
      const level = queue;
      const ids = [...new Set(level.map((q) => q.roomId))];
      const [summaries, allowed] = await Promise.all([history.roomSummaries(this.db, ids), mayPreview(ids)]);
      const pending: Array<{ roomId: string; depth: number }> = [];
      for (const q of level) {
        if (seen.has(q.roomId)) continue;
        const summary = summaries.get(q.roomId);
        if (!summary || !allowed.has(q.roomId)) {
          seen.add(q.roomId);
          continue;
        }
        if (rooms.length >= limit) return { rooms, next_batch: `h${offset + rooms.length}` };
        seen.add(q.roomId);
        const children = await this.spaceChildren(q.roomId, opts.suggestedOnly);
        if (produced++ >= offset) rooms.push(summaryJson(summary, children.map((c) => c.stripped)));
        if (opts.maxDepth === undefined || q.depth < opts.maxDepth) for (const c of children) pending.push({ roomId: c.roomId, depth: q.depth + 1 });
      }
      queue = pending.filter((p) => !seen.has(p.roomId));
    }
    return { rooms };
  }

  /** The m.space.child events of a room with a non-empty `via`, in the spec's order. */
  private async spaceChildren(roomId: string, suggestedOnly: boolean): Promise<Array<{ roomId: string; stripped: Record<string, unknown> }>> {
    const rows = await history.currentStateOfType(this.db, roomId, 'm.space.child');
    const children = rows
      .map((r) => ({ roomId: r.stateKey, pdu: r.pdu, content: (r.pdu.content ?? {}) as Record<string, unknown> }))
      .filter((c) => Array.isArray(c.content.via) && c.content.via.length > 0 && (!suggestedOnly || c.content.suggested === true));
    const orderOf = (c: { content: Record<string, unknown> }) => {
      const o = c.content.order;
      return typeof o === 'string' && o.length <= 50 && /^[\x20-\x7e]*$/.test(o) ? o : undefined;
    };
    children.sort((a, b) => {
      const oa = orderOf(a);
      const ob = orderOf(b);
      if (oa !== undefined && ob === undefined) return -1;
      if (oa === undefined && ob !== undefined) return 1;
      if (oa !== undefined && ob !== undefined && oa !== ob) return oa < ob ? -1 : 1;
      const ta = Number(a.pdu.origin_server_ts);
      const tb = Number(b.pdu.origin_server_ts);
      if (ta !== tb) return ta - tb;
      return a.roomId < b.roomId ? -1 : a.roomId > b.roomId ? 1 : 0;
    });
    return children.map((c) => ({
      roomId: c.roomId,
      stripped: { type: 'm.space.child', state_key: c.roomId, content: c.content, sender: c.pdu.sender, origin_server_ts: c.pdu.origin_server_ts },
    }));
  }

  /**
   * Which of these local rooms the user may preview in a hierarchy: joined or invited, a public or
   * knockable join rule, world_readable history, or a restricted rule naming a room they are in.
   */
  private async mayPreview(userId: string, roomIds: readonly string[]): Promise<Set<string>> {
    const [summaries, memberships] = await Promise.all([history.roomSummaries(this.db, roomIds), history.currentMemberships(this.db, userId, roomIds)]);
    const out = new Set<string>();
    for (const id of roomIds) {
      const s = summaries.get(id);
      if (!s) continue;
      const m = memberships.get(id);
      if (m === 'join' || m === 'invite') out.add(id);
      else if (s.joinRules === 'public' || s.joinRules === 'knock' || s.joinRules === 'knock_restricted' || s.historyVisibility === 'world_readable') out.add(id);
      else if (s.joinRules === 'restricted' || s.joinRules === 'knock_restricted') {
        const rule = (await history.currentStateOfType(this.db, id, 'm.room.join_rules'))[0];
        const allow = (rule?.pdu.content as { allow?: unknown } | undefined)?.allow;
        const allowed = Array.isArray(allow) ? allow.map((a) => (a as { room_id?: unknown })?.room_id).filter((r): r is string => typeof r === 'string') : [];
        const mine = await history.currentMemberships(this.db, userId, allowed);
        if ([...mine.values()].includes('join')) out.add(id);
      }
    }
    return out;
  }
}

/** Synapse's cap on rooms per hierarchy page. */
const HIERARCHY_MAX_ROOMS = 50;

function summaryJson(s: history.RoomSummaryRow, childrenState: Array<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    room_id: s.roomId,
    num_joined_members: s.joinedMembers,
    world_readable: s.historyVisibility === 'world_readable',
    guest_can_join: s.guestAccess === 'can_join',
    join_rule: s.joinRules ?? 'invite',
    children_state: childrenState,
  };
  if (s.name !== null) out.name = s.name;
  if (s.topic !== null) out.topic = s.topic;
  if (s.canonicalAlias !== null) out.canonical_alias = s.canonicalAlias;
  if (s.avatar !== null) out.avatar_url = s.avatar;
  if (s.roomType !== null) out.room_type = s.roomType;
  if (s.roomVersion !== null) out.room_version = s.roomVersion;
  return out;
}
