// Issue 9: deleting (with purge) a room of 100,000 events and 1,000 members, and purging the
// first 90,000 events of such a room, while 10 connections look a user up.
import autocannon from 'autocannon';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { httpJson } from './load.mjs';
import { SERVER_NAME } from './servers.mjs';

const enc = encodeURIComponent;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function withConnection(db, fn) {
  if (db.engine === 'sqlite') {
    const raw = new SqliteDatabase(db.sqlitePath);
    try {
      raw.pragma('busy_timeout = 10000');
      return await fn({ all: async (q) => raw.prepare(q).all(), exec: async (q) => raw.exec(q) });
    } finally {
      raw.close();
    }
  }
  const c = new pg.Client({ connectionString: db.pgUrl });
  await c.connect();
  try {
    return await fn({ all: async (q) => (await c.query(q)).rows, exec: async (q) => void (await c.query(q)) });
  } finally {
    await c.end();
  }
}

/** `FROM <1..n as i>` on either engine. */
const series = (db, n) =>
  db.engine === 'postgres' ? `FROM generate_series(1, ${n}) AS s(i)` : `FROM (WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n}) SELECT i FROM s) AS s`;

/**
 * Adds `members` joined local members and then `messages` messages to a room created over HTTP
 * (while Axon is stopped), with the rows the persister writes for each: events, event_json,
 * event_edges (a linear chain), event_auth, event_to_state_groups, and for the members their
 * state (state_events, room_memberships, current_state_events, local_current_membership,
 * current_state_delta_stream, one delta state group each), then the extremity and statistics.
 */
