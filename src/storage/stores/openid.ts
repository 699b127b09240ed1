import type { Db } from '../database.js';
import type {} from '../schema/openid-tables.js';

/** OpenID bearer tokens (`open_id_tokens`, Synapse's table): issued to a local user, valid until a time. */

export async function insertToken(db: Db, token: string, userId: string, validUntilMs: number): Promise<void> {
  await db.insertInto('open_id_tokens').values({ token, user_id: userId, ts_valid_until_ms: validUntilMs }).execute();
}

/** Removes tokens that expired before `nowMs` (kept small: tokens live an hour). */
export async function deleteExpired(db: Db, nowMs: number): Promise<void> {
  await db.deleteFrom('open_id_tokens').where('ts_valid_until_ms', '<', nowMs).execute();
}

/** The user of a token still valid at `nowMs`, if that user is not deactivated. */
export async function userOfToken(db: Db, token: string, nowMs: number): Promise<string | undefined> {
  const row = await db
    .selectFrom('open_id_tokens as o')
    .innerJoin('users as u', 'u.name', 'o.user_id')
    .select('o.user_id')
    .where('o.token', '=', token)
    .where('o.ts_valid_until_ms', '>', nowMs)
    .where('u.deactivated', '=', 0)
    .executeTakeFirst();
  return row?.user_id;
}
