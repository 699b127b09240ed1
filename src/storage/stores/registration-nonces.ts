import type { Db } from '../database.js';

export async function insertNonce(db: Db, nonce: string, now: number): Promise<void> {
  await db.insertInto('registration_nonces').values({ nonce, created_ts: now }).execute();
}

/** Consumes a nonce created after `notBefore`: true once, for the first caller only. */
export async function takeNonce(db: Db, nonce: string, notBefore: number): Promise<boolean> {
  const res = await db.deleteFrom('registration_nonces').where('nonce', '=', nonce).where('created_ts', '>', notBefore).executeTakeFirst();
  return res.numDeletedRows > 0n;
}

export async function deleteNoncesBefore(db: Db, cutoff: number): Promise<void> {
  await db.deleteFrom('registration_nonces').where('created_ts', '<=', cutoff).execute();
}

/** Keeps the `keep` newest nonces and deletes the rest (oldest first out). */
export async function trimNonces(db: Db, keep: number): Promise<void> {
  const edge = await db
    .selectFrom('registration_nonces')
    .select(['created_ts', 'nonce'])
    .orderBy('created_ts', 'desc')
    .orderBy('nonce', 'desc')
    .limit(1)
    .offset(keep)
    .executeTakeFirst();
  if (!edge) return;
  await db
    .deleteFrom('registration_nonces')
    .where((eb) => eb.or([eb('created_ts', '<', edge.created_ts), eb.and([eb('created_ts', '=', edge.created_ts), eb('nonce', '<=', edge.nonce)])]))
    .execute();
}
