import type { Db } from '../database.js';

/**
 * The rooms a user shares with the server-notices user where the user is invited or joined and
 * the system user is joined (Synapse's test for "the notices room"), newest first.
 */
export async function noticeRoomsOf(db: Db, userId: string, systemUserId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('local_current_membership as u')
    .innerJoin('local_current_membership as s', 's.room_id', 'u.room_id')
    .select('u.room_id')
    .where('u.user_id', '=', userId)
    .where('u.membership', 'in', ['invite', 'join'])
    .where('s.user_id', '=', systemUserId)
    .where('s.membership', '=', 'join')
    .orderBy('u.event_stream_ordering', 'desc')
    .execute();
  return rows.map((r) => r.room_id);
}
