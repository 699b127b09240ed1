import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../database.js';
import { dialectOf, userSearchSubquery } from '../dialect.js';

/**
 * The SQL of `/user_directory/search`, read from the rooms' own tables instead of Synapse's copies
 * (`user_directory`, `users_in_public_rooms`, `users_who_share_private_rooms`), so it is always
 * as current as the last commit:
 * - "in a public room": joined (`current_state_events`) to a room whose `room_stats_state` says
 *   `join_rules = public` or `history_visibility = world_readable`;
 * - "shares a room with the searcher": joined to a room the searcher is joined to (never the
 *   searcher themself: Synapse's private-room pairs exclude them);
 * - text: the candidates contain one of the search words (migration 003's trigram indexes over
 *   the localpart, the display name and the whole user ID); the caller then checks every word.
 */

export interface DirectoryCandidate {
  userId: string;
  displayName: string | null;
  avatarUrl: string | null;
}

export interface CandidateQuery {
  searcher: string;
  /** A word every result contains (already lower-cased), or undefined to read every visible user. */
  word?: string;
  searchAllUsers: boolean;
  showLockedUsers: boolean;
  limit: number;
}

const MEMBER = 'm.room.member';

function visibleTo(searcher: string): RawBuilder<boolean> {
  return sql<boolean>`(
    u.name IN (
      SELECT pm.state_key FROM current_state_events pm
      INNER JOIN room_stats_state pr ON pr.room_id = pm.room_id
      WHERE pm.type = ${MEMBER} AND pm.membership = 'join'
        AND (pr.join_rules = 'public' OR pr.history_visibility = 'world_readable')
    )
    OR (u.name <> ${searcher} AND u.name IN (
      SELECT sm.state_key FROM current_state_events sm
      WHERE sm.type = ${MEMBER} AND sm.membership = 'join' AND sm.room_id IN (
        SELECT mine.room_id FROM current_state_events mine
        WHERE mine.type = ${MEMBER} AND mine.state_key = ${searcher} AND mine.membership = 'join'
      )
    ))
  )`;
}

/** Local users the searcher may find that contain `word`, with their global profile. */
export async function candidates(db: Db, q: CandidateQuery): Promise<DirectoryCandidate[]> {
  const dialect = dialectOf(db);
  let query = db
    .selectFrom('users as u')
    .leftJoin('profiles as p', 'p.full_user_id', 'u.name')
    .select(['u.name', 'p.displayname', 'p.avatar_url'])
    .where('u.deactivated', '=', 0)
    // Support users are for diagnostics and never listed (as Synapse).
    .where((eb) => eb.or([eb('u.user_type', 'is', null), eb('u.user_type', '<>', 'support')]));
  if (!q.showLockedUsers) query = query.where((eb) => eb.or([eb('u.locked', 'is', null), eb('u.locked', '=', false)]));
  if (q.searchAllUsers) query = query.where('u.name', '<>', q.searcher);
  else query = query.where(visibleTo(q.searcher));
  if (q.word !== undefined) {
    const w = q.word;
    query = query.where(sql<boolean>`(u.name IN ${userSearchSubquery(dialect, 'name', w)} OR u.name IN ${userSearchSubquery(dialect, 'user_id', w)})`);
  }
  const rows = await query.limit(q.limit).execute();
  return rows.map((r) => ({ userId: r.name!, displayName: r.displayname ?? null, avatarUrl: r.avatar_url ?? null }));
}
