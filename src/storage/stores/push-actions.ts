import { sql, type Insertable } from 'kysely';
import type { Db } from '../database.js';
import type { EventPushActionsTable } from '../schema/tables.js';

/** Synapse's `event_push_actions`: one row per notified user and event. */

export type PushActionRow = Insertable<EventPushActionsTable>;

/** Inserts the rows of a batch of events (inside the events' own transaction). */
export async function insertPushActions(db: Db, rows: readonly PushActionRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) await db.insertInto('event_push_actions').values(rows.slice(i, i + 500)).execute();
}

export interface NotificationRow {
  room_id: string;
  event_id: string;
  profile_tag: string | null;
  actions: string;
  stream_ordering: number;
  topological_ordering: number | null;
  received_ts: number | null;
  thread_id: string | null;
}

/**
 * A user's notifications, newest first, older than `before` (a stream ordering), up to the
 * published stream position `upTo`.
 */
export async function listNotifications(
  db: Db,
  userId: string,
  opts: { before?: number; upTo: number; limit: number; onlyHighlight: boolean },
): Promise<NotificationRow[]> {
  let q = db
    .selectFrom('event_push_actions as epa')
    .innerJoin('events as e', 'e.event_id', 'epa.event_id')
    .select(['epa.room_id', 'epa.event_id', 'epa.profile_tag', 'epa.actions', 'epa.stream_ordering', 'epa.topological_ordering', 'e.received_ts', 'epa.thread_id'])
    .where('epa.user_id', '=', userId)
    .where('epa.notif', '=', 1)
    .where('epa.stream_ordering', '<=', opts.upTo);
  if (opts.before !== undefined) q = q.where('epa.stream_ordering', '<', opts.before);
  if (opts.onlyHighlight) q = q.where('epa.highlight', '=', 1);
  return q.orderBy('epa.stream_ordering', 'desc').limit(opts.limit).execute();
}

/** One range of a user's push actions to count: in a room after `after`, optionally one thread only. */
export interface CountRange {
  roomId: string;
  after: number;
  threadId?: string;
}

export interface RangeCounts {
  /** Index of the range in the caller's list. */
  range: number;
  threadId: string;
  notifications: number;
  highlights: number;
}

/**
 * A user's notification and highlight counts for each range (per thread, 'main' for the main
 * timeline), up to the published position `upTo`. One statement per 200 ranges (a UNION ALL of
 * seeks on event_push_actions (user_id, room_id, stream_ordering); SQLite allows 500 compound
 * terms): a few statements for a thousand rooms, none per room.
 */
export async function countRanges(db: Db, userId: string, ranges: readonly CountRange[], upTo: number): Promise<RangeCounts[]> {
  const out: RangeCounts[] = [];
  for (let i = 0; i < ranges.length; i += 200) {
    const branches = ranges.slice(i, i + 200).map((r, j) => {
      let q = db
        .selectFrom('event_push_actions')
        .select([sql<number>`${sql.lit(i + j)}`.as('r'), 'thread_id', sql<number>`count(*)`.as('n'), sql<number>`coalesce(sum(highlight), 0)`.as('h')])
        .where('user_id', '=', userId)
        .where('room_id', '=', r.roomId)
        .where('stream_ordering', '>', r.after)
        .where('stream_ordering', '<=', upTo)
        .where('notif', '=', 1);
      if (r.threadId !== undefined) q = q.where('thread_id', '=', r.threadId);
      return q.groupBy('thread_id');
    });
    let query = branches[0]!;
    for (const b of branches.slice(1)) query = query.unionAll(b);
    for (const row of await query.execute()) {
      out.push({ range: Number(row.r), threadId: row.thread_id ?? 'main', notifications: Number(row.n), highlights: Number(row.h) });
    }
  }
  return out;
}

/** The stream ordering of the user's current membership event in each room (where counting starts without a receipt). */
export async function membershipOrderings(db: Db, userId: string, roomIds: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < roomIds.length; i += 500) {
    const rows = await db
      .selectFrom('local_current_membership')
      .select(['room_id', 'event_stream_ordering'])
      .where('user_id', '=', userId)
      .where('room_id', 'in', roomIds.slice(i, i + 500))
      .execute();
    for (const r of rows) if (r.event_stream_ordering !== null) out.set(r.room_id, Number(r.event_stream_ordering));
  }
  return out;
}

/** Deletes a room's rows (room deletion and purges). */
export async function deleteRoomPushActions(db: Db, roomId: string, beforeStream?: number): Promise<void> {
  let q = db.deleteFrom('event_push_actions').where('room_id', '=', roomId);
  if (beforeStream !== undefined) q = q.where('stream_ordering', '<', beforeStream);
  await q.execute();
  if (beforeStream === undefined) await db.deleteFrom('event_push_summary').where('room_id', '=', roomId).execute();
}
