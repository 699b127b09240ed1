import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * Presence and room tags, in Synapse's tables and columns so operators' SQL from Synapse's docs
 * works:
 * - `presence_stream`: a user's latest presence, one row per user (Synapse keeps only the latest
 *   row per user too); `stream_id` is the user's position on the presence stream. Booleans as
 *   SMALLINT 0/1 (one code path on both engines).
 * - `room_tags` (one row per tag, `content` JSON text) and `room_tags_revisions` (per user and
 *   room, the account-data stream position of the last tag change: tags share that stream with
 *   account data, as in Synapse).
 * Plus Synapse's (user_id, stream_id) indexes on the account-data tables, which incremental /sync
 * seeks on.
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  const run = (statement: string) => sql.raw(statement).execute(db);
  await run(`CREATE TABLE presence_stream (
    stream_id BIGINT NOT NULL,
    user_id TEXT NOT NULL PRIMARY KEY,
    state TEXT NOT NULL,
    last_active_ts BIGINT NOT NULL,
    last_federation_update_ts BIGINT NOT NULL,
    last_user_sync_ts BIGINT NOT NULL,
    status_msg TEXT,
    currently_active SMALLINT NOT NULL,
    instance_name TEXT
  )`);
  await run('CREATE INDEX presence_stream_id ON presence_stream (stream_id)');
  await run(`CREATE TABLE room_tags (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    content TEXT NOT NULL,
    CONSTRAINT room_tag_uniqueness UNIQUE (user_id, room_id, tag)
  )`);
  await run('CREATE INDEX room_tags_room ON room_tags (room_id)');
  await run(`CREATE TABLE room_tags_revisions (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    instance_name TEXT,
    CONSTRAINT room_tag_revisions_uniqueness UNIQUE (user_id, room_id)
  )`);
  await run('CREATE INDEX room_tags_revisions_user_stream ON room_tags_revisions (user_id, stream_id)');
  await run('CREATE INDEX room_tags_revisions_room ON room_tags_revisions (room_id)');
  await run('CREATE INDEX account_data_stream_id ON account_data (user_id, stream_id)');
  await run('CREATE INDEX room_account_data_stream_id ON room_account_data (user_id, stream_id)');
}
