import { sql } from 'kysely';
import type { Db } from '../database.js';

/** Synapse's `user_filters`: small integer IDs per user, starting at 0. */

export async function findFilterId(db: Db, fullUserId: string, json: string): Promise<number | undefined> {
  const row = await db
    .selectFrom('user_filters')
    .select('filter_id')
    .where('full_user_id', '=', fullUserId)
    .where('filter_json', '=', json)
    .executeTakeFirst();
  return row?.filter_id;
}

/** Stores a filter under the user's next ID and returns it (call in a transaction). */
export async function insertFilter(db: Db, localpart: string, fullUserId: string, json: string): Promise<number> {
  const row = await db
    .selectFrom('user_filters')
    .select(sql<number | null>`max(filter_id)`.as('m'))
    .where('full_user_id', '=', fullUserId)
    .executeTakeFirst();
  const id = row?.m === null || row?.m === undefined ? 0 : Number(row.m) + 1;
  await db.insertInto('user_filters').values({ user_id: localpart, full_user_id: fullUserId, filter_id: id, filter_json: json }).execute();
  return id;
}

export async function getFilter(db: Db, fullUserId: string, filterId: number): Promise<string | undefined> {
  const row = await db
    .selectFrom('user_filters')
    .select('filter_json')
    .where('full_user_id', '=', fullUserId)
    .where('filter_id', '=', filterId)
    .executeTakeFirst();
  return row?.filter_json;
}
