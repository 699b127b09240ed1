import type { Db } from '../database.js';

/** Per-user moderation switches: shadow-ban, experimental features, account validity. */

/** Sets `users.shadow_banned`; false when no such user (nothing updated). */
export async function setShadowBanned(db: Db, userId: string, banned: boolean): Promise<boolean> {
  const res = await db.updateTable('users').set({ shadow_banned: banned }).where('name', '=', userId).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

export async function enabledFeatures(db: Db, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('per_user_experimental_features')
    .select(['feature', 'enabled'])
    .where('user_id', '=', userId)
    .execute();
  return rows.filter((r) => Boolean(r.enabled)).map((r) => r.feature);
}

export async function setFeature(db: Db, userId: string, feature: string, enabled: boolean): Promise<void> {
  await db
    .insertInto('per_user_experimental_features')
    .values({ user_id: userId, feature, enabled })
    .onConflict((oc) => oc.columns(['user_id', 'feature']).doUpdateSet({ enabled }))
    .execute();
}

export interface AccountValidity {
  userId: string;
  expirationTsMs: number;
  emailSent: boolean;
  renewalToken: string | null;
  tokenUsedTsMs: number | null;
}

export async function setAccountValidity(db: Db, v: AccountValidity): Promise<void> {
  const values = {
    expiration_ts_ms: v.expirationTsMs,
    email_sent: v.emailSent,
    renewal_token: v.renewalToken,
    token_used_ts_ms: v.tokenUsedTsMs,
  };
  await db
    .insertInto('account_validity')
    .values({ user_id: v.userId, ...values })
    .onConflict((oc) => oc.column('user_id').doUpdateSet(values))
    .execute();
}

export async function getExpiration(db: Db, userId: string): Promise<number | undefined> {
  const row = await db.selectFrom('account_validity').select('expiration_ts_ms').where('user_id', '=', userId).executeTakeFirst();
  return row === undefined ? undefined : Number(row.expiration_ts_ms);
}
