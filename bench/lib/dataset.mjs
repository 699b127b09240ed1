// Issue 3's data set: N users bulk-inserted straight into the database after Axon's migrations.
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { SERVER_NAME, startAxon } from './servers.mjs';

// bcrypt("bench-password", 12): a real hash so that the column looks like production, computed once.
const FIXED_HASH = '$2b$12$6o27xMAv2wYpMxVcCE9od.Rs9HBoZ1WGzMolPPnbvnuNltJJk.ie6';
const FIRST_NAMES = ['Ada', 'Bruno', 'Chloé', 'Dmitri', 'Emeka', 'Fatima', 'Grace', 'Hiro', 'Ingrid', 'José', 'Kavya', 'Lars', 'Mei', 'Nadia', 'Oskar', 'Priya', 'Quentin', 'Rosa', 'Sven', 'Tariq', 'Uma', 'Viktor', 'Wen', 'Ximena', 'Yusuf', 'Zoë'];
const START_TS = 1451606400; // 2016-01-01, seconds (Synapse stores users.creation_ts in seconds)
const END_TS = 1735689600; // 2025-01-01

/** Deterministic PRNG so every run inserts the same data set (nothing is cached between runs). */
export function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Hands the items of an iterable to `fn` in arrays of `size` (the last one shorter). */
export function inBatches(items, size, fn) {
  let list = [];
  for (const item of items) {
    list.push(item);
    if (list.length === size) {
      fn(list);
      list = [];
    }
  }
  if (list.length > 0) fn(list);
}

export const localpartOf = (i) => `user${String(i).padStart(7, '0')}`;

/**
 * Row i (1-based). creation_ts grows with i, with jitter, across 9 years. A few accounts are
 * special, as on a real server: 0.01 % admins, 0.5 % deactivated, 0.1 % guests (no password),
 * 0.05 % bots, 0.02 % locked, 10 % with an avatar.
 */
function* rows(n) {
  const rnd = mulberry32(42);
  const step = (END_TS - START_TS) / n;
  for (let i = 1; i <= n; i++) {
    const localpart = localpartOf(i);
    const isGuest = i % 1000 === 3;
    yield {
      name: `@${localpart}:${SERVER_NAME}`,
      localpart,
      password_hash: isGuest ? null : FIXED_HASH,
      creation_ts: Math.floor(START_TS + (i - 1) * step + rnd() * step),
      admin: i % 10000 === 1 ? 1 : 0,
      is_guest: isGuest ? 1 : 0,
      deactivated: i % 200 === 7 ? 1 : 0,
      user_type: i % 2000 === 13 ? 'bot' : null,
      locked: i % 5000 === 11,
      displayname: `User ${localpart.slice(4)} ${FIRST_NAMES[Math.floor(rnd() * FIRST_NAMES.length)]}`,
      avatar_url: i % 10 === 5 ? `mxc://${SERVER_NAME}/avatar${localpart.slice(4)}` : null,
    };
  }
}

/**
 * Starts and stops Axon once on the empty database: its start-up migrations create every table,
 * index and trigger (including ones added for searching) before the rows go in.
 */
async function migrateOnly(db) {
  const server = await startAxon(db);
  await server.stop();
}

function insertSqlite(path, n) {
  const raw = new SqliteDatabase(path);
  try {
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    const insUser = raw.prepare(
      'INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, user_type, locked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insProfile = raw.prepare('INSERT INTO profiles (user_id, full_user_id, displayname, avatar_url) VALUES (?, ?, ?, ?)');
    const batch = raw.transaction((list) => {
      // Profiles first: a search trigger on users then indexes the display name in the same
      // step, instead of indexing the row once for users and again for profiles.
      for (const r of list) insProfile.run(r.localpart, r.name, r.displayname, r.avatar_url);
      for (const r of list) insUser.run(r.name, r.password_hash, r.creation_ts, r.admin, r.is_guest, r.deactivated, r.user_type, r.locked ? 1 : 0);
    });
    inBatches(rows(n), 50_000, batch);
    // Leave a compact database behind, as a long-running server would after its checkpoints.
    raw.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    raw.close();
  }
}

async function insertPostgres(url, n) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const flush = async (b) => {
      await c.query(
        `INSERT INTO profiles (user_id, full_user_id, displayname, avatar_url)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])`,
        [b.map((r) => r.localpart), b.map((r) => r.name), b.map((r) => r.displayname), b.map((r) => r.avatar_url)],
      );
      await c.query(
        `INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, user_type, locked)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::smallint[], $5::smallint[], $6::smallint[], $7::text[], $8::boolean[])`,
        [b.map((r) => r.name), b.map((r) => r.password_hash), b.map((r) => r.creation_ts), b.map((r) => r.admin), b.map((r) => r.is_guest), b.map((r) => r.deactivated), b.map((r) => r.user_type), b.map((r) => r.locked)],
      );
    };
    await c.query('BEGIN');
    let b = [];
    for (const r of rows(n)) {
      b.push(r);
      if (b.length === 10_000) {
        await flush(b);
        b = [];
      }
    }
    if (b.length > 0) await flush(b);
    await c.query('COMMIT');
    // What autovacuum would reach on its own a minute later; done now so it cannot land mid-measurement.
    await c.query('VACUUM ANALYZE');
  } finally {
    await c.end();
  }
}

/** Migrates (through a first start of the server), then bulk-inserts n users + profiles. Returns the seconds each step took. */
export async function loadDataset(db, n) {
  const t0 = performance.now();
  await migrateOnly(db);
  const t1 = performance.now();
  if (db.engine === 'sqlite') insertSqlite(db.sqlitePath, n);
  else await insertPostgres(db.pgUrl, n);
  const t2 = performance.now();
  return { migrateS: (t1 - t0) / 1000, insertS: (t2 - t1) / 1000, totalS: (t2 - t0) / 1000 };
}
