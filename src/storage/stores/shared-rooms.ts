import { sql, type ExpressionBuilder } from 'kysely';
import type { Db } from '../database.js';

/** "Shares a room": both users joined to at least one room now (presence and device lists follow it). */

/** A condition for queries that list users: the user in `column` shares a joined room with `userId`. */
export const sharesAJoinedRoomWith = (eb: ExpressionBuilder<any, any>, userId: string, column: string) =>
  eb.exists(
    eb
      .selectFrom('local_current_membership as mine')
      .innerJoin('local_current_membership as theirs', 'theirs.room_id', 'mine.room_id')
      .select(sql`1`.as('one'))
      .where('mine.user_id', '=', userId)
      .where('mine.membership', '=', 'join')
      .where('theirs.membership', '=', 'join')
      .whereRef('theirs.user_id', '=', sql.ref(column) as never),
  );

/** Whether two users share a joined room now. */
export async function shareARoom(db: Db, a: string, b: string): Promise<boolean> {
  const row = await db
    .selectFrom('local_current_membership as x')
    .innerJoin('local_current_membership as y', 'y.room_id', 'x.room_id')
    .select('x.room_id')
    .where('x.user_id', '=', a)
    .where('x.membership', '=', 'join')
    .where('y.user_id', '=', b)
    .where('y.membership', '=', 'join')
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
