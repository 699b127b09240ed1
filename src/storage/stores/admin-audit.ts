import type { Db } from '../database.js';

export interface AuditEntry {
  ts: number;
  userId: string | null;
  authenticatedBy: string | null;
  method: string;
  path: string;
  target: string | null;
  status: number;
  requestId: string | null;
}

export interface AuditRow {
  id: number | string;
  ts: number | string;
  user_id: string | null;
  authenticated_by: string | null;
  method: string;
  path: string;
  target: string | null;
  status: number | string;
  request_id: string | null;
}

export async function insertEntries(db: Db, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db
    .insertInto('admin_audit_log')
    .values(
      entries.map((e) => ({
        ts: e.ts,
        user_id: e.userId,
        authenticated_by: e.authenticatedBy,
        method: e.method,
        path: e.path,
        target: e.target,
        status: e.status,
        request_id: e.requestId,
      })),
    )
    .execute();
}

export interface AuditFilter {
  from: number;
  limit: number;
  dir: 'f' | 'b';
  /** The admin who called, exact. */
  userId?: string;
  /** The user or room acted on, exact. */
  target?: string;
}

export async function listEntries(db: Db, f: AuditFilter): Promise<{ rows: AuditRow[]; total: number }> {
  let base = db.selectFrom('admin_audit_log');
  if (f.userId !== undefined) base = base.where('user_id', '=', f.userId);
  if (f.target !== undefined) base = base.where('target', '=', f.target);
  const [rows, count] = await Promise.all([
    base
      .select(['id', 'ts', 'user_id', 'authenticated_by', 'method', 'path', 'target', 'status', 'request_id'])
      .orderBy('id', f.dir === 'b' ? 'desc' : 'asc')
      .limit(f.limit)
      .offset(f.from)
      .execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}
