import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * Change capture on `local_media_repository`, so the media repository can keep the rows of media
 * being downloaded in memory and still see a quarantine, protection or deletion by anyone (the
 * Admin API, another Axon process, an operator's `UPDATE … SET quarantined_by = …`) on the very
 * next request. Keys are media IDs.
 */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  // SQLite captures through Axon's TEMP triggers (src/storage/changes.ts WATCHED_TABLES).
  if (dialect !== 'postgres') return;
  const run = (statement: string) => sql.raw(statement).execute(db);
  const fn = "EXECUTE FUNCTION axon_capture_changes('media_id')";
  const t = 'local_media_repository';
  await run(`CREATE TRIGGER axon_capture_insert AFTER INSERT ON ${t} REFERENCING NEW TABLE AS axon_rows FOR EACH STATEMENT ${fn}`);
  await run(`CREATE TRIGGER axon_capture_update AFTER UPDATE ON ${t} REFERENCING NEW TABLE AS axon_rows FOR EACH STATEMENT ${fn}`);
  await run(`CREATE TRIGGER axon_capture_delete AFTER DELETE ON ${t} REFERENCING OLD TABLE AS axon_rows FOR EACH STATEMENT ${fn}`);
  await run(`CREATE TRIGGER axon_capture_truncate AFTER TRUNCATE ON ${t} FOR EACH STATEMENT ${fn}`);
}
