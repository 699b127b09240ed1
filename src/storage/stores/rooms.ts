import type { Db } from '../database.js';
import { isUniqueViolation } from '../dialect.js';
import { withTransaction } from '../transaction.js';

export async function roomIdForAlias(db: Db, alias: string): Promise<string | undefined> {
  const row = await db.selectFrom('room_aliases').select('room_id').where('room_alias', '=', alias).executeTakeFirst();
  return row?.room_id;
}

/** Adds an alias (room_aliases plus the server in room_alias_servers, as Synapse). */
export async function createAlias(db: Db, alias: string, roomId: string, creator: string, serverName: string): Promise<void> {
  await db.insertInto('room_aliases').values({ room_alias: alias, room_id: roomId, creator }).execute();
  await db.insertInto('room_alias_servers').values({ room_alias: alias, server: serverName }).execute();
}

/** Whether the room is in the public room directory (`rooms.is_public`). */
export async function setPublic(db: Db, roomId: string, isPublic: boolean): Promise<void> {
  await db.updateTable('rooms').set({ is_public: isPublic ? 1 : 0 }).where('room_id', '=', roomId).execute();
}

/** The rooms a local user is joined to now. */
export async function joinedRoomsOf(db: Db, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('local_current_membership')
    .select('room_id')
    .where('user_id', '=', userId)
    .where('membership', '=', 'join')
    .orderBy('event_stream_ordering')
    .execute();
  return rows.map((r) => r.room_id);
}

// ---------------------------------------------------------------------------------------------
// Room aliases (room_aliases, room_alias_servers) and the public room directory.

export interface AliasRow {
  room_id: string;
  creator: string | null;
  servers: string[];
}

/** The alias's room, creator and servers, or undefined when unknown. */
export async function getAlias(db: Db, alias: string): Promise<AliasRow | undefined> {
  const row = await db.selectFrom('room_aliases').select(['room_id', 'creator']).where('room_alias', '=', alias).executeTakeFirst();
  if (!row) return undefined;
  const servers = await db.selectFrom('room_alias_servers').select('server').where('room_alias', '=', alias).execute();
  return { room_id: row.room_id, creator: row.creator, servers: servers.map((s) => s.server) };
}

/**
 * Adds an alias pointing at `roomId` with the given servers; false when the alias is taken (the
 * unique index decides, so two concurrent creations cannot both win).
 */
export async function insertAlias(db: Db, alias: string, roomId: string, creator: string, servers: readonly string[]): Promise<boolean> {
  try {
    await withTransaction(db, async (tx) => {
      await tx.insertInto('room_aliases').values({ room_alias: alias, room_id: roomId, creator }).execute();
      if (servers.length > 0) await tx.insertInto('room_alias_servers').values(servers.map((server) => ({ room_alias: alias, server }))).execute();
    });
    return true;
  } catch (e) {
    if (isUniqueViolation(e)) return false;
    throw e;
  }
}

/** Removes an alias; answers the room it pointed at, or undefined when it did not exist. */
export async function deleteAlias(db: Db, alias: string): Promise<string | undefined> {
  return withTransaction(db, async (tx) => {
    const row = await tx.deleteFrom('room_aliases').where('room_alias', '=', alias).returning('room_id').executeTakeFirst();
    await tx.deleteFrom('room_alias_servers').where('room_alias', '=', alias).execute();
    return row?.room_id;
  });
}

/** The local aliases pointing at a room, oldest first. */
export async function aliasesOfRoom(db: Db, roomId: string): Promise<string[]> {
  const rows = await db.selectFrom('room_aliases').select('room_alias').where('room_id', '=', roomId).execute();
  return rows.map((r) => r.room_alias);
}

/** Points every alias of `oldRoomId` at `newRoomId` (room upgrades). */
export async function moveAliases(db: Db, oldRoomId: string, newRoomId: string): Promise<void> {
  await db.updateTable('room_aliases').set({ room_id: newRoomId }).where('room_id', '=', oldRoomId).execute();
}

/** `rooms.is_public`, or undefined when the room is unknown. */
export async function isPublic(db: Db, roomId: string): Promise<boolean | undefined> {
  const row = await db.selectFrom('rooms').select('is_public').where('room_id', '=', roomId).executeTakeFirst();
  return row ? Boolean(row.is_public) : undefined;
}

