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
    .select(['epa.room_id', 'epa.event_id', 'epa.profile_tag', 'epa.actions', 'epa.stream_ordering', 'epa.topological_ordering', 'e.received_ts'])
    .where('epa.user_id', '=', userId)
    .where('epa.notif', '=', 1)
    .where('epa.stream_ordering', '<=', opts.upTo);
  if (opts.before !== undefined) q = q.where('epa.stream_ordering', '<', opts.before);
  if (opts.onlyHighlight) q = q.where('epa.highlight', '=', 1);
  return q.orderBy('epa.stream_ordering', 'desc').limit(opts.limit).execute();
}

export interface UnreadCounts {
  threadId: string;
  notifications: number;
  highlights: number;
}

/**
 * A user's notification and highlight counts in a room after stream position `after` (their read
 * receipt's), per thread (`main` for the main timeline), up to the published position `upTo`.
 */
export async function countsInRoom(db: Db, userId: string, roomId: string, after: number, upTo: number): Promise<UnreadCounts[]> {
  const rows = await db
    .selectFrom('event_push_actions')
    .select([
      'thread_id',
      sql<number>`count(*)`.as('n'),
      sql<number>`coalesce(sum(highlight), 0)`.as('h'),
    ])
    .where('user_id', '=', userId)
    .where('stream_ordering', '>', after)
    .where('stream_ordering', '<=', upTo)
    .where('room_id', '=', roomId)
    .where('notif', '=', 1)
    .groupBy('thread_id')
    .execute();
  return rows.map((r) => ({ threadId: r.thread_id ?? 'main', notifications: Number(r.n), highlights: Number(r.h) }));
}

/** Deletes a room's rows (room deletion and purges). */
export async function deleteRoomPushActions(db: Db, roomId: string, beforeStream?: number): Promise<void> {
  let q = db.deleteFrom('event_push_actions').where('room_id', '=', roomId);
  if (beforeStream !== undefined) q = q.where('stream_ordering', '<', beforeStream);
  await q.execute();
  if (beforeStream === undefined) await db.deleteFrom('event_push_summary').where('room_id', '=', roomId).execute();
}
