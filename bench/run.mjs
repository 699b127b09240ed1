// `npm run bench`: Axon against a bare node:http server in the same run (see bench/README.md).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from './lib/dataset.mjs';
import { httpJson, loadSettings, measure } from './lib/load.mjs';
import { Report } from './lib/report.mjs';
import { cleanupAll, freshDatabase, pgReachable, registerUser, ROOT, SERVER_NAME, SHARED_SECRET, startAxon, startBare } from './lib/servers.mjs';
import { concurrentSends, sequentialBare, sequentialSends, setDatabaseSetting } from './lib/rooms.mjs';
import { lookupsDuringBigWrite, mixedWrites } from './lib/writes.mjs';
import { roomListBench } from './lib/room-list.mjs';
import { bulkRoom, countRows, lookupsDuring, waitForStatus } from './lib/purge.mjs';
import { syncSection } from './lib/sync.mjs';
import { mediaSection } from './lib/media.mjs';

const SECTIONS = ['lookup', 'list', 'bcrypt', 'writes', 'rooms', 'roomlist', 'purge', 'sync', 'media'];
const ENGINES = ['sqlite', 'postgres'];
const TARGETS = {
  lookupRatio: { sqlite: 0.4, postgres: 0.25 },
  idleRssMiB: 80,
  listRatio: { sqlite: 0.1 },
  /** The admin room list over 100,000 rooms, against the bare node:http req/s (issue 9). */
  roomListRatio: { sqlite: 0.1, postgres: 0.1 },
  bcryptScaling: 1.5,
  /** Deleting a 100,000-event room, purging 90,000 events of one (issue 9): seconds, and the lookups' p99 meanwhile. */
  purgeSeconds: 10,
  purgeLookupP99Ms: 50,
  /** p99 of lookups while a 100,000-row write runs. */
  bigWriteP99Ms: 50,
  /** Messages/s into one room: one sender in sequence, 10 senders at once. */
  roomSequential: { sqlite: 1200, postgres: 600 },
  roomConcurrent: { sqlite: 3300, postgres: 2000 },
};

const USAGE = `usage: npm run bench -- [--quick] [--only=lookup,list,bcrypt,writes,rooms,roomlist,purge,sync,media] [--engines=sqlite,postgres]
                       [--users=N] [--duration=S] [--warmup=S] [--cpu-prof]
  --quick      3 s runs after 1 s warm-up, 100,000 users (default: 10 s after 2 s, 1,000,000 users)
  --only       sections to run (env AXON_BENCH_ONLY); default all
  --engines    databases (env AXON_BENCH_ENGINES); default both. PostgreSQL: AXON_BENCH_PG_URL
               (default postgres://postgres@127.0.0.1:5432/test), skipped with a notice if unreachable
  --users      size of the list data set
  --cpu-prof   run each Axon with node --cpu-prof; profiles go to bench/results/profiles/`;

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      engines: { type: 'string' },
      users: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const list = (v, allowed, what) => {
    const items = v.split(',').map((s) => s.trim()).filter(Boolean);
    for (const i of items) if (!allowed.includes(i)) throw new Error(`unknown ${what} '${i}' (choose from ${allowed.join(', ')})`);
    return items;
  };
  const num = (v, what) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${what} must be a positive number`);
    return n;
  };
  const settings = loadSettings(values.quick);
  if (values.duration) settings.duration = num(values.duration, 'duration');
  if (values.warmup) settings.warmup = num(values.warmup, 'warmup');
  return {
    quick: values.quick,
    sections: list(values.only ?? process.env.AXON_BENCH_ONLY ?? SECTIONS.join(','), SECTIONS, 'section'),
    engines: list(values.engines ?? process.env.AXON_BENCH_ENGINES ?? ENGINES.join(','), ENGINES, 'engine'),
    users: values.users ? Math.floor(num(values.users, 'users')) : values.quick ? 100_000 : 1_000_000,
    settings,
    cpuProf: values['cpu-prof'],
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const enc = encodeURIComponent;
let opts;
const report = new Report();
/** Measures the bare node:http server with the same settings (set once it is running). */
let measureBare;
let interrupted = false;

function axonNodeArgs(tag) {
  if (!opts.cpuProf) return [];
  const dir = join(ROOT, 'bench/results/profiles');
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${tag}-${Date.now()}.cpuprofile`];
}