export async function bulkRoom(db, roomId, { members, messages }) {
  return withConnection(db, async (c) => {
    const one = async (q) => (await c.all(q))[0];
    const num = (v) => Number(v);
    const s0 = num((await one('SELECT max(stream_ordering) AS m FROM events')).m);
    const d0 = num((await one(`SELECT max(depth) AS m FROM events WHERE room_id = '${roomId}'`)).m);
    const g0 = num((await one('SELECT max(id) AS m FROM state_groups')).m);
    const e0 = (await one(`SELECT event_id FROM event_forward_extremities WHERE room_id = '${roomId}'`)).event_id;
    const gc = num((await one(`SELECT state_group FROM event_to_state_groups WHERE event_id = '${e0}'`)).state_group);
    const createId = (await one(`SELECT event_id FROM current_state_events WHERE room_id = '${roomId}' AND type = 'm.room.create'`)).event_id;
    const plId = (await one(`SELECT event_id FROM current_state_events WHERE room_id = '${roomId}' AND type = 'm.room.power_levels'`)).event_id;
    const jrId = (await one(`SELECT event_id FROM current_state_events WHERE room_id = '${roomId}' AND type = 'm.room.join_rules'`)).event_id;
    const ts = Date.now() - 3600_000;
    const M = members;
    const N = messages;
    const user = (expr) => `'@bm' || (${expr}) || ':${SERVER_NAME}'`;
    const mid = (expr) => `'$bm' || (${expr})`;
    const xid = (expr) => `'$bx' || (${expr})`;
    const S = series(db, M);
    const X = series(db, N);
    const tx = db.engine === 'postgres' ? ['BEGIN', 'COMMIT'] : ['BEGIN IMMEDIATE', 'COMMIT'];
    await c.exec(tx[0]);
    // Members: one join each, chained after the room's last event.
    const memberJson = `'{"type":"m.room.member","room_id":"${roomId}","sender":"' || ${user('i')} || '","state_key":"' || ${user('i')} || '","content":{"membership":"join"},"depth":' || (${d0} + i) || ',"origin_server_ts":${ts},"prev_events":["' || CASE WHEN i = 1 THEN '${e0}' ELSE ${mid('i - 1')} END || '"],"auth_events":["${createId}","${plId}","${jrId}"],"hashes":{"sha256":"bench"},"signatures":{}}'`;
    await c.exec(`INSERT INTO events (topological_ordering, event_id, type, room_id, processed, outlier, depth, origin_server_ts, received_ts, sender, contains_url, instance_name, stream_ordering, state_key)
      SELECT ${d0} + i, ${mid('i')}, 'm.room.member', '${roomId}', TRUE, FALSE, ${d0} + i, ${ts}, ${ts}, ${user('i')}, FALSE, 'master', ${s0} + i, ${user('i')} ${S}`);
    await c.exec(`INSERT INTO event_json (event_id, room_id, internal_metadata, json, format_version) SELECT ${mid('i')}, '${roomId}', '{}', ${memberJson}, 3 ${S}`);
    await c.exec(`INSERT INTO event_edges (event_id, prev_event_id, room_id, is_state) SELECT ${mid('i')}, CASE WHEN i = 1 THEN '${e0}' ELSE ${mid('i - 1')} END, '${roomId}', FALSE ${S}`);
    for (const a of [createId, plId, jrId]) await c.exec(`INSERT INTO event_auth (event_id, auth_id, room_id) SELECT ${mid('i')}, '${a}', '${roomId}' ${S}`);
    await c.exec(`INSERT INTO state_events (event_id, room_id, type, state_key) SELECT ${mid('i')}, '${roomId}', 'm.room.member', ${user('i')} ${S}`);
    await c.exec(`INSERT INTO room_memberships (event_id, user_id, sender, room_id, membership, forgotten, event_stream_ordering) SELECT ${mid('i')}, ${user('i')}, ${user('i')}, '${roomId}', 'join', 0, ${s0} + i ${S}`);
    await c.exec(`INSERT INTO current_state_events (event_id, room_id, type, state_key, membership, event_stream_ordering) SELECT ${mid('i')}, '${roomId}', 'm.room.member', ${user('i')}, 'join', ${s0} + i ${S}`);
    await c.exec(`INSERT INTO local_current_membership (room_id, user_id, event_id, membership, event_stream_ordering) SELECT '${roomId}', ${user('i')}, ${mid('i')}, 'join', ${s0} + i ${S}`);
    await c.exec(`INSERT INTO current_state_delta_stream (stream_id, room_id, type, state_key, event_id, instance_name) SELECT ${s0} + i, '${roomId}', 'm.room.member', ${user('i')}, ${mid('i')}, 'master' ${S}`);
    await c.exec(`INSERT INTO state_groups (id, room_id, event_id) SELECT ${g0} + i, '${roomId}', ${mid('i')} ${S}`);
    await c.exec(`INSERT INTO state_group_edges (state_group, prev_state_group) SELECT ${g0} + i, CASE WHEN i = 1 THEN ${gc} ELSE ${g0} + i - 1 END ${S}`);
    await c.exec(`INSERT INTO state_groups_state (state_group, room_id, type, state_key, event_id) SELECT ${g0} + i, '${roomId}', 'm.room.member', ${user('i')}, ${mid('i')} ${S}`);
    await c.exec(`INSERT INTO event_to_state_groups (event_id, state_group) SELECT ${mid('i')}, ${g0} + i ${S}`);
    // Messages: chained after the last member, all in the last member's state group.
    const d1 = d0 + M;
    const s1 = s0 + M;
    const g1 = g0 + M;
    const sender = user(`(i % ${M}) + 1`);
    const msgJson = `'{"type":"m.room.message","room_id":"${roomId}","sender":"' || ${sender} || '","content":{"msgtype":"m.text","body":"message ' || i || '"},"depth":' || (${d1} + i) || ',"origin_server_ts":' || (${ts} + i) || ',"prev_events":["' || CASE WHEN i = 1 THEN ${mid(M)} ELSE ${xid('i - 1')} END || '"],"auth_events":["${createId}","${plId}","' || ${mid(`(i % ${M}) + 1`)} || '"],"hashes":{"sha256":"bench"},"signatures":{}}'`;
    await c.exec(`INSERT INTO events (topological_ordering, event_id, type, room_id, processed, outlier, depth, origin_server_ts, received_ts, sender, contains_url, instance_name, stream_ordering)
      SELECT ${d1} + i, ${xid('i')}, 'm.room.message', '${roomId}', TRUE, FALSE, ${d1} + i, ${ts} + i, ${ts} + i, ${sender}, FALSE, 'master', ${s1} + i ${X}`);
    await c.exec(`INSERT INTO event_json (event_id, room_id, internal_metadata, json, format_version) SELECT ${xid('i')}, '${roomId}', '{}', ${msgJson}, 3 ${X}`);
    await c.exec(`INSERT INTO event_edges (event_id, prev_event_id, room_id, is_state) SELECT ${xid('i')}, CASE WHEN i = 1 THEN ${mid(M)} ELSE ${xid('i - 1')} END, '${roomId}', FALSE ${X}`);
    await c.exec(`INSERT INTO event_auth (event_id, auth_id, room_id) SELECT ${xid('i')}, '${createId}', '${roomId}' ${X}`);
    await c.exec(`INSERT INTO event_auth (event_id, auth_id, room_id) SELECT ${xid('i')}, '${plId}', '${roomId}' ${X}`);
    await c.exec(`INSERT INTO event_auth (event_id, auth_id, room_id) SELECT ${xid('i')}, ${mid(`(i % ${M}) + 1`)}, '${roomId}' ${X}`);
    await c.exec(`INSERT INTO event_to_state_groups (event_id, state_group) SELECT ${xid('i')}, ${g1} ${X}`);
    await c.exec(`DELETE FROM event_forward_extremities WHERE room_id = '${roomId}'`);
    await c.exec(`INSERT INTO event_forward_extremities (event_id, room_id) VALUES ('$bx${N}', '${roomId}')`);
    await c.exec(
      `UPDATE room_stats_current SET joined_members = joined_members + ${M}, local_users_in_room = local_users_in_room + ${M}, current_state_events = current_state_events + ${M}, completed_delta_stream_id = ${s1 + N} WHERE room_id = '${roomId}'`,
    );
    await c.exec(tx[1]);
    if (db.engine === 'postgres') await c.exec('ANALYZE');
    const total = num((await one(`SELECT count(*) AS n FROM events WHERE room_id = '${roomId}'`)).n);
    return { total, pointEventId: (n) => `$bx${n}` };
  });
}

