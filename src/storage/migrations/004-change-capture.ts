import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * Change capture instead of shared counters. Migration 003's triggers bumped three shared rows of
 * `user_list_version` in every writing transaction; on PostgreSQL concurrent transactions locked
 * them in different orders and deadlocked, and every write queued on them. They go. Caches now
 * learn what changed from the notification bus (src/storage/changes.ts):
 *
 * - PostgreSQL: statement-level triggers on each watched table append `table|key<RS>key…` (the
 *   distinct user IDs of the rows written; '*' past 64 or on TRUNCATE) to the transaction-local
 *   setting `axon.changes`, which Axon reads with its COMMIT, and NOTIFY `axon_changes` with the same,
 *   prefixed by the writer's application_name, for every other listening process. NOTIFY is
 *   delivered only on commit; operators' psql edits are noticed this way.
 * - SQLite: nothing in the schema (an operator's sqlite3 must not need Axon's functions); Axon's
 *   writer connection captures its own changes with TEMP triggers and notices other connections'
 *   commits through `PRAGMA data_version`.
 */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const run = (statement: string) => sql.raw(statement).execute(db);
  const tables = ['users', 'profiles', 'devices', 'user_ips', 'erased_users'];
  if (dialect === 'sqlite') {
    for (const t of tables) for (const e of ['insert', 'update', 'delete']) await run(`DROP TRIGGER IF EXISTS ${t}_list_bump_${e}`);
    await run('DROP TABLE IF EXISTS user_list_version');
    return;
  }
  for (const t of tables) await run(`DROP TRIGGER IF EXISTS ${t}_list_bump ON ${t}`);
  await run('DROP FUNCTION IF EXISTS user_list_bump()');
  await run('DROP TABLE IF EXISTS user_list_version');

  await run(`CREATE FUNCTION axon_capture_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  keys text;
  entry text;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    entry := TG_TABLE_NAME || '|*';
  ELSE
    EXECUTE format('SELECT count(DISTINCT %1$I), string_agg(DISTINCT %1$I::text, chr(30)) FROM axon_rows', TG_ARGV[0]) INTO n, keys;
    IF n IS NULL OR n = 0 THEN
      RETURN NULL;
    END IF;
    IF n > 64 OR length(keys) > 6000 THEN
      keys := '*';
    END IF;
    entry := TG_TABLE_NAME || '|' || keys;
  END IF;
  PERFORM set_config('axon.changes', coalesce(current_setting('axon.changes', true), '') || entry || chr(31), true);
  PERFORM pg_notify('axon_changes', current_setting('application_name') || chr(29) || entry);
  RETURN NULL;
END $$`);
  // The tables (and the column naming a row's user) whose changes caches depend on, as of this
  // migration; a later migration adds triggers for tables it watches.
  const watched: Array<[string, string]> = [
    ['users', 'name'],
    ['access_tokens', 'user_id'],
    ['account_validity', 'user_id'],
    ['devices', 'user_id'],
    ['user_ips', 'user_id'],
    ['erased_users', 'user_id'],
    ['profiles', 'full_user_id'],
    ['user_threepids', 'user_id'],
    ['user_external_ids', 'user_id'],
  ];
  for (const [t, column] of watched) {
    const fn = `EXECUTE FUNCTION axon_capture_changes('${column}')`;
    await run(`CREATE TRIGGER axon_capture_insert AFTER INSERT ON ${t} REFERENCING NEW TABLE AS axon_rows FOR EACH STATEMENT ${fn}`);
    await run(`CREATE TRIGGER axon_capture_update AFTER UPDATE ON ${t} REFERENCING NEW TABLE AS axon_rows FOR EACH STATEMENT ${fn}`);
    await run(`CREATE TRIGGER axon_capture_delete AFTER DELETE ON ${t} REFERENCING OLD TABLE AS axon_rows FOR EACH STATEMENT ${fn}`);
    await run(`CREATE TRIGGER axon_capture_truncate AFTER TRUNCATE ON ${t} FOR EACH STATEMENT ${fn}`);
  }
}
