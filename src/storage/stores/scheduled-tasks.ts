import type { Db } from '../database.js';

/** A row of `scheduled_tasks` with its JSON columns parsed. */
export interface TaskRow {
  id: string;
  action: string;
  status: string;
  timestamp: number;
  resourceId: string | null;
  params: Record<string, unknown> | null;
  result: Record<string, unknown> | null;
  error: string | null;
}

interface RawRow {
  id: string;
  action: string;
  status: string;
  timestamp: number | string;
  resource_id: string | null;
  params: string | null;
  result: string | null;
  error: string | null;
}

const parse = (text: string | null) => (text === null ? null : (JSON.parse(text) as Record<string, unknown>));

function toTask(r: RawRow): TaskRow {
  return {
    id: r.id,
    action: r.action,
    status: r.status,
    timestamp: Number(r.timestamp),
    resourceId: r.resource_id,
    params: parse(r.params),
    result: parse(r.result),
    error: r.error,
  };
}

const COLUMNS = ['id', 'action', 'status', 'timestamp', 'resource_id', 'params', 'result', 'error'] as const;

export async function insertTask(db: Db, t: TaskRow): Promise<void> {
  await db
    .insertInto('scheduled_tasks')
    .values({
      id: t.id,
      action: t.action,
      status: t.status,
      timestamp: t.timestamp,
      resource_id: t.resourceId,
      params: t.params === null ? null : JSON.stringify(t.params),
      result: t.result === null ? null : JSON.stringify(t.result),
      error: t.error,
    })
    .execute();
}

/** Updates a task's status, result and error; `timestamp` is the time of this change (Synapse). */
export async function updateTask(db: Db, id: string, change: { status?: string; result?: Record<string, unknown> | null; error?: string | null; timestamp: number }): Promise<void> {
  const set: Record<string, unknown> = { timestamp: change.timestamp };
  if (change.status !== undefined) set.status = change.status;
  if (change.result !== undefined) set.result = change.result === null ? null : JSON.stringify(change.result);
  if (change.error !== undefined) set.error = change.error;
  await db.updateTable('scheduled_tasks').set(set).where('id', '=', id).execute();
}

export async function getTask(db: Db, id: string): Promise<TaskRow | undefined> {
  const row = await db.selectFrom('scheduled_tasks').select(COLUMNS).where('id', '=', id).executeTakeFirst();
  return row ? toTask(row as RawRow) : undefined;
}

export interface TaskFilter {
  actions?: readonly string[];
  resourceId?: string;
  statuses?: readonly string[];
  maxTimestamp?: number;
}

/** Tasks matching every given filter, oldest first. */
export async function listTasks(db: Db, f: TaskFilter): Promise<TaskRow[]> {
  let q = db.selectFrom('scheduled_tasks').select(COLUMNS);
  if (f.actions) q = q.where('action', 'in', [...f.actions]);
  if (f.resourceId !== undefined) q = q.where('resource_id', '=', f.resourceId);
  if (f.statuses) q = q.where('status', 'in', [...f.statuses]);
  if (f.maxTimestamp !== undefined) q = q.where('timestamp', '<=', f.maxTimestamp);
  const rows = await q.orderBy('timestamp').orderBy('id').execute();
  return rows.map((r) => toTask(r as RawRow));
}

/** Removes finished tasks whose last change is older than `before` (ms). */
export async function deleteFinishedBefore(db: Db, before: number): Promise<number> {
  const r = await db.deleteFrom('scheduled_tasks').where('status', 'in', ['complete', 'failed', 'cancelled']).where('timestamp', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}
