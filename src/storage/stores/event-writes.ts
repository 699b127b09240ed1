import type { Insertable } from 'kysely';
import type { Tx } from '../database.js';
import { runStatements, type Statement } from '../dialect.js';
import type { RoomStatsCurrentTable, RoomStatsStateTable } from '../schema/tables.js';

/**
 * The rows one event adds, as the persister hands them over: everything about the event is
 * decided (IDs, stream position, state group) before its transaction starts.
 */
export interface EventWrite {
  eventId: string;
  roomId: string;
  type: string;
  stateKey: string | null;
  sender: string;
  depth: number;
  originServerTs: number;
  receivedTs: number;
  streamOrdering: number;
  containsUrl: boolean;
  /** The event as signed (federation format), canonical-ish JSON text. */
  json: string;
  internalMetadata: string;
  formatVersion: number;
  prevEvents: readonly string[];
  authEvents: readonly string[];
  /** The state group after this event. */
  stateGroup: number;
  /** Set when this event starts a state group: a delta over `prev`, or a full snapshot (`prev` null). */
  newStateGroup?: { id: number; prev: number | null; rows: ReadonlyArray<{ type: string; stateKey: string; eventId: string }> };
  /** Set on state events: the event it replaces in the current state. */
  state?: { prevEventId: string | null; membership: string | null };
  /** Set on m.room.member events. */
  member?: { userId: string; membership: string; displayName: string | null; avatarUrl: string | null; local: boolean };
  txn?: { userId: string; deviceId: string; txnId: string };
  redacts?: string;
  relation?: { relatesTo: string; relType: string; key: string | null };
  /** Set on the m.room.create event. */
  room?: { creator: string; version: string; isPublic: boolean };
  /** The room's forward extremities once this event is in. */
  extremitiesAfter: readonly string[];
  /** The room's statistics once this event is in (state events only). */
  stats?: { current: Omit<Insertable<RoomStatsCurrentTable>, 'room_id'>; state: Omit<Insertable<RoomStatsStateTable>, 'room_id'> };
  /** What persister hooks attach to the event (e.g. the push rules' inputs and results), by hook. */
  ext?: Record<string, unknown>;
}

const flag = (b: boolean) => (b ? 1 : 0);

/**
 * Writes a batch of events (many rooms, in stream order) with every row Synapse keeps for them.
 * Multi-row statements, none reading another's rows: a batch costs the same dozen statements
 * whatever its size, and on PostgreSQL they travel as one (see `runStatements`).
 */
export async function writeEvents(tx: Tx, batch: readonly EventWrite[]): Promise<void> {
  if (batch.length === 0) return;
  const steps: Statement[] = [];
  const rooms = batch.filter((e) => e.room);
  if (rooms.length) {
    steps.push(
      tx
        .insertInto('rooms')
        .values(rooms.map((e) => ({ room_id: e.roomId, is_public: flag(e.room!.isPublic), creator: e.room!.creator, room_version: e.room!.version, has_auth_chain_index: 0 }))),
    );
  }
  steps.push(
    tx.insertInto('events').values(
      batch.map((e) => ({
        topological_ordering: e.depth,
        event_id: e.eventId,
        type: e.type,
        room_id: e.roomId,
        content: null,
        unrecognized_keys: null,
        processed: 1,
        outlier: 0,
        depth: e.depth,
        origin_server_ts: e.originServerTs,
        received_ts: e.receivedTs,
        sender: e.sender,
        contains_url: flag(e.containsUrl),
        instance_name: 'master',
        stream_ordering: e.streamOrdering,
        state_key: e.stateKey,
        rejection_reason: null,
      })),
    ),
  );
  steps.push(
    tx
      .insertInto('event_json')
      .values(batch.map((e) => ({ event_id: e.eventId, room_id: e.roomId, internal_metadata: e.internalMetadata, json: e.json, format_version: e.formatVersion }))),
  );
  const edges = batch.flatMap((e) => e.prevEvents.map((p) => ({ event_id: e.eventId, prev_event_id: p, room_id: e.roomId, is_state: 0 })));
  if (edges.length) steps.push(tx.insertInto('event_edges').values(edges));
  const auth = batch.flatMap((e) => e.authEvents.map((a) => ({ event_id: e.eventId, auth_id: a, room_id: e.roomId })));
  if (auth.length) steps.push(tx.insertInto('event_auth').values(auth));

  const groups = batch.filter((e) => e.newStateGroup);
  if (groups.length) {
    steps.push(tx.insertInto('state_groups').values(groups.map((e) => ({ id: e.newStateGroup!.id, room_id: e.roomId, event_id: e.eventId }))));
    const groupEdges = groups.filter((e) => e.newStateGroup!.prev !== null);
    if (groupEdges.length) {
      steps.push(tx.insertInto('state_group_edges').values(groupEdges.map((e) => ({ state_group: e.newStateGroup!.id, prev_state_group: e.newStateGroup!.prev! }))));
    }
    const rows = groups.flatMap((e) =>
      e.newStateGroup!.rows.map((r) => ({ state_group: e.newStateGroup!.id, room_id: e.roomId, type: r.type, state_key: r.stateKey, event_id: r.eventId })),
    );
    for (let i = 0; i < rows.length; i += 500) steps.push(tx.insertInto('state_groups_state').values(rows.slice(i, i + 500)));
  }
  steps.push(tx.insertInto('event_to_state_groups').values(batch.map((e) => ({ event_id: e.eventId, state_group: e.stateGroup }))));

  const states = batch.filter((e) => e.state && e.stateKey !== null);
  if (states.length) steps.push(...stateChanges(tx, states));

  const txns = batch.filter((e) => e.txn);
  if (txns.length) {
    steps.push(
      tx
        .insertInto('event_txn_id_device_id')
        .values(txns.map((e) => ({ event_id: e.eventId, room_id: e.roomId, user_id: e.txn!.userId, device_id: e.txn!.deviceId, txn_id: e.txn!.txnId, inserted_ts: e.receivedTs }))),
    );
  }
  const redactions = batch.filter((e) => e.redacts);
  if (redactions.length) {
    steps.push(tx.insertInto('redactions').values(redactions.map((e) => ({ event_id: e.eventId, redacts: e.redacts!, have_censored: 0, received_ts: e.receivedTs }))));
  }
  const relations = batch.filter((e) => e.relation);
  if (relations.length) {
    steps.push(
      tx
        .insertInto('event_relations')
        .values(relations.map((e) => ({ event_id: e.eventId, relates_to_id: e.relation!.relatesTo, relation_type: e.relation!.relType, aggregation_key: e.relation!.key }))),
    );
    // One row per thread: the batch's latest reply wins.
    const threads = new Map<string, EventWrite>();
    for (const e of relations) if (e.relation!.relType === 'm.thread') threads.set(`${e.roomId}\u0000${e.relation!.relatesTo}`, e);
    for (const e of threads.values()) {
      const latest = { latest_event_id: e.eventId, topological_ordering: e.depth, stream_ordering: e.streamOrdering };
      steps.push(
        tx
          .insertInto('threads')
          .values({ room_id: e.roomId, thread_id: e.relation!.relatesTo, ...latest })
          .onConflict((oc) => oc.columns(['room_id', 'thread_id']).doUpdateSet(latest)),
      );
    }
  }

  // The last event of each room in the batch says where the room ends up. The new extremities are
  // new events, so deleting the room's old ones and inserting them never touch the same row.
  const lastOfRoom = new Map<string, EventWrite>();
  const lastStatsOfRoom = new Map<string, EventWrite>();
  for (const e of batch) {
    lastOfRoom.set(e.roomId, e);
    if (e.stats) lastStatsOfRoom.set(e.roomId, e);
  }
  const roomIds = [...lastOfRoom.keys()];
  steps.push(tx.deleteFrom('event_forward_extremities').where('room_id', 'in', roomIds));
  steps.push(tx.insertInto('event_forward_extremities').values([...lastOfRoom].flatMap(([roomId, e]) => e.extremitiesAfter.map((id) => ({ event_id: id, room_id: roomId })))));
  for (const [roomId, e] of lastStatsOfRoom) {
    const current = { ...e.stats!.current, completed_delta_stream_id: e.streamOrdering };
    steps.push(
      tx
        .insertInto('room_stats_current')
        .values({ room_id: roomId, ...current })
        .onConflict((oc) => oc.column('room_id').doUpdateSet(current)),
    );
    steps.push(
      tx
        .insertInto('room_stats_state')
        .values({ room_id: roomId, ...e.stats!.state })
        .onConflict((oc) => oc.column('room_id').doUpdateSet(e.stats!.state)),
    );
  }
  await runStatements(tx, steps);
}