/** `forgetRoom` for several users at once. */
export async function forgetRoomForUsers(db: Db, userIds: readonly string[], roomId: string): Promise<void> {
  if (userIds.length === 0) return;
  await db.updateTable('room_memberships').set({ forgotten: 1 }).where('room_id', '=', roomId).where('user_id', 'in', [...userIds]).execute();
}

/** Sets `room_memberships.forgotten` on every membership row of the user in the room. */
export async function forgetRoom(db: Db, userId: string, roomId: string): Promise<void> {
  await db.updateTable('room_memberships').set({ forgotten: 1 }).where('user_id', '=', userId).where('room_id', '=', roomId).execute();
}

export interface PublicRoomRow {
  room_id: string;
  name: string | null;
  topic: string | null;
  canonical_alias: string | null;
  joined_members: number;
  avatar: string | null;
  history_visibility: string | null;
  guest_access: string | null;
  join_rules: string | null;
  room_type: string | null;
}

export interface PublicRoomsQuery {
  /** Matched case-insensitively against name, topic and canonical alias (SQL LIKE, as Synapse). */
  searchTerm?: string;
  /** Room types to include; null stands for rooms without a type. */
  roomTypes?: readonly (string | null)[];
  /** Keyset bound: rooms after (forwards) or before (backwards) this one in the list's order. */
  bound?: { joinedMembers: number; roomId: string };
  forwards: boolean;
  limit?: number;
}

/**
 * Published rooms that someone may find and enter: joinable (public or knock join rules) or world
 * readable, with at least one joined member; ordered by joined members, then room ID, both
 * descending (Synapse's order). Backwards pages are read in ascending order and returned reversed.
 */
export async function publicRooms(db: Db, q: PublicRoomsQuery): Promise<PublicRoomRow[]> {
  let query = publicRoomsBase(db, q)
    .select([
      'r.room_id',
      's.name',
      's.topic',
      's.canonical_alias',
      'c.joined_members',
      's.avatar',
      's.history_visibility',
      's.guest_access',
      's.join_rules',
      's.room_type',
    ]);
  if (q.bound) {
    const { joinedMembers, roomId } = q.bound;
    const op = q.forwards ? '<' : '>';
    query = query.where((eb) => eb.or([eb('c.joined_members', op, joinedMembers), eb.and([eb('c.joined_members', '=', joinedMembers), eb('r.room_id', op, roomId)])]));
  }
  const dir = q.forwards ? 'desc' : 'asc';
  query = query.orderBy('c.joined_members', dir).orderBy('r.room_id', dir);
  if (q.limit !== undefined) query = query.limit(q.limit);
  const rows = (await query.execute()).map((r) => ({ ...r, joined_members: Number(r.joined_members) }));
  return q.forwards ? rows : rows.reverse();
}

/** How many rooms the public list holds under the same filter (Synapse's total_room_count_estimate). */
export async function countPublicRooms(db: Db, q: Pick<PublicRoomsQuery, 'searchTerm' | 'roomTypes'>): Promise<number> {
  const row = await publicRoomsBase(db, { ...q, forwards: true })
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

function publicRoomsBase(db: Db, q: PublicRoomsQuery) {
  let query = db
    .selectFrom('rooms as r')
    .innerJoin('room_stats_state as s', 's.room_id', 'r.room_id')
    .innerJoin('room_stats_current as c', 'c.room_id', 'r.room_id')
    .where('r.is_public', '=', true)
    .where('c.joined_members', '>', 0)
    .where((eb) => eb.or([eb('s.join_rules', 'in', ['public', 'knock', 'knock_restricted']), eb('s.history_visibility', '=', 'world_readable')]));
  if (q.searchTerm !== undefined && q.searchTerm !== '') {
    const like = `%${q.searchTerm.toLowerCase()}%`;
    query = query.where((eb) =>
      eb.or([eb(eb.fn('lower', ['s.name']), 'like', like), eb(eb.fn('lower', ['s.topic']), 'like', like), eb(eb.fn('lower', ['s.canonical_alias']), 'like', like)]),
    );
  }
  if (q.roomTypes !== undefined && q.roomTypes.length > 0) {
    const types = q.roomTypes.filter((t): t is string => t !== null);
    const untyped = q.roomTypes.includes(null);
    query = query.where((eb) => {
      const parts = [];
      if (types.length > 0) parts.push(eb('s.room_type', 'in', types));
      if (untyped) parts.push(eb('s.room_type', 'is', null));
      return eb.or(parts);
    });
  }
  return query;
}
