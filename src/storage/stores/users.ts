import type { Db } from '../database.js';
import { prepared } from '../prepared.js';
import type { UsersTable } from '../schema/tables.js';
import type { Selectable } from 'kysely';

export type UserRow = Selectable<UsersTable>;

export interface NewUser {
  name: string;
  passwordHash: string | null;
  creationTs: number;
  admin: boolean;
  userType: string | null;
  isGuest?: boolean;
  approved?: boolean | null;
  appserviceId?: string | null;
}

export async function getUser(db: Db, name: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
}

/** Finds a user by name ignoring case (Synapse refuses registrations that clash this way). */
export async function findUserCaseInsensitive(db: Db, name: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('users')
    .select('name')
    .where((eb) => eb(eb.fn('lower', ['name']), '=', name.toLowerCase()))
    .executeTakeFirst();
  return row?.name;
}

export async function insertUser(db: Db, u: NewUser): Promise<void> {
  await db
    .insertInto('users')
    .values({
      name: u.name,
      password_hash: u.passwordHash,
      creation_ts: u.creationTs,
      admin: u.admin ? 1 : 0,
      is_guest: u.isGuest ? 1 : 0,
      user_type: u.userType,
      approved: u.approved ?? null,
      appservice_id: u.appserviceId ?? null,
      upgrade_ts: null,
      consent_version: null,
      consent_server_notice_sent: null,
      shadow_banned: null,
      consent_ts: null,
    })
    .execute();
}

export async function setAdmin(db: Db, name: string, admin: boolean): Promise<void> {
  await db.updateTable('users').set({ admin: admin ? 1 : 0 }).where('name', '=', name).execute();
}

export async function setPasswordHash(db: Db, name: string, hash: string | null): Promise<void> {
  await db.updateTable('users').set({ password_hash: hash }).where('name', '=', name).execute();
}

export async function setDeactivated(db: Db, name: string, deactivated: boolean): Promise<void> {
  await db.updateTable('users').set({ deactivated: deactivated ? 1 : 0 }).where('name', '=', name).execute();
}

export async function setLocked(db: Db, name: string, locked: boolean): Promise<void> {
  await db.updateTable('users').set({ locked }).where('name', '=', name).execute();
}

export async function setUserType(db: Db, name: string, userType: string | null): Promise<void> {
  await db.updateTable('users').set({ user_type: userType }).where('name', '=', name).execute();
}

export async function setApproved(db: Db, name: string, approved: boolean): Promise<void> {
  await db.updateTable('users').set({ approved }).where('name', '=', name).execute();
}

export async function isErased(db: Db, name: string): Promise<boolean> {
  const row = await db.selectFrom('erased_users').select('user_id').where('user_id', '=', name).executeTakeFirst();
  return row !== undefined;
}

export async function markErased(db: Db, name: string): Promise<void> {
  await db.insertInto('erased_users').values({ user_id: name }).onConflict((oc) => oc.column('user_id').doNothing()).execute();
}

export async function unmarkErased(db: Db, name: string): Promise<void> {
  await db.deleteFrom('erased_users').where('user_id', '=', name).execute();
}

/** A user's row with what the admin view joins to it: profile, erasure and last activity. */
export interface UserViewRow extends UserRow {
  displayname: string | null;
  avatar_url: string | null;
  erased: number | null;
  device_last_seen: number | null;
  ip_last_seen: number | null;
}

// One prepared query for the single-user admin view (GET /_synapse/admin/v2/users/<id>).
const userView = prepared((db: Db, name: string) =>
  db
    .selectFrom('users as u')
    .leftJoin('profiles as p', 'p.full_user_id', 'u.name')
    .selectAll('u')
    .select(['p.displayname', 'p.avatar_url'])
    .select((eb) => [
      eb.selectFrom('erased_users as e').select(eb.lit(1).as('one')).whereRef('e.user_id', '=', 'u.name').as('erased'),
      eb.selectFrom('devices as d').select((e) => e.fn.max('d.last_seen').as('m')).whereRef('d.user_id', '=', 'u.name').as('device_last_seen'),
      eb.selectFrom('user_ips as i').select((e) => e.fn.max('i.last_seen').as('m')).whereRef('i.user_id', '=', 'u.name').as('ip_last_seen'),
    ])
    .where('u.name', '=', name),
);

export async function getUserView(db: Db, name: string): Promise<UserViewRow | undefined> {
  return (await userView(db, name))[0] as UserViewRow | undefined;
}
