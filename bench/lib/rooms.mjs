// Issue 7: messages per second into one room, sequential and concurrent, every event signed and
// stored with its edges, extremities and state group; and admin lookups while senders run.
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { httpJson } from './load.mjs';

const enc = encodeURIComponent;

/**
 * The yardstick for one sender in sequence: a bare node:http server answering GET / one request
 * at a time on one keep-alive connection (the round trip no server can beat on this machine).
 */
export async function sequentialBare(bareUrl, count = 2000) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const { hostname, port } = new URL(bareUrl);
  const get = () =>
    new Promise((resolve, reject) => {
      const req = request({ agent, hostname, port, path: '/', method: 'GET' }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
  try {
    for (let i = 0; i < 200; i++) await get();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) await get();
    return count / ((performance.now() - t0) / 1000);
  } finally {
    agent.destroy();
  }
}

/** Sets a PostgreSQL setting for every new connection to the bench database (ALTER DATABASE). */
export async function setDatabaseSetting(db, name, value) {
  const c = new pg.Client({ connectionString: db.pgUrl });
  await c.connect();
  try {
    const dbName = new URL(db.pgUrl).pathname.slice(1);
    await c.query(`ALTER DATABASE "${dbName}" SET ${name} = ${value}`);
  } finally {
    await c.end();
  }
}

/** One keep-alive connection per sender, as a client would hold. */
function sender(server, token) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const { hostname, port } = new URL(server.url);
  let txn = 0;
  const prefix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  return {
    send(roomId, body) {
      const path = `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${prefix}-${++txn}`;
      const payload = JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const req = agentRequest(agent, { hostname, port, path, token, payload }, (status, text) => {
          if (status !== 200) reject(new Error(`send: HTTP ${status} ${text.slice(0, 200)}`));
          else resolve(JSON.parse(text).event_id);
        });
        req.on('error', reject);
      });
    },
    close: () => agent.destroy(),
  };
}

function agentRequest(agent, { hostname, port, path, token, payload }, done) {
  const req = request(
    { agent, hostname, port, path, method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
    (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => done(res.statusCode, text));
    },
  );
  req.end(payload);
  return req;
}

async function querySql(db, statement) {
  if (db.engine === 'sqlite') {
    const raw = new SqliteDatabase(db.sqlitePath, { readonly: true });
    try {
      return raw.prepare(statement).all();
    } finally {
      raw.close();
    }
  }
  const c = new pg.Client({ connectionString: db.pgUrl });
  await c.connect();
  try {
    return (await c.query(statement)).rows;
  } finally {
    await c.end();
  }
}

/** Checks that every message of the room is stored with what the issue asks for. */
async function verifyStored(db, roomId, expected) {
  const [row] = await querySql(
    db,
    `SELECT count(*) AS n,
            count(DISTINCT j.event_id) AS json,
            count(DISTINCT g.event_id) AS groups,
            count(DISTINCT ed.event_id) AS edges
       FROM events e
       LEFT JOIN event_json j ON j.event_id = e.event_id AND j.json LIKE '%"signatures"%'
       LEFT JOIN event_to_state_groups g ON g.event_id = e.event_id
       LEFT JOIN event_edges ed ON ed.event_id = e.event_id
      WHERE e.room_id = '${roomId}' AND e.type = 'm.room.message'`,
  );
  const [x] = await querySql(db, `SELECT count(*) AS n FROM event_forward_extremities WHERE room_id = '${roomId}'`);
  const n = Number(row.n);
  if (n !== expected || Number(row.json) !== n || Number(row.groups) !== n || Number(row.edges) !== n) {
    throw new Error(`room ${roomId}: ${n} messages (expected ${expected}), ${row.json} signed JSON, ${row.groups} state groups, ${row.edges} with edges`);
  }
  if (Number(x.n) !== 1) throw new Error(`room ${roomId}: ${x.n} forward extremities, expected 1`);
}

async function createRoomWith(server, owner, members) {
  const created = await httpJson('POST', `${server.url}/_matrix/client/v3/createRoom`, { token: owner.token, body: { preset: 'public_chat', name: 'bench' } });
  if (created.status !== 200) throw new Error(`createRoom: HTTP ${created.status} ${created.text.slice(0, 200)}`);
  const roomId = created.json.room_id;
  for (const m of members) {
    const j = await httpJson('POST', `${server.url}/_matrix/client/v3/rooms/${enc(roomId)}/join`, { token: m.token, body: {} });
    if (j.status !== 200) throw new Error(`join: HTTP ${j.status} ${j.text.slice(0, 200)}`);
  }
  return roomId;
}

/**
 * One sender, one message at a time: the latency of a whole send (HTTP, auth rules, hashing,
 * signing, one commit) bounds the rate.
 */
export async function sequentialSends(server, db, owner, count) {
  const roomId = await createRoomWith(server, owner, []);
  const s = sender(server, owner.token);
  try {
    for (let i = 0; i < 50; i++) await s.send(roomId, { msgtype: 'm.text', body: `warm-up ${i}` });
    const t0 = performance.now();
    for (let i = 0; i < count; i++) await s.send(roomId, { msgtype: 'm.text', body: `message ${i}` });
    const seconds = (performance.now() - t0) / 1000;
    await verifyStored(db, roomId, count + 50);
    return { perSecond: count / seconds, seconds };
  } finally {
    s.close();
  }
}

/**
 * Several senders at once into one room, each sending its share one message at a time, while 10
 * connections look an admin's user up: the room actor serialises the room, the persister commits
 * what queued together.
 */
export async function concurrentSends(server, db, admin, users, total, { withLookups = false } = {}) {
  const roomId = await createRoomWith(server, users[0], users.slice(1));
  const senders = users.map((u) => sender(server, u.token));
  const lookup = `${server.url}/_synapse/admin/v2/users/${enc(admin.userId)}`;
  const headers = { authorization: `Bearer ${admin.token}` };
  try {
    // Warm-up round, then the measured one.
    await Promise.all(senders.map(async (s, k) => { for (let i = 0; i < 10; i++) await s.send(roomId, { msgtype: 'm.text', body: `warm ${k}/${i}` }); }));
    let inst;
    const looked = withLookups
      ? new Promise((ok, ko) => {
          inst = autocannon({ url: lookup, headers, connections: 10, duration: 600 }, (err, res) => (err ? ko(err) : ok(res)));
        })
      : null;
    const per = Math.ceil(total / senders.length);
    const t0 = performance.now();
    await Promise.all(senders.map(async (s, k) => { for (let i = 0; i < per; i++) await s.send(roomId, { msgtype: 'm.text', body: `from ${k}: ${i}` }); }));
    const seconds = (performance.now() - t0) / 1000;
    await verifyStored(db, roomId, per * senders.length + 10 * senders.length);
    const out = { perSecond: (per * senders.length) / seconds, seconds, messages: per * senders.length };
    if (!looked) return out;
    inst.stop();
    const r = await looked;
    if (r.non2xx + r.errors > 0) throw new Error(`lookups during the sends: ${r.non2xx} non-2xx, ${r.errors} errors`);
    return { ...out, lookupP99: r.latency.p99, lookupP50: r.latency.p50, lookups: r.requests.total };
  } finally {
    for (const s of senders) s.close();
  }
}
