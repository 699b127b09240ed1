// Child processes under test (bare node:http and Axon from dist/), their databases and their RSS.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { registrationMac } from '../../dist/src/matrix/registration-mac.js';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { httpJson, waitFor } from './load.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SERVER_NAME = 'localhost';
export const PG_ADMIN_URL = process.env.AXON_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Everything to undo if the run stops early (Ctrl-C, a crash): children, temp dirs, databases. */
const cleanups = new Set();
export function onCleanup(fn) {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}
export async function cleanupAll() {
  for (const fn of [...cleanups].reverse()) {
    cleanups.delete(fn);
    await Promise.resolve().then(fn).catch(() => {});
  }
}

export function freePort() {
  return new Promise((ok, ko) => {
    const s = createServer();
    s.once('error', ko);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** VmRSS of a live process, in MiB. */
export function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** CPU seconds (user + system) a live process has used; /proc counts in clock ticks of 1/100 s on Linux. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Spawns a node script and waits until `readyPath` answers 2xx. */
async function startChild({ name, args, env, port, readyPath }) {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d) => {
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  const exit = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
  void exit.then(() => (exited = true));
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(t);
  };
  const unregister = onCleanup(stop);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(url + readyPath, { isAlive: () => !exited });
  } catch (e) {
    await stop();
    unregister();
    throw new Error(`${name} did not start: ${e.message}\n--- its output ---\n${output}`);
  }
  return {
    name,
    url,
    pid: child.pid,
    rss: () => rssMiB(child.pid),
    cpu: () => cpuSeconds(child.pid),
    output: () => output,
    async stop() {
      await stop();
      unregister();
    },
  };
}

export async function startBare() {
  const port = await freePort();
  return startChild({ name: 'bare node:http', args: [join(ROOT, 'bench/bare-server.mjs'), String(port)], env: {}, port, readyPath: '/' });
}

// ---- databases ----

export async function pgReachable() {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch (e) {
    return e.message;
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * A fresh, empty database for one server: a temp SQLite file, or `axon_bench_<random>` on
 * PostgreSQL (dropped again by `drop()`).
 */
export async function freshDatabase(engine) {
  const dir = mkdtempSync(join(tmpdir(), 'axon-bench-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  if (engine === 'sqlite') {
    const path = join(dir, 'homeserver.db');
    const unregister = onCleanup(removeDir);
    return {
      engine,
      dir,
      sqlitePath: path,
      yaml: { name: 'sqlite3', args: { database: path } },
      async drop() {
        removeDir();
        unregister();
      },
    };
  }
  const name = `axon_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN_URL);
  const dropDb = async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  };
  const args = {
    user: decodeURIComponent(u.username) || 'postgres',
    host: u.hostname,
    port: Number(u.port || 5432),
    database: name,
  };
  if (u.password) args.password = decodeURIComponent(u.password);
  const unregister = onCleanup(async () => {
    await dropDb();
    removeDir();
  });
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    engine,
    dir,
    pgName: name,
    pgUrl: url.toString(),
    // No cp_min/cp_max: the server runs with the defaults (5/10), as an operator's would.
    yaml: { name: 'psycopg2', args },
    async drop() {
      await dropDb();
      removeDir();
      unregister();
    },
  };
}

// ---- Axon ----

export const SHARED_SECRET = randomBytes(24).toString('hex');

// Only bin/axon is used from the build; the two formats below are Synapse's, so the bench does
// not break when src/ moves things around.
const signingKeyLine = () => `ed25519 a_bnch ${randomBytes(32).toString('base64').replace(/=+$/, '')}\n`;

/** Writes a homeserver.yaml for `db` (JSON is valid YAML) and starts `bin/axon -c` on it. */

export async function startAxon(db, { env = {}, nodeArgs = [], bcryptRounds, config: extra = {} } = {}) {
  const port = await freePort();
  const keyPath = join(db.dir, `${SERVER_NAME}.signing.key`);
  writeFileSync(keyPath, signingKeyLine(), { mode: 0o600 });
  const config = {
    server_name: SERVER_NAME,
    public_baseurl: `http://127.0.0.1:${port}/`,
    listeners: [{ port, bind_addresses: ['127.0.0.1'], type: 'http', tls: false, resources: [{ names: ['client'] }] }],
    database: db.yaml,
    registration_shared_secret: SHARED_SECRET,
    signing_key_path: keyPath,
    media_store_path: join(db.dir, 'media_store'),
    report_stats: false,
    ...extra,
  };
  if (bcryptRounds !== undefined) config.bcrypt_rounds = bcryptRounds;
  const configPath = join(db.dir, 'homeserver.yaml');
  writeFileSync(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  mkdirSync(config.media_store_path, { recursive: true });
  return startChild({
    name: `axon (${db.engine})`,
    args: [...nodeArgs, join(ROOT, 'bin/axon'), '-c', configPath],
    // Start-up lines only; Fastify's per-request logger is off anyway.
    env: { AXON_LOG_LEVEL: 'warn', ...env },
    port,
    readyPath: '/_synapse/admin/v1/server_version',
  });
}

/** Registers a user through shared-secret registration over HTTP and returns its token. */
export async function registerUser(server, localpart, { admin = false, password = `bench-${localpart}-pw` } = {}) {
  const nonce = (await httpJson('GET', `${server.url}/_synapse/admin/v1/register`)).json?.nonce;
  if (!nonce) throw new Error('shared-secret registration: no nonce');
  const res = await httpJson('POST', `${server.url}/_synapse/admin/v1/register`, {
    body: { nonce, username: localpart, password, admin, mac: registrationMac(SHARED_SECRET, nonce, localpart, password, admin) },
  });
  if (res.status !== 200) throw new Error(`registering ${localpart}: HTTP ${res.status} ${res.text}`);
  return { userId: res.json.user_id, token: res.json.access_token };
}