/** Idle RSS: after start-up has settled, before any request. */
async function idleRss(server) {
  await sleep(1000);
  return server.rss();
}

// ---- issue 2: per-request overhead ----
async function lookupSection(engine) {
  const db = await freshDatabase(engine);
  const server = await startAxon(db, { nodeArgs: axonNodeArgs(`lookup-${engine}`) });
  try {
    const idle = await idleRss(server);
    const admin = await registerUser(server, 'admin', { admin: true });
    const lookupPath = `/_synapse/admin/v2/users/${enc(admin.userId)}`;
    const check = await httpJson('GET', server.url + lookupPath, { token: admin.token });
    if (check.status !== 200 || check.json?.name !== admin.userId) throw new Error(`${lookupPath}: HTTP ${check.status} ${check.text.slice(0, 200)}`);

    const s = opts.settings;
    const pair = async (label, path, token, target) => {
      const b = await measureBare();
      report.measured(engine, label, await measure(server.url + path, { token }, s), b, target);
    };
    await pair('GET /_synapse/admin/v2/users/<id> (admin token)', lookupPath, admin.token, TARGETS.lookupRatio[engine]);
    await pair('GET /_matrix/client/v3/account/whoami', '/_matrix/client/v3/account/whoami', admin.token);
    await pair('GET /_synapse/admin/v1/server_version', '/_synapse/admin/v1/server_version', undefined);
    report.memoryOf(engine, 'fresh database (lookup run)', idle, server.rss(), TARGETS.idleRssMiB);
  } finally {
    await server.stop();
    await db.drop();
  }
}

// ---- issue 3: the users list on a large data set ----
function listQueries(n) {
  const from = Math.floor(n * 0.9);
  return [
    { label: 'GET /_synapse/admin/v2/users?limit=100', query: 'limit=100', expect: 'full' },
    { label: `GET /_synapse/admin/v2/users?limit=100&from=${from}`, query: `limit=100&from=${from}`, expect: 'full' },
    { label: 'GET /_synapse/admin/v2/users?limit=100&name=12345', query: 'limit=100&name=12345', expect: 'match', needle: '12345' },
    { label: 'GET /_synapse/admin/v2/users?limit=100&order_by=creation_ts&dir=b', query: 'limit=100&order_by=creation_ts&dir=b', expect: 'newest' },
  ];
}

