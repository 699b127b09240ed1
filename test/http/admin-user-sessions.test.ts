import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';

// Whois and client-IP recording, "login as user", admin devices (catalogue §3.8, §3.13, §3.15).

const enc = encodeURIComponent;
const count = async (s: TestServer, sql: string) => Number((await querySql<{ n: number | string }>(s, sql))[0]!.n);

async function loginWith(s: TestServer, user: string, password: string, deviceId?: string): Promise<TestUser> {
  const res = await s.request('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, ...(deviceId ? { device_id: deviceId } : {}) },
  });
  if (res.status !== 200) throw new Error(`login ${user}: ${res.status} ${res.text}`);
  return { userId: res.body.user_id, accessToken: res.body.access_token, deviceId: res.body.device_id, password };
}

const whoami = (s: TestServer, token: string, headers: Record<string, string> = {}) =>
  s.request('GET', '/_matrix/client/v3/account/whoami', { token, headers });

async function waitFor<T>(probe: () => Promise<T | undefined>, ms = 9000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('whois and client IP recording', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
  });
  afterAll(async () => s?.close());

  const whois = (userId: string, token: string, prefix = '/_synapse/admin/v1') => s.request('GET', `${prefix}/whois/${enc(userId)}`, { token });

  it('shows the IP and user agent a request used, under one "" device (12_v1_whois.txt)', async () => {
    const session = await loginWith(s, 'alice', alice.password);
    const before = Date.now();
    expect((await whoami(s, session.accessToken, { 'user-agent': 'AxonTest/1.0 (whois)' })).status).toBe(200);
    const res = await whois(alice.userId, admin.accessToken);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['user_id', 'devices']);
    expect(res.body.user_id).toBe('@alice:localhost');
    expect(Object.keys(res.body.devices)).toEqual(['']);
    const sessions = res.body.devices[''].sessions;
    expect(sessions).toHaveLength(1);
    const conn = sessions[0].connections.find((c: { user_agent: string }) => c.user_agent === 'AxonTest/1.0 (whois)');
    expect(conn).toBeDefined();
    expect(Object.keys(conn)).toEqual(['ip', 'last_seen', 'user_agent']);
    expect(conn.ip).toBe('127.0.0.1');
    expect(Number.isInteger(conn.last_seen)).toBe(true);
    expect(conn.last_seen).toBeGreaterThanOrEqual(before - 1000);
    expect(conn.last_seen).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('writes sightings to user_ips and devices within a few seconds, not per request', async () => {
    const session = await loginWith(s, 'alice', alice.password, 'FLUSHDEV');
    expect((await whoami(s, session.accessToken, { 'user-agent': 'AxonTest/flush' })).status).toBe(200);
    const row = await waitFor(async () => {
      const rows = await querySql<{ ip: string; user_agent: string; device_id: string; last_seen: number | string }>(
        s,
        `SELECT ip, user_agent, device_id, last_seen FROM user_ips WHERE access_token = '${session.accessToken}'`,
      );
      return rows[0];
    });
    expect(row).toMatchObject({ ip: '127.0.0.1', user_agent: 'AxonTest/flush', device_id: 'FLUSHDEV' });
    const [dev] = await querySql<{ ip: string; user_agent: string; last_seen: number | string }>(
      s,
      `SELECT ip, user_agent, last_seen FROM devices WHERE user_id = '${alice.userId}' AND device_id = 'FLUSHDEV'`,
    );
    expect(dev).toMatchObject({ ip: '127.0.0.1', user_agent: 'AxonTest/flush' });
    expect(Number(dev!.last_seen)).toBe(Number(row.last_seen));
  });

  it('any user may whois themselves, including over the client-API paths; others need admin', async () => {
    const bob = await s.registerUser('bob');
    const self = await whois(bob.userId, bob.accessToken);
    expect(self.status).toBe(200);
    expect(self.body.user_id).toBe(bob.userId);
    for (const prefix of ['/_matrix/client/v3/admin', '/_matrix/client/r0/admin', '/_matrix/client/api/v1/admin', '/_matrix/client/unstable/admin']) {
      const res = await whois(bob.userId, bob.accessToken, prefix);
      expect(res.status).toBe(200);
      expect(res.body.user_id).toBe(bob.userId);
    }
    const other = await whois(alice.userId, bob.accessToken);
    expect(other.status).toBe(403);
    expect(other.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You are not a server admin' });
    const noToken = await s.request('GET', `/_synapse/admin/v1/whois/${enc(bob.userId)}`);
    expect(noToken.status).toBe(401);
  });

  it('remote users 400; unknown local users have no connections', async () => {
    const remote = await whois('@x:elsewhere.org', admin.accessToken);
    expect(remote.status).toBe(400);
    expect(remote.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Can only whois a local user' });
    const unknown = await whois('@ghost:localhost', admin.accessToken);
    expect(unknown.status).toBe(200);
    expect(unknown.body).toEqual({ user_id: '@ghost:localhost', devices: { '': { sessions: [{ connections: [] }] } } });
  });

  it('ignores X-Forwarded-For unless the listener has x_forwarded', async () => {
    const carol = await s.registerUser('carol');
    await whoami(s, carol.accessToken, { 'x-forwarded-for': '203.0.113.5', 'user-agent': 'AxonTest/xff' });
    const res = await whois(carol.userId, admin.accessToken);
    const ips = res.body.devices[''].sessions[0].connections.map((c: { ip: string }) => c.ip);
    expect(ips).toEqual(['127.0.0.1']);
  });
});

describe('whois behind a proxy (x_forwarded: true)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ listeners: [{ port: 0, x_forwarded: true, resources: [{ names: ['client', 'federation'] }] }] });
  });
  afterAll(async () => s?.close());

  it('records the leftmost X-Forwarded-For address, one connection per IP', async () => {
    const admin = await s.registerUser('admin', { admin: true });
    const u = await s.registerUser('dave');
    await whoami(s, u.accessToken, { 'x-forwarded-for': '203.0.113.7, 10.0.0.1', 'user-agent': 'AxonTest/a' });
    await whoami(s, u.accessToken, { 'x-forwarded-for': '198.51.100.9', 'user-agent': 'AxonTest/b' });
    const res = await s.request('GET', `/_synapse/admin/v1/whois/${enc(u.userId)}`, { token: admin.accessToken });
    const conns = res.body.devices[''].sessions[0].connections as Array<{ ip: string; user_agent: string }>;
    expect(conns.map((c) => `${c.ip} ${c.user_agent}`).sort()).toEqual(['198.51.100.9 AxonTest/b', '203.0.113.7 AxonTest/a']);
  });
});

