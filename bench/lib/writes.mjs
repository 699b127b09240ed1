// Issue 6: lookups during a 100,000-row write, and 300 mixed concurrent writes.
import autocannon from 'autocannon';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { registrationMac } from '../../dist/src/matrix/registration-mac.js';
import { httpJson } from './load.mjs';

const enc = encodeURIComponent;

/** Runs one statement through a connection of its own, as an operator's shell would. */
async function runSql(db, statement) {
  if (db.engine === 'sqlite') {
    const raw = new SqliteDatabase(db.sqlitePath);
    try {
      raw.pragma('busy_timeout = 10000');
      raw.exec(statement);
    } finally {
      raw.close();
    }
    return;
  }
  const c = new pg.Client({ connectionString: db.pgUrl });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

/**
 * A user owning `n` devices and `n` tokens (a bot that logs in without ever logging out) is
 * deactivated, which deletes 2n rows in one transaction, while 10 connections look another user
 * up. The latency figures cover exactly the time the deactivation took.
 */
export async function lookupsDuringBigWrite(server, db, admin, registerUser, n) {
  const bot = await registerUser(server, 'bigbot');
  const other = await registerUser(server, 'bystander');
  const rows = db.engine === 'postgres' ? `FROM generate_series(1, ${n}) AS s(i)` : `FROM (WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n}) SELECT i FROM s)`;
  await runSql(db, `INSERT INTO devices (user_id, device_id, hidden) SELECT '${bot.userId}', 'BULK' || i, false ${rows}`);
  await runSql(db, `INSERT INTO access_tokens (user_id, device_id, token) SELECT '${bot.userId}', 'BULK' || i, 'bulk_token_' || i ${rows}`);

  const url = `${server.url}/_synapse/admin/v2/users/${enc(other.userId)}`;
  const headers = { authorization: `Bearer ${admin.token}` };
  // Warm the caches and the connections first.
  await autocannon({ url, headers, connections: 10, duration: 1 });
  let result;
  const done = new Promise((ok, ko) => {
    const inst = autocannon({ url, headers, connections: 10, duration: 600 }, (err, res) => (err ? ko(err) : ok(res)));
    result = inst;
  });
  const t0 = performance.now();
  const res = await httpJson('POST', `${server.url}/_synapse/admin/v1/deactivate/${enc(bot.userId)}`, { token: admin.token, body: {} });
  const writeMs = performance.now() - t0;
  result.stop();
  const r = await done;
  if (res.status !== 200) throw new Error(`deactivate: HTTP ${res.status} ${res.text.slice(0, 200)}`);
  const check = await httpJson('GET', `${server.url}/_synapse/admin/v2/users/${enc(bot.userId)}/devices`, { token: admin.token });
  if (check.json?.total !== 0) throw new Error(`after deactivation ${check.json?.total} devices are left`);
  if (r.non2xx + r.errors + r.timeouts > 0) throw new Error(`lookups during the write: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  return { writeMs, rows: 2 * n, lookups: r.requests.total, rps: r.requests.total / (writeMs / 1000), p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max };
}

async function register(server, secret, localpart) {
  const nonce = (await httpJson('GET', `${server.url}/_synapse/admin/v1/register`)).json?.nonce;
  const password = `pw-${localpart}`;
  return httpJson('POST', `${server.url}/_synapse/admin/v1/register`, {
    body: { nonce, username: localpart, password, admin: false, mac: registrationMac(secret, nonce, localpart, password, false, null) },
  });
}

/** The password registerUser (servers.mjs) gives a user. */
const passwordOf = (userId) => `bench-${userId.slice(1, userId.indexOf(':'))}-pw`;

/**
 * 300 writes fired at once: shared-secret registrations, admin creates and updates,
 * deactivations, profile updates, logins and device deletes over 190 existing users.
 */
export async function mixedWrites(server, admin, registerUser, secret) {
  const make = async (prefix, n) => {
    const out = [];
    for (let i = 0; i < n; i += 10) out.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => registerUser(server, `${prefix}${i + j}`)))));
    return out;
  };
  const deact = await make('deact', 40);
  const rename = await make('rename', 40);
  const logins = await make('login', 40);
  const devs = await make('devs', 20);
  const upd = await make('upd', 30);
  const extra = await Promise.all(
    devs.map((u) => httpJson('POST', `${server.url}/_matrix/client/v3/login`, { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: passwordOf(u.userId) } })),
  );
  const ops = [];
  for (let i = 0; i < 90; i++) ops.push(() => register(server, secret, `fresh${i}`));
  for (let i = 0; i < 40; i++) ops.push(() => httpJson('PUT', `${server.url}/_synapse/admin/v2/users/${enc(`@created${i}:localhost`)}`, { token: admin.token, body: { displayname: `C${i}` } }));
  for (const u of upd) ops.push(() => httpJson('PUT', `${server.url}/_synapse/admin/v2/users/${enc(u.userId)}`, { token: admin.token, body: { displayname: 'updated' } }));
  for (const u of deact) ops.push(() => httpJson('POST', `${server.url}/_synapse/admin/v1/deactivate/${enc(u.userId)}`, { token: admin.token, body: {} }));
  for (const u of rename) ops.push(() => httpJson('PUT', `${server.url}/_matrix/client/v3/profile/${enc(u.userId)}/displayname`, { token: u.token, body: { displayname: 'renamed' } }));
  for (const u of logins) ops.push(() => httpJson('POST', `${server.url}/_matrix/client/v3/login`, { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: passwordOf(u.userId) } }));
  devs.forEach((u, i) => ops.push(() => httpJson('DELETE', `${server.url}/_synapse/admin/v2/users/${enc(u.userId)}/devices/${enc(extra[i].json.device_id)}`, { token: admin.token })));
  const shuffled = ops.map((op, i) => ({ op, k: (i * 7919) % ops.length })).sort((a, b) => a.k - b.k).map((x) => x.op);
  const t0 = performance.now();
  const results = await Promise.all(shuffled.map((op) => op()));
  const seconds = (performance.now() - t0) / 1000;
  const errors5xx = results.filter((r) => r.status >= 500).length;
  const failed = results.filter((r) => r.status >= 300).length;
  return { ops: ops.length, seconds, opsPerSecond: ops.length / seconds, errors5xx, failed };
}
