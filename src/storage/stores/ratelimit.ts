import type { Db } from '../database.js';

/** Per-user overrides of the message rate limiter (Synapse's `ratelimit_override`). */

export interface RatelimitOverride {
  messagesPerSecond: number | null;
  burstCount: number | null;
}

export async function getOverride(db: Db, userId: string): Promise<RatelimitOverride | undefined> {
  const row = await db
    .selectFrom('ratelimit_override')
    .select(['messages_per_second', 'burst_count'])
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!row) return undefined;
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return { messagesPerSecond: num(row.messages_per_second), burstCount: num(row.burst_count) };
}

export async function setOverride(db: Db, userId: string, messagesPerSecond: number, burstCount: number): Promise<void> {
  await db
    .insertInto('ratelimit_override')
    .values({ user_id: userId, messages_per_second: messagesPerSecond, burst_count: burstCount })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ messages_per_second: messagesPerSecond, burst_count: burstCount }))
    .execute();
}

export async function deleteOverride(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('ratelimit_override').where('user_id', '=', userId).execute();
}
