import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * Issue 8, "the rest of the client surface": Synapse's `open_id_tokens` (the bearer tokens of
 * `POST /user/{userId}/openid/request_token`, exchanged by a third party at the federation API's
 * `/openid/userinfo`), with Synapse's columns and its index on the expiry.
 *
 * The user directory needs no table of its own: `/user_directory/search` reads `users`,
 * `profiles` (through migration 003's search indexes), `current_state_events` and
 * `room_stats_state` (see src/storage/stores/user-directory.ts), so it can never drift from the
 * rooms as Synapse's `user_directory` / `users_who_share_private_rooms` copies can.
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  const run = (statement: string) => sql.raw(statement).execute(db);
  await run(`CREATE TABLE open_id_tokens (
    token TEXT NOT NULL PRIMARY KEY,
    ts_valid_until_ms BIGINT NOT NULL,
    user_id TEXT NOT NULL
  )`);
  await run('CREATE INDEX open_id_tokens_ts_valid_until_ms ON open_id_tokens (ts_valid_until_ms)');
}
