import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * The media quarantine change feed (`GET /_synapse/admin/v1/media/quarantine_changes`, Synapse
 * 1.152): one row per item quarantined or released through the Admin API, at increasing stream
 * positions (`stream_id`, allocated in the changing transaction), so a poller resumes from the last
 * position it saw. Media quarantined before this table existed is back-filled, oldest first.
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  await sql
    .raw(
      `CREATE TABLE axon_media_quarantine_changes (
        stream_id BIGINT NOT NULL PRIMARY KEY,
        origin TEXT NOT NULL,
        media_id TEXT NOT NULL,
        quarantined BOOLEAN NOT NULL,
        ts BIGINT NOT NULL
      )`,
    )
    .execute(db);
  // Back-fill: what is quarantined now, local items under the origin '' (the server's own name is
  // a configuration value; readers map '' to it).
  await sql
    .raw(
      `INSERT INTO axon_media_quarantine_changes (stream_id, origin, media_id, quarantined, ts)
       SELECT row_number() OVER (ORDER BY o, media_id), origin, media_id, TRUE, 0 FROM (
         SELECT 0 AS o, '' AS origin, media_id FROM local_media_repository WHERE quarantined_by IS NOT NULL
         UNION ALL
         SELECT 1 AS o, media_origin AS origin, media_id FROM remote_media_cache WHERE quarantined_by IS NOT NULL
       ) q`,
    )
    .execute(db);
}
