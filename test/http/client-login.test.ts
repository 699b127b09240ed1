import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';

describe('Client API: login, logout, whoami', () => {
  let s: TestServer;
  let alice: TestUser;

  const login = (body: Record<string, unknown>) => s.request('POST', `${V3}/login`, { body: { type: 'm.login.password', ...body } });
  const whoami = (token: string) => s.request('GET', `${V3}/account/whoami`, { token });

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    alice = await s.registerUser('alice', { password: 'alice-secret' });
  });
  afterAll(async () => s?.close());

  it('GET /login lists the password and application-service flows', async () => {
    const res = await s.request('GET', `${V3}/login`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ flows: [{ type: 'm.login.password' }, { type: 'm.login.application_service' }] });
    expect(specErrors('client-server', '/login', 'get', 200, res.body)).toEqual([]);
    expect((await s.request('GET', '/_matrix/client/r0/login')).status).toBe(200);
  });

  it('m.id.user identifier: the Synapse response shape with a working syt_ token', async () => {
    const res = await login({ identifier: { type: 'm.id.user', user: 'alice' }, password: 'alice-secret' });
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/login', 'post', 200, res.body)).toEqual([]);
    expect(Object.keys(res.body).sort()).toEqual(['access_token', 'device_id', 'home_server', 'user_id', 'well_known']);
    expect(res.body.user_id).toBe('@alice:localhost');
    expect(res.body.home_server).toBe('localhost');
    expect(res.body.device_id).toMatch(/^[A-Z]{10}$/);
    expect(res.body.access_token).toMatch(/^syt_YWxpY2U_[A-Za-z]{20}_[0-9A-Za-z]{6,}$/);
    expect(res.body.well_known).toEqual({ 'm.homeserver': { base_url: 'http://localhost:8008/' } });
    const me = await whoami(res.body.access_token);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user_id: '@alice:localhost', is_guest: false, device_id: res.body.device_id });
    expect(specErrors('client-server', '/account/whoami', 'get', 200, me.body)).toEqual([]);
  });

  it('accepts the legacy top-level "user", a full MXID, and a differently-cased localpart', async () => {
    for (const body of [
      { user: 'alice', password: 'alice-secret' },
      { identifier: { type: 'm.id.user', user: '@alice:localhost' }, password: 'alice-secret' },
      { user: '@alice:localhost', password: 'alice-secret' },
      { identifier: { type: 'm.id.user', user: 'ALICE' }, password: 'alice-secret' },
    ]) {
      const res = await login(body);
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(res.body.user_id).toBe('@alice:localhost');
    }
  });

  it('device_id: a given ID is used, null means "make one up"; the display name shows in /devices', async () => {
    const given = await login({ identifier: { type: 'm.id.user', user: 'alice' }, password: 'alice-secret', device_id: 'MYDEVICE', initial_device_display_name: 'My laptop' });
    expect(given.status).toBe(200);
    expect(given.body.device_id).toBe('MYDEVICE');
    const made = await login({ identifier: { type: 'm.id.user', user: 'alice' }, password: 'alice-secret', device_id: null });
    expect(made.status).toBe(200);
    expect(made.body.device_id).toMatch(/^[A-Z]{10}$/);

    const dev = await s.request('GET', `${V3}/devices/MYDEVICE`, { token: given.body.access_token });
    expect(dev.status).toBe(200);
    expect(dev.body.display_name).toBe('My laptop');
    // Logging in again with the same device ID keeps one device and both tokens work.
    const again = await login({ identifier: { type: 'm.id.user', user: 'alice' }, password: 'alice-secret', device_id: 'MYDEVICE' });
    expect(again.body.device_id).toBe('MYDEVICE');
    const list = await s.request('GET', `${V3}/devices`, { token: again.body.access_token });
    expect(list.body.devices.filter((d: { device_id: string }) => d.device_id === 'MYDEVICE')).toHaveLength(1);
    expect((await whoami(given.body.access_token)).status).toBe(200);
  });

  it('wrong password, unknown user: 403 M_FORBIDDEN "Invalid username or password"', async () => {
    for (const body of [
      { identifier: { type: 'm.id.user', user: 'alice' }, password: 'wrong' },
      { identifier: { type: 'm.id.user', user: 'nobody' }, password: 'whatever' },
      { identifier: { type: 'm.id.user', user: '@alice:elsewhere.example' }, password: 'alice-secret' },
    ]) {
      const res = await login(body);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Invalid username or password' });
    }
  });

  it('malformed logins are 400s, never 500s', async () => {
    const noType = await s.request('POST', `${V3}/login`, { body: { user: 'alice', password: 'alice-secret' } });
    expect(noType.status).toBe(400);
    const badType = await login({ type: 'm.login.bogus' });
    expect(badType.status).toBe(400);
    const noPassword = await login({ identifier: { type: 'm.id.user', user: 'alice' } });
    expect(noPassword.status).toBe(400);
    const badDevice = await login({ identifier: { type: 'm.id.user', user: 'alice' }, password: 'alice-secret', device_id: 5 });
    expect(badDevice.status).toBe(400);
    const longName = await login({ identifier: { type: 'm.id.user', user: 'alice' }, password: 'alice-secret', initial_device_display_name: 'x'.repeat(101) });
    expect(longName.status).toBe(400);
    expect(longName.body).toEqual({ errcode: 'M_TOO_LARGE', error: 'Device display name is too long (max 100)' });
    const notJson = await s.request('POST', `${V3}/login`, { rawBody: '{' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.errcode).toBe('M_NOT_JSON');
    const array = await s.request('POST', `${V3}/login`, { body: [] });
    expect(array.status).toBe(400);
    expect(array.body.errcode).toBe('M_BAD_JSON');
  });

  it('a deactivated user cannot log in: 403 M_USER_DEACTIVATED', async () => {
    const dave = await s.registerUser('dave');
    const deactivate = await s.request('POST', `${V3}/account/deactivate`, {
      token: dave.accessToken,
      body: { auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'dave' }, password: dave.password } },
    });
    expect(deactivate.status).toBe(200);
    const res = await login({ identifier: { type: 'm.id.user', user: 'dave' }, password: dave.password });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_USER_DEACTIVATED', error: 'This account has been deactivated' });
  });

  it('whoami needs a valid token', async () => {
    expect((await s.request('GET', `${V3}/account/whoami`)).body).toEqual({ errcode: 'M_MISSING_TOKEN', error: 'Missing access token' });
    const bad = await whoami('syt_nope_nope_nope');
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ errcode: 'M_UNKNOWN_TOKEN', error: 'Invalid access token passed.', soft_logout: false });
  });

  it('logout kills only the current token and removes its device', async () => {
    const a = await login({ identifier: { type: 'm.id.user', user: 'alice' }, password: 'alice-secret' });
    const b = await login({ identifier: { type: 'm.id.user', user: 'alice' }, password: 'alice-secret' });
    const out = await s.request('POST', `${V3}/logout`, { token: a.body.access_token });
    expect(out.status).toBe(200);
    expect(out.body).toEqual({});
    const dead = await whoami(a.body.access_token);
    expect(dead.status).toBe(401);
    expect(dead.body.errcode).toBe('M_UNKNOWN_TOKEN');
    expect((await whoami(b.body.access_token)).status).toBe(200);
    const devices = (await s.request('GET', `${V3}/devices`, { token: b.body.access_token })).body.devices.map((d: { device_id: string }) => d.device_id);
    expect(devices).not.toContain(a.body.device_id);
    expect(devices).toContain(b.body.device_id);
    // Logging out twice: the token is gone.
    expect((await s.request('POST', `${V3}/logout`, { token: a.body.access_token })).status).toBe(401);
  });

  it('logout/all kills every token and device of the user, and nobody else\'s', async () => {
    const bob = await s.registerUser('bob');
    const tokens = [];
    for (let i = 0; i < 3; i++) tokens.push((await login({ identifier: { type: 'm.id.user', user: 'alice' }, password: 'alice-secret' })).body.access_token);
    const res = await s.request('POST', `${V3}/logout/all`, { token: tokens[0] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    for (const t of [...tokens, alice.accessToken]) expect((await whoami(t)).status).toBe(401);
    expect((await whoami(bob.accessToken)).status).toBe(200);
    const fresh = await login({ identifier: { type: 'm.id.user', user: 'alice' }, password: 'alice-secret' });
    const devices = (await s.request('GET', `${V3}/devices`, { token: fresh.body.access_token })).body.devices;
    expect(devices.map((d: { device_id: string }) => d.device_id)).toEqual([fresh.body.device_id]);
  });
});
