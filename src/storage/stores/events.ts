import { sql, type ExpressionBuilder } from 'kysely';
import type { Db } from '../database.js';
import { streamFloor } from './stream-floors.js';

/** An event as stored: its signed JSON plus what the tables add to it. */
export interface StoredEvent {
  eventId: string;
  roomId: string;
  /** The event as signed (federation format), parsed. */
  pdu: Record<string, unknown>;
  streamOrdering: number;
  topologicalOrdering: number;
  internalMetadata: Record<string, unknown>;
  /** The redaction event that redacts this one, if any. */
  redactedBy: string | null;
}

interface EventRow {
  event_id: string;
  room_id: string;
  json: string;
  internal_metadata: string;
  stream_ordering: number | string;
  topological_ordering: number | string;
  redacted_by: string | null;
}

export function toStoredEvent(r: EventRow): StoredEvent {
  return {
    eventId: r.event_id,
    roomId: r.room_id,
    pdu: JSON.parse(r.json) as Record<string, unknown>,
    streamOrdering: Number(r.stream_ordering),
    topologicalOrdering: Number(r.topological_ordering),
    internalMetadata: JSON.parse(r.internal_metadata) as Record<string, unknown>,
    redactedBy: r.redacted_by,
  };
}

/** events ⋈ event_json, with the first redaction of each (Synapse keeps one row per redaction). */
export function selectEvents(db: Db) {
  return db
    .selectFrom('events as e')
    .innerJoin('event_json as j', 'j.event_id', 'e.event_id')
    .select([
      'e.event_id',
      'e.room_id',
      'j.json',
      'j.internal_metadata',
      'e.stream_ordering',
      'e.topological_ordering',
      redactedBy,
    ]);
}

/**
 * The column `redacted_by` of a query over `events as e`: the first redaction of the event, if any
 * (Synapse keeps one row per redaction).
 */
export const redactedBy = (eb: ExpressionBuilder<any, any>) =>
  eb.selectFrom('redactions as r').select(sql<string>`min(r.event_id)`.as('x')).whereRef('r.redacts', '=', 'e.event_id').as('redacted_by');

export async function getEvents(db: Db, eventIds: readonly string[]): Promise<StoredEvent[]> {
  if (eventIds.length === 0) return [];
  const rows = await selectEvents(db).where('e.event_id', 'in', eventIds).execute();
  return rows.map((r) => toStoredEvent(r as EventRow));
}

export async function getEvent(db: Db, eventId: string): Promise<StoredEvent | undefined> {
  const row = await selectEvents(db).where('e.event_id', '=', eventId).executeTakeFirst();
  return row ? toStoredEvent(row as EventRow) : undefined;
}

export async function getRoom(db: Db, roomId: string): Promise<{ room_id: string; room_version: string | null; creator: string | null; is_public: boolean } | undefined> {
  const row = await db.selectFrom('rooms').select(['room_id', 'room_version', 'creator', 'is_public']).where('room_id', '=', roomId).executeTakeFirst();
  return row ? { ...row, is_public: Boolean(row.is_public) } : undefined;
}

/** What a room actor needs to resume a room: its current state's events, extremities, depth and state group. */
export async function loadRoomHead(db: Db, roomId: string) {
  const state = await db
    .selectFrom('current_state_events as c')
    .innerJoin('event_json as j', 'j.event_id', 'c.event_id')
    .select(['c.event_id', 'j.json'])
    .where('c.room_id', '=', roomId)
    .execute();
  const extremities = (await db.selectFrom('event_forward_extremities').select('event_id').where('room_id', '=', roomId).execute()).map((r) => r.event_id);
  const depthRow = await db.selectFrom('events').select(sql<number>`max(depth)`.as('depth')).where('room_id', '=', roomId).executeTakeFirst();
  const groupRow = extremities.length
    ? await db.selectFrom('event_to_state_groups').select(sql<number>`max(state_group)`.as('g')).where('event_id', 'in', extremities).executeTakeFirst()
    : undefined;
  return {
    state: state.map((r) => ({ eventId: r.event_id, pdu: JSON.parse(r.json) as Record<string, unknown> })),
    extremities,
    depth: Number(depthRow?.depth ?? 0),
    stateGroup: groupRow?.g === null || groupRow?.g === undefined ? null : Number(groupRow.g),
  };
}

/** The highest stream ordering and state group ID stored (where the in-memory allocators resume). */
export async function allocatorStarts(db: Db): Promise<{ stream: number; stateGroup: number }> {
  const s = await db.selectFrom('events').select(sql<number>`max(stream_ordering)`.as('m')).executeTakeFirst();
  const g = await db.selectFrom('state_groups').select(sql<number>`max(id)`.as('m')).executeTakeFirst();
  return { stream: Math.max(Number(s?.m ?? 0), await streamFloor(db, 'events')), stateGroup: Number(g?.m ?? 0) };
}

/** The event a (room, user, device, transaction ID) produced, if any. */
export async function eventForTxn(db: Db, roomId: string, userId: string, deviceId: string, txnId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('event_txn_id_device_id')
    .select('event_id')
    .where('room_id', '=', roomId)
    .where('user_id', '=', userId)
    .where('device_id', '=', deviceId)
    .where('txn_id', '=', txnId)
    .executeTakeFirst();
  return row?.event_id;
}

/** The state group an event points at (the state after it). */
export async function stateGroupOf(db: Db, eventId: string): Promise<number | undefined> {
  const row = await db.selectFrom('event_to_state_groups').select('state_group').where('event_id', '=', eventId).executeTakeFirst();
  return row ? Number(row.state_group) : undefined;
}

/**
 * The state of a state group: (type, state_key) → event ID. Walks the delta chain back to its full
 * snapshot and applies the deltas from the oldest up.
 */
export async function stateOfGroup(db: Db, group: number): Promise<Map<string, string>> {
  const chain: number[] = [];
  let g: number | undefined = group;
  while (g !== undefined) {
    chain.push(g);
    const edge = await db.selectFrom('state_group_edges').select('prev_state_group').where('state_group', '=', g).executeTakeFirst();
    g = edge ? Number(edge.prev_state_group) : undefined;
  }
  const rows = await db
    .selectFrom('state_groups_state')
    .select(['state_group', 'type', 'state_key', 'event_id'])
    .where('state_group', 'in', chain)
    .execute();
  const order = new Map(chain.map((id, i) => [id, i]));
  rows.sort((a, b) => order.get(Number(b.state_group))! - order.get(Number(a.state_group))!);
  const state = new Map<string, string>();
  for (const r of rows) state.set(`${r.type}\u0000${r.state_key}`, r.event_id);
  return state;
}