/** Fails loudly unless the endpoint really answers the query (a fast 404 measures nothing). */
function verifyList(q, res) {
  const where = `GET /_synapse/admin/v2/users?${q.query}`;
  if (res.status !== 200) throw new Error(`${where}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
  const users = res.json?.users;
  if (!Array.isArray(users)) throw new Error(`${where}: no users array in ${res.text.slice(0, 200)}`);
  if (q.expect === 'match') {
    if (users.length === 0) throw new Error(`${where}: no users matched`);
    const bad = users.find((u) => !`${u.name} ${u.displayname ?? ''}`.includes(q.needle));
    if (bad) throw new Error(`${where}: ${bad.name} does not match '${q.needle}'`);
  } else if (users.length !== 100) {
    throw new Error(`${where}: ${users.length} users, expected 100`);
  }
  if (q.expect === 'newest') {
    for (let i = 1; i < users.length; i++) {
      if (users[i].creation_ts > users[i - 1].creation_ts) throw new Error(`${where}: not in descending creation_ts order at index ${i}`);
    }
  }
  return `${users.length} users, total ${res.json.total}`;
}

async function listSection(engine) {
  const n = opts.users;
  const db = await freshDatabase(engine);
  let server;
  try {
    console.log(`  loading ${n.toLocaleString('en-US')} users into ${engine} …`);
    const t = await loadDataset(db, n);
    report.setupTime(engine, 'first start on the empty database (migrations)', t.migrateS);
    report.setupTime(engine, `bulk insert of ${n.toLocaleString('en-US')} users + profiles${engine === 'postgres' ? ' (incl. VACUUM ANALYZE)' : ''}`, t.insertS);
    const t0 = performance.now();
    server = await startAxon(db, { nodeArgs: axonNodeArgs(`list-${engine}`) });
    report.setupTime(engine, `server start-up on the ${n.toLocaleString('en-US')}-user database`, (performance.now() - t0) / 1000);
    const idle = await idleRss(server);
    const admin = await registerUser(server, 'benchadmin', { admin: true });
    const s = opts.settings;
    for (const q of listQueries(n)) {
      try {
        const url = `${server.url}/_synapse/admin/v2/users?${q.query}`;
        // The first request of a query shape is timed on its own: it pays for whatever the
        // server then keeps (counts, anchors) for the rest of the run.
        const t0 = performance.now();
        const first = await httpJson('GET', url, { token: admin.token });
        const cold = performance.now() - t0;
        console.log(`  check: ${verifyList(q, first)}`);
        const b = await measureBare();
        report.measured(engine, q.label, { ...(await measure(url, { token: admin.token }, s)), cold }, b, TARGETS.listRatio[engine]);
      } catch (e) {
        report.fail(engine, e);
      }
    }
    report.memoryOf(engine, `${n.toLocaleString('en-US')} users (list run)`, idle, server.rss());
  } finally {
    await server?.stop();
    await db.drop();
  }
}

// ---- issue 9: the admin room list over 100,000 rooms ----
async function roomListSection(engine) {
  const n = 100_000;
  const db = await freshDatabase(engine);
  const server = await startAxon(db, { nodeArgs: axonNodeArgs(`roomlist-${engine}`) });
  try {
    const admin = await registerUser(server, 'benchadmin', { admin: true });
    console.log(`  inserting ${n.toLocaleString('en-US')} rooms into ${engine} …`);
    const b0 = await measureBare();
    const r = await roomListBench(server, db, admin, n, opts.settings);
    report.setupTime(engine, `bulk insert of ${n.toLocaleString('en-US')} rooms (rooms, room_stats_current, room_stats_state)`, r.insertS);
    console.log(`  check: ${r.check}`);
    const b1 = await measureBare();
    const bare = { rps: (b0.rps + b1.rps) / 2 };
    report.measured(engine, `GET /_synapse/admin/v1/rooms?limit=100&order_by=joined_members (${n.toLocaleString('en-US')} rooms)`, { ...r.result, cold: r.cold }, bare, TARGETS.roomListRatio[engine]);
  } finally {
    await server.stop();
    await db.drop();
  }
}

// ---- issue 9: deleting a big room and purging its history, while lookups run ----
async function purgeSection(engine) {
  const messages = 100_000;
  const members = 1_000;
  const enc = encodeURIComponent;
  for (const kind of ['delete', 'history']) {
    const db = await freshDatabase(engine);
    const start = () => startAxon(db, { nodeArgs: axonNodeArgs(`purge-${kind}-${engine}`), bcryptRounds: 4 });
    let server = await start();
    try {
      const admin = await registerUser(server, 'admin', { admin: true });
      const owner = await registerUser(server, 'owner');
      const other = await registerUser(server, 'bystander');
      const roomId = (await httpJson('POST', `${server.url}/_matrix/client/v3/createRoom`, { token: owner.token, body: { preset: 'public_chat', name: 'big' } })).json.room_id;
      // The room grows by bulk insert while Axon is down; it then loads the room as stored.
      await server.stop();
      const t0 = performance.now();
      const room = await bulkRoom(db, roomId, { members, messages });
      report.setupTime(engine, `bulk insert of a room with ${messages.toLocaleString('en-US')} messages and ${members.toLocaleString('en-US')} members (${room.total.toLocaleString('en-US')} events with their rows)`, (performance.now() - t0) / 1000);
      server = await start();
      let label;
      let r;
      if (kind === 'delete') {
        label = `DELETE /_synapse/admin/v2/rooms/<id> with purge, ${room.total.toLocaleString('en-US')} events and ${members.toLocaleString('en-US')} local members, until delete_status says complete`;
        r = await lookupsDuring(server, admin, other, async () => {
          const res = await httpJson('DELETE', `${server.url}/_synapse/admin/v2/rooms/${enc(roomId)}`, { token: admin.token, body: {} });
          if (res.status !== 200) throw new Error(`delete: HTTP ${res.status} ${res.text.slice(0, 200)}`);
          await waitForStatus(server, admin, `/_synapse/admin/v2/rooms/delete_status/${res.json.delete_id}`, (b) => b.status === 'complete');
        });
        const left = await countRows(db, `SELECT count(*) AS n FROM events WHERE room_id = '${roomId}'`);
        if (left !== 0) throw new Error(`${left} events of the deleted room are left`);
      } else {
        const point = room.pointEventId(90_000);
        label = `POST /_synapse/admin/v1/purge_history up to the 90,000th message (delete_local_events), until purge_history_status says complete`;
        r = await lookupsDuring(server, admin, other, async () => {
          const res = await httpJson('POST', `${server.url}/_synapse/admin/v1/purge_history/${enc(roomId)}/${enc(point)}`, { token: admin.token, body: { delete_local_events: true } });
          if (res.status !== 200) throw new Error(`purge_history: HTTP ${res.status} ${res.text.slice(0, 200)}`);
          await waitForStatus(server, admin, `/_synapse/admin/v1/purge_history_status/${res.json.purge_id}`, (b) => b.status === 'complete');
        });
        const left = await countRows(db, `SELECT count(*) AS n FROM events WHERE room_id = '${roomId}' AND type = 'm.room.message'`);
        if (left !== messages - 89_999) throw new Error(`${left} messages left after the purge (expected ${messages - 89_999})`);
      }
      report.writeFigure(
        engine,
        label,
        `${r.seconds.toFixed(2)} s; GET /_synapse/admin/v2/users/<id> meanwhile (10 connections): p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms over ${r.lookups.toLocaleString('en-US')} lookups`,
        `< ${TARGETS.purgeSeconds} s, p99 < ${TARGETS.purgeLookupP99Ms} ms`,
        r.seconds < TARGETS.purgeSeconds && r.p99 < TARGETS.purgeLookupP99Ms,
      );
    } finally {
      await server.stop();
      await db.drop();
    }
  }
}

// ---- issue 6: reads during a big write, and mixed concurrent writes ----
async function writesSection(engine) {
  const rows = opts.quick ? 20_000 : 50_000;
  {
    const db = await freshDatabase(engine);
    const server = await startAxon(db, { nodeArgs: axonNodeArgs(`bigwrite-${engine}`), bcryptRounds: 4 });
    try {
      const admin = await registerUser(server, 'admin', { admin: true });
      const w = await lookupsDuringBigWrite(server, db, admin, registerUser, rows);
      const pass = w.p99 < TARGETS.bigWriteP99Ms;
      report.writeFigure(
        engine,
        `GET /_synapse/admin/v2/users/<id> while a deactivation deletes ${w.rows.toLocaleString('en-US')} rows (${w.writeMs.toFixed(0)} ms)`,
        `${Math.round(w.rps).toLocaleString('en-US')} req/s, p50 ${w.p50} ms, p99 ${w.p99} ms, max ${w.max} ms (${w.lookups.toLocaleString('en-US')} lookups)`,
        `p99 < ${TARGETS.bigWriteP99Ms} ms`,
        pass,
      );
    } finally {
      await server.stop();
      await db.drop();
    }
  }
  {
    const db = await freshDatabase(engine);
    // Rate limits off and cheap hashes: this measures the storage under concurrent writers.
    const unlimited = { per_second: 100000, burst_count: 100000 };
    const server = await startAxon(db, {
      nodeArgs: axonNodeArgs(`mixed-${engine}`),
      bcryptRounds: 4,
      config: { rc_registration: unlimited, rc_login: { address: unlimited, account: unlimited, failed_attempts: unlimited } },
    });
    try {
      const admin = await registerUser(server, 'admin', { admin: true });
      const m = await mixedWrites(server, admin, registerUser, SHARED_SECRET);
      report.writeFigure(
        engine,
        `${m.ops} mixed writes at once (registrations, admin creates/updates, deactivations, profiles, logins, device deletes; bcrypt_rounds 4)`,
        `${m.opsPerSecond.toFixed(0)} operations/s (${m.seconds.toFixed(2)} s), ${m.errors5xx} answers of 5xx, ${m.failed} not 2xx`,
        'zero errors',
        m.failed === 0,
      );
    } finally {
      await server.stop();
      await db.drop();
    }
  }
}

// ---- issue 7: messages into one room ----
async function roomSends(engine, db, tag, bareSeq, bareRps) {
  const unlimited = { per_second: 1000000, burst_count: 1000000 };
  const server = await startAxon(db, { nodeArgs: axonNodeArgs(`rooms-${engine}`), bcryptRounds: 4, config: { rc_message: unlimited } });
  try {
    const idle = await idleRss(server);
    const lp = tag ? 'second' : '';
    const admin = await registerUser(server, `admin${lp}`, { admin: true });
    const users = [];
    for (let i = 0; i < 10; i++) users.push(await registerUser(server, `sender${lp}${i}`));
    const label = (what) => (tag ? `${what} [${tag}]` : what);
    const seq = await sequentialSends(server, db, users[0], 300);
    report.writeFigure(
      engine,
      label('300 messages to one room by one sender in sequence (signed, stored with edges, extremities, state group)'),
      `${Math.round(seq.perSecond).toLocaleString('en-US')} msg/s (${seq.seconds.toFixed(2)} s); bare node:http one request at a time: ${Math.round(bareSeq).toLocaleString('en-US')} req/s`,
      `≥ ${TARGETS.roomSequential[engine]} msg/s`,
      seq.perSecond >= TARGETS.roomSequential[engine],
    );
    const conc = await concurrentSends(server, db, admin, users, 500);
    report.writeFigure(
      engine,
      label('500 messages to one room by 10 concurrent senders'),
      `${Math.round(conc.perSecond).toLocaleString('en-US')} msg/s (${conc.seconds.toFixed(2)} s); bare node:http ${Math.round(bareRps).toLocaleString('en-US')} req/s (10 connections)`,
      `≥ ${TARGETS.roomConcurrent[engine]} msg/s`,
      conc.perSecond >= TARGETS.roomConcurrent[engine],
    );
    const during = await concurrentSends(server, db, admin, users, 500, { withLookups: true });
    report.writeFigure(
      engine,
      label('GET /_synapse/admin/v2/users/<id> (10 connections) while 10 senders send 500 messages'),
      `p50 ${during.lookupP50} ms, p99 ${during.lookupP99} ms over ${during.lookups.toLocaleString('en-US')} lookups; sends meanwhile ${Math.round(during.perSecond).toLocaleString('en-US')} msg/s`,
      'measured',
      true,
    );
    report.memoryOf(engine, label('room sends (1,400 messages)'), idle, server.rss());
  } finally {
    await server.stop();
  }
}

async function roomsSection(engine, bareUrl) {
  const bareSeq = await sequentialBare(bareUrl);
  const bare = await measureBare();
  const db = await freshDatabase(engine);
  try {
    await roomSends(engine, db, '', bareSeq, bare.rps);
    if (engine === 'postgres') {
      // The same with commits that do not wait for the WAL flush: what the pipeline costs when the
      // disk's fsync latency is taken out (an operator's choice in postgresql.conf; not Axon's).
      await setDatabaseSetting(db, 'synchronous_commit', 'off');
      await roomSends(engine, db, 'synchronous_commit=off', bareSeq, bare.rps);
    }
  } finally {
    await db.drop();
  }
}

// ---- issue 5: bcrypt on libuv's thread pool ----
async function createUsersPerSecond(engine, poolSize) {
  const db = await freshDatabase(engine);
  // bcrypt_rounds left unset: Synapse's default of 12.
  const server = await startAxon(db, { env: { UV_THREADPOOL_SIZE: String(poolSize) }, nodeArgs: axonNodeArgs(`bcrypt-${poolSize}`) });
  try {
    const admin = await registerUser(server, 'admin', { admin: true });
    const warmupMs = opts.settings.warmup * 1000;
    // A hash takes ~0.25 s: count over at least 8 s so the figure has a few dozen users in it.
    const windowMs = Math.max(opts.settings.duration, 8) * 1000;
    const start = performance.now();
    const end = start + warmupMs + windowMs;
    let next = 0;
    let counted = 0;
    // CPU the server used in the window: tells "Axon did not use the second thread" apart from
    // "the machine had no second core to give".
    let cpuAtStart = server.cpu();
    const snap = setTimeout(() => (cpuAtStart = server.cpu()), warmupMs);
    // More requests in flight than threads, so the pool, not the client, is the limit.
    const worker = async () => {
      while (performance.now() < end) {
        const k = next++;
        const res = await httpJson('PUT', `${server.url}/_synapse/admin/v2/users/${enc(`@new${poolSize}x${k}:${SERVER_NAME}`)}`, {
          token: admin.token,
          body: { password: `bench-password-${k}`, displayname: `New ${k}` },
        });
        if (res.status !== 201) throw new Error(`PUT /_synapse/admin/v2/users/@new…: HTTP ${res.status} ${res.text.slice(0, 200)}`);
        const t = performance.now();
        if (t >= start + warmupMs && t <= end) counted++;
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    clearTimeout(snap);
    const cores = (server.cpu() - cpuAtStart) / ((performance.now() - start - warmupMs) / 1000);
    return { perSecond: counted / (windowMs / 1000), cores };
  } finally {
    await server.stop();
    await db.drop();
  }
}

/** hashes/s of bare bcrypt in a plain node process with the given thread pool (same window). */
function rawBcryptPerSecond(poolSize) {
  const windowS = Math.max(opts.settings.duration, 8);
  const out = execFileSync(process.execPath, [join(ROOT, 'bench/bcrypt-yardstick.mjs'), String(opts.settings.warmup), String(windowS)], {
    cwd: ROOT,
    env: { ...process.env, UV_THREADPOOL_SIZE: String(poolSize) },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop());
}

/**
 * Axon and the bare bcrypt yardstick, each with 1 and 2 threads, in ABBA order (1, 2, 2, 1) so
 * that a drift in the machine's load cancels out of the ratios. The yardstick shows how much a
 * second thread can give on this machine right now; Axon should get nearly all of it.
 */
async function bcryptSection(engine) {
  const runs = { axon1: [], axon2: [], raw1: [], raw2: [] };
  for (const size of [1, 2, 2, 1]) {
    const a = await createUsersPerSecond(engine, size);
    const r = rawBcryptPerSecond(size);
    runs[`axon${size}`].push(a);
    runs[`raw${size}`].push(r);
    console.log(`  UV_THREADPOOL_SIZE=${size}: Axon ${a.perSecond.toFixed(2)} users/s (${a.cores.toFixed(2)} cores busy), bare bcrypt ${r.perSecond.toFixed(2)} hashes/s (${r.cores.toFixed(2)} cores)`);
  }
  const mean = (a, k) => a.reduce((x, y) => x + y[k], 0) / a.length;
  const a1 = mean(runs.axon1, 'perSecond');
  const a2 = mean(runs.axon2, 'perSecond');
  const r1 = mean(runs.raw1, 'perSecond');
  const r2 = mean(runs.raw2, 'perSecond');
  const cores = (k) => ` (${mean(runs[k], 'cores').toFixed(2)} cores busy)`;
  report.bcryptFigure(`Axon: users created/s, UV_THREADPOOL_SIZE=1${cores('axon1')}`, a1, '/s');
  report.bcryptFigure(`Axon: users created/s, UV_THREADPOOL_SIZE=2${cores('axon2')}`, a2, '/s');
  report.bcryptFigure(`Axon: ratio 2 threads / 1 thread (${cpus().length} CPUs, ≈2× on an idle machine)`, a2 / a1, '×', `≥ ${TARGETS.bcryptScaling}×`, a2 / a1 >= TARGETS.bcryptScaling);
  report.bcryptFigure(`yardstick: bare bcrypt hashes/s, 1 thread${cores('raw1')}`, r1, '/s');
  report.bcryptFigure(`yardstick: bare bcrypt hashes/s, 2 threads${cores('raw2')}`, r2, '/s');
  report.bcryptFigure('yardstick: ratio 2 threads / 1 thread (what the machine gives now)', r2 / r1, '×');
  if (r2 / r1 < TARGETS.bcryptScaling || a2 / a1 < TARGETS.bcryptScaling) {
    report.note(
      `bcrypt: with a second thread Axon scaled ${(a2 / a1).toFixed(2)}×, bare bcrypt ${(r2 / r1).toFixed(2)}× (load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs): ` +
        'compare the cores-busy figures to see whether the machine had a second core to give.',
    );
  }
}

function gitDescribe() {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() ? ' + uncommitted src changes' : '';
    return rev + dirty;
  } catch {
    return 'unknown';
  }
}

async function main() {
  try {
    opts = options();
  } catch (e) {
    console.error(`${e.message}\n${USAGE}`);
    process.exit(2);
  }
  const s = opts.settings;
  const header = [
    `### Axon bench — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${gitDescribe()}${opts.quick ? ' (--quick)' : ''}`,
    '',
    `node ${process.version}, ${platform()} ${release()}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}. ` +
      `autocannon: ${s.connections} connections, ${s.duration} s after a ${s.warmup} s warm-up, client in the bench process; ` +
      `servers in child processes. The bare node:http server is measured just before each Axon figure; ratios use the median of those runs. ` +
      `Load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (anything else busy on the machine skews every figure).`,
  ].join('\n');
  console.log(header.replace(/^### /, ''));

  const engines = [];
  for (const e of opts.engines) {
    if (e === 'postgres') {
      const ok = await pgReachable();
      if (ok !== true) {
        const msg = `PostgreSQL skipped: cannot reach ${process.env.AXON_BENCH_PG_URL ?? '127.0.0.1:5432'} (${ok})`;
        console.log(`NOTICE: ${msg}`);
        report.note(msg);
        continue;
      }
    }
    engines.push(e);
  }

  const wants = (x) => opts.sections.includes(x);
  if (wants('lookup') || wants('list') || wants('rooms') || wants('roomlist') || wants('sync')) {
    // The yardstick runs for the whole bench and is measured right before every Axon figure.
    const bare = await startBare();
    report.memoryOf('—', 'bare node:http', await idleRss(bare), undefined);
    measureBare = () => measure(bare.url + '/', {}, s);
    for (const engine of engines) {
      if (wants('lookup')) {
        console.log(`\n== ${engine}: lookup (issue 2) ==`);
        await lookupSection(engine).catch((e) => report.fail(`${engine} lookup`, e));
      }
      if (wants('list')) {
        console.log(`\n== ${engine}: users list on ${opts.users.toLocaleString('en-US')} users (issue 3) ==`);
        await listSection(engine).catch((e) => report.fail(`${engine} list`, e));
      }
      if (wants('rooms')) {
        console.log(`\n== ${engine}: messages into one room (issue 7) ==`);
        await roomsSection(engine, bare.url).catch((e) => report.fail(`${engine} rooms`, e));
      }
      if (wants('roomlist')) {
        console.log(`\n== ${engine}: admin room list on 100,000 rooms (issue 9) ==`);
        await roomListSection(engine).catch((e) => report.fail(`${engine} roomlist`, e));
      }
      if (wants('sync')) {
        console.log(`\n== ${engine}: send → /sync latency, 1,000 held long-polls (issue 8) ==`);
        const env = { report, freshDatabase, startAxon, registerUser, bareUrl: bare.url, quick: opts.quick, nodeArgs: axonNodeArgs };
        await syncSection(engine, env).catch((e) => report.fail(`${engine} sync`, e));
      }
    }
    await bare.stop();
  }
  if (wants('bcrypt')) {
    const engine = engines.includes('sqlite') ? 'sqlite' : engines[0];
    if (engine) {
      console.log(`\n== bcrypt scaling on ${engine} (issue 5) ==`);
      await bcryptSection(engine).catch((e) => report.fail('bcrypt', e));
    }
  }
  if (wants('writes')) {
    for (const engine of engines) {
      console.log(`\n== ${engine}: lookups during a big write, mixed concurrent writes (issue 6) ==`);
      await writesSection(engine).catch((e) => report.fail(`${engine} writes`, e));
    }
  }
  if (wants('purge')) {
    for (const engine of engines) {
      console.log(`\n== ${engine}: deleting a 100,000-event room, purging 90,000 events (issue 9) ==`);
      await purgeSection(engine).catch((e) => report.fail(`${engine} purge`, e));
    }
  }
  if (wants('media')) {
    for (const engine of engines) {
      console.log(`\n== ${engine}: media upload/download throughput, RSS under 10 × 100 MB uploads, thumbnails (issue 10) ==`);
      const env = { report, freshDatabase, startAxon, registerUser, settings: s, quick: opts.quick, nodeArgs: axonNodeArgs };
      await mediaSection(engine, env).catch((e) => report.fail(`${engine} media`, e));
    }
  }
  if (opts.cpuProf) report.note('CPU profiles in bench/results/profiles/ (open in Chrome DevTools → Performance, or speedscope).');

  if (interrupted) return;
  const md = report.markdown(header);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/latest.md'), md);
  console.log(`\n${md}\n(written to bench/results/latest.md)`);
  process.exitCode = report.failures.length > 0 ? 1 : 0;
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    interrupted = true;
    console.error(`\n${sig}: stopping servers and dropping bench databases …`);
    void cleanupAll().finally(() => process.exit(130));
  });
}
main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
