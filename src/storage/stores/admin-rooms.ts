import { sql, type Expression, type SqlBool } from 'kysely';
import type { Db } from '../database.js';

// The SQL of the Admin API's room views (catalogue §6) and of a user's rooms (§3.9-3.10).

/** One room as the admin room list and room details read it (Synapse's room_stats_* and rooms). */
export interface AdminRoomRow {
  room_id: string;
  name: string | null;
  canonical_alias: string | null;
  joined_members: number | string | null;
  local_users_in_room: number | string | null;
  room_version: string | null;
  creator: string | null;
  encryption: string | null;
  is_federatable: boolean | number | null;
  is_public: boolean | number | null;
  join_rules: string | null;
  guest_access: string | null;
  history_visibility: string | null;
  current_state_events: number | string | null;
  room_type: string | null;
  avatar: string | null;
  topic: string | null;
}

/** The sortable columns of the list, by Synapse's `order_by` value, and whether they can be NULL. */
export const ROOM_ORDER_COLUMNS = {
  name: { column: 's.name', nullable: true },
  canonical_alias: { column: 's.canonical_alias', nullable: true },
  joined_members: { column: 'c.joined_members', nullable: false },
  joined_local_members: { column: 'c.local_users_in_room', nullable: false },
  version: { column: 'r.room_version', nullable: true },
  creator: { column: 'r.creator', nullable: true },
  encryption: { column: 's.encryption', nullable: true },
  federatable: { column: 's.is_federatable', nullable: true },
  public: { column: 'r.is_public', nullable: true },
  join_rules: { column: 's.join_rules', nullable: true },
  guest_access: { column: 's.guest_access', nullable: true },
  history_visibility: { column: 's.history_visibility', nullable: true },
  state_events: { column: 'c.current_state_events', nullable: false },
} as const;

export type RoomOrderKey = keyof typeof ROOM_ORDER_COLUMNS;

export interface RoomListQuery {
  orderBy: RoomOrderKey;
  /** Ascending or descending, already resolved from the key's natural order and `dir`. */
  ascending: boolean;
  searchTerm?: string;
  publicRooms?: boolean;
  emptyRooms?: boolean;
  /** Axon only: only blocked rooms (true, including blocked rooms the server does not know) or only unblocked ones (false). */
  blocked?: boolean;
}

const COLUMNS = [
  'r.room_version',
  'r.creator',
  'r.is_public',
  's.name',
  's.canonical_alias',
  's.encryption',
  's.is_federatable',
  's.join_rules',
  's.guest_access',
  's.history_visibility',
  's.room_type',
  's.avatar',
  's.topic',
  'c.joined_members',
  'c.local_users_in_room',
  'c.current_state_events',
] as const;

/**
 * Rooms the statistics know (Synapse lists room_stats_state ⋈ room_stats_current ⋈ rooms); with
 * `blocked: true`, every blocked room instead, known or not (unknown ones have no statistics).
 */
function base(db: Db, q: RoomListQuery) {
  const blockedOnly = q.blocked === true;
  let query = blockedOnly
    ? db
        .selectFrom('blocked_rooms as b')
        .leftJoin('room_stats_state as s', 's.room_id', 'b.room_id')
        .leftJoin('room_stats_current as c', 'c.room_id', 'b.room_id')
        .leftJoin('rooms as r', 'r.room_id', 'b.room_id')
    : db
        .selectFrom('room_stats_state as s')
        .innerJoin('room_stats_current as c', 'c.room_id', 's.room_id')
        .innerJoin('rooms as r', 'r.room_id', 's.room_id')
        .leftJoin('blocked_rooms as b', 'b.room_id', 's.room_id');
  const roomId = blockedOnly ? sql.ref<string>('b.room_id') : sql.ref<string>('s.room_id');
  if (q.blocked === false) query = query.where('b.room_id', 'is', null);
  if (q.searchTerm !== undefined) {
    // Synapse: a case-insensitive substring of the name, a substring of the canonical alias'
    // localpart, or exactly the room ID.
    const term = q.searchTerm.toLowerCase();
    query = query.where((eb) =>
      eb.or([
        eb(eb.fn('lower', ['s.name']), 'like', `%${term}%`),
        eb(eb.fn('lower', ['s.canonical_alias']), 'like', `#%${term}%:%`),
        eb(roomId, '=', q.searchTerm!),
      ]),
    );
  }
  if (q.publicRooms !== undefined) {
    query = q.publicRooms ? query.where('r.is_public', '=', true) : query.where((eb) => eb.or([eb('r.is_public', '=', false), eb('r.is_public', 'is', null)]));
  }
  if (q.emptyRooms !== undefined) {
    query = q.emptyRooms
      ? query.where((eb) => eb.or([eb('c.joined_members', '=', 0), eb('c.joined_members', 'is', null)]))
      : query.where('c.joined_members', '>', 0);
  }
  return { query, roomId };
}

