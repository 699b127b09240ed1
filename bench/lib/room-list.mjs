// Issue 9: the admin room list over a large number of rooms, bulk-inserted straight into
// Synapse's tables (rooms, room_stats_current, room_stats_state) next to a running Axon.
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { inBatches, mulberry32 } from './dataset.mjs';
import { httpJson, loadSettings, measure } from './load.mjs';
import { SERVER_NAME } from './servers.mjs';

const JOIN_RULES = ['public', 'invite', 'invite', 'invite', 'knock', 'restricted'];
const VISIBILITY = ['shared', 'shared', 'joined', 'invited', 'world_readable'];

/**
 * Room i (1-based): member counts skewed like a real server's (most rooms small, a few huge),
 * 60 % named, 20 % with an alias, 30 % encrypted, 5 % published, 2 % spaces.
 */
function* rooms(n) {
  const rnd = mulberry32(9);
  for (let i = 1; i <= n; i++) {
    const joined = Math.floor(Math.pow(rnd(), 6) * 5000);
    const local = Math.floor(joined * rnd());
    const id = String(i).padStart(7, '0');
    yield {
      room_id: `!room${id}bench:${SERVER_NAME}`,
      is_public: i % 20 === 0,
      creator: `@user${String(1 + (i % 1000)).padStart(7, '0')}:${SERVER_NAME}`,
      room_version: i % 10 === 0 ? '9' : '10',
      joined,
      local,
      invited: Math.floor(rnd() * 3),
      left: Math.floor(joined * rnd() * 0.2),
      state_events: 8 + joined + Math.floor(rnd() * 10),
      name: i % 5 < 3 ? `Room ${id}` : null,
      canonical_alias: i % 5 === 0 ? `#room${id}:${SERVER_NAME}` : null,
      join_rules: JOIN_RULES[i % JOIN_RULES.length],
      history_visibility: VISIBILITY[i % VISIBILITY.length],
      encryption: i % 10 < 3 ? 'm.megolm.v1.aes-sha2' : null,
      room_type: i % 50 === 0 ? 'm.space' : null,
    };
  }
}

function insertSqlite(path, n) {
  const raw = new SqliteDatabase(path);
  try {
    raw.pragma('busy_timeout = 10000');
    const insRoom = raw.prepare('INSERT INTO rooms (room_id, is_public, creator, room_version, has_auth_chain_index) VALUES (?, ?, ?, ?, 1)');
    const insCurrent = raw.prepare(
      'INSERT INTO room_stats_current (room_id, current_state_events, joined_members, invited_members, left_members, banned_members, local_users_in_room, completed_delta_stream_id, knocked_members) VALUES (?, ?, ?, ?, ?, 0, ?, 0, 0)',
    );
    const insState = raw.prepare(
      'INSERT INTO room_stats_state (room_id, name, canonical_alias, join_rules, history_visibility, encryption, avatar, guest_access, is_federatable, topic, room_type) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, 1, NULL, ?)',
    );
    const batch = raw.transaction((list) => {
      for (const r of list) {
        insRoom.run(r.room_id, r.is_public ? 1 : 0, r.creator, r.room_version);
        insCurrent.run(r.room_id, r.state_events, r.joined, r.invited, r.left, r.local);
        insState.run(r.room_id, r.name, r.canonical_alias, r.join_rules, r.history_visibility, r.encryption, r.room_type);
      }
    });
    inBatches(rooms(n), 20_000, batch);
    raw.exec('ANALYZE');
  } finally {
    raw.close();
  }
}

async function insertPostgres(url, n) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const col = (b, k) => b.map((r) => r[k]);
    const flush = async (b) => {
      await c.query('INSERT INTO rooms (room_id, is_public, creator, room_version, has_auth_chain_index) SELECT a, b, c, d, TRUE FROM unnest($1::text[], $2::boolean[], $3::text[], $4::text[]) AS t(a, b, c, d)', [
        col(b, 'room_id'),
        col(b, 'is_public'),
        col(b, 'creator'),
        col(b, 'room_version'),
      ]);
      await c.query(
        `INSERT INTO room_stats_current (room_id, current_state_events, joined_members, invited_members, left_members, banned_members, local_users_in_room, completed_delta_stream_id, knocked_members)
         SELECT a, b, c, d, e, 0, f, 0, 0 FROM unnest($1::text[], $2::int[], $3::int[], $4::int[], $5::int[], $6::int[]) AS t(a, b, c, d, e, f)`,
        [col(b, 'room_id'), col(b, 'state_events'), col(b, 'joined'), col(b, 'invited'), col(b, 'left'), col(b, 'local')],
      );
      await c.query(
        `INSERT INTO room_stats_state (room_id, name, canonical_alias, join_rules, history_visibility, encryption, is_federatable, room_type)
         SELECT a, b, c, d, e, f, TRUE, g FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS t(a, b, c, d, e, f, g)`,
        [col(b, 'room_id'), col(b, 'name'), col(b, 'canonical_alias'), col(b, 'join_rules'), col(b, 'history_visibility'), col(b, 'encryption'), col(b, 'room_type')],
      );
    };
    await c.query('BEGIN');
    let b = [];
    for (const r of rooms(n)) {
      b.push(r);
      if (b.length === 10_000) {
        await flush(b);
        b = [];
      }
    }
    if (b.length > 0) await flush(b);
    await c.query('COMMIT');
    await c.query('VACUUM ANALYZE rooms, room_stats_current, room_stats_state');
  } finally {
    await c.end();
  }
}

/**
 * Bulk-inserts n rooms next to the running `server` (its migrations made the tables), checks that
 * `GET /_synapse/admin/v1/rooms?limit=100&order_by=joined_members` really lists them, biggest
 * first, then measures it. Returns the insert time, the first (cold) request's time and the
 * house measurement.
 */
export async function roomListBench(server, db, admin, n, settings = loadSettings(true)) {
  const t0 = performance.now();
  if (db.engine === 'sqlite') insertSqlite(db.sqlitePath, n);
  else await insertPostgres(db.pgUrl, n);
  const insertS = (performance.now() - t0) / 1000;
  const url = `${server.url}/_synapse/admin/v1/rooms?limit=100&order_by=joined_members`;
  const t1 = performance.now();
  const first = await httpJson('GET', url, { token: admin.token });
  const cold = performance.now() - t1;
  if (first.status !== 200) throw new Error(`GET ${url}: HTTP ${first.status} ${first.text.slice(0, 200)}`);
  const list = first.json?.rooms;
  if (!Array.isArray(list) || list.length !== 100) throw new Error(`GET ${url}: ${list?.length} rooms, expected 100`);
  if (first.json.total_rooms < n) throw new Error(`GET ${url}: total_rooms ${first.json.total_rooms}, expected at least ${n}`);
  for (let i = 1; i < list.length; i++) {
    if (list[i].joined_members > list[i - 1].joined_members) throw new Error(`GET ${url}: not in descending joined_members order at index ${i}`);
  }
  const check = `${list.length} rooms, total ${first.json.total_rooms}, largest ${list[0].joined_members} members`;
  const result = await measure(url, { token: admin.token }, settings);
  return { insertS, cold, check, result };
}
