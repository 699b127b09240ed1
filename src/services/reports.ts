import { MatrixError, badJson, invalidParam, missingParam, notFound } from '../errors.js';
import { parseUserId } from '../matrix/ids.js';
import type { Db } from '../storage/database.js';
import { getRoom } from '../storage/stores/events.js';
import * as store from '../storage/stores/reports.js';
import { getUser } from '../storage/stores/users.js';
import { isMineId } from './account-data.js';
import type { Requester } from './auth.js';
import type { RoomHistoryService } from './rooms/history.js';

export interface EventReport {
  id: number;
  received_ts: number;
  room_id: string;
  name: string | null;
  event_id: string;
  user_id: string;
  reason: string | null;
  score: unknown;
  sender: string | null;
  canonical_alias: string | null;
}

export interface UserReport {
  id: number;
  received_ts: number;
  target_user_id: string;
  user_id: string;
  reason: string;
}

export interface Page<T> {
  items: T[];
  total: number;
  /** Offset of the next page, when there is one (Synapse: iff from + limit < total). */
  next?: number;
}

function eventReportOf(r: store.EventReportRow): EventReport {
  let content: Record<string, unknown> = {};
  try {
    const parsed: unknown = r.content === null ? {} : JSON.parse(r.content);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) content = parsed as Record<string, unknown>;
  } catch {
    // An operator's hand-written row: show it without a score.
  }
  return {
    id: Number(r.id),
    received_ts: Number(r.received_ts),
    room_id: r.room_id,
    name: r.name,
    event_id: r.event_id,
    user_id: r.user_id,
    // The list shows the reason of the body, the single report the column (they are the same unless edited by hand).
    reason: typeof content.reason === 'string' ? content.reason : r.reason,
    score: content.score ?? null,
    sender: r.sender,
    canonical_alias: r.canonical_alias,
  };
}

const userReportOf = (r: store.UserReportRow): UserReport => ({
  id: Number(r.id),
  received_ts: Number(r.received_ts),
  target_user_id: r.target_user_id,
  user_id: r.user_id,
  reason: r.reason,
});

/**
 * Synapse's report ID check: Python's int() of the path segment, non-negative. IDs past 2^53 name
 * no report (the column's values come from a counter), so they are simply not found.
 */
function reportId(raw: string): number | null {
  const m = /^\s*\+?(\d+)\s*$/.exec(raw);
  if (!m) throw invalidParam('The report_id parameter must be a string representing a positive integer.');
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : null;
}

const pageOf = <T>(items: T[], total: number, from: number, limit: number): Page<T> =>
  from + limit < total ? { items, total, next: from + items.length } : { items, total };

/**
 * Reports of events, rooms and users (spec "Reporting content"), and their admin views
 * (catalogue §9). Reports are kept as filed; deleting a room leaves its reports, as Synapse.
 */
export class ReportsService {
  constructor(
    private readonly db: Db,
    private readonly serverName: string,
    private readonly history: RoomHistoryService,
  ) {}

  /** POST /rooms/{roomId}/report/{eventId}: the event must exist there and be visible to the reporter. */
  async reportEvent(requester: Requester, roomId: string, eventId: string, body: Record<string, unknown>): Promise<void> {
    if (body.reason !== undefined && typeof body.reason !== 'string') throw badJson("Param 'reason' must be a string");
    if (body.score !== undefined && !Number.isInteger(body.score)) throw badJson("Param 'score' must be an integer");
    try {
      await this.history.event(requester, roomId, eventId);
    } catch (e) {
      if (e instanceof MatrixError && (e.status === 404 || e.status === 403)) {
        throw notFound("Unable to report event: it does not exist or you aren't able to see it.");
      }
      throw e;
    }
    await store.addEventReport(this.db, {
      receivedTs: Date.now(),
      roomId,
      eventId,
      userId: requester.userId,
      reason: typeof body.reason === 'string' ? body.reason : null,
      content: JSON.stringify(body),
    });
  }

  /** POST /rooms/{roomId}/report (spec v1.13): any known room; the reporter need not be in it. */
  async reportRoom(requester: Requester, roomId: string, body: Record<string, unknown>): Promise<void> {
    const reason = requiredReason(body);
    if (!(await getRoom(this.db, roomId))) throw notFound('Room does not exist');
    await store.addRoomReport(this.db, { receivedTs: Date.now(), roomId, userId: requester.userId, reason });
  }

  /**
   * POST /users/{userId}/report (spec v1.14). A user who is not ours or does not exist is answered
   * like any other (the spec allows it), so reports cannot probe which accounts exist; nothing is stored.
   */
  async reportUser(requester: Requester, targetUserId: string, body: Record<string, unknown>): Promise<void> {
    parseUserId(targetUserId);
    const reason = requiredReason(body);
    if (!isMineId(targetUserId, this.serverName)) return;
    if (!(await getUser(this.db, targetUserId))) return;
    await store.addUserReport(this.db, { receivedTs: Date.now(), targetUserId, userId: requester.userId, reason });
  }

  async listEventReports(f: store.EventReportFilter): Promise<Page<EventReport>> {
    const { rows, total } = await store.listEventReports(this.db, f);
    return pageOf(rows.map(eventReportOf), total, f.from, f.limit);
  }

  async eventReport(rawId: string): Promise<EventReport & { event_json: unknown }> {
    const id = reportId(rawId);
    const row = id === null ? undefined : await store.getEventReport(this.db, id);
    if (!row) throw notFound('Event report not found');
    // The single report shows the stored reason column, as Synapse.
    return { ...eventReportOf(row), reason: row.reason, event_json: JSON.parse(row.json) };
  }

  async deleteEventReport(rawId: string): Promise<void> {
    const id = reportId(rawId);
    if (id === null || !(await store.deleteEventReport(this.db, id))) throw notFound('Event report not found');
  }

  async listUserReports(f: store.UserReportFilter): Promise<Page<UserReport>> {
    const { rows, total } = await store.listUserReports(this.db, f);
    return pageOf(rows.map(userReportOf), total, f.from, f.limit);
  }

  async userReport(rawId: string): Promise<UserReport> {
    const id = reportId(rawId);
    const row = id === null ? undefined : await store.getUserReport(this.db, id);
    if (!row) throw notFound('User report not found');
    return userReportOf(row);
  }

  async deleteUserReport(rawId: string): Promise<void> {
    const id = reportId(rawId);
    if (id === null || !(await store.deleteUserReport(this.db, id))) throw notFound('User report not found');
  }
}

/** `reason`: a required string (Synapse's request model for room and user reports). */
function requiredReason(body: Record<string, unknown>): string {
  if (!('reason' in body)) throw missingParam("Missing params: ['reason']");
  if (typeof body.reason !== 'string') throw badJson("Param 'reason' must be a string");
  return body.reason;
}
