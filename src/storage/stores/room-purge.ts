import { sql, type Kysely } from 'kysely';
import { withTransaction, type Db, type Tx } from '../database.js';
import { existingTables, inList, runStatements, type Statement } from '../dialect.js';
import { maxOf, recordStreamFloor } from './stream-floors.js';

/**
 * Removing rooms and room history in short steps. Each function does one bounded step in its own
 * short transaction and answers how many rows (events, groups) it removed, so callers loop until
 * it answers 0, yielding to the event loop in between: no statement touches more than a chunk of
 * rows and no transaction stays open across the whole job (on SQLite a long one would hold the
 * write lock and stall every writer; a 100,000-row DELETE would stall the event loop itself).
 * Every step is idempotent: a job interrupted anywhere resumes by running its steps again.
 */

/** Bulk steps let requests in between their statements (see runStatements). */
const YIELDING = { yieldBetween: true };

/** Rows of the event-keyed tables go with their events, for any list of event IDs of one room. */
function deleteEventRows(tx: Tx, ids: readonly string[]): Statement[] {
  const byId = inList(tx, 'event_id', ids);
  return [
    tx.deleteFrom('event_json').where(byId),
    tx.deleteFrom('event_edges').where(byId),
    tx.deleteFrom('event_auth').where(byId),
    tx.deleteFrom('state_events').where(byId),
    tx.deleteFrom('room_memberships').where(byId),
    tx.deleteFrom('event_to_state_groups').where(byId),
    tx.deleteFrom('redactions').where(byId),
    tx.deleteFrom('event_relations').where(byId),
    tx.deleteFrom('rejections').where(byId),
    tx.deleteFrom('event_txn_id_device_id').where(byId),
    tx.deleteFrom('events').where(byId),
  ];
}

/**
 * The room disappears for every reader at once: its `rooms` row (so no actor loads it), its
 * statistics (the admin room list), its aliases and its forward extremities. One small
 * transaction; the bulk of its rows goes afterwards.
 */
export async function detachRoom(db: Db, roomId: string): Promise<void> {
  await withTransaction(db, async (tx) => {
    // The room's rows may hold the highest event and receipt positions: restarts must stay above them.
    await recordStreamFloor(tx, 'events', await maxOf(tx, 'events', 'stream_ordering'));
    await recordStreamFloor(tx, 'receipts', await maxOf(tx, 'receipts_linearized', 'stream_id'));
    const aliases = (await tx.selectFrom('room_aliases').select('room_alias').where('room_id', '=', roomId).execute()).map((r) => r.room_alias);
    const steps: Statement[] = [
      tx.deleteFrom('rooms').where('room_id', '=', roomId),
      tx.deleteFrom('room_stats_current').where('room_id', '=', roomId),
      tx.deleteFrom('room_stats_state').where('room_id', '=', roomId),
      tx.deleteFrom('event_forward_extremities').where('room_id', '=', roomId),
      tx.deleteFrom('room_aliases').where('room_id', '=', roomId),
    ];
    if (aliases.length) steps.push(tx.deleteFrom('room_alias_servers').where('room_alias', 'in', aliases));
    await runStatements(tx, steps);
  });
}

/**
 * Removes up to `limit` events of the room (oldest first, after stream position `after`) with
 * every row keyed by them; answers how many and the last position. The caller passes the position
 * back: starting each step at the room's start would walk the index entries of every event
 * already deleted (PostgreSQL keeps them until vacuum), making the whole purge quadratic.
 */
export async function purgeRoomEvents(db: Db, roomId: string, after: number | null, limit: number): Promise<{ n: number; last: number | null }> {
  return withTransaction(db, async (tx) => {
    let q = tx.selectFrom('events').select(['event_id', 'stream_ordering']).where('room_id', '=', roomId);
    if (after !== null) q = q.where('stream_ordering', '>', after);
    const rows = await q.orderBy('stream_ordering').limit(limit).execute();
    if (rows.length === 0) return { n: 0, last: after };
    await runStatements(tx, deleteEventRows(tx, rows.map((r) => r.event_id)), YIELDING);
    return { n: rows.length, last: Number(rows.at(-1)!.stream_ordering) };
  });
}

