import type { Db } from '../database.js';
import { dialectOf, fromJson, lockingRows, jsonArrayAgg, jsonObject, jsonRows, jsonSubquery } from '../dialect.js';
import { prepared } from '../prepared.js';
import type { UsersTable } from '../schema/tables.js';
import type { Selectable } from 'kysely';
import type { ExternalIdRow, ThreepidRow } from './identities.js';

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

/**
 * The account's state inside a writing transaction, its row locked until the transaction ends:
 * transactions that change a user's rows take this lock first, so they queue in one order
 * (a login opening a session waits for a deactivation in progress, then sees it).
 */
export async function lockUser(tx: Db, name: string): Promise<Pick<UserRow, 'name' | 'deactivated' | 'locked'> | undefined> {
  return lockingRows(tx, tx.selectFrom('users').select(['name', 'deactivated', 'locked']).where('name', '=', name)).executeTakeFirst();
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

/** A user's row with what the admin view joins to it: profile, erasure, last activity, 3PIDs, external IDs. */
export interface UserViewRow extends UserRow {
  displayname: string | null;
  avatar_url: string | null;
  erased: number | null;
  device_last_seen: number | null;
  ip_last_seen: number | null;
  threepids: ThreepidRow[];
  external_ids: ExternalIdRow[];
}

/** Every column of `users`, checked by the compiler against the table, so the view misses none. */
const USER_COLUMNS = Object.keys({
  name: 1, password_hash: 1, creation_ts: 1, admin: 1, upgrade_ts: 1, is_guest: 1, appservice_id: 1, consent_version: 1,
  consent_server_notice_sent: 1, user_type: 1, deactivated: 1, shadow_banned: 1, consent_ts: 1, approved: 1, locked: 1, suspended: 1,
} satisfies Record<keyof UsersTable, 1>) as Array<keyof UsersTable>;

/**
 * The single-user admin view (GET /_synapse/admin/v2/users/<id>) as one prepared query returning
 * one JSON value: the user's row, profile, erasure, last activity, 3PIDs and external IDs. One
 * round trip, and one column for the driver to decode instead of two dozen.
 */
const userView = prepared((db: Db, name: string) => {
  const dialect = dialectOf(db);
  return db
    .selectFrom('users as u')
    .leftJoin('profiles as p', 'p.full_user_id', 'u.name')
    .select((eb) =>
      jsonObject(dialect, {
        ...Object.fromEntries(USER_COLUMNS.map((c) => [c, eb.ref(`u.${c}`)])),
        displayname: eb.ref('p.displayname'),
        avatar_url: eb.ref('p.avatar_url'),
        erased: eb.selectFrom('erased_users as e').select(eb.lit(1).as('one')).whereRef('e.user_id', '=', 'u.name'),
        device_last_seen: eb.selectFrom('devices as d').select((e) => e.fn.max('d.last_seen').as('m')).whereRef('d.user_id', '=', 'u.name'),
        ip_last_seen: eb.selectFrom('user_ips as i').select((e) => e.fn.max('i.last_seen').as('m')).whereRef('i.user_id', '=', 'u.name'),
        threepids: jsonSubquery(
          dialect,
          eb
            .selectFrom('user_threepids as t')
            .select((e) =>
              jsonArrayAgg(
                dialect,
                { medium: e.ref('t.medium'), address: e.ref('t.address'), validated_at: e.ref('t.validated_at'), added_at: e.ref('t.added_at') },
                [e.ref('t.medium'), e.ref('t.address')],
              ).as('j'),
            )
            .whereRef('t.user_id', '=', 'u.name'),
        ),
        external_ids: jsonSubquery(
          dialect,
          eb
            .selectFrom('user_external_ids as x')
            .select((e) =>
              jsonArrayAgg(dialect, { auth_provider: e.ref('x.auth_provider'), external_id: e.ref('x.external_id') }, [
                e.ref('x.auth_provider'),
                e.ref('x.external_id'),
              ]).as('j'),
            )
            .whereRef('x.user_id', '=', 'u.name'),
        ),
      }).as('v'),
    )
    .where('u.name', '=', name);
});

export async function getUserView(db: Db, name: string): Promise<UserViewRow | undefined> {
  const row = (await userView(db, name))[0];
  if (row === undefined) return undefined;
  const view = fromJson<Omit<UserViewRow, 'threepids' | 'external_ids'> & { threepids: unknown; external_ids: unknown }>(row.v);
  const threepids = jsonRows<Omit<ThreepidRow, 'user_id'>>(view.threepids).map((t) => ({ user_id: name, ...t }));
  const externalIds = jsonRows<Omit<ExternalIdRow, 'user_id'>>(view.external_ids).map((x) => ({ user_id: name, ...x }));
  return { ...view, threepids, external_ids: externalIds };
}
