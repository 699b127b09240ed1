import { sql } from 'kysely';
import type { Db } from '../database.js';

/** Global and per-room account data (JSON text). */

export async function deleteAllAccountData(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('account_data').where('user_id', '=', userId).execute();
  await db.deleteFrom('room_account_data').where('user_id', '=', userId).execute();
}

/**
 * The next position of the account-data stream, shared by global and room account data as in
 * Synapse. Call inside the writing transaction.
 */
export async function nextStreamId(db: Db): Promise<number> {
  const row = await db
    .selectNoFrom((eb) => [
      eb
        .selectFrom('account_data')
        .select(sql<number>`coalesce(max(stream_id), 0)`.as('m'))
        .as('g'),
      eb
        .selectFrom('room_account_data')
        .select(sql<number>`coalesce(max(stream_id), 0)`.as('m'))
        .as('r'),
    ])
    .executeTakeFirstOrThrow();
  return Math.max(Number(row.g ?? 0), Number(row.r ?? 0)) + 1;
}

export async function putGlobal(db: Db, userId: string, type: string, content: string, streamId: number): Promise<void> {
  await db
    .insertInto('account_data')
    .values({ user_id: userId, account_data_type: type, content, stream_id: streamId })
    .onConflict((oc) => oc.columns(['user_id', 'account_data_type']).doUpdateSet({ content, stream_id: streamId }))
    .execute();
}

export async function putRoom(db: Db, userId: string, roomId: string, type: string, content: string, streamId: number): Promise<void> {
  await db
    .insertInto('room_account_data')
    .values({ user_id: userId, room_id: roomId, account_data_type: type, content, stream_id: streamId })
    .onConflict((oc) => oc.columns(['user_id', 'room_id', 'account_data_type']).doUpdateSet({ content, stream_id: streamId }))
    .execute();
}

export async function getGlobal(db: Db, userId: string, type: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('account_data')
    .select('content')
    .where('user_id', '=', userId)
    .where('account_data_type', '=', type)
    .executeTakeFirst();
  return row?.content;
}

export async function getRoom(db: Db, userId: string, roomId: string, type: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('room_account_data')
    .select('content')
    .where('user_id', '=', userId)
    .where('room_id', '=', roomId)
    .where('account_data_type', '=', type)
    .executeTakeFirst();
  return row?.content;
}

export async function listGlobal(db: Db, userId: string): Promise<Array<{ account_data_type: string; content: string }>> {
  return db
    .selectFrom('account_data')
    .select(['account_data_type', 'content'])
    .where('user_id', '=', userId)
    .orderBy('stream_id')
    .execute();
}

export async function listRoom(db: Db, userId: string): Promise<Array<{ room_id: string; account_data_type: string; content: string }>> {
  return db
    .selectFrom('room_account_data')
    .select(['room_id', 'account_data_type', 'content'])
    .where('user_id', '=', userId)
    .orderBy('stream_id')
    .execute();
}
