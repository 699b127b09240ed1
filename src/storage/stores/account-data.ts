import type { Db } from '../database.js';

/** Global and per-room account data (JSON text). */

export async function deleteAllAccountData(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('account_data').where('user_id', '=', userId).execute();
  await db.deleteFrom('room_account_data').where('user_id', '=', userId).execute();
}
