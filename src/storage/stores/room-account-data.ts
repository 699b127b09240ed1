import type { Db } from '../database.js';
import type {} from '../schema/presence-tables.js';

/** A user's room account data and tags in one room (for the legacy room initialSync). */
export async function roomAccountData(db: Db, userId: string, roomId: string): Promise<{ data: Array<{ type: string; content: string }>; tags: Array<{ tag: string; content: string }> }> {
  const [data, tags] = await Promise.all([
    db.selectFrom('room_account_data').select(['account_data_type', 'content']).where('user_id', '=', userId).where('room_id', '=', roomId).execute(),
    db.selectFrom('room_tags').select(['tag', 'content']).where('user_id', '=', userId).where('room_id', '=', roomId).execute(),
  ]);
  return { data: data.map((d) => ({ type: d.account_data_type, content: d.content })), tags };
}