/** state_events, current_state_events, the delta stream and the membership tables. */
function stateChanges(tx: Tx, states: readonly EventWrite[]): Statement[] {
  const steps: Statement[] = [];
  steps.push(
    tx
      .insertInto('state_events')
      .values(states.map((e) => ({ event_id: e.eventId, room_id: e.roomId, type: e.type, state_key: e.stateKey!, prev_state: e.state!.prevEventId }))),
  );
  steps.push(
    tx.insertInto('current_state_delta_stream').values(
      states.map((e) => ({
        stream_id: e.streamOrdering,
        room_id: e.roomId,
        type: e.type,
        state_key: e.stateKey!,
        event_id: e.eventId,
        prev_event_id: e.state!.prevEventId,
        instance_name: 'master',
      })),
    ),
  );
  // Later events of a batch replace earlier ones for the same (room, type, state_key).
  const latest = new Map<string, EventWrite>();
  for (const e of states) latest.set(`${e.roomId}\u0000${e.type}\u0000${e.stateKey}`, e);
  for (const e of latest.values()) {
    const row = { event_id: e.eventId, room_id: e.roomId, type: e.type, state_key: e.stateKey!, membership: e.state!.membership, event_stream_ordering: e.streamOrdering };
    steps.push(
      tx
        .insertInto('current_state_events')
        .values(row)
        .onConflict((oc) =>
          oc.columns(['room_id', 'type', 'state_key']).doUpdateSet({ event_id: e.eventId, membership: e.state!.membership, event_stream_ordering: e.streamOrdering }),
        ),
    );
  }
  const members = states.filter((e) => e.member);
  if (members.length === 0) return steps;
  steps.push(
    tx.insertInto('room_memberships').values(
      members.map((e) => ({
        event_id: e.eventId,
        user_id: e.member!.userId,
        sender: e.sender,
        room_id: e.roomId,
        membership: e.member!.membership,
        display_name: e.member!.displayName,
        avatar_url: e.member!.avatarUrl,
        event_stream_ordering: e.streamOrdering,
      })),
    ),
  );
  const local = new Map<string, EventWrite>();
  for (const e of members) if (e.member!.local) local.set(`${e.roomId}\u0000${e.member!.userId}`, e);
  for (const e of local.values()) {
    const row = { room_id: e.roomId, user_id: e.member!.userId, event_id: e.eventId, membership: e.member!.membership, event_stream_ordering: e.streamOrdering };
    steps.push(
      tx
        .insertInto('local_current_membership')
        .values(row)
        .onConflict((oc) => oc.columns(['user_id', 'room_id']).doUpdateSet({ event_id: e.eventId, membership: e.member!.membership, event_stream_ordering: e.streamOrdering })),
    );
  }
  return steps;
}
