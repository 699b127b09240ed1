import type { Db } from '../database.js';

/**
 * Writes behind an account's lifecycle that no other store covers: suspension, and the clean-up
 * that deactivation and session teardown do in tables owned by other features (pushers, account
 * validity).
 */

export async function setSuspended(db: Db, userId: string, suspended: boolean): Promise<void> {
  await db.updateTable('users').set({ suspended }).where('name', '=', userId).execute();
}

/** Deletes every pusher of a user (e-mail pushers included), as deactivation does. */
export async function deletePushersOfUser(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('pushers').where('user_name', '=', userId).execute();
}

/**
 * Deletes the pushers that belong to some of a user's devices: created through one of the
 * devices' access tokens or tagged with the device. Run before the tokens themselves go.
 */
export async function deletePushersOfDevices(db: Db, userId: string, deviceIds: string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  await db
    .deleteFrom('pushers')
    .where('user_name', '=', userId)
    .where((eb) =>
      eb.or([
        eb('device_id', 'in', deviceIds),
        eb(
          'access_token',
          'in',
          eb.selectFrom('access_tokens').select('id').where('user_id', '=', userId).where('device_id', 'in', deviceIds),
        ),
      ]),
    )
    .execute();
}

/** Deletes the pushers created through a user's tokens, except through the one token spared. */
export async function deletePushersOfTokens(db: Db, userId: string, exceptTokenId?: number): Promise<void> {
  await db
    .deleteFrom('pushers')
    .where('user_name', '=', userId)
    .where('access_token', 'in', (eb) => {
      let q = eb.selectFrom('access_tokens').select('id').where('user_id', '=', userId);
      if (exceptTokenId !== undefined) q = q.where('id', '!=', exceptTokenId);
      return q;
    })
    .execute();
}

export async function deleteAccountValidity(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('account_validity').where('user_id', '=', userId).execute();
}

/** Deletes the pushers registered through one token (on logout of a device-less token). */
export async function deletePushersOfToken(db: Db, tokenId: number): Promise<void> {
  await db.deleteFrom('pushers').where('access_token', '=', tokenId).execute();
}
