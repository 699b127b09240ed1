import { sql } from 'kysely';
import type { Db } from '../database.js';
import type { PusherRow } from './pushers.js';

/** What the pusher queue reads and writes: pushers' positions and the push actions they are owed. */

/** HTTP pushers owed something: a notifying push action of their user after their position, up to `upTo`. */
export async function pushersOwed(db: Db, upTo: number): Promise<number[]> {
  const rows = await db
    .selectFrom('pushers as p')
    .select('p.id')
    .where('p.kind', '=', 'http')
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('event_push_actions as a')
          .select(sql.lit(1).as('x'))
          .whereRef('a.user_id', '=', 'p.user_name')
          .where('a.stream_ordering', '>', sql<number>`coalesce(p.last_stream_ordering, 0)`)
          .where('a.stream_ordering', '<=', upTo)
          .where('a.notif', '=', 1),
      ),
    )
    .execute();
  return rows.map((r) => Number(r.id));
}

/**
 * HTTP pushers of users with notifying push actions in `roomIds` in (after, upTo] (seeks on
 * event_push_actions (room_id, stream_ordering)).
 */
export async function pushersWithActionsIn(db: Db, roomIds: readonly string[], after: number, upTo: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < roomIds.length; i += 500) {
    const rows = await db
      .selectFrom('pushers as p')
      .select('p.id')
      .where('p.kind', '=', 'http')
      .where('p.user_name', 'in', (eb) =>
        eb
          .selectFrom('event_push_actions as a')
          .select('a.user_id')
          .where('a.room_id', 'in', roomIds.slice(i, i + 500))
          .where('a.stream_ordering', '>', after)
          .where('a.stream_ordering', '<=', upTo)
          .where('a.notif', '=', 1),
      )
      .execute();
    out.push(...rows.map((r) => Number(r.id)));
  }
  return [...new Set(out)];
}

export async function pusherById(db: Db, id: number): Promise<PusherRow | undefined> {
  return db.selectFrom('pushers').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function httpPushersOf(db: Db, userIds: readonly string[]): Promise<PusherRow[]> {
  if (userIds.length === 0) return [];
  return db.selectFrom('pushers').selectAll().where('kind', '=', 'http').where('user_name', 'in', userIds).execute();
}

export interface OwedAction {
  room_id: string;
  event_id: string;
  stream_ordering: number;
  actions: string;
  highlight: number | null;
  thread_id: string | null;
}

/** A user's notifying push actions after `after`, up to `upTo`, oldest first. */
export async function owedActions(db: Db, userId: string, after: number, upTo: number, limit: number): Promise<OwedAction[]> {
  const rows = await db
    .selectFrom('event_push_actions')
    .select(['room_id', 'event_id', 'stream_ordering', 'actions', 'highlight', 'thread_id'])
    .where('user_id', '=', userId)
    .where('stream_ordering', '>', after)
    .where('stream_ordering', '<=', upTo)
    .where('notif', '=', 1)
    .orderBy('stream_ordering')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, stream_ordering: Number(r.stream_ordering) }));
}

/** Moves a pusher past a stream ordering; `success` also stamps last_success and clears failing_since. */
export async function advancePusher(db: Db, id: number, streamOrdering: number, success: number | null): Promise<void> {
  const set = success === null ? { last_stream_ordering: streamOrdering, failing_since: null } : { last_stream_ordering: streamOrdering, last_success: success, failing_since: null };
  await db.updateTable('pushers').set(set).where('id', '=', id).execute();
}

export async function setFailingSince(db: Db, id: number, since: number): Promise<void> {
  await db.updateTable('pushers').set({ failing_since: since }).where('id', '=', id).where('failing_since', 'is', null).execute();
}

export async function deletePusherById(db: Db, id: number): Promise<void> {
  await db.deleteFrom('pushers').where('id', '=', id).execute();
}

/** The sender's display name in the room now (their current membership event). */
export async function displayNameIn(db: Db, roomId: string, userId: string): Promise<string | null> {
  const row = await db
    .selectFrom('current_state_events as c')
    .innerJoin('room_memberships as m', 'm.event_id', 'c.event_id')
    .select('m.display_name')
    .where('c.room_id', '=', roomId)
    .where('c.type', '=', 'm.room.member')
    .where('c.state_key', '=', userId)
    .executeTakeFirst();
  return row?.display_name ?? null;
}

/** The room's current m.room.name, or null. */
export async function roomName(db: Db, roomId: string): Promise<string | null> {
  const row = await db
    .selectFrom('current_state_events as c')
    .innerJoin('event_json as j', 'j.event_id', 'c.event_id')
    .select('j.json')
    .where('c.room_id', '=', roomId)
    .where('c.type', '=', 'm.room.name')
    .where('c.state_key', '=', '')
    .executeTakeFirst();
  if (!row) return null;
  const name = (JSON.parse(row.json) as { content?: { name?: unknown } }).content?.name;
  return typeof name === 'string' && name !== '' ? name : null;
}
