import type { Db } from '../database.js';
import { inList } from '../dialect.js';
import { selectEvents, toStoredEvent, type StoredEvent } from './events.js';

/** The reads /sync makes: a user's memberships, which rooms moved, and a room's latest events. */

export interface MembershipRow {
  roomId: string;
  membership: string;
  eventId: string;
  stream: number;
}

/** A local user's current membership in every room they have one in (forgotten rooms excluded). */
export async function currentMemberships(db: Db, userId: string): Promise<MembershipRow[]> {
  const rows = await db
    .selectFrom('local_current_membership as l')
    .leftJoin('room_memberships as m', 'm.event_id', 'l.event_id')
    .select(['l.room_id', 'l.membership', 'l.event_id', 'l.event_stream_ordering', 'm.forgotten'])
    .where('l.user_id', '=', userId)
    .execute();
  return rows
    .filter((r) => !Number(r.forgotten ?? 0))
    .map((r) => ({ roomId: r.room_id, membership: r.membership, eventId: r.event_id, stream: Number(r.event_stream_ordering ?? 0) }));
}

/** The user's membership events with stream positions in (from, to], oldest first. */
export async function membershipChanges(db: Db, userId: string, from: number, to: number): Promise<MembershipRow[]> {
  const rows = await db
    .selectFrom('room_memberships')
    .select(['room_id', 'membership', 'event_id', 'event_stream_ordering'])
    .where('user_id', '=', userId)
    .where('event_stream_ordering', '>', from)
    .where('event_stream_ordering', '<=', to)
    .orderBy('event_stream_ordering')
    .execute();
  return rows.map((r) => ({ roomId: r.room_id, membership: r.membership, eventId: r.event_id, stream: Number(r.event_stream_ordering ?? 0) }));
}

/** The rooms among `roomIds` with an event at a position in (from, to]. */
export async function roomsWithEvents(db: Db, roomIds: readonly string[], from: number, to: number): Promise<Set<string>> {
  if (roomIds.length === 0 || to <= from) return new Set();
  const rows = await db
    .selectFrom('events')
    .select('room_id')
    .distinct()
    .where(inList(db, 'room_id', roomIds))
    .where('stream_ordering', '>', from)
    .where('stream_ordering', '<=', to)
    .execute();
  return new Set(rows.map((r) => r.room_id));
}

/** A room's newest accepted events with positions in (from, to], newest first, at most `limit`. */
export async function latestEvents(db: Db, roomId: string, from: number, to: number, limit: number): Promise<StoredEvent[]> {
  if (limit <= 0 || to <= from) return [];
  const rows = await selectEvents(db)
    .where('e.room_id', '=', roomId)
    .where('e.stream_ordering', '>', from)
    .where('e.stream_ordering', '<=', to)
    .where('e.rejection_reason', 'is', null)
    .orderBy('e.stream_ordering', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => toStoredEvent(r as Parameters<typeof toStoredEvent>[0]));
}

/** The room's last event at or before a position (its state is the room's state there). */
export async function lastEventAt(db: Db, roomId: string, stream: number): Promise<string | undefined> {
  const row = await db
    .selectFrom('events')
    .select('event_id')
    .where('room_id', '=', roomId)
    .where('stream_ordering', '<=', stream)
    .where('rejection_reason', 'is', null)
    .orderBy('stream_ordering', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.event_id;
}

/**
 * Up to `limit` members of a room other than `userId` whose current membership is one of
 * `memberships`, earliest membership event first (the summary's heroes).
 */
export async function roomHeroes(db: Db, roomId: string, userId: string, memberships: readonly string[], limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('current_state_events')
    .select('state_key')
    .where('room_id', '=', roomId)
    .where('type', '=', 'm.room.member')
    .where('state_key', '!=', userId)
    .where('membership', 'in', memberships)
    .orderBy('event_stream_ordering')
    .orderBy('state_key')
    .limit(limit)
    .execute();
  return rows.map((r) => r.state_key);
}

/** The rooms a local user is joined to (whose long-polls a change of this user's presence or devices concerns). */
export async function joinedRoomsOf(db: Db, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('local_current_membership').select('room_id').where('user_id', '=', userId).where('membership', '=', 'join').execute();
  return rows.map((r) => r.room_id);
}

/** The user's membership in a room as of just before a stream position (null: never a member). */
export async function membershipBefore(db: Db, userId: string, roomId: string, stream: number): Promise<string | null> {
  const row = await db
    .selectFrom('room_memberships')
    .select('membership')
    .where('user_id', '=', userId)
    .where('room_id', '=', roomId)
    .where('event_stream_ordering', '<', stream)
    .orderBy('event_stream_ordering', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.membership ?? null;
}