export async function countRows(db, sql) {
  return withConnection(db, async (c) => Number((await c.all(sql))[0].n));
}

/**
 * Runs `work` (which resolves when the job is done) while 10 connections look a user up; answers
 * the job's duration and the lookups' latency over exactly that time.
 */
export async function lookupsDuring(server, admin, other, work) {
  const url = `${server.url}/_synapse/admin/v2/users/${enc(other.userId)}`;
  const headers = { authorization: `Bearer ${admin.token}` };
  await autocannon({ url, headers, connections: 10, duration: 1 });
  let inst;
  const done = new Promise((ok, ko) => {
    inst = autocannon({ url, headers, connections: 10, duration: 600 }, (err, res) => (err ? ko(err) : ok(res)));
  });
  const t0 = performance.now();
  try {
    await work();
  } finally {
    inst.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const r = await done;
  if (r.non2xx + r.errors + r.timeouts > 0) throw new Error(`lookups during the job: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  return { seconds, lookups: r.requests.total, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max };
}

/** Polls a status endpoint every 50 ms until `finished(body)`; throws on a failure. */
export async function waitForStatus(server, admin, path, finished) {
  for (;;) {
    const r = await httpJson('GET', `${server.url}${path}`, { token: admin.token });
    if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    if (r.json.status === 'failed') throw new Error(`${path}: failed ${JSON.stringify(r.json)}`);
    if (finished(r.json)) return r.json;
    await sleep(50);
  }
}