describe('POST /_synapse/admin/v1/users/<user_id>/login', () => {
  let s: TestServer;
  let admin: TestUser;
  let target: TestUser;

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
    target = await s.registerUser('target');
  });
  afterAll(async () => s?.close());

  const loginAs = (userId: string, opts: { body?: unknown; rawBody?: string; token?: string } = {}) =>
    s.request('POST', `/_synapse/admin/v1/users/${enc(userId)}/login`, { token: admin.accessToken, ...opts });

  it("mints a device-less puppet token owned by the admin that acts as the target", async () => {
    const devicesBefore = await count(s, `SELECT COUNT(*) AS n FROM devices WHERE user_id = '${target.userId}'`);
    const res = await loginAs(target.userId);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['access_token']);
    const token = res.body.access_token as string;
    // syt_<base64 of the target's localpart>_...
    expect(token.startsWith(`syt_${Buffer.from('target').toString('base64').replace(/=+$/, '')}_`)).toBe(true);

    const who = await whoami(s, token);
    expect(who.status).toBe(200);
    expect(who.body).toEqual({ user_id: '@target:localhost', is_guest: false });

    const [row] = await querySql<{ user_id: string; puppets_user_id: string; device_id: string | null; valid_until_ms: unknown }>(
      s,
      `SELECT user_id, puppets_user_id, device_id, valid_until_ms FROM access_tokens WHERE token = '${token}'`,
    );
    expect(row).toEqual({ user_id: '@admin:localhost', puppets_user_id: '@target:localhost', device_id: null, valid_until_ms: null });
    expect(await count(s, `SELECT COUNT(*) AS n FROM devices WHERE user_id = '${target.userId}'`)).toBe(devicesBefore);

    // The target is not an admin, and the puppet token is judged as the target.
    const adminCall = await s.request('GET', '/_synapse/admin/v2/users/@admin:localhost', { token });
    expect(adminCall.status).toBe(403);
  });

  it("survives the target's /logout/all (the row is the admin's); its own /logout ends it", async () => {
    const token = (await loginAs(target.userId, { body: {} })).body.access_token as string;
    const own = await loginWith(s, 'target', target.password);
    expect((await s.request('POST', '/_matrix/client/v3/logout/all', { token: own.accessToken, body: {} })).status).toBe(200);
    expect((await whoami(s, token)).status).toBe(200);
    expect((await s.request('POST', '/_matrix/client/v3/logout', { token, body: {} })).status).toBe(200);
    expect((await whoami(s, token)).status).toBe(401);
  });

  it('records requests made with the puppet token under the admin, as Synapse does', async () => {
    const token = (await loginAs(target.userId)).body.access_token as string;
    await whoami(s, token, { 'user-agent': 'AxonTest/puppet' });
    const agents = async (userId: string) =>
      ((await s.request('GET', `/_synapse/admin/v1/whois/${enc(userId)}`, { token: admin.accessToken })).body.devices[''].sessions[0].connections as Array<{
        user_agent: string;
      }>).map((c) => c.user_agent);
    expect(await agents(admin.userId)).toContain('AxonTest/puppet');
    expect(await agents(target.userId)).not.toContain('AxonTest/puppet');
  });

  it('honours valid_until_ms; an expiry in the past gives a token that is already expired', async () => {
    const future = await loginAs(target.userId, { body: { valid_until_ms: Date.now() + 3_600_000 } });
    expect(future.status).toBe(200);
    expect((await whoami(s, future.body.access_token)).status).toBe(200);

    const past = await loginAs(target.userId, { body: { valid_until_ms: Date.now() - 1000 } });
    expect(past.status).toBe(200);
    const res = await whoami(s, past.body.access_token);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ errcode: 'M_UNKNOWN_TOKEN', error: 'Access token has expired', soft_logout: true });

    const nul = await loginAs(target.userId, { body: { valid_until_ms: null } });
    expect(nul.status).toBe(200);
  });

  it('rejects a non-integer valid_until_ms, logging in as oneself, remote and unknown users', async () => {
    for (const v of ['1234', 1.5, true, {}]) {
      const res = await loginAs(target.userId, { body: { valid_until_ms: v } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: "'valid_until_ms' parameter must be an int" });
    }
    const self = await loginAs(admin.userId);
    expect(self.status).toBe(400);
    expect(self.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Cannot use admin API to login as self' });
    const remote = await loginAs('@x:elsewhere.org');
    expect(remote.status).toBe(400);
    expect(remote.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Only local users can be logged in as' });
    const unknown = await loginAs('@ghost:localhost');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'User not found' });
    const notJson = await loginAs(target.userId, { rawBody: 'nope' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.errcode).toBe('M_NOT_JSON');
    // (The target's first token died in the /logout/all test above.)
    const fresh = await loginWith(s, 'target', target.password);
    const forbidden = await loginAs(admin.userId, { token: fresh.accessToken });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toBe('You are not a server admin');
  });
});

