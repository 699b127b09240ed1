import { sql } from 'kysely';
import type { Db } from '../database.js';
import type {} from '../schema/presence-tables.js';

/** Global and per-room account data (JSON text). */

export async function deleteAllAccountData(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('account_data').where('user_id', '=', userId).execute();
  await db.deleteFrom('room_account_data').where('user_id', '=', userId).execute();
  await db.deleteFrom('room_tags').where('user_id', '=', userId).execute();
  await db.deleteFrom('room_tags_revisions').where('user_id', '=', userId).execute();
}

/**
 * The highest position of the account-data stream stored so far: global and per-room account
 * data and room tag changes share the stream, as in Synapse.
 */
export async function maxStreamId(db: Db): Promise<number> {
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
      eb
        .selectFrom('room_tags_revisions')
        .select(sql<number>`coalesce(max(stream_id), 0)`.as('m'))
        .as('t'),
    ])
    .executeTakeFirstOrThrow();
  return Math.max(Number(row.g ?? 0), Number(row.r ?? 0), Number(row.t ?? 0));
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

/** A user's global account data written in (from, to]. */
export async function globalChanged(db: Db, userId: string, from: number, to: number): Promise<Array<{ account_data_type: string; content: string }>> {
  return db
    .selectFrom('account_data')
    .select(['account_data_type', 'content'])
    .where('user_id', '=', userId)
    .where('stream_id', '>', from)
    .where('stream_id', '<=', to)
    .orderBy('stream_id')
    .execute();
}

/** A user's per-room account data written in (from, to]. */
export async function roomChanged(db: Db, userId: string, from: number, to: number): Promise<Array<{ room_id: string; account_data_type: string; content: string }>> {
  return db
    .selectFrom('room_account_data')
    .select(['room_id', 'account_data_type', 'content'])
    .where('user_id', '=', userId)
    .where('stream_id', '>', from)
    .where('stream_id', '<=', to)
    .orderBy('stream_id')
    .execute();
}

/** Rooms whose tags (of userId) changed in (from, to]. */
export async function tagRoomsChanged(db: Db, userId: string, from: number, to: number): Promise<string[]> {
  const rows = await db
    .selectFrom('room_tags_revisions')
    .select('room_id')
    .where('user_id', '=', userId)
    .where('stream_id', '>', from)
    .where('stream_id', '<=', to)
    .execute();
  return rows.map((r) => r.room_id);
}

/** A user's tags, in one room or all rooms: rows of (room, tag, JSON content). */
export async function tagsOf(db: Db, userId: string, roomId?: string): Promise<Array<{ room_id: string; tag: string; content: string }>> {
  let q = db.selectFrom('room_tags').select(['room_id', 'tag', 'content']).where('user_id', '=', userId);
  if (roomId !== undefined) q = q.where('room_id', '=', roomId);
  return q.orderBy('room_id').orderBy('tag').execute();
}

/** Adds or replaces one tag. */
export async function putTag(db: Db, userId: string, roomId: string, tag: string, content: string): Promise<void> {
  await db
    .insertInto('room_tags')
    .values({ user_id: userId, room_id: roomId, tag, content })
    .onConflict((oc) => oc.columns(['user_id', 'room_id', 'tag']).doUpdateSet({ content }))
    .execute();
}

/** Removes one tag; whether it was there. */
export async function deleteTag(db: Db, userId: string, roomId: string, tag: string): Promise<boolean> {
  const r = await db.deleteFrom('room_tags').where('user_id', '=', userId).where('room_id', '=', roomId).where('tag', '=', tag).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Records that the user's tags of a room changed at `streamId`. */
export async function bumpTagRevision(db: Db, userId: string, roomId: string, streamId: number): Promise<void> {
  await db
    .insertInto('room_tags_revisions')
    .values({ user_id: userId, room_id: roomId, stream_id: streamId, instance_name: null })
    .onConflict((oc) => oc.columns(['user_id', 'room_id']).doUpdateSet({ stream_id: streamId }))
    .execute();
}
