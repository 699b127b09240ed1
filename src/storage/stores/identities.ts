import type { Selectable } from 'kysely';
import type { Db } from '../database.js';
import { prepared } from '../prepared.js';
import type { UserExternalIdsTable, UserThreepidsTable } from '../schema/tables.js';

/** Third-party identifiers (e-mail, phone) and SSO external IDs bound to local users. */

export type ThreepidRow = Selectable<UserThreepidsTable>;
export type ExternalIdRow = Selectable<UserExternalIdsTable>;

const threepidsOf = prepared((db: Db, userId: string) =>
  db.selectFrom('user_threepids').selectAll().where('user_id', '=', userId).orderBy('medium').orderBy('address'),
);

export async function listThreepids(db: Db, userId: string): Promise<ThreepidRow[]> {
  return threepidsOf(db, userId) as Promise<ThreepidRow[]>;
}

export async function addThreepid(db: Db, userId: string, medium: string, address: string, now: number): Promise<void> {
  await db
    .insertInto('user_threepids')
    .values({ user_id: userId, medium, address, validated_at: now, added_at: now })
    .onConflict((oc) => oc.columns(['medium', 'address']).doUpdateSet({ user_id: userId, validated_at: now, added_at: now }))
    .execute();
}

export async function deleteThreepid(db: Db, userId: string, medium: string, address: string): Promise<void> {
  await db.deleteFrom('user_threepids').where('user_id', '=', userId).where('medium', '=', medium).where('address', '=', address).execute();
}

export async function deleteAllThreepids(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('user_threepids').where('user_id', '=', userId).execute();
}

export async function findUserByThreepid(db: Db, medium: string, address: string): Promise<string | undefined> {
  const row = await db.selectFrom('user_threepids').select('user_id').where('medium', '=', medium).where('address', '=', address).executeTakeFirst();
  return row?.user_id;
}

export async function findUserByExternalId(db: Db, authProvider: string, externalId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('user_external_ids')
    .select('user_id')
    .where('auth_provider', '=', authProvider)
    .where('external_id', '=', externalId)
    .executeTakeFirst();
  return row?.user_id;
}

export async function replaceExternalIds(db: Db, userId: string, ids: Array<{ auth_provider: string; external_id: string }>): Promise<void> {
  await db.deleteFrom('user_external_ids').where('user_id', '=', userId).execute();
  if (ids.length === 0) return;
  await db
    .insertInto('user_external_ids')
    .values(ids.map((i) => ({ user_id: userId, auth_provider: i.auth_provider, external_id: i.external_id })))
    .execute();
}
