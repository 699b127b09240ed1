import type { Selectable } from 'kysely';
import type { Db } from '../database.js';
import type { RegistrationTokensTable } from '../schema/tables.js';

export type RegistrationTokenRow = Selectable<RegistrationTokensTable>;

const COLUMNS = ['token', 'uses_allowed', 'pending', 'completed', 'expiry_time'] as const;

/**
 * All tokens, or only the usable (`valid: true`) or unusable ones. Usable: uses left
 * (`pending + completed < uses_allowed`, NULL = unlimited) and not expired (`expiry_time > now`).
 */
export async function listTokens(db: Db, filter: { valid?: boolean; now: number }): Promise<RegistrationTokenRow[]> {
  let q = db.selectFrom('registration_tokens').select(COLUMNS).orderBy('token');
  if (filter.valid === true) {
    q = q
      .where((eb) => eb.or([eb('uses_allowed', 'is', null), eb(eb('pending', '+', eb.ref('completed')), '<', eb.ref('uses_allowed'))]))
      .where((eb) => eb.or([eb('expiry_time', 'is', null), eb('expiry_time', '>', filter.now)]));
  } else if (filter.valid === false) {
    // NULL comparisons are false, so a NULL limit or expiry never makes a token unusable.
    q = q.where((eb) => eb.or([eb(eb('pending', '+', eb.ref('completed')), '>=', eb.ref('uses_allowed')), eb('expiry_time', '<=', filter.now)]));
  }
  return q.execute();
}

export async function getToken(db: Db, token: string): Promise<RegistrationTokenRow | undefined> {
  return db.selectFrom('registration_tokens').select(COLUMNS).where('token', '=', token).executeTakeFirst();
}

/** Inserts a new token with no uses; a duplicate raises the driver's unique violation. */
export async function insertToken(db: Db, t: { token: string; usesAllowed: number | null; expiryTime: number | null }): Promise<void> {
  await db
    .insertInto('registration_tokens')
    .values({ token: t.token, uses_allowed: t.usesAllowed, pending: 0, completed: 0, expiry_time: t.expiryTime })
    .execute();
}

/** Sets the given attributes; returns the updated row, or undefined for an unknown token. */
export async function updateToken(
  db: Db,
  token: string,
  values: { uses_allowed?: number | null; expiry_time?: number | null },
): Promise<RegistrationTokenRow | undefined> {
  return db.updateTable('registration_tokens').set(values).where('token', '=', token).returning(COLUMNS).executeTakeFirst();
}

export async function deleteToken(db: Db, token: string): Promise<boolean> {
  const res = await db.deleteFrom('registration_tokens').where('token', '=', token).executeTakeFirst();
  return res.numDeletedRows > 0n;
}

/**
 * Takes one use of a token for a registration in progress (`pending + 1`) if it is usable at
 * `now`. One conditional UPDATE, so concurrent callers can never take more uses than allowed.
 */
export async function reserveUse(db: Db, token: string, now: number): Promise<boolean> {
  const res = await db
    .updateTable('registration_tokens')
    .set((eb) => ({ pending: eb('pending', '+', 1) }))
    .where('token', '=', token)
    .where((eb) => eb.or([eb('uses_allowed', 'is', null), eb(eb('pending', '+', eb.ref('completed')), '<', eb.ref('uses_allowed'))]))
    .where((eb) => eb.or([eb('expiry_time', 'is', null), eb('expiry_time', '>', now)]))
    .executeTakeFirst();
  return res.numUpdatedRows > 0n;
}

/** Gives back a use taken by `reserveUse` whose registration was abandoned. */
export async function releaseUse(db: Db, token: string): Promise<void> {
  await db
    .updateTable('registration_tokens')
    .set((eb) => ({ pending: eb('pending', '-', 1) }))
    .where('token', '=', token)
    .where('pending', '>', 0)
    .execute();
}

/** Turns a reserved use into a completed one (`pending - 1`, `completed + 1`). */
export async function completeUse(db: Db, token: string): Promise<void> {
  await db
    .updateTable('registration_tokens')
    .set((eb) => ({
      pending: eb.case().when('pending', '>', 0).then(eb('pending', '-', 1)).else(0).end(),
      completed: eb('completed', '+', 1),
    }))
    .where('token', '=', token)
    .execute();
}