/** A page of the admin room list. */
export async function listRooms(db: Db, q: RoomListQuery, offset: number, limit: number): Promise<AdminRoomRow[]> {
  const { query, roomId } = base(db, q);
  const { column, nullable } = ROOM_ORDER_COLUMNS[q.orderBy];
  const dir = sql.raw(q.ascending ? 'ASC' : 'DESC');
  // NULLs sort last in the natural order on both engines (SQLite would put them first).
  const nulls = sql.raw(!nullable ? '' : q.ascending ? ' NULLS LAST' : ' NULLS FIRST');
  const rows = await query
    .select([roomId.as('room_id'), ...COLUMNS])
    .orderBy(sql`${sql.ref(column)} ${dir}${nulls}`)
    .orderBy(sql`${roomId} ${dir}`)
    .limit(limit)
    .offset(offset)
    .execute();
  return rows as AdminRoomRow[];
}

export async function countRooms(db: Db, q: RoomListQuery): Promise<number> {
  const { query } = base(db, q);
  const row = await query.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** One room with its statistics (Synapse's get_room_with_stats), or undefined when unknown. */
export async function roomWithStats(db: Db, roomId: string): Promise<AdminRoomRow | undefined> {
  const row = await db
    .selectFrom('rooms as r')
    .leftJoin('room_stats_state as s', 's.room_id', 'r.room_id')
    .leftJoin('room_stats_current as c', 'c.room_id', 'r.room_id')
    .select(['r.room_id', ...COLUMNS])
    .where('r.room_id', '=', roomId)
    .executeTakeFirst();
  return row as AdminRoomRow | undefined;
}

/** Devices of the room's joined local users. */
export async function joinedLocalDevices(db: Db, roomId: string): Promise<number> {
  const row = await db
    .selectFrom('devices')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('user_id', 'in', (eb) => eb.selectFrom('local_current_membership').select('user_id').where('room_id', '=', roomId).where('membership', '=', 'join'))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Synapse's "locally forgotten": no local user's current membership is left unforgotten. */
export async function isLocallyForgotten(db: Db, roomId: string): Promise<boolean> {
  const row = await db
    .selectFrom('local_current_membership as l')
    .innerJoin('room_memberships as m', 'm.event_id', 'l.event_id')
    .select('l.user_id')
    .where('l.room_id', '=', roomId)
    .where('m.forgotten', '=', 0)
    .limit(1)
    .executeTakeFirst();
  return row === undefined;
}

/** Joined users (local and remote), by user ID. */
export async function joinedUsers(db: Db, roomId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('current_state_events')
    .select('state_key')
    .where('room_id', '=', roomId)
    .where('type', '=', 'm.room.member')
    .where('membership', '=', 'join')
    .orderBy('state_key')
    .execute();
  return rows.map((r) => r.state_key);
}

/** Current state event IDs, optionally of one type, ordered by type and state key. */
export async function currentStateIds(db: Db, roomId: string, type?: string): Promise<string[]> {
  let q = db.selectFrom('current_state_events').select('event_id').where('room_id', '=', roomId);
  if (type !== undefined) q = q.where('type', '=', type);
  const rows = await q.orderBy('type').orderBy('state_key').execute();
  return rows.map((r) => r.event_id);
}

export interface ExtremityRow {
  event_id: string;
  state_group: number | null;
  depth: number | null;
  received_ts: number | null;
}

/** The room's forward extremities with what Synapse reports of each. */
export async function forwardExtremities(db: Db, roomId: string): Promise<ExtremityRow[]> {
  const rows = await db
    .selectFrom('event_forward_extremities as f')
    .leftJoin('events as e', 'e.event_id', 'f.event_id')
    .leftJoin('event_to_state_groups as g', 'g.event_id', 'f.event_id')
    .select(['f.event_id', 'g.state_group', 'e.depth', 'e.received_ts'])
    .where('f.room_id', '=', roomId)
    .orderBy('e.stream_ordering', 'desc')
    .execute();
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return rows.map((r) => ({ event_id: r.event_id, state_group: num(r.state_group), depth: num(r.depth), received_ts: num(r.received_ts) }));
}

export async function countForwardExtremities(db: Db, roomId: string): Promise<number> {
  const row = await db.selectFrom('event_forward_extremities').select((eb) => eb.fn.countAll().as('n')).where('room_id', '=', roomId).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/**
 * Deletes every extremity of the room but the newest stored event (highest stream ordering).
 * Answers the kept event and how many rows went, or undefined when the room has no extremity
 * that is a stored event.
 */
export async function keepNewestExtremity(db: Db, roomId: string): Promise<{ kept: string; deleted: number } | undefined> {
  const newest = await db
    .selectFrom('event_forward_extremities as f')
    .innerJoin('events as e', 'e.event_id', 'f.event_id')
    .select('f.event_id')
    .where('f.room_id', '=', roomId)
    .orderBy('e.stream_ordering', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!newest) return undefined;
  const res = await db.deleteFrom('event_forward_extremities').where('room_id', '=', roomId).where('event_id', '!=', newest.event_id).executeTakeFirst();
  return { kept: newest.event_id, deleted: Number(res.numDeletedRows) };
}

// ---------------------------------------------------------------------------------------------
// blocked_rooms

/** The admin who blocked the room, or undefined when it is not blocked. */
export async function blockedBy(db: Db, roomId: string): Promise<string | undefined> {
  const row = await db.selectFrom('blocked_rooms').select('user_id').where('room_id', '=', roomId).executeTakeFirst();
  return row?.user_id;
}

/** Blocks a room; blocking it again keeps the first blocker (as Synapse). */
export async function blockRoom(db: Db, roomId: string, userId: string): Promise<void> {
  await db
    .insertInto('blocked_rooms')
    .values({ room_id: roomId, user_id: userId })
    .onConflict((oc) => oc.column('room_id').doNothing())
    .execute();
}

export async function unblockRoom(db: Db, roomId: string): Promise<void> {
  await db.deleteFrom('blocked_rooms').where('room_id', '=', roomId).execute();
}

// ---------------------------------------------------------------------------------------------
// A user's rooms

/** The user's current membership in every room the server knows them in (local or remote user). */
export async function membershipsOf(db: Db, userId: string): Promise<Array<{ room_id: string; membership: string }>> {
  const rows = await db
    .selectFrom('current_state_events')
    .select(['room_id', 'membership'])
    .where('state_key', '=', userId)
    .where('type', '=', 'm.room.member')
    .where('membership', 'is not', null)
    .orderBy('event_stream_ordering')
    .execute();
  return rows.map((r) => ({ room_id: r.room_id, membership: r.membership! }));
}

const receivedSince = (fromTs: number) => sql<SqlBool>`e.received_ts >= ${fromTs}` as Expression<SqlBool>;

/** Invites the user sent that the server received at or after `fromTs`. */
export async function sentInviteCount(db: Db, userId: string, fromTs: number): Promise<number> {
  const row = await db
    .selectFrom('room_memberships as m')
    .innerJoin('events as e', 'e.event_id', 'm.event_id')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('m.sender', '=', userId)
    .where('m.membership', '=', 'invite')
    .where('e.type', '=', 'm.room.member')
    .where(receivedSince(fromTs))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Distinct rooms the user joined at or after `fromTs`, whatever their membership now. */
export async function cumulativeJoinedRoomCount(db: Db, userId: string, fromTs: number): Promise<number> {
  const row = await db
    .selectFrom('room_memberships as m')
    .innerJoin('events as e', 'e.event_id', 'm.event_id')
    .select(sql<number>`count(DISTINCT m.room_id)`.as('n'))
    .where('m.user_id', '=', userId)
    .where('m.membership', '=', 'join')
    .where(receivedSince(fromTs))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
