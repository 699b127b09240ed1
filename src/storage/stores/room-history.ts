import { sql, type ExpressionBuilder } from 'kysely';
import type { Db } from '../database.js';
import type { Database, EventsTable } from '../schema/tables.js';
import { redactedBy, selectEvents, toStoredEvent, type StoredEvent } from './events.js';

/**
 * The SQL of a room's history reads: pages of events in (topological, stream) order, membership
 * and history-visibility timelines, relations, threads, and the summaries of the space hierarchy.
 * Pages use the indexes (room_id, topological_ordering, stream_ordering) and (room_id, stream_ordering).
 */

/** A position between events: after (topo, stream) in room order, or after `stream` in stream order. */
export type Position = { kind: 'topo'; topo: number; stream: number } | { kind: 'stream'; stream: number };

/** Filters the store can apply in SQL (exact values only; wildcards are matched by the caller). */
export interface SqlFilter {
  types?: readonly string[];
  notTypes?: readonly string[];
  senders?: readonly string[];
  notSenders?: readonly string[];
  containsUrl?: boolean;
}

export interface PageQuery {
  roomId: string;
  dir: 'b' | 'f';
  /** Start here (exclusive of events on the far side); none: the start (f) or the end (b). */
  from?: Position;
  /** Stop here. */
  to?: Position;
  /** Never read past this stream ordering (positions not yet published to readers). */
  maxStream: number;
  limit: number;
  filter?: SqlFilter;
}

type Eb = ExpressionBuilder<Database & { e: EventsTable }, 'e'>;

/** `event <= pos` (dir b) or `event > pos` (dir f), as an expression on events e. */
function beyond(eb: Eb, pos: Position, side: 'atOrBefore' | 'after') {
  if (pos.kind === 'stream') return eb('e.stream_ordering', side === 'atOrBefore' ? '<=' : '>', pos.stream);
  if (side === 'atOrBefore') {
    return eb.or([
      eb('e.topological_ordering', '<', pos.topo),
      eb.and([eb('e.topological_ordering', '=', pos.topo), eb('e.stream_ordering', '<=', pos.stream)]),
    ]);
  }
  return eb.or([
    eb('e.topological_ordering', '>', pos.topo),
    eb.and([eb('e.topological_ordering', '=', pos.topo), eb('e.stream_ordering', '>', pos.stream)]),
  ]);
}

/** One page of a room's events in the direction asked, nearest the `from` position first. */
export async function pageEvents(db: Db, q: PageQuery): Promise<StoredEvent[]> {
  let query = selectEvents(db)
    .where('e.room_id', '=', q.roomId)
    .where('e.stream_ordering', '<=', q.maxStream)
    .where('e.rejection_reason', 'is', null);
  if (q.from) {
    const from = q.from;
    query = query.where((eb) => beyond(eb, from, q.dir === 'b' ? 'atOrBefore' : 'after'));
  }
  if (q.to) {
    const to = q.to;
    query = query.where((eb) => beyond(eb, to, q.dir === 'b' ? 'after' : 'atOrBefore'));
  }
  const f = q.filter;
  if (f?.types) query = f.types.length ? query.where('e.type', 'in', f.types) : query.where(sql<boolean>`1 = 0`);
  if (f?.notTypes?.length) query = query.where('e.type', 'not in', f.notTypes);
  if (f?.senders) query = f.senders.length ? query.where('e.sender', 'in', f.senders) : query.where(sql<boolean>`1 = 0`);
  if (f?.notSenders?.length) query = query.where('e.sender', 'not in', f.notSenders);
  if (f?.containsUrl !== undefined) {
    query = f.containsUrl ? query.where('e.contains_url', '=', 1) : query.where((eb) => eb.or([eb('e.contains_url', '=', 0), eb('e.contains_url', 'is', null)]));
  }
  const order = q.dir === 'b' ? 'desc' : 'asc';
  const rows = await query.orderBy('e.topological_ordering', order).orderBy('e.stream_ordering', order).limit(q.limit).execute();
  return rows.map((r) => toStoredEvent(r as Parameters<typeof toStoredEvent>[0]));
}

