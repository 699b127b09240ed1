import type { Db } from '../database.js';
import { prepared } from '../prepared.js';

/** What authentication needs from a token, joined to the (effective) user in one query. */
export interface TokenLookup {
  token_id: number;
  user_id: string;
  device_id: string | null;
  valid_until_ms: number | null;
  puppets_user_id: string | null;
  admin: number;
  is_guest: number;
  deactivated: number;
  locked: boolean | number;
  shadow_banned: boolean | number | null;
  suspended: boolean | number | null;
  /** Only looked up when account validity is on (`withExpiry`); undefined otherwise. */
  expiration_ts_ms?: number | null;
}

const tokenQuery = (db: Db, token: string) =>
  db
    .selectFrom('access_tokens as t')
    .innerJoin('users as u', (j) => j.onRef('u.name', '=', (eb) => eb.fn.coalesce('t.puppets_user_id', 't.user_id') as never))
    .select(['t.id as token_id', 't.user_id', 't.device_id', 't.valid_until_ms', 't.puppets_user_id', 'u.admin', 'u.is_guest', 'u.deactivated', 'u.locked', 'u.shadow_banned', 'u.suspended'])
    .where('t.token', '=', token);

// Prepared once: this runs on every authenticated request.
const byToken = prepared((db: Db, token: string) => tokenQuery(db, token));
// With account validity on, the expiry comes in through a join: still one query.
const byTokenWithExpiry = prepared((db: Db, token: string) =>
  tokenQuery(db, token).leftJoin('account_validity as av', 'av.user_id', 'u.name').select('av.expiration_ts_ms'),
);

/**
 * Looks a token up together with the effective user's flags (for a puppet token, the puppeted
 * user's). Read fresh on every request so operators' SQL edits of users take effect at once.
 */
export async function lookupToken(db: Db, token: string, opts: { withExpiry?: boolean } = {}): Promise<TokenLookup | undefined> {
  const rows = await (opts.withExpiry ? byTokenWithExpiry : byToken)(db, token);
  return rows[0] as TokenLookup | undefined;
}

export async function insertToken(
  db: Db,
  t: { userId: string; deviceId: string | null; token: string; validUntilMs?: number | null; puppetsUserId?: string | null },
): Promise<number> {
  const row = await db
    .insertInto('access_tokens')
    .values({
      user_id: t.userId,
      device_id: t.deviceId,
      token: t.token,
      valid_until_ms: t.validUntilMs ?? null,
      puppets_user_id: t.puppetsUserId ?? null,
      last_validated: Date.now(),
      refresh_token_id: null,
      used: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function deleteTokenById(db: Db, id: number): Promise<void> {
  await db.deleteFrom('access_tokens').where('id', '=', id).execute();
}

/** Deletes a user's tokens; `except` spares one token id (the caller's own). */
export async function deleteUserTokens(db: Db, userId: string, opts: { exceptTokenId?: number; deviceId?: string } = {}): Promise<void> {
  let q = db.deleteFrom('access_tokens').where('user_id', '=', userId);
  if (opts.exceptTokenId !== undefined) q = q.where('id', '!=', opts.exceptTokenId);
  if (opts.deviceId !== undefined) q = q.where('device_id', '=', opts.deviceId);
  await q.execute();
}

/** Deletes up to `limit` of the tokens a user owns; returns how many went (see inChunks). */
export async function deleteSomeUserTokens(db: Db, userId: string, limit: number): Promise<number> {
  // Keys first, then a delete by key (see deleteSomeDevices).
  const ids = (await db.selectFrom('access_tokens').select('id').where('user_id', '=', userId).limit(limit).execute()).map((r) => r.id);
  if (ids.length > 0) await db.deleteFrom('access_tokens').where('id', 'in', ids).execute();
  return ids.length;
}

export async function deleteTokensForDevices(db: Db, userId: string, deviceIds: string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  await db.deleteFrom('access_tokens').where('user_id', '=', userId).where('device_id', 'in', deviceIds).execute();
}