/** Removes up to `limit` state groups of the room with their edges and rows. */
export async function purgeRoomStateGroups(db: Db, roomId: string, limit: number): Promise<number> {
  return withTransaction(db, async (tx) => {
    const ids = (await tx.selectFrom('state_groups').select('id').where('room_id', '=', roomId).orderBy('id').limit(limit).execute()).map((r) => Number(r.id));
    if (ids.length === 0) return 0;
    await runStatements(tx, deleteGroups(tx, ids), YIELDING);
    return ids.length;
  });
}

function deleteGroups(tx: Tx, ids: readonly number[]): Statement[] {
  return [
    tx.deleteFrom('state_groups_state').where(inList(tx, 'state_group', ids)),
    tx.deleteFrom('state_group_edges').where(inList(tx, 'state_group', ids)),
    tx.deleteFrom('state_group_edges').where(inList(tx, 'prev_state_group', ids)),
    tx.deleteFrom('state_groups').where(inList(tx, 'id', ids)),
  ];
}

/**
 * The room-keyed tables swept after the events, each by one column that picks out its rows
 * (`room_id = ? AND key IN (…)`: a plain IN list, which both engines answer through an index).
 * Rows the event steps already removed are simply not found here.
 */
const ROOM_KEYED: ReadonlyArray<{ table: string; key: string }> = [
  { table: 'current_state_events', key: 'event_id' },
  { table: 'local_current_membership', key: 'user_id' },
  { table: 'room_memberships', key: 'event_id' },
  { table: 'current_state_delta_stream', key: 'stream_id' },
  { table: 'threads', key: 'thread_id' },
  { table: 'event_txn_id_device_id', key: 'event_id' },
  { table: 'event_forward_extremities', key: 'event_id' },
  { table: 'room_account_data', key: 'user_id' },
  { table: 'event_push_actions', key: 'stream_ordering' },
  { table: 'event_push_summary', key: 'user_id' },
  { table: 'receipts_linearized', key: 'user_id' },
  { table: 'receipts_graph', key: 'user_id' },
  { table: 'state_groups', key: 'id' },
];

/** The tables that exist now (tables of features whose migrations have not run are skipped). */
export const presentTables = existingTables;

/** Removes the rows of up to `limit` keys of the room from the next room-keyed table that still has some. */
export async function purgeRoomKeyedRows(db: Db, roomId: string, limit: number, present: ReadonlySet<string>): Promise<number> {
  for (const { table, key } of ROOM_KEYED) {
    if (!present.has(table)) continue;
    const n = await withTransaction(db, async (tx) => {
      // A table chosen at run time: raw SQL over our own constant names.
      const col = sql.ref(key);
      const keys = (await sql<{ k: unknown }>`SELECT DISTINCT ${col} AS k FROM ${sql.table(table)} WHERE room_id = ${roomId} LIMIT ${limit}`.execute(tx)).rows.map((r) => r.k);
      if (keys.length === 0) return 0;
      await sql`DELETE FROM ${sql.table(table)} WHERE room_id = ${roomId} AND ${inList(tx, key, keys as Array<string | number>)}`.execute(tx);
      return keys.length;
    });
    if (n > 0) return n;
  }
  return 0;
}

