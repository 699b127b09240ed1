import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * What GET /_synapse/admin/v2/users needs to stay fast at a million accounts:
 *
 * - `user_list_version`: counters that triggers bump inside every writing transaction (so a reader
 *   never sees a new counter before the new rows), even for an operator's hand-written SQL: row 1
 *   follows `users` (the columns the list shows), row 2 `devices`, `user_ips` and `erased_users`
 *   (behind `last_seen_ts` and `erased`), row 3 `profiles`. The list validates its cached totals,
 *   keyset anchors and pages against the rows each depends on.
 * - indexes for `order_by=creation_ts` in both directions (the secondary key is always `name ASC`).
 * - substring search over localpart, full user ID and display name: FTS5 `trigram` on SQLite (over
 *   `user_search`, a copy kept in sync by triggers, whose INTEGER PRIMARY KEY survives VACUUM),
 *   `pg_trgm` GIN indexes on PostgreSQL.
 */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  if (dialect === 'sqlite') await upSqlite(db);
  else await upPostgres(db);
}

/** Columns of `users` the list filters, sorts or shows. */
const LISTED_USER_COLUMNS = 'name, creation_ts, admin, is_guest, user_type, deactivated, shadow_banned, locked, approved';
/** Tables behind `last_seen_ts` and `erased`, with the columns that matter on update. */
const ACTIVITY_TABLES: Array<[string, string]> = [
  ['devices', 'user_id, last_seen'],
  ['user_ips', 'user_id, last_seen'],
  ['erased_users', 'user_id'],
];

const run = (db: Kysely<unknown>, statement: string) => sql.raw(statement).execute(db);

async function upSqlite(db: Kysely<unknown>): Promise<void> {
  await run(db, 'CREATE TABLE user_list_version (id INTEGER PRIMARY KEY CHECK (id IN (1, 2, 3)), version BIGINT NOT NULL)');
  await run(db, 'INSERT INTO user_list_version (id, version) VALUES (1, 0), (2, 0), (3, 0)');
  const bump = (id: number) => `UPDATE user_list_version SET version = version + 1 WHERE id = ${id};`;
  const bumpOn = async (table: string, updateOf: string | null, id: number) => {
    await run(db, `CREATE TRIGGER ${table}_list_bump_insert AFTER INSERT ON ${table} BEGIN ${bump(id)} END`);
    await run(db, `CREATE TRIGGER ${table}_list_bump_update AFTER UPDATE ${updateOf ? `OF ${updateOf} ` : ''}ON ${table} BEGIN ${bump(id)} END`);
    await run(db, `CREATE TRIGGER ${table}_list_bump_delete AFTER DELETE ON ${table} BEGIN ${bump(id)} END`);
  };
  await bumpOn('users', LISTED_USER_COLUMNS, 1);
  await bumpOn('profiles', null, 3);
  for (const [table, columns] of ACTIVITY_TABLES) await bumpOn(table, columns, 2);

  await run(db, 'CREATE INDEX users_creation_ts_name ON users (creation_ts, name)');
  await run(db, 'CREATE INDEX users_creation_ts_desc_name ON users (creation_ts DESC, name)');

  await run(db, 'CREATE TABLE user_search (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, localpart TEXT NOT NULL, displayname TEXT)');
  await run(
    db,
    "CREATE VIRTUAL TABLE user_search_fts USING fts5(name, localpart, displayname, content='user_search', content_rowid='id', tokenize='trigram')",
  );
  // The external-content FTS index follows user_search (SQLite's documented pattern).
  const ftsInsert = 'INSERT INTO user_search_fts (rowid, name, localpart, displayname) VALUES (new.id, new.name, new.localpart, new.displayname);';
  const ftsDelete =
    "INSERT INTO user_search_fts (user_search_fts, rowid, name, localpart, displayname) VALUES ('delete', old.id, old.name, old.localpart, old.displayname);";
  await run(db, `CREATE TRIGGER user_search_fts_insert AFTER INSERT ON user_search BEGIN ${ftsInsert} END`);
  await run(db, `CREATE TRIGGER user_search_fts_delete AFTER DELETE ON user_search BEGIN ${ftsDelete} END`);
  await run(db, `CREATE TRIGGER user_search_fts_update AFTER UPDATE ON user_search BEGIN ${ftsDelete} ${ftsInsert} END`);

  // user_search follows users and profiles. Deleting before inserting keeps INSERT OR REPLACE on
  // users working (REPLACE fires no delete trigger).
  const localpart = (col: string) => `CASE WHEN instr(${col}, ':') > 0 THEN substr(${col}, 2, instr(${col}, ':') - 2) ELSE substr(${col}, 2) END`;
  const addNew =
    'INSERT INTO user_search (name, localpart, displayname) ' +
    `SELECT new.name, ${localpart('new.name')}, (SELECT displayname FROM profiles WHERE full_user_id = new.name) WHERE new.name IS NOT NULL;`;
  await run(db, `CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN DELETE FROM user_search WHERE name = new.name; ${addNew} END`);
  await run(
    db,
    'CREATE TRIGGER users_search_rename AFTER UPDATE OF name ON users WHEN old.name IS NOT new.name BEGIN ' +
      `DELETE FROM user_search WHERE name = old.name OR name = new.name; ${addNew} END`,
  );
  await run(db, 'CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN DELETE FROM user_search WHERE name = old.name; END');
  await run(
    db,
    'CREATE TRIGGER profiles_search_insert AFTER INSERT ON profiles BEGIN ' +
      'UPDATE user_search SET displayname = new.displayname WHERE name = new.full_user_id; END',
  );
  await run(
    db,
    'CREATE TRIGGER profiles_search_update AFTER UPDATE OF displayname, full_user_id ON profiles BEGIN ' +
      'UPDATE user_search SET displayname = NULL WHERE name = old.full_user_id AND old.full_user_id IS NOT new.full_user_id; ' +
      'UPDATE user_search SET displayname = new.displayname WHERE name = new.full_user_id; END',
  );
  await run(
    db,
    'CREATE TRIGGER profiles_search_delete AFTER DELETE ON profiles BEGIN ' +
      'UPDATE user_search SET displayname = NULL WHERE name = old.full_user_id; END',
  );
  await run(
    db,
    'INSERT INTO user_search (name, localpart, displayname) ' +
      `SELECT u.name, ${localpart('u.name')}, p.displayname FROM users u LEFT JOIN profiles p ON p.full_user_id = u.name WHERE u.name IS NOT NULL`,
  );
}

