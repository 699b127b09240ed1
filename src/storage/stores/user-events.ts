import type { Db } from '../database.js';

/** Rooms where the user's current membership is one of `memberships` (from the current state). */
export async function roomsWithMembership(db: Db, userId: string, memberships: readonly string[]): Promise<string[]> {
  const rows = await db
    .selectFrom('current_state_events')
    .select('room_id')
    .where('state_key', '=', userId)
    .where('type', '=', 'm.room.member')
    .where('membership', 'in', [...memberships])
    .execute();
  return rows.map((r) => r.room_id);
}

/**
 * The user's events in a room that a "redact all" removes (Synapse: messages, encrypted events
 * and joins), newest first, at most `limit`, leaving out those already redacted.
 */
export async function redactableEventsOf(db: Db, roomId: string, userId: string, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('events as e')
    .select('e.event_id')
    .where('e.room_id', '=', roomId)
    .where('e.sender', '=', userId)
    .where((eb) =>
      eb.or([
        eb('e.type', 'in', ['m.room.message', 'm.room.encrypted']),
        eb.and([
          eb('e.type', '=', 'm.room.member'),
          eb.exists(eb.selectFrom('room_memberships as m').select('m.event_id').whereRef('m.event_id', '=', 'e.event_id').where('m.membership', '=', 'join')),
        ]),
      ]),
    )
    .where((eb) => eb.not(eb.exists(eb.selectFrom('redactions as r').select('r.event_id').whereRef('r.redacts', '=', 'e.event_id'))))
    .orderBy('e.stream_ordering', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => r.event_id);
}
