import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';

const passwordAuth = (user: string, password: string, session?: string) => ({
  type: 'm.login.password',
  identifier: { type: 'm.id.user', user },
  password,
  ...(session ? { session } : {}),
});

describe('Client API: password change and deactivation', () => {
  let s: TestServer;

  const whoami = (token: string) => s.request('GET', `${V3}/account/whoami`, { token });
  const tryLogin = (user: string, password: string) =>
    s.request('POST', `${V3}/login`, { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password } });

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
  });
  afterAll(async () => s?.close());

  it('POST /account/password: 401 UIA first, then the new password works, the old one fails, other sessions end', async () => {
    const u: TestUser = await s.registerUser('pat', { password: 'old-password' });
    const other = await s.login('pat', 'old-password');

    const first = await s.request('POST', `${V3}/account/password`, { token: u.accessToken, body: { new_password: 'new-password' } });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    expect(specErrors('client-server', '/account/password', 'post', 401, first.body)).toEqual([]);
    // Nothing changed yet.
    expect((await tryLogin('pat', 'old-password')).status).toBe(200);

    const ok = await s.request('POST', `${V3}/account/password`, {
      token: u.accessToken,
      body: { new_password: 'new-password', auth: passwordAuth('pat', 'old-password', first.body.session) },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({});

    const old = await tryLogin('pat', 'old-password');
    expect(old.status).toBe(403);
    expect(old.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Invalid username or password' });
    expect((await tryLogin('pat', 'new-password')).status).toBe(200);
    // The caller's own session survives; the other device is logged out.
    expect((await whoami(u.accessToken)).status).toBe(200);
    const dead = await whoami(other.accessToken);
    expect(dead.status).toBe(401);
    expect(dead.body.errcode).toBe('M_UNKNOWN_TOKEN');
    const devices = await s.request('GET', `${V3}/devices`, { token: u.accessToken });
    expect(devices.body.devices.map((d: { device_id: string }) => d.device_id)).not.toContain(other.deviceId);
  });

  it('logout_devices: false keeps the other sessions', async () => {
    const u = await s.registerUser('quinn', { password: 'old-password' });
    const other = await s.login('quinn', 'old-password');
    const res = await s.request('POST', `${V3}/account/password`, {
      token: u.accessToken,
      body: { new_password: 'newer-password', logout_devices: false, auth: passwordAuth('@quinn:localhost', 'old-password') },
    });
    expect(res.status).toBe(200);
    expect((await whoami(other.accessToken)).status).toBe(200);
    expect((await tryLogin('quinn', 'newer-password')).status).toBe(200);
  });

  it('a wrong current password is 401 M_FORBIDDEN with the flows again; the password is unchanged', async () => {
    const u = await s.registerUser('rita', { password: 'right-password' });
    const res = await s.request('POST', `${V3}/account/password`, {
      token: u.accessToken,
      body: { new_password: 'x-password', auth: passwordAuth('rita', 'wrong-password') },
    });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(res.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    expect((await tryLogin('rita', 'right-password')).status).toBe(200);
  });

  it('proving another user\'s password does not authorise the change', async () => {
    const u = await s.registerUser('sam', { password: 'sam-password' });
    const v = await s.registerUser('tom', { password: 'tom-password' });
    const res = await s.request('POST', `${V3}/account/password`, {
      token: u.accessToken,
      body: { new_password: 'x-password', auth: passwordAuth('tom', 'tom-password') },
    });
    // Synapse: the stage passes for tom, then the check against the requester refuses it.
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Invalid auth' });
    expect((await tryLogin('sam', 'sam-password')).status).toBe(200);
    void v;
  });

  it('body errors: missing new_password after UIA, bad types', async () => {
    const u = await s.registerUser('uma', { password: 'uma-password' });
    const missing = await s.request('POST', `${V3}/account/password`, { token: u.accessToken, body: { auth: passwordAuth('uma', 'uma-password') } });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ errcode: 'M_MISSING_PARAM', error: 'Missing params: password' });
    const badType = await s.request('POST', `${V3}/account/password`, { token: u.accessToken, body: { new_password: 5 } });
    expect(badType.status).toBe(400);
    const badLogout = await s.request('POST', `${V3}/account/password`, { token: u.accessToken, body: { new_password: 'p-password', logout_devices: 'yes' } });
    expect(badLogout.status).toBe(400);
    expect(badLogout.body.errcode).toBe('M_BAD_JSON');
    const tooLong = await s.request('POST', `${V3}/account/password`, { token: u.accessToken, body: { new_password: 'x'.repeat(513) } });
    expect(tooLong.status).toBe(400);
    expect((await tryLogin('uma', 'uma-password')).status).toBe(200);
  });

  it('POST /account/deactivate: UIA, then the account is gone for login and its tokens are dead', async () => {
    const u = await s.registerUser('vic', { password: 'vic-password' });
    const second = await s.login('vic', 'vic-password');
    const first = await s.request('POST', `${V3}/account/deactivate`, { token: u.accessToken, body: {} });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    expect((await whoami(u.accessToken)).status).toBe(200);

    const ok = await s.request('POST', `${V3}/account/deactivate`, {
      token: u.accessToken,
      body: { auth: passwordAuth('vic', 'vic-password', first.body.session) },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ id_server_unbind_result: 'success' });
    expect(specErrors('client-server', '/account/deactivate', 'post', 200, ok.body)).toEqual([]);

    for (const t of [u.accessToken, second.accessToken]) {
      const res = await whoami(t);
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
    }
    const login = await tryLogin('vic', 'vic-password');
    expect(login.status).toBe(403);
    expect(login.body.errcode).toBe('M_USER_DEACTIVATED');
    const rows = await querySql<{ deactivated: number; password_hash: string | null }>(s, "SELECT deactivated, password_hash FROM users WHERE name = '@vic:localhost'");
    expect(rows).toEqual([{ deactivated: 1, password_hash: null }]);
    // The name stays taken.
    const avail = await s.request('GET', `${V3}/register/available?username=vic`);
    expect(avail.body.errcode).toBe('M_USER_IN_USE');
  });

  it('deactivate: erase must be a boolean (checked before UIA)', async () => {
    const u = await s.registerUser('wes', { password: 'wes-password' });
    const res = await s.request('POST', `${V3}/account/deactivate`, { token: u.accessToken, body: { erase: 'yes' } });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    expect((await whoami(u.accessToken)).status).toBe(200);
  });

  it('both endpoints need a token', async () => {
    // (Synapse answers a token-less password change with its e-mail reset flow; Axon has none.)
    expect((await s.request('POST', `${V3}/account/password`, { body: { new_password: 'x-password' } })).status).toBe(401);
    const res = await s.request('POST', `${V3}/account/deactivate`, { body: {} });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });
});
