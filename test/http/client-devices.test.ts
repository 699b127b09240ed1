import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';

describe('Client API: devices', () => {
  let s: TestServer;
  let alice: TestUser;

  const loginWithDevice = async (user: string, password: string, extra: Record<string, unknown> = {}) => {
    const res = await s.request('POST', `${V3}/login`, {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, ...extra },
    });
    expect(res.status).toBe(200);
    return res.body as { access_token: string; device_id: string };
  };
  const whoami = (token: string) => s.request('GET', `${V3}/account/whoami`, { token });

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    alice = await s.registerUser('alice');
  });
  afterAll(async () => s?.close());

  it('lists the caller\'s devices in the spec shape, with the login\'s display name', async () => {
    const phone = await loginWithDevice('alice', alice.password, { initial_device_display_name: 'Alice phone' });
    const res = await s.request('GET', `${V3}/devices`, { token: alice.accessToken });
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/devices', 'get', 200, res.body)).toEqual([]);
    const ids = res.body.devices.map((d: { device_id: string }) => d.device_id).sort();
    expect(ids).toEqual([alice.deviceId, phone.device_id].sort());
    const named = res.body.devices.find((d: { device_id: string }) => d.device_id === phone.device_id);
    expect(named).toEqual({ user_id: '@alice:localhost', device_id: phone.device_id, display_name: 'Alice phone' });
  });

  it('does not show other users\' devices, and r0 works too', async () => {
    const bob = await s.registerUser('bob');
    const res = await s.request('GET', '/_matrix/client/r0/devices', { token: bob.accessToken });
    expect(res.status).toBe(200);
    expect(res.body.devices.map((d: { device_id: string }) => d.device_id)).toEqual([bob.deviceId]);
  });

  it('reports last_seen_ts (ms) and last_seen_ip from the devices table', async () => {
    const d = await loginWithDevice('alice', alice.password, { device_id: 'SEENDEVICE' });
    await runSql(s, `UPDATE devices SET last_seen = 1700000000123, ip = '10.1.2.3' WHERE device_id = 'SEENDEVICE'`);
    // Asked from another device, so this request is not itself a sighting of SEENDEVICE.
    const res = await s.request('GET', `${V3}/devices/SEENDEVICE`, { token: alice.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user_id: '@alice:localhost', device_id: 'SEENDEVICE', last_seen_ts: 1700000000123, last_seen_ip: '10.1.2.3' });
    expect(specErrors('client-server', '/devices/{deviceId}', 'get', 200, res.body)).toEqual([]);

    // Using the device shows up at once (the sighting is merged before it is written).
    const before = Date.now();
    const mine = await s.request('GET', `${V3}/devices/SEENDEVICE`, { token: d.access_token });
    expect(mine.body.last_seen_ip).toBe('127.0.0.1');
    expect(mine.body.last_seen_ts).toBeGreaterThanOrEqual(before - 1000);
    expect(mine.body.last_seen_ts).toBeLessThanOrEqual(Date.now());
  });

  it('GET of an unknown (or someone else\'s) device is 404 M_NOT_FOUND', async () => {
    const bob = await s.registerUser('bob2');
    for (const id of ['NOSUCHDEVICE', bob.deviceId]) {
      const res = await s.request('GET', `${V3}/devices/${id}`, { token: alice.accessToken });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'No device found' });
    }
  });

  it('GET of a hidden device is 404 and it is not listed', async () => {
    await loginWithDevice('alice', alice.password, { device_id: 'HIDDENDEV' });
    await runSql(s, `UPDATE devices SET hidden = ${s.dialect === 'postgres' ? 'TRUE' : '1'} WHERE device_id = 'HIDDENDEV'`);
    const res = await s.request('GET', `${V3}/devices/HIDDENDEV`, { token: alice.accessToken });
    expect(res.status).toBe(404);
    const list = await s.request('GET', `${V3}/devices`, { token: alice.accessToken });
    expect(list.body.devices.map((d: { device_id: string }) => d.device_id)).not.toContain('HIDDENDEV');
  });

  it('PUT renames a device; the new name shows in GET', async () => {
    const res = await s.request('PUT', `${V3}/devices/${alice.deviceId}`, { token: alice.accessToken, body: { display_name: 'Laptop' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const get = await s.request('GET', `${V3}/devices/${alice.deviceId}`, { token: alice.accessToken });
    expect(get.body.display_name).toBe('Laptop');
    // No display_name: unchanged.
    expect((await s.request('PUT', `${V3}/devices/${alice.deviceId}`, { token: alice.accessToken, body: {} })).status).toBe(200);
    expect((await s.request('GET', `${V3}/devices/${alice.deviceId}`, { token: alice.accessToken })).body.display_name).toBe('Laptop');
  });

  it('PUT validates: unknown device 404, name > 100 code points M_TOO_LARGE, non-string M_BAD_JSON, empty body M_NOT_JSON', async () => {
    const unknown = await s.request('PUT', `${V3}/devices/NOSUCHDEVICE`, { token: alice.accessToken, body: { display_name: 'x' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Not found' });

    const long = await s.request('PUT', `${V3}/devices/${alice.deviceId}`, { token: alice.accessToken, body: { display_name: 'x'.repeat(101) } });
    expect(long.status).toBe(400);
    expect(long.body).toEqual({ errcode: 'M_TOO_LARGE', error: 'Device display name is too long (max 100)' });
    // 100 astral characters are 200 UTF-16 units but only 100 code points: accepted.
    const emoji = await s.request('PUT', `${V3}/devices/${alice.deviceId}`, { token: alice.accessToken, body: { display_name: '😀'.repeat(100) } });
    expect(emoji.status).toBe(200);

    const bad = await s.request('PUT', `${V3}/devices/${alice.deviceId}`, { token: alice.accessToken, body: { display_name: 42 } });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_BAD_JSON');

    const empty = await s.request('PUT', `${V3}/devices/${alice.deviceId}`, { token: alice.accessToken, rawBody: '' });
    expect(empty.status).toBe(400);
    expect(empty.body.errcode).toBe('M_NOT_JSON');
  });

  it('DELETE requires UIA with m.login.password, then removes the device and kills its token', async () => {
    const tablet = await loginWithDevice('alice', alice.password, { initial_device_display_name: 'Tablet' });
    const path = `${V3}/devices/${tablet.device_id}`;

    const first = await s.request('DELETE', path, { token: alice.accessToken });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    expect(typeof first.body.session).toBe('string');
    expect(specErrors('client-server', '/devices/{deviceId}', 'delete', 401, first.body)).toEqual([]);

    const wrong = await s.request('DELETE', path, {
      token: alice.accessToken,
      body: { auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'nope', session: first.body.session } },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errcode).toBe('M_FORBIDDEN');
    expect((await whoami(tablet.access_token)).status).toBe(200);

    const ok = await s.request('DELETE', path, {
      token: alice.accessToken,
      body: { auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: alice.password, session: first.body.session } },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({});
    expect((await s.request('GET', path, { token: alice.accessToken })).status).toBe(404);
    const dead = await whoami(tablet.access_token);
    expect(dead.status).toBe(401);
    expect(dead.body.errcode).toBe('M_UNKNOWN_TOKEN');
    // The caller's own session is untouched.
    expect((await whoami(alice.accessToken)).status).toBe(200);
  });

  it('DELETE of an unknown device succeeds after UIA (Synapse ignores unknown IDs)', async () => {
    const res = await s.request('DELETE', `${V3}/devices/NOSUCHDEVICE`, {
      token: alice.accessToken,
      body: { auth: { type: 'm.login.password', user: '@alice:localhost', password: alice.password } },
    });
    expect(res.status).toBe(200);
  });

  it('DELETE authenticated with another user\'s correct password is 403 M_FORBIDDEN and deletes nothing', async () => {
    const d = await loginWithDevice('alice', alice.password);
    const bob = await s.registerUser('bob3');
    const res = await s.request('DELETE', `${V3}/devices/${d.device_id}`, {
      token: alice.accessToken,
      body: { auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob3' }, password: bob.password } },
    });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Invalid auth' });
    expect((await whoami(d.access_token)).status).toBe(200);
  });

  it('POST /delete_devices validates the body before UIA, then deletes several devices and their tokens', async () => {
    const a = await loginWithDevice('alice', alice.password);
    const b = await loginWithDevice('alice', alice.password);

    const missing = await s.request('POST', `${V3}/delete_devices`, { token: alice.accessToken, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.errcode).toBe('M_BAD_JSON');
    const notList = await s.request('POST', `${V3}/delete_devices`, { token: alice.accessToken, body: { devices: 'x' } });
    expect(notList.status).toBe(400);
    expect(notList.body.errcode).toBe('M_BAD_JSON');
    const notStrings = await s.request('POST', `${V3}/delete_devices`, { token: alice.accessToken, body: { devices: [1] } });
    expect(notStrings.status).toBe(400);

    const first = await s.request('POST', `${V3}/delete_devices`, { token: alice.accessToken, body: { devices: [a.device_id, b.device_id, 'UNKNOWNDEV'] } });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    expect((await whoami(a.access_token)).status).toBe(200);

    const ok = await s.request('POST', `${V3}/delete_devices`, {
      token: alice.accessToken,
      body: {
        devices: [a.device_id, b.device_id, 'UNKNOWNDEV'],
        auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: alice.password, session: first.body.session },
      },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({});
    expect((await whoami(a.access_token)).status).toBe(401);
    expect((await whoami(b.access_token)).status).toBe(401);
    const ids = (await s.request('GET', `${V3}/devices`, { token: alice.accessToken })).body.devices.map((d: { device_id: string }) => d.device_id);
    expect(ids).not.toContain(a.device_id);
    expect(ids).not.toContain(b.device_id);
    expect(ids).toContain(alice.deviceId);
  });

  it('requires authentication (before looking at the body)', async () => {
    const res = await s.request('GET', `${V3}/devices`);
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
    const del = await s.request('POST', `${V3}/delete_devices`, { rawBody: '{nope' });
    expect(del.status).toBe(401);
  });
});
