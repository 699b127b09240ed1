import type { Selectable } from 'kysely';
import type { Db } from '../database.js';
import type { UiAuthSessionsTable } from '../schema/tables.js';

export type UiaSessionRow = Selectable<UiAuthSessionsTable>;

export async function insertSession(db: Db, row: UiaSessionRow): Promise<void> {
  await db.insertInto('ui_auth_sessions').values(row).execute();
}

export async function getSession(db: Db, sessionId: string): Promise<UiaSessionRow | undefined> {
  return db.selectFrom('ui_auth_sessions').selectAll().where('session_id', '=', sessionId).executeTakeFirst();
}

export async function setClientdict(db: Db, sessionId: string, clientdict: string): Promise<void> {
  await db.updateTable('ui_auth_sessions').set({ clientdict }).where('session_id', '=', sessionId).execute();
}

export async function setServerdict(db: Db, sessionId: string, serverdict: string): Promise<boolean> {
  const res = await db.updateTable('ui_auth_sessions').set({ serverdict }).where('session_id', '=', sessionId).executeTakeFirst();
  return res.numUpdatedRows > 0n;
}

/** Completed stages of a session with their JSON results. */
export async function listCredentials(db: Db, sessionId: string): Promise<Array<{ stage_type: string; result: string }>> {
  return db.selectFrom('ui_auth_sessions_credentials').select(['stage_type', 'result']).where('session_id', '=', sessionId).execute();
}

export async function getCredential(db: Db, sessionId: string, stageType: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('ui_auth_sessions_credentials')
    .select('result')
    .where('session_id', '=', sessionId)
    .where('stage_type', '=', stageType)
    .executeTakeFirst();
  return row?.result;
}

/** Records a stage's first completion; a concurrent first completion raises the unique violation. */
export async function insertCredential(db: Db, sessionId: string, stageType: string, result: string): Promise<void> {
  await db.insertInto('ui_auth_sessions_credentials').values({ session_id: sessionId, stage_type: stageType, result }).execute();
}

/** Records a stage's completion, replacing an earlier result (Synapse keeps the latest). */
export async function upsertCredential(db: Db, sessionId: string, stageType: string, result: string): Promise<void> {
  await db
    .insertInto('ui_auth_sessions_credentials')
    .values({ session_id: sessionId, stage_type: stageType, result })
    .onConflict((oc) => oc.columns(['session_id', 'stage_type']).doUpdateSet({ result }))
    .execute();
}

export async function setCredentialResults(db: Db, sessionId: string, stageTypes: string[], result: string): Promise<void> {
  if (stageTypes.length === 0) return;
  await db
    .updateTable('ui_auth_sessions_credentials')
    .set({ result })
    .where('session_id', '=', sessionId)
    .where('stage_type', 'in', stageTypes)
    .execute();
}

/**
 * Deletes a session with its credentials; returns the credentials it held, or undefined when the
 * session was already gone (another request consumed or expired it first).
 */
export async function deleteSession(db: Db, sessionId: string): Promise<Array<{ stage_type: string; result: string }> | undefined> {
  const creds = await db
    .deleteFrom('ui_auth_sessions_credentials')
    .where('session_id', '=', sessionId)
    .returning(['stage_type', 'result'])
    .execute();
  const res = await db.deleteFrom('ui_auth_sessions').where('session_id', '=', sessionId).executeTakeFirst();
  return res.numDeletedRows > 0n ? creds : undefined;
}

/** IDs of sessions created before `cutoff` (ms), oldest first. */
export async function expiredSessionIds(db: Db, cutoff: number, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('ui_auth_sessions')
    .select('session_id')
    .where('creation_time', '<', cutoff)
    .orderBy('creation_time')
    .limit(limit)
    .execute();
  return rows.map((r) => r.session_id);
}