/** The last event of the room at or before a position (for `at` of /members). */
export async function lastEventAtOrBefore(db: Db, roomId: string, pos: Position, maxStream: number): Promise<string | undefined> {
  const row = await db
    .selectFrom('events as e')
    .select('e.event_id')
    .where('e.room_id', '=', roomId)
    .where('e.stream_ordering', '<=', maxStream)
    .where('e.rejection_reason', 'is', null)
    .where((eb) => beyond(eb as unknown as Eb, pos, 'atOrBefore'))
    .orderBy('e.topological_ordering', 'desc')
    .orderBy('e.stream_ordering', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.event_id;
}

/** A user's membership events in a room, oldest first (room_memberships, by stream ordering). */
export async function membershipTimeline(db: Db, roomId: string, userId: string): Promise<Array<{ stream: number; membership: string; forgotten: boolean; eventId: string }>> {
  const rows = await db
    .selectFrom('room_memberships')
    .select(['event_id', 'membership', 'forgotten', 'event_stream_ordering'])
    .where('user_id', '=', userId)
    .where('room_id', '=', roomId)
    .orderBy('event_stream_ordering')
    .execute();
  return rows.map((r) => ({ stream: Number(r.event_stream_ordering ?? 0), membership: r.membership, forgotten: Number(r.forgotten ?? 0) !== 0, eventId: r.event_id }));
}

/**
 * The room's m.room.history_visibility events, oldest first, from the state delta stream
 * (indexed by room and stream position; every state event of the room has a row there).
 */
export async function visibilityTimeline(db: Db, roomId: string): Promise<Array<{ stream: number; eventId: string; content: unknown }>> {
  const rows = await db
    .selectFrom('current_state_delta_stream as d')
    .innerJoin('event_json as j', 'j.event_id', 'd.event_id')
    .select(['d.stream_id', 'd.event_id', 'j.json'])
    .where('d.room_id', '=', roomId)
    .where('d.type', '=', 'm.room.history_visibility')
    .where('d.state_key', '=', '')
    .orderBy('d.stream_id')
    .execute();
  return rows.map((r) => ({ stream: Number(r.stream_id), eventId: r.event_id!, content: (JSON.parse(r.json) as { content?: unknown }).content }));
}

/** The nearest event at or after (f) / at or before (b) a timestamp. */
export async function eventNearTimestamp(db: Db, roomId: string, ts: number, dir: 'b' | 'f', maxStream: number, offset: number, limit: number): Promise<StoredEvent[]> {
  const order = dir === 'b' ? 'desc' : 'asc';
  const rows = await selectEvents(db)
    .where('e.room_id', '=', roomId)
    .where('e.stream_ordering', '<=', maxStream)
    .where('e.rejection_reason', 'is', null)
    .where('e.origin_server_ts', dir === 'b' ? '<=' : '>=', ts)
    .orderBy('e.origin_server_ts', order)
    .orderBy('e.stream_ordering', order)
    .offset(offset)
    .limit(limit)
    .execute();
  return rows.map((r) => toStoredEvent(r as Parameters<typeof toStoredEvent>[0]));
}

export interface RelationQuery {
  roomId: string;
  parentId: string;
  relType?: string;
  eventType?: string;
  /** Follow relations of relations, up to this depth (1: direct children only). */
  depth: number;
  dir: 'b' | 'f';
  from?: Position;
  to?: Position;
  maxStream: number;
  limit: number;
}

/** Events relating to a parent (and, with depth > 1, to those events), in room order. */
export async function relatedEvents(db: Db, q: RelationQuery): Promise<StoredEvent[]> {
  let query = db
    .withRecursive('rel(event_id, relation_type, depth)', (qb) =>
      qb
        .selectFrom('event_relations')
        .select(['event_id', 'relation_type', sql<number>`1`.as('depth')])
        .where('relates_to_id', '=', q.parentId)
        .unionAll((u) =>
          u
            .selectFrom('event_relations as r')
            .innerJoin('rel', 'rel.event_id', 'r.relates_to_id')
            .select(['r.event_id', 'r.relation_type', sql<number>`rel.depth + 1`.as('depth')])
            .where('rel.depth', '<', q.depth),
        ),
    )
    .selectFrom('events as e')
    .innerJoin('rel', 'rel.event_id', 'e.event_id')
    .innerJoin('event_json as j', 'j.event_id', 'e.event_id')
    .select([
      'e.event_id',
      'e.room_id',
      'j.json',
      'j.internal_metadata',
      'e.stream_ordering',
      'e.topological_ordering',
      redactedBy,
    ])
    .where('e.room_id', '=', q.roomId)
    .where('e.stream_ordering', '<=', q.maxStream)
    .where('e.rejection_reason', 'is', null);
  if (q.relType !== undefined) query = query.where('rel.relation_type', '=', q.relType);
  if (q.eventType !== undefined) query = query.where('e.type', '=', q.eventType);
  if (q.from) {
    const from = q.from;
    query = query.where((eb) => beyond(eb as unknown as Eb, from, q.dir === 'b' ? 'atOrBefore' : 'after'));
  }
  if (q.to) {
    const to = q.to;
    query = query.where((eb) => beyond(eb as unknown as Eb, to, q.dir === 'b' ? 'after' : 'atOrBefore'));
  }
  const order = q.dir === 'b' ? 'desc' : 'asc';
  const rows = await query.orderBy('e.topological_ordering', order).orderBy('e.stream_ordering', order).limit(q.limit).execute();
  // A relation can be reached twice only through a cycle, which event IDs (hashes) rule out.
  return rows.map((r) => toStoredEvent(r as Parameters<typeof toStoredEvent>[0]));
}

/** A page of a room's threads, latest activity first; `before` is the (topo, stream) to continue under. */
export async function threadsPage(
  db: Db,
  roomId: string,
  opts: { before?: { topo: number; stream: number }; participant?: string; limit: number },
): Promise<Array<{ threadId: string; topo: number; stream: number }>> {
  let query = db.selectFrom('threads as t').select(['t.thread_id', 't.topological_ordering', 't.stream_ordering']).where('t.room_id', '=', roomId);
  const before = opts.before;
  if (before) {
    query = query.where((eb) =>
      eb.or([
        eb('t.topological_ordering', '<', before.topo),
        eb.and([eb('t.topological_ordering', '=', before.topo), eb('t.stream_ordering', '<', before.stream)]),
      ]),
    );
  }
  const participant = opts.participant;
  if (participant !== undefined) {
    // Participated: sent the root, or replied in the thread.
    query = query.where((eb) =>
      eb.or([
        eb.exists(eb.selectFrom('events as root').select('root.event_id').whereRef('root.event_id', '=', 't.thread_id').where('root.sender', '=', participant)),
        eb.exists(
          eb
            .selectFrom('event_relations as r')
            .innerJoin('events as re', 're.event_id', 'r.event_id')
            .select('r.event_id')
            .whereRef('r.relates_to_id', '=', 't.thread_id')
            .where('r.relation_type', '=', 'm.thread')
            .where('re.sender', '=', participant),
        ),
      ]),
    );
  }
  const rows = await query.orderBy('t.topological_ordering', 'desc').orderBy('t.stream_ordering', 'desc').limit(opts.limit).execute();
  return rows.map((r) => ({ threadId: r.thread_id, topo: Number(r.topological_ordering), stream: Number(r.stream_ordering) }));
}

/** Thread summaries of some events (those that are thread roots): reply count and latest reply. */
export async function threadSummaries(db: Db, roomId: string, rootIds: readonly string[]): Promise<Map<string, { count: number; latestEventId: string }>> {
  const out = new Map<string, { count: number; latestEventId: string }>();
  if (rootIds.length === 0) return out;
  const rows = await db
    .selectFrom('threads as t')
    .select([
      't.thread_id',
      't.latest_event_id',
      (eb) =>
        eb
          .selectFrom('event_relations as r')
          .select(sql<number>`count(*)`.as('n'))
          .whereRef('r.relates_to_id', '=', 't.thread_id')
          .where('r.relation_type', '=', 'm.thread')
          .as('count'),
    ])
    .where('t.room_id', '=', roomId)
    .where('t.thread_id', 'in', rootIds)
    .execute();
  for (const r of rows) out.set(r.thread_id, { count: Number(r.count ?? 0), latestEventId: r.latest_event_id });
  return out;
}

/** Which of these thread roots the user replied in. */
export async function threadsRepliedBy(db: Db, rootIds: readonly string[], userId: string): Promise<Set<string>> {
  if (rootIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('event_relations as r')
    .innerJoin('events as e', 'e.event_id', 'r.event_id')
    .select('r.relates_to_id')
    .distinct()
    .where('r.relates_to_id', 'in', rootIds)
    .where('r.relation_type', '=', 'm.thread')
    .where('e.sender', '=', userId)
    .execute();
  return new Set(rows.map((r) => r.relates_to_id));
}

/** The edits (m.replace) of some events, with what choosing the latest valid one needs. */
export async function editsOf(db: Db, roomId: string, ids: readonly string[]): Promise<Array<{ originalId: string; eventId: string; sender: string | null; ts: number }>> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('event_relations as r')
    .innerJoin('events as e', 'e.event_id', 'r.event_id')
    .select(['r.relates_to_id', 'r.event_id', 'e.sender', 'e.origin_server_ts'])
    .where('r.relates_to_id', 'in', ids)
    .where('r.relation_type', '=', 'm.replace')
    .where('e.room_id', '=', roomId)
    .where('e.rejection_reason', 'is', null)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('redactions as x').select('x.event_id').whereRef('x.redacts', '=', 'e.event_id'))))
    .execute();
  return rows.map((r) => ({ originalId: r.relates_to_id, eventId: r.event_id, sender: r.sender, ts: Number(r.origin_server_ts ?? 0) }));
}

