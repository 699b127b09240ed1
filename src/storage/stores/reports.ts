import { sql, type Expression, type SqlBool } from 'kysely';
import type { Db } from '../database.js';

/** Event, room and user reports (Synapse's `event_reports`, `room_reports`, `user_reports`). */

/** `column LIKE %term%` with the term taken literally (Synapse's substring filters). */
const contains = (column: string, term: string): Expression<SqlBool> =>
  sql<SqlBool>`${sql.ref(column)} LIKE ${`%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} ESCAPE '\\'`;

export async function addEventReport(db: Db, r: { receivedTs: number; roomId: string; eventId: string; userId: string; reason: string | null; content: string }): Promise<number> {
  const row = await db
    .insertInto('event_reports')
    .values({ received_ts: r.receivedTs, room_id: r.roomId, event_id: r.eventId, user_id: r.userId, reason: r.reason, content: r.content })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function addRoomReport(db: Db, r: { receivedTs: number; roomId: string; userId: string; reason: string }): Promise<void> {
  await db.insertInto('room_reports').values({ received_ts: r.receivedTs, room_id: r.roomId, user_id: r.userId, reason: r.reason }).execute();
}

export async function addUserReport(db: Db, r: { receivedTs: number; targetUserId: string; userId: string; reason: string }): Promise<void> {
  await db.insertInto('user_reports').values({ received_ts: r.receivedTs, target_user_id: r.targetUserId, user_id: r.userId, reason: r.reason }).execute();
}

export interface EventReportRow {
  id: number | string;
  received_ts: number | string;
  room_id: string;
  event_id: string;
  user_id: string;
  reason: string | null;
  content: string | null;
  sender: string | null;
  name: string | null;
  canonical_alias: string | null;
}

export interface EventReportFilter {
  from: number;
  limit: number;
  dir: 'f' | 'b';
  /** Reporter, substring. */
  userId?: string;
  /** Room, substring. */
  roomId?: string;
  /** Sender of the reported event, exact. */
  eventSender?: string;
}

/**
 * Reports joined to the reported event (its sender; null once the event is gone) and to the
 * room's statistics (name, alias). As Synapse, a report of a room with no statistics row is not
 * listed (nor counted).
 */
function eventReportsBase(db: Db, f: Omit<EventReportFilter, 'from' | 'limit' | 'dir'>) {
  let q = db
    .selectFrom('event_reports as er')
    .innerJoin('room_stats_state as rs', 'rs.room_id', 'er.room_id')
    .leftJoin('events as e', 'e.event_id', 'er.event_id');
  if (f.userId !== undefined) q = q.where(contains('er.user_id', f.userId));
  if (f.roomId !== undefined) q = q.where(contains('er.room_id', f.roomId));
  if (f.eventSender !== undefined) q = q.where('e.sender', '=', f.eventSender);
  return q;
}

const REPORT_COLUMNS = ['er.id', 'er.received_ts', 'er.room_id', 'er.event_id', 'er.user_id', 'er.reason', 'er.content', 'e.sender', 'rs.name', 'rs.canonical_alias'] as const;

export async function listEventReports(db: Db, f: EventReportFilter): Promise<{ rows: EventReportRow[]; total: number }> {
  const base = eventReportsBase(db, f);
  const order = f.dir === 'b' ? 'desc' : 'asc';
  const [rows, count] = await Promise.all([
    base.select([...REPORT_COLUMNS]).orderBy('er.received_ts', order).orderBy('er.id', order).limit(f.limit).offset(f.from).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows: rows as EventReportRow[], total: Number(count.n) };
}

/** One report with the reported event's stored JSON (absent when the event's JSON is gone). */
export async function getEventReport(db: Db, id: number): Promise<(EventReportRow & { json: string }) | undefined> {
  const row = await eventReportsBase(db, {})
    .innerJoin('event_json as j', 'j.event_id', 'er.event_id')
    .select([...REPORT_COLUMNS, 'j.json'])
    .where('er.id', '=', id)
    .executeTakeFirst();
  return row as (EventReportRow & { json: string }) | undefined;
}

export async function deleteEventReport(db: Db, id: number): Promise<boolean> {
  const res = await db.deleteFrom('event_reports').where('id', '=', id).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export interface UserReportRow {
  id: number | string;
  received_ts: number | string;
  target_user_id: string;
  user_id: string;
  reason: string;
}

export interface UserReportFilter {
  from: number;
  limit: number;
  dir: 'f' | 'b';
  userId?: string;
  targetUserId?: string;
}

export async function listUserReports(db: Db, f: UserReportFilter): Promise<{ rows: UserReportRow[]; total: number }> {
  let base = db.selectFrom('user_reports');
  if (f.userId !== undefined) base = base.where(contains('user_id', f.userId));
  if (f.targetUserId !== undefined) base = base.where(contains('target_user_id', f.targetUserId));
  const order = f.dir === 'b' ? 'desc' : 'asc';
  const [rows, count] = await Promise.all([
    base.select(['id', 'received_ts', 'target_user_id', 'user_id', 'reason']).orderBy('received_ts', order).orderBy('id', order).limit(f.limit).offset(f.from).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export async function getUserReport(db: Db, id: number): Promise<UserReportRow | undefined> {
  return db.selectFrom('user_reports').select(['id', 'received_ts', 'target_user_id', 'user_id', 'reason']).where('id', '=', id).executeTakeFirst();
}

export async function deleteUserReport(db: Db, id: number): Promise<boolean> {
  const res = await db.deleteFrom('user_reports').where('id', '=', id).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}
