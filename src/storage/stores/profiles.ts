import type { Selectable } from 'kysely';
import type { Db } from '../database.js';
import type { ProfilesTable } from '../schema/tables.js';

export type ProfileRow = Selectable<ProfilesTable>;

export async function getProfile(db: Db, fullUserId: string): Promise<ProfileRow | undefined> {
  return db.selectFrom('profiles').selectAll().where('full_user_id', '=', fullUserId).executeTakeFirst();
}

/** Creates the profile row if missing (the key is the localpart, as in Synapse). */
export async function ensureProfile(db: Db, localpart: string, fullUserId: string, displayname: string | null): Promise<void> {
  await db
    .insertInto('profiles')
    .values({ user_id: localpart, full_user_id: fullUserId, displayname, avatar_url: null })
    .onConflict((oc) => oc.column('user_id').doNothing())
    .execute();
}

export async function setDisplayname(db: Db, fullUserId: string, displayname: string | null): Promise<void> {
  await db.updateTable('profiles').set({ displayname }).where('full_user_id', '=', fullUserId).execute();
}

export async function setAvatarUrl(db: Db, fullUserId: string, avatarUrl: string | null): Promise<void> {
  await db.updateTable('profiles').set({ avatar_url: avatarUrl }).where('full_user_id', '=', fullUserId).execute();
}

export async function deleteProfile(db: Db, fullUserId: string): Promise<void> {
  await db.deleteFrom('profiles').where('full_user_id', '=', fullUserId).execute();
}
