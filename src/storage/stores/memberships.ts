import type { Db } from '../database.js';

/**
 * A local user's rooms by current membership (`local_current_membership`), oldest first: what
 * deactivation leaves and rejects, and where profile changes go.
 */
export async function roomsWithMembership(db: Db, userId: string, memberships: readonly string[]): Promise<Array<{ roomId: string; membership: string }>> {
  if (memberships.length === 0) return [];
  const rows = await db
    .selectFrom('local_current_membership')
    .select(['room_id', 'membership'])
    .where('user_id', '=', userId)
    .where('membership', 'in', memberships as string[])
    .orderBy('event_stream_ordering')
    .execute();
  return rows.map((r) => ({ roomId: r.room_id, membership: r.membership }));
}