async function upPostgres(db: Kysely<unknown>): Promise<void> {
  await run(db, 'CREATE TABLE user_list_version (id SMALLINT PRIMARY KEY CHECK (id IN (1, 2, 3)), version BIGINT NOT NULL)');
  await run(db, 'INSERT INTO user_list_version (id, version) VALUES (1, 0), (2, 0), (3, 0)');
  // The row to bump is the trigger's argument.
  await run(
    db,
    'CREATE FUNCTION user_list_bump() RETURNS trigger LANGUAGE plpgsql AS $$ ' +
      'BEGIN UPDATE user_list_version SET version = version + 1 WHERE id = TG_ARGV[0]::smallint; RETURN NULL; END $$',
  );
  // Statement level: a bulk insert bumps once.
  const bumpOn = (table: string, updateOf: string | null, id: number) =>
    run(
      db,
      `CREATE TRIGGER ${table}_list_bump AFTER INSERT OR UPDATE ${updateOf ? `OF ${updateOf} ` : ''}OR DELETE OR TRUNCATE ON ${table} ` +
        `FOR EACH STATEMENT EXECUTE FUNCTION user_list_bump('${id}')`,
    );
  await bumpOn('users', LISTED_USER_COLUMNS, 1);
  await bumpOn('profiles', null, 3);
  for (const [table, columns] of ACTIVITY_TABLES) await bumpOn(table, columns, 2);

  await run(db, 'CREATE INDEX users_creation_ts_name ON users (creation_ts, name)');
  await run(db, 'CREATE INDEX users_creation_ts_desc_name ON users (creation_ts DESC, name)');

  // pg_trgm ships with PostgreSQL's contrib and is a trusted extension; without it the search
  // still works, by scanning.
  await run(
    db,
    "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pg_trgm unavailable: %', SQLERRM; END $$",
  );
  const { rows } = await sql<{ ok: number }>`SELECT 1 AS ok FROM pg_extension WHERE extname = 'pg_trgm'`.execute(db);
  if (rows.length > 0) {
    // The expressions must stay identical to the ones dialect.ts searches with.
    await run(db, 'CREATE INDEX users_name_trgm ON users USING gin (lower(name) gin_trgm_ops)');
    await run(db, "CREATE INDEX users_localpart_trgm ON users USING gin (lower(split_part(substr(name, 2), ':', 1)) gin_trgm_ops)");
    await run(db, 'CREATE INDEX profiles_displayname_trgm ON profiles USING gin (lower(displayname) gin_trgm_ops)');
  }
}
