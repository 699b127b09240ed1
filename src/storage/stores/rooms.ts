import type { Db } from '../database.js';

export async function roomIdForAlias(db: Db, alias: string): Promise<string | undefined> {
  const row = await db.selectFrom('room_aliases').select('room_id').where('room_alias', '=', alias).executeTakeFirst();
  return row?.room_id;
}

/** Adds an alias (room_aliases plus the server in room_alias_servers, as Synapse). */
export async function createAlias(db: Db, alias: string, roomId: string, creator: string, serverName: string): Promise<void> {
  await db.insertInto('room_aliases').values({ room_alias: alias, room_id: roomId, creator }).execute();
  await db.insertInto('room_alias_servers').values({ room_alias: alias, server: serverName }).execute();
}

/** Whether the room is in the public room directory (`rooms.is_public`). */
export async function setPublic(db: Db, roomId: string, isPublic: boolean): Promise<void> {
  await db.updateTable('rooms').set({ is_public: isPublic ? 1 : 0 }).where('room_id', '=', roomId).execute();
}

/** The rooms a local user is joined to now. */
export async function joinedRoomsOf(db: Db, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('local_current_membership')
    .select('room_id')
    .where('user_id', '=', userId)
    .where('membership', '=', 'join')
    .orderBy('event_stream_ordering')
    .execute();
  return rows.map((r) => r.room_id);
}