/** A room's current state events of one type (e.g. m.space.child), parsed. */
export async function currentStateOfType(db: Db, roomId: string, type: string): Promise<Array<{ eventId: string; stateKey: string; pdu: Record<string, unknown> }>> {
  const rows = await db
    .selectFrom('current_state_events as c')
    .innerJoin('event_json as j', 'j.event_id', 'c.event_id')
    .select(['c.event_id', 'c.state_key', 'j.json'])
    .where('c.room_id', '=', roomId)
    .where('c.type', '=', type)
    .execute();
  return rows.map((r) => ({ eventId: r.event_id, stateKey: r.state_key, pdu: JSON.parse(r.json) as Record<string, unknown> }));
}

export interface RoomSummaryRow {
  roomId: string;
  name: string | null;
  topic: string | null;
  canonicalAlias: string | null;
  avatar: string | null;
  joinRules: string | null;
  historyVisibility: string | null;
  guestAccess: string | null;
  roomType: string | null;
  joinedMembers: number;
  roomVersion: string | null;
}

/** Summaries of local rooms from room_stats_state / room_stats_current (absent: unknown rooms). */
export async function roomSummaries(db: Db, roomIds: readonly string[]): Promise<Map<string, RoomSummaryRow>> {
  const out = new Map<string, RoomSummaryRow>();
  if (roomIds.length === 0) return out;
  const rows = await db
    .selectFrom('rooms as r')
    .leftJoin('room_stats_state as s', 's.room_id', 'r.room_id')
    .leftJoin('room_stats_current as c', 'c.room_id', 'r.room_id')
    .select(['r.room_id', 'r.room_version', 's.name', 's.topic', 's.canonical_alias', 's.avatar', 's.join_rules', 's.history_visibility', 's.guest_access', 's.room_type', 'c.joined_members'])
    .where('r.room_id', 'in', roomIds)
    .execute();
  for (const r of rows) {
    out.set(r.room_id, {
      roomId: r.room_id,
      name: r.name ?? null,
      topic: r.topic ?? null,
      canonicalAlias: r.canonical_alias ?? null,
      avatar: r.avatar ?? null,
      joinRules: r.join_rules ?? null,
      historyVisibility: r.history_visibility ?? null,
      guestAccess: r.guest_access ?? null,
      roomType: r.room_type ?? null,
      joinedMembers: Number(r.joined_members ?? 0),
      roomVersion: r.room_version,
    });
  }
  return out;
}

/** A local user's current membership in each of some rooms. */
export async function currentMemberships(db: Db, userId: string, roomIds: readonly string[]): Promise<Map<string, string>> {
  if (roomIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('local_current_membership')
    .select(['room_id', 'membership'])
    .where('user_id', '=', userId)
    .where('room_id', 'in', roomIds)
    .execute();
  return new Map(rows.map((r) => [r.room_id, r.membership]));
}

/** Joined members of a room with their member-event profile (room_memberships of the current state). */
export async function joinedMembers(db: Db, roomId: string): Promise<Array<{ userId: string; displayName: string | null; avatarUrl: string | null }>> {
  const rows = await db
    .selectFrom('current_state_events as c')
    .innerJoin('room_memberships as m', 'm.event_id', 'c.event_id')
    .select(['m.user_id', 'm.display_name', 'm.avatar_url'])
    .where('c.room_id', '=', roomId)
    .where('c.type', '=', 'm.room.member')
    .where('c.membership', '=', 'join')
    .execute();
  return rows.map((r) => ({ userId: r.user_id, displayName: r.display_name, avatarUrl: r.avatar_url }));
}