/** Whether any local user is still joined to the room. */
export async function hasLocalJoinedMembers(db: Db, roomId: string): Promise<boolean> {
  const row = await db.selectFrom('local_current_membership').select('user_id').where('room_id', '=', roomId).where('membership', '=', 'join').limit(1).executeTakeFirst();
  return row !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Purging history (events before a point, state kept).

export interface HistoryCandidate {
  eventId: string;
  topologicalOrdering: number;
  streamOrdering: number;
  sender: string | null;
  isState: boolean;
}

/**
 * The next `limit` events of the room strictly before depth `beforeTopological`, after the keyset
 * position `after` (topological, stream), in room order. The caller decides which go.
 */
export async function historyCandidates(db: Db, roomId: string, beforeTopological: number, after: { topo: number; stream: number } | null, limit: number): Promise<HistoryCandidate[]> {
  let q = db
    .selectFrom('events')
    .select(['event_id', 'topological_ordering', 'stream_ordering', 'sender', 'state_key'])
    .where('room_id', '=', roomId)
    .where('topological_ordering', '<', beforeTopological);
  // A row-value comparison: both engines seek the (room_id, topological_ordering, stream_ordering)
  // index to it, where an OR of the two cases would rescan the room from its start at every step.
  if (after) q = q.where(sql<boolean>`(topological_ordering, stream_ordering) > (${after.topo}, ${after.stream})`);
  const rows = await q.orderBy('topological_ordering').orderBy('stream_ordering').limit(limit).execute();
  return rows.map((r) => ({
    eventId: r.event_id,
    topologicalOrdering: Number(r.topological_ordering),
    streamOrdering: Number(r.stream_ordering),
    sender: r.sender,
    isState: r.state_key !== null,
  }));
}

/** Removes non-state events of a room with their rows, their push actions and the thread summaries they were part of. */
export async function deleteHistoryEvents(db: Db, roomId: string, events: ReadonlyArray<{ eventId: string; streamOrdering: number }>, present: ReadonlySet<string>): Promise<void> {
  if (events.length === 0) return;
  await withTransaction(db, async (tx) => {
    const list = events.map((e) => e.eventId);
    const steps: Statement[] = [
      tx.deleteFrom('threads').where((eb) => eb.or([inList(tx, 'thread_id', list), inList(tx, 'latest_event_id', list)])),
      ...deleteEventRows(tx, list),
    ];
    if (present.has('event_push_actions')) {
      const positions = events.map((e) => e.streamOrdering);
      // Typed loosely: the table belongs to the push feature's migration.
      const loose = tx as unknown as Kysely<any>;
      steps.push(loose.deleteFrom('event_push_actions').where('room_id', '=', roomId).where(inList(tx, 'stream_ordering', positions)));
    }
    await runStatements(tx, steps, YIELDING);
  });
}

/** The room's forward extremities. */
export async function forwardExtremities(db: Db, roomId: string): Promise<string[]> {
  return (await db.selectFrom('event_forward_extremities').select('event_id').where('room_id', '=', roomId).execute()).map((r) => r.event_id);
}

/**
 * Removes up to `limit` state groups of the room that no event points at and no other group
 * builds on (a delta's base must stay); repeated until it answers 0, no unreferenced group remains.
 */
export async function purgeUnreferencedStateGroups(db: Db, roomId: string, limit: number): Promise<number> {
  return withTransaction(db, async (tx) => {
    const ids = (
      await tx
        .selectFrom('state_groups as g')
        .select('g.id')
        .where('g.room_id', '=', roomId)
        .where((eb) => eb.not(eb.exists(eb.selectFrom('event_to_state_groups as e').select('e.event_id').whereRef('e.state_group', '=', 'g.id'))))
        .where((eb) => eb.not(eb.exists(eb.selectFrom('state_group_edges as x').select('x.state_group').whereRef('x.prev_state_group', '=', 'g.id'))))
        .limit(limit)
        .execute()
    ).map((r) => Number(r.id));
    if (ids.length === 0) return 0;
    await runStatements(tx, deleteGroups(tx, ids), YIELDING);
    return ids.length;
  });
}

/** The event of the room received last before `ts` (purge_up_to_ts), by stream order. */
export async function lastEventBefore(db: Db, roomId: string, ts: number): Promise<{ eventId: string; topologicalOrdering: number } | undefined> {
  const row = await db
    .selectFrom('events')
    .select(['event_id', 'topological_ordering'])
    .where('room_id', '=', roomId)
    .where('received_ts', '<', ts)
    .orderBy('stream_ordering', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? { eventId: row.event_id, topologicalOrdering: Number(row.topological_ordering) } : undefined;
}

/** An event's room and depth (topological ordering). */
export async function eventPosition(db: Db, eventId: string): Promise<{ roomId: string; topologicalOrdering: number } | undefined> {
  const row = await db.selectFrom('events').select(['room_id', 'topological_ordering']).where('event_id', '=', eventId).executeTakeFirst();
  return row ? { roomId: row.room_id, topologicalOrdering: Number(row.topological_ordering) } : undefined;
}

/** Adds the room to `blocked_rooms` (an existing block keeps the admin who made it). */
export async function blockRoom(db: Db, roomId: string, userId: string): Promise<void> {
  await db
    .insertInto('blocked_rooms')
    .values({ room_id: roomId, user_id: userId })
    .onConflict((oc) => oc.column('room_id').doNothing())
    .execute();
}
