import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registrationMac } from '../harness/registration-mac.js';
import { announce, withTransaction, type Notification } from '../harness/storage.js';
import { querySql, runSql, SHARED_SECRET, startServer, type ApiResponse, type TestServer, type TestUser } from '../harness/server.js';

/**
 * Concurrency on both engines: mixed writes racing each other over HTTP, a login racing a
 * deactivation, racing creations of one user, a real deadlock retried, the after-commit bus, and
 * reads that do not wait behind an open write transaction.
 */

const enc = encodeURIComponent;
let server: TestServer;
let admin: TestUser;

beforeAll(async () => {
  server = await startServer();
  admin = await server.registerUser('boss', { admin: true });
});
afterAll(async () => server?.close());

/** Registers `n` users named prefix0…, ten at a time. */
async function registerMany(prefix: string, n: number): Promise<TestUser[]> {
  const out: TestUser[] = [];
  for (let i = 0; i < n; i += 10) {
    const batch = Array.from({ length: Math.min(10, n - i) }, (_, j) => server.registerUser(`${prefix}${i + j}`));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

async function sharedSecretRegister(localpart: string): Promise<ApiResponse> {
  const nonce = (await server.request('GET', '/_synapse/admin/v1/register')).body.nonce as string;
  const password = `pw-${localpart}`;
  return server.request('POST', '/_synapse/admin/v1/register', {
    body: { nonce, username: localpart, password, admin: false, mac: registrationMac(SHARED_SECRET, nonce, localpart, password, false, null) },
  });
}

const login = (user: string, password: string) =>
  server.request('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password } });

describe('concurrent writes', () => {
  it('300 mixed writes at once: no 5xx, and every acknowledged write is visible afterwards', async () => {
    const [toDeactivate, toRename, toLogIn, withDevice, toUpdate] = await Promise.all([
      registerMany('deact', 40),
      registerMany('rename', 40),
      registerMany('login', 40),
      registerMany('devs', 20),
      registerMany('upd', 30),
    ]);
    const extraDevices = await Promise.all(withDevice.map((u) => server.login(u.userId, u.password)));

    type Op = { kind: string; run: () => Promise<ApiResponse>; check: (res: ApiResponse) => Promise<void> };
    const ops: Op[] = [];
    for (let i = 0; i < 90; i++) {
      const lp = `fresh${i}`;
      ops.push({
        kind: 'register',
        run: () => sharedSecretRegister(lp),
        check: async () => expect((await server.request('GET', `/_synapse/admin/v2/users/${enc(`@${lp}:localhost`)}`, { token: admin.accessToken })).status).toBe(200),
      });
    }
    for (let i = 0; i < 40; i++) {
      const id = `@created${i}:localhost`;
      ops.push({
        kind: 'admin create',
        run: () => server.request('PUT', `/_synapse/admin/v2/users/${enc(id)}`, { token: admin.accessToken, body: { displayname: `Created ${i}` } }),
        check: async () => {
          const got = await server.request('GET', `/_synapse/admin/v2/users/${enc(id)}`, { token: admin.accessToken });
          expect(got.body.displayname).toBe(`Created ${i}`);
        },
      });
    }
    for (const u of toUpdate) {
      ops.push({
        kind: 'admin update',
        run: () => server.request('PUT', `/_synapse/admin/v2/users/${enc(u.userId)}`, { token: admin.accessToken, body: { displayname: `Updated ${u.userId}` } }),
        check: async () => {
          const got = await server.request('GET', `/_synapse/admin/v2/users/${enc(u.userId)}`, { token: admin.accessToken });
          expect(got.body.displayname).toBe(`Updated ${u.userId}`);
        },
      });
    }
    for (const u of toDeactivate) {
      ops.push({
        kind: 'deactivate',
        run: () => server.request('POST', `/_synapse/admin/v1/deactivate/${enc(u.userId)}`, { token: admin.accessToken, body: {} }),
        check: async () => {
          const got = await server.request('GET', `/_synapse/admin/v2/users/${enc(u.userId)}`, { token: admin.accessToken });
          expect(Boolean(got.body.deactivated)).toBe(true);
          expect((await server.request('GET', '/_matrix/client/v3/account/whoami', { token: u.accessToken })).status).toBe(401);
        },
      });
    }
    for (const u of toRename) {
      ops.push({
        kind: 'profile',
        run: () => server.request('PUT', `/_matrix/client/v3/profile/${enc(u.userId)}/displayname`, { token: u.accessToken, body: { displayname: `Renamed ${u.userId}` } }),
        check: async () => {
          const got = await server.request('GET', `/_matrix/client/v3/profile/${enc(u.userId)}/displayname`);
          expect(got.body.displayname).toBe(`Renamed ${u.userId}`);
        },
      });
    }
    for (const u of toLogIn) {
      ops.push({
        kind: 'login',
        run: () => login(u.userId, u.password),
        check: async (res) => {
          const who = await server.request('GET', '/_matrix/client/v3/account/whoami', { token: res.body.access_token });
          expect(who.body.user_id).toBe(u.userId);
        },
      });
    }
    withDevice.forEach((u, i) => {
      const device = extraDevices[i]!.deviceId;
      const path = `/_synapse/admin/v2/users/${enc(u.userId)}/devices/${enc(device)}`;
      ops.push({
        kind: 'device delete',
        run: () => server.request('DELETE', path, { token: admin.accessToken }),
        check: async () => expect((await server.request('GET', path, { token: admin.accessToken })).status).toBe(404),
      });
    });
    expect(ops.length).toBe(300);

    // Interleave the kinds so that different operations race each other.
    const shuffled = ops.map((op, i) => ({ op, k: (i * 7919) % ops.length })).sort((a, b) => a.k - b.k).map((x) => x.op);
    const results = await Promise.all(shuffled.map((op) => op.run()));
    const failures = results.map((r, i) => ({ kind: shuffled[i]!.kind, status: r.status, body: r.text })).filter((r) => r.status >= 300);
    expect(failures).toEqual([]);
    for (let i = 0; i < shuffled.length; i++) await shuffled[i]!.check(results[i]!);
  }, 120_000);

  it('a login racing a deactivation never leaves a device or token behind', async () => {
    const victims = await registerMany('race', 20);
    const outcomes = await Promise.all(
      victims.map(async (u) => {
        const [l, d] = await Promise.all([
          login(u.userId, u.password),
          server.request('POST', `/_synapse/admin/v1/deactivate/${enc(u.userId)}`, { token: admin.accessToken, body: {} }),
        ]);
        expect(d.status).toBe(200);
        expect([200, 403]).toContain(l.status);
        return l.status;
      }),
    );
    expect(outcomes.length).toBe(20);
    const names = victims.map((u) => `'${u.userId}'`).join(',');
    const devices = await querySql<{ n: number | string }>(server, `SELECT COUNT(*) AS n FROM devices WHERE user_id IN (${names})`);
    const tokens = await querySql<{ n: number | string }>(server, `SELECT COUNT(*) AS n FROM access_tokens WHERE user_id IN (${names})`);
    expect(Number(devices[0]!.n)).toBe(0);
    expect(Number(tokens[0]!.n)).toBe(0);
  }, 60_000);

  it('20 concurrent admin PUTs creating one user: one 201, the others 200', async () => {
    const path = `/_synapse/admin/v2/users/${enc('@contested:localhost')}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => server.request('PUT', path, { token: admin.accessToken, body: { displayname: `Contender ${i}` } })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(19);
    const rows = await querySql(server, "SELECT name FROM users WHERE name = '@contested:localhost'");
    expect(rows).toHaveLength(1);
  }, 60_000);

  it('a deadlock between two transactions is retried and both commit', async () => {
    const [x, y] = await registerMany('lock', 2);
    const db = server.ctx.storage.db;
    let arrived = 0;
    let release!: () => void;
    const bothArrived = new Promise<void>((r) => (release = r));
    // Both transactions hold one row and wait for the other's (on SQLite the second cannot begin
    // until the first commits, so the wait gives up after a moment and there is no deadlock).
    const meet = async () => {
      if (++arrived === 2) release();
      await Promise.race([bothArrived, new Promise((r) => setTimeout(r, 2000))]);
    };
    const attempts = { a: 0, b: 0 };
    const swap = (first: string, second: string, who: 'a' | 'b') =>
      withTransaction(db, async (tx) => {
        attempts[who]++;
        await tx.updateTable('users').set({ user_type: 'bot' }).where('name', '=', first).execute();
        if (attempts[who] === 1) await meet();
        await tx.updateTable('users').set({ user_type: 'bot' }).where('name', '=', second).execute();
        return who;
      });
    const done = await Promise.all([swap(x!.userId, y!.userId, 'a'), swap(y!.userId, x!.userId, 'b')]);
    expect(done).toEqual(['a', 'b']);
    const total = attempts.a + attempts.b;
    // PostgreSQL aborts one of them with 40P01 and withTransaction runs it again (a retry may
    // itself meet the other transaction once more); SQLite runs them one after the other.
    if (server.dialect === 'postgres') expect(total).toBeGreaterThanOrEqual(3);
    else expect(total).toBe(2);
    const rows = await querySql<{ user_type: string }>(server, `SELECT user_type FROM users WHERE name IN ('${x!.userId}', '${y!.userId}')`);
    expect(rows.map((r) => r.user_type)).toEqual(['bot', 'bot']);
  }, 30_000);
});

describe('the after-commit notification bus', () => {
  it('delivers row changes and announcements only once the transaction has committed', async () => {
    const [u] = await registerMany('bus', 1);
    const { notifier, db } = server.ctx.storage;
    const seen: Notification[] = [];
    const stop = notifier.subscribe(['users', 'test.announcement'], (n) => seen.push(n));
    try {
      await withTransaction(db, async (tx) => {
        await tx.updateTable('users').set({ user_type: 'support' }).where('name', '=', u!.userId).execute();
        announce(tx, 'test.announcement', ['k1']);
        expect(seen).toEqual([]);
      });
      expect(seen).toContainEqual({ topic: 'users', keys: [u!.userId] });
      expect(seen).toContainEqual({ topic: 'test.announcement', keys: ['k1'] });

      seen.length = 0;
      await expect(
        withTransaction(db, async (tx) => {
          await tx.updateTable('users').set({ user_type: 'bot' }).where('name', '=', u!.userId).execute();
          announce(tx, 'test.announcement', ['k2']);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(seen).toEqual([]);
      const row = await querySql<{ user_type: string }>(server, `SELECT user_type FROM users WHERE name = '${u!.userId}'`);
      expect(row[0]!.user_type).toBe('support');
    } finally {
      stop();
    }
  });

  it("reports an operator's SQL from another connection", async () => {
    const [u] = await registerMany('ext', 1);
    const { notifier } = server.ctx.storage;
    const seen: Notification[] = [];
    const stop = notifier.subscribe(['users'], (n) => seen.push(n));
    try {
      await runSql(server, `UPDATE users SET user_type = 'bot' WHERE name = '${u!.userId}'`);
      const deadline = Date.now() + 5000;
      while (seen.length === 0 && Date.now() < deadline) {
        await notifier.sync();
        await new Promise((r) => setTimeout(r, 10));
      }
      // PostgreSQL names the user; SQLite only learns that another connection committed.
      const keys = seen.map((n) => n.keys);
      expect(keys.some((k) => k === '*' || k.includes(u!.userId))).toBe(true);
    } finally {
      stop();
    }
  });
});

describe('reads while a write transaction is open', () => {
  it('a lookup is answered while another transaction holds its write open; a queued write completes after', async () => {
    const [writer, other] = await registerMany('open', 2);
    let finish!: () => void;
    const held = new Promise<void>((r) => (finish = r));
    let committed = false;
    const tx = withTransaction(server.ctx.storage.db, async (t) => {
      await t.updateTable('users').set({ user_type: 'bot' }).where('name', '=', writer!.userId).execute();
      await held;
    }).then(() => (committed = true));

    const lookup = await server.request('GET', `/_synapse/admin/v2/users/${enc(other!.userId)}`, { token: admin.accessToken });
    expect(lookup.status).toBe(200);
    const whoami = await server.request('GET', '/_matrix/client/v3/account/whoami', { token: other!.accessToken });
    expect(whoami.body.user_id).toBe(other!.userId);
    // Answered while the transaction is still open.
    expect(committed).toBe(false);

    const write = server.request('PUT', `/_matrix/client/v3/profile/${enc(other!.userId)}/displayname`, {
      token: other!.accessToken,
      body: { displayname: 'after' },
    });
    await new Promise((r) => setTimeout(r, 50));
    finish();
    await tx;
    expect((await write).status).toBe(200);
    expect(committed).toBe(true);
  });
});

describe('a bulk write', () => {
  it('deactivating an account with 40,000 devices and tokens: lookups are answered meanwhile, nothing is left after', async () => {
    const [bot, other] = await registerMany('bulk', 2);
    const n = 40_000;
    const rows =
      server.dialect === 'postgres'
        ? `FROM generate_series(1, ${n}) AS s(i)`
        : `FROM (WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n}) SELECT i FROM s)`;
    await runSql(server, `INSERT INTO devices (user_id, device_id, hidden) SELECT '${bot!.userId}', 'BULK' || i, false ${rows}`);
    await runSql(server, `INSERT INTO access_tokens (user_id, device_id, token) SELECT '${bot!.userId}', 'BULK' || i, 'bulk_token_' || i ${rows}`);

    let deactivated = false;
    const deactivation = server
      .request('POST', `/_synapse/admin/v1/deactivate/${enc(bot!.userId)}`, { token: admin.accessToken, body: {} })
      .then((r) => ((deactivated = true), r));
    // Lookups issued after the deactivation started are answered before it ends.
    await new Promise((r) => setTimeout(r, 20));
    const answeredDuring: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await server.request('GET', `/_synapse/admin/v2/users/${enc(other!.userId)}`, { token: admin.accessToken });
      expect(res.status).toBe(200);
      answeredDuring.push(!deactivated);
    }
    expect((await deactivation).status).toBe(200);
    expect(answeredDuring).toContain(true);

    const left = await querySql<{ d: number | string; t: number | string }>(
      server,
      `SELECT (SELECT COUNT(*) FROM devices WHERE user_id = '${bot!.userId}') AS d, (SELECT COUNT(*) FROM access_tokens WHERE user_id = '${bot!.userId}') AS t`,
    );
    expect([Number(left[0]!.d), Number(left[0]!.t)]).toEqual([0, 0]);
  }, 60_000);
});

