import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, freePort, loadConfigFiles, startProcess, tempDir, type RunningProcess } from '../harness/cli.js';
import { registrationMac } from '../harness/registration-mac.js';
import { PG_URL, SHARED_SECRET, TEST_DB, startServer, type TestServer } from '../harness/server.js';

/**
 * The HTTP edge as operators run it: `/health` on every listener, the Admin API on a listener of
 * its own (resource `admin`), access lines on stdout as JSON when stdout is not a terminal, and an
 * over-limit body answered with a 413 the client can read.
 */

interface Res {
  status: number;
  type: string | null;
  text: string;
  body: any;
}

async function call(url: string, init: RequestInit = {}): Promise<Res> {
  const r = await fetch(url, init);
  const text = await r.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: r.status, type: r.headers.get('content-type'), text, body };
}

const UNRECOGNIZED = { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' };

describe('two listeners: client on one port, admin on another (bin/axon)', () => {
  let dir: string;
  let axon: RunningProcess;
  let client: string;
  let admin: string;
  let adminPort: number;
  let token: string;
  let dropDb: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ensureBuilt();
    dir = tempDir('listeners');
    const clientPort = await freePort();
    adminPort = await freePort();
    let database = `{name: sqlite3, args: {database: ${JSON.stringify(join(dir, 'homeserver.db'))}}}`;
    if (TEST_DB === 'postgres') {
      const name = `axon_test_${randomBytes(6).toString('hex')}`;
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`CREATE DATABASE ${name}`);
      await c.end();
      const u = new URL(PG_URL);
      database = `{name: psycopg2, args: {user: ${decodeURIComponent(u.username) || 'postgres'}, host: ${u.hostname}, port: ${u.port || 5432}, database: ${name}}}`;
      dropDb = async () => {
        const d = new pg.Client({ connectionString: PG_URL });
        await d.connect();
        await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await d.end();
      };
    }
    const path = join(dir, 'homeserver.yaml');
    writeFileSync(
      path,
      `server_name: localhost
listeners:
  - port: ${clientPort}
    bind_addresses: ['127.0.0.1']
    type: http
    resources:
      - names: [client, federation]
  - port: ${adminPort}
    bind_addresses: ['127.0.0.1']
    type: http
    resources:
      - names: [admin]
database: ${database}
registration_shared_secret: ${SHARED_SECRET}
bcrypt_rounds: 4
signing_key_path: ${JSON.stringify(join(dir, 'localhost.signing.key'))}
media_store_path: ${JSON.stringify(join(dir, 'media'))}
`,
    );
    // Config validation accepts the resource name.
    expect(loadConfigFiles([path]).config.listeners.map((l) => l.resources)).toEqual([['client', 'federation'], ['admin']]);
    writeFileSync(join(dir, 'localhost.signing.key'), 'ed25519 a_test 4vGd2p0cOjHTPqYGvB1YkyCWtpWPUE4JtwgUAh0yDt0\n');
    axon = startProcess(process.execPath, [BIN.axon, '-c', path], { cwd: dir, env: { AXON_LOG_LEVEL: 'info' } });
    await axon.waitFor(/started for localhost/);
    client = `http://127.0.0.1:${clientPort}`;
    admin = `http://127.0.0.1:${adminPort}`;

    const nonce = (await call(`${admin}/_synapse/admin/v1/register`)).body.nonce as string;
    const reg = await call(`${admin}/_synapse/admin/v1/register`, {
      method: 'POST',
      body: JSON.stringify({ nonce, username: 'boss', password: 'pw', admin: true, mac: registrationMac(SHARED_SECRET, nonce, 'boss', 'pw', true, null) }),
    });
    expect(reg.status).toBe(200);
    token = reg.body.access_token;
  }, 60_000);

  afterAll(async () => {
    await axon?.stop('SIGTERM');
    await dropDb?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('GET /health answers 200 OK (text/plain) on both listeners', async () => {
    for (const base of [client, admin]) {
      const r = await call(`${base}/health`);
      expect(r.status).toBe(200);
      expect(r.text).toBe('OK');
      expect(r.type).toMatch(/^text\/plain/);
    }
  });

  it('admin paths are 404 M_UNRECOGNIZED on the client listener and served on the admin one', async () => {
    const auth = { headers: { authorization: `Bearer ${token}` } };
    for (const path of ['/_synapse/admin/v2/users/@boss:localhost', '/_synapse/admin/v1/server_version', '/_synapse/admin/v1/register']) {
      const onClient = await call(client + path, auth);
      expect([path, onClient.status, onClient.body]).toEqual([path, 404, UNRECOGNIZED]);
      expect((await call(admin + path, auth)).status).toBe(200);
    }
    const user = await call(`${admin}/_synapse/admin/v2/users/@boss:localhost`, auth);
    expect(user.body).toMatchObject({ name: '@boss:localhost', admin: true });
    // A write on the admin port, then proof through the client port that it happened.
    const put = await call(`${admin}/_synapse/admin/v2/users/@someone:localhost`, { ...auth, method: 'PUT', body: JSON.stringify({ password: 'pw2' }) });
    expect(put.status).toBe(201);
    const login = await call(`${client}/_matrix/client/v3/login`, {
      method: 'POST',
      body: JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'someone' }, password: 'pw2' }),
    });
    expect(login.status).toBe(200);
  });

  it('client, well-known and federation paths are 404 M_UNRECOGNIZED on the admin listener', async () => {
    const auth = { headers: { authorization: `Bearer ${token}` } };
    for (const path of ['/_matrix/client/v3/account/whoami', '/_matrix/client/versions', '/_matrix/key/v2/server', '/.well-known/matrix/client']) {
      const onAdmin = await call(admin + path, auth);
      expect([path, onAdmin.status, onAdmin.body]).toEqual([path, 404, UNRECOGNIZED]);
    }
    expect((await call(`${client}/_matrix/client/v3/account/whoami`, auth)).body).toEqual(expect.objectContaining({ user_id: '@boss:localhost' }));
    expect((await call(`${client}/_matrix/key/v2/server`)).status).toBe(200);
  });

  // A server in another process answers while the client is still sending: the case that reset.
  it('10 sequential 2 MB bodies (and 10 of 8 MB) all read 413 M_TOO_LARGE (no connection reset while the client sends)', async () => {
    const seen: Array<[number, unknown]> = [];
    for (let i = 0; i < 20; i++) {
      // 8 MB outruns the loopback socket buffers on every try; 2 MB only on a busy machine.
      const big = JSON.stringify({ displayname: 'x'.repeat((i < 10 ? 2 : 8) * 1024 * 1024) });
      const r = await fetch(`${client}/_matrix/client/v3/profile/@boss:localhost/displayname`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: big,
      });
      seen.push([r.status, ((await r.json()) as { errcode?: string }).errcode]);
    }
    expect(seen).toEqual(Array.from({ length: 20 }, () => [413, 'M_TOO_LARGE']));
    // Nothing was written.
    const profile = await call(`${client}/_matrix/client/v3/profile/@boss:localhost/displayname`);
    expect(profile.body.displayname).toBe('boss');
  });

  it('a 2 MB body sent in chunks without Content-Length also reads 413', async () => {
    const chunk = new TextEncoder().encode('"' + 'y'.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (sent >= 32) return ctrl.close();
        sent++;
        ctrl.enqueue(chunk);
      },
    });
    const r = await fetch(`${client}/_matrix/client/v3/profile/@boss:localhost/displayname`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}` },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(r.status).toBe(413);
    expect(((await r.json()) as { errcode: string }).errcode).toBe('M_TOO_LARGE');
  });

  it('stdout (not a terminal) carries one JSON access line per request, with the token redacted', async () => {
    const r = await call(`${admin}/_synapse/admin/v1/server_version?access_token=${token}&x=1`);
    expect(r.status).toBe(200);
    await axon.waitFor(/server_version\?access_token=<redacted>&x=1/);
    const lines = axon.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const access = lines.filter((l) => l.msg === 'Processed request' && String(l.path).startsWith('/_synapse/admin/v1/server_version?'));
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ name: `synapse.access.http.${adminPort}`, method: 'GET', status: 200, ip: '127.0.0.1', level: 30 });
    expect(axon.stdout).not.toContain(token);
    // Start-up lines are JSON too, and the admin hint names the port that serves registration.
    expect(lines.find((l) => String(l.msg).startsWith('To create an admin'))?.msg).toMatch(new RegExp(` http://localhost:${adminPort}$`));
  });
});

describe('in-process server', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('GET /health is 200 OK and needs no token; a listener without an admin listener elsewhere serves the Admin API', async () => {
    const health = await server.request('GET', '/health');
    expect([health.status, health.text, health.headers.get('content-type')]).toEqual([200, 'OK', 'text/plain']);
    expect((await server.request('GET', '/_synapse/admin/v1/server_version')).status).toBe(200);
  });

});