describe('admin devices (v2)', () => {
  let s: TestServer;
  let admin: TestUser;
  let erin: TestUser;

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
    erin = await s.registerUser('erin');
  });
  afterAll(async () => s?.close());

  const path = (userId: string, rest = '') => `/_synapse/admin/v2/users/${enc(userId)}${rest}`;
  const req = (method: string, p: string, opts: { body?: unknown; rawBody?: string; token?: string } = {}) =>
    s.request(method, p, { token: admin.accessToken, ...opts });

  it('lists devices in the 29_v2_user_devices.txt shape, with the last sighting', async () => {
    const used = await loginWith(s, 'erin', erin.password, 'USEDDEVICE');
    await whoami(s, used.accessToken, { 'user-agent': 'AxonTest/devices' });
    const created = await req('POST', path(erin.userId, '/devices'), { body: { device_id: 'NEVERUSED' } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({});

    const res = await req('GET', path(erin.userId, '/devices'));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['devices', 'total']);
    expect(res.body.total).toBe(res.body.devices.length);
    const byId = Object.fromEntries(res.body.devices.map((d: { device_id: string }) => [d.device_id, d]));
    expect(Object.keys(byId['USEDDEVICE'])).toEqual(['user_id', 'device_id', 'display_name', 'last_seen_user_agent', 'last_seen_ts', 'last_seen_ip']);
    expect(byId['USEDDEVICE']).toMatchObject({ user_id: erin.userId, last_seen_user_agent: 'AxonTest/devices', last_seen_ip: '127.0.0.1' });
    expect(Number.isInteger(byId['USEDDEVICE'].last_seen_ts)).toBe(true);
    expect(byId['NEVERUSED']).toEqual({
      user_id: erin.userId,
      device_id: 'NEVERUSED',
      display_name: null,
      last_seen_user_agent: null,
      last_seen_ts: null,
      last_seen_ip: null,
    });
    // Creating a device issues no token; creating it again is a no-op.
    expect(await count(s, `SELECT COUNT(*) AS n FROM access_tokens WHERE device_id = 'NEVERUSED'`)).toBe(0);
    expect((await req('POST', path(erin.userId, '/devices'), { body: { device_id: 'NEVERUSED' } })).status).toBe(201);
    expect((await req('GET', path(erin.userId, '/devices'))).body.total).toBe(res.body.total);
  });

  it('hidden devices are neither listed nor readable', async () => {
    await runSql(s, `INSERT INTO devices (user_id, device_id, hidden) VALUES ('${erin.userId}', 'HIDDENDEV', ${s.dialect === 'postgres' ? 'TRUE' : '1'})`);
    const list = await req('GET', path(erin.userId, '/devices'));
    expect(list.body.devices.map((d: { device_id: string }) => d.device_id)).not.toContain('HIDDENDEV');
    expect((await req('GET', path(erin.userId, '/devices/HIDDENDEV'))).status).toBe(404);
  });

  it('validates device creation', async () => {
    for (const body of [{}, { device_id: '' }, { device_id: null }, { device_id: 0 }]) {
      const res = await req('POST', path(erin.userId, '/devices'), { body });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Missing device_id' });
    }
    const notString = await req('POST', path(erin.userId, '/devices'), { body: { device_id: 42 } });
    expect(notString.status).toBe(400);
    expect(notString.body).toEqual({ errcode: 'M_UNKNOWN', error: 'device_id must be a string' });
    const empty = await req('POST', path(erin.userId, '/devices'));
    expect(empty.status).toBe(400);
    expect(empty.body.errcode).toBe('M_NOT_JSON');
  });

  it('reads, renames and deletes one device; deleting ends its tokens and pushers', async () => {
    const phone = await loginWith(s, 'erin', erin.password, 'PHONE');
    await runSql(
      s,
      `INSERT INTO pushers (user_name, access_token, kind, app_id, pushkey, ts, data) VALUES ('${erin.userId}', (SELECT id FROM access_tokens WHERE token = '${phone.accessToken}'), 'http', 'm.test', 'phone-key', 1, '{}')`,
    );
    const one = await req('GET', path(erin.userId, '/devices/PHONE'));
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ user_id: erin.userId, device_id: 'PHONE', display_name: null });

    const rename = await req('PUT', path(erin.userId, '/devices/PHONE'), { body: { display_name: 'Erin phone' } });
    expect(rename.status).toBe(200);
    expect(rename.body).toEqual({});
    expect((await req('GET', path(erin.userId, '/devices/PHONE'))).body.display_name).toBe('Erin phone');
    // The owner sees the new name too.
    const own = await s.request('GET', '/_matrix/client/v3/devices/PHONE', { token: phone.accessToken });
    expect(own.body.display_name).toBe('Erin phone');

    const tooLong = await req('PUT', path(erin.userId, '/devices/PHONE'), { body: { display_name: 'x'.repeat(101) } });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body).toEqual({ errcode: 'M_TOO_LARGE', error: 'Device display name is too long (max 100)' });
    expect((await req('PUT', path(erin.userId, '/devices/PHONE'), { body: { display_name: 5 } })).status).toBe(400);
    // No name: nothing to do, whether or not the device exists (Synapse); empty body allowed.
    expect((await req('PUT', path(erin.userId, '/devices/PHONE'))).status).toBe(200);
    expect((await req('PUT', path(erin.userId, '/devices/NOSUCH'), { body: {} })).status).toBe(200);
    const unknown = await req('PUT', path(erin.userId, '/devices/NOSUCH'), { body: { display_name: 'x' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Not found' });

    const del = await req('DELETE', path(erin.userId, '/devices/PHONE'), { body: { ignored: true } });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({});
    expect((await whoami(s, phone.accessToken)).status).toBe(401);
    expect(await count(s, `SELECT COUNT(*) AS n FROM pushers WHERE pushkey = 'phone-key'`)).toBe(0);
    const gone = await req('GET', path(erin.userId, '/devices/PHONE'));
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'No device found' });
    expect((await req('DELETE', path(erin.userId, '/devices/PHONE'))).status).toBe(200);
  });

  it('delete_devices removes several devices and their tokens, ignoring unknown IDs', async () => {
    const a = await loginWith(s, 'erin', erin.password, 'BULKA');
    const b = await loginWith(s, 'erin', erin.password, 'BULKB');
    const keep = await loginWith(s, 'erin', erin.password, 'KEEP');
    const res = await req('POST', path(erin.userId, '/delete_devices'), { body: { devices: ['BULKA', 'BULKB', 'UNKNOWN'] } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect((await whoami(s, a.accessToken)).status).toBe(401);
    expect((await whoami(s, b.accessToken)).status).toBe(401);
    expect((await whoami(s, keep.accessToken)).status).toBe(200);
    const ids = (await req('GET', path(erin.userId, '/devices'))).body.devices.map((d: { device_id: string }) => d.device_id);
    expect(ids).toContain('KEEP');
    expect(ids).not.toContain('BULKA');

    const missing = await req('POST', path(erin.userId, '/delete_devices'), { body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ errcode: 'M_MISSING_PARAM', error: "Missing params: ['devices']" });
    const notList = await req('POST', path(erin.userId, '/delete_devices'), { body: { devices: 'KEEP' } });
    expect(notList.status).toBe(400);
    expect(notList.body.errcode).toBe('M_BAD_JSON');
    expect((await whoami(s, keep.accessToken)).status).toBe(200);
    const empty = await req('POST', path(erin.userId, '/delete_devices'));
    expect(empty.status).toBe(400);
    expect(empty.body.errcode).toBe('M_NOT_JSON');
  });

  it('remote users 400, unknown users 404 "Unknown user", non-admins 403', async () => {
    for (const [method, rest, body] of [
      ['GET', '/devices', undefined],
      ['GET', '/devices/X', undefined],
      ['PUT', '/devices/X', {}],
      ['DELETE', '/devices/X', undefined],
      ['POST', '/delete_devices', { devices: [] }],
    ] as const) {
      const remote = await req(method, path('@x:elsewhere.org', rest), { body });
      expect(remote.status).toBe(400);
      expect(remote.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Can only lookup local users' });
      const unknown = await req(method, path('@ghost:localhost', rest), { body });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Unknown user' });
    }
    const createRemote = await req('POST', path('@x:elsewhere.org', '/devices'), { body: { device_id: 'D' } });
    expect(createRemote.status).toBe(400);
    expect(createRemote.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Can only create devices for local users' });
    const createUnknown = await req('POST', path('@ghost:localhost', '/devices'), { body: { device_id: 'D' } });
    expect(createUnknown.status).toBe(404);
    const forbidden = await req('GET', path(erin.userId, '/devices'), { token: erin.accessToken });
    expect(forbidden.status).toBe(403);
  });
});
