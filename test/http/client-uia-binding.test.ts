import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { secondInstance } from '../harness/second-instance.js';
import { querySql, runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';

// User-interactive auth: a session completes only the request that started it, and sessions live
// in the database (Synapse's ui_auth_sessions), so they outlive the process that created them.
const V3 = '/_matrix/client/v3';
const CHANGED = { errcode: 'M_UNKNOWN', error: 'Requested operation has changed during the UI authentication session.' };

describe('UIA sessions are bound to their request', () => {
  let s: TestServer;
  let alice: TestUser;

  const newDevice = async () => {
    const res = await s.request('POST', `${V3}/login`, {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: alice.password },
    });
    expect(res.status).toBe(200);
    return res.body as { access_token: string; device_id: string };
  };
  const alive = async (token: string) => (await s.request('GET', `${V3}/account/whoami`, { token })).status === 200;
  const pw = (session: string, password = alice.password) => ({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password, session });

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    alice = await s.registerUser('alice');
  });
  afterAll(async () => s?.close());

  it('a session started to delete one device cannot delete another (403), and still deletes its own', async () => {
    const a = await newDevice();
    const b = await newDevice();
    const first = await s.request('DELETE', `${V3}/devices/${a.device_id}`, { token: alice.accessToken });
    expect(first.status).toBe(401);

    const other = await s.request('DELETE', `${V3}/devices/${b.device_id}`, { token: alice.accessToken, body: { auth: pw(first.body.session) } });
    expect(other.status).toBe(403);
    expect(other.body).toEqual(CHANGED);
    expect(await alive(a.access_token)).toBe(true);
    expect(await alive(b.access_token)).toBe(true);

    const own = await s.request('DELETE', `${V3}/devices/${a.device_id}`, { token: alice.accessToken, body: { auth: pw(first.body.session) } });
    expect(own.status).toBe(200);
    expect(await alive(a.access_token)).toBe(false);
    expect(await alive(b.access_token)).toBe(true);
  });

  it('POST /delete_devices: another device list in the same session is 403 and deletes nothing', async () => {
    const a = await newDevice();
    const b = await newDevice();
    const first = await s.request('POST', `${V3}/delete_devices`, { token: alice.accessToken, body: { devices: [a.device_id] } });
    expect(first.status).toBe(401);
    const swapped = await s.request('POST', `${V3}/delete_devices`, {
      token: alice.accessToken,
      body: { devices: [b.device_id], auth: pw(first.body.session) },
    });
    expect(swapped.status).toBe(403);
    expect(swapped.body).toEqual(CHANGED);
    const widened = await s.request('POST', `${V3}/delete_devices`, {
      token: alice.accessToken,
      body: { devices: [a.device_id, b.device_id], auth: pw(first.body.session) },
    });
    expect(widened.status).toBe(403);
    expect(await alive(a.access_token)).toBe(true);
    expect(await alive(b.access_token)).toBe(true);

    // The request that started the session completes it.
    const done = await s.request('POST', `${V3}/delete_devices`, { token: alice.accessToken, body: { auth: pw(first.body.session), devices: [a.device_id] } });
    expect(done.status).toBe(200);
    expect(await alive(a.access_token)).toBe(false);
    expect(await alive(b.access_token)).toBe(true);
  });

  it('another method or path with the session is 403', async () => {
    const a = await newDevice();
    const first = await s.request('POST', `${V3}/delete_devices`, { token: alice.accessToken, body: { devices: [a.device_id] } });
    const viaDelete = await s.request('DELETE', `${V3}/devices/${a.device_id}`, { token: alice.accessToken, body: { auth: pw(first.body.session) } });
    expect(viaDelete.status).toBe(403);
    expect(viaDelete.body).toEqual(CHANGED);
    const viaR0 = await s.request('POST', '/_matrix/client/r0/delete_devices', {
      token: alice.accessToken,
      body: { devices: [a.device_id], auth: pw(first.body.session) },
    });
    expect(viaR0.status).toBe(403);
    expect(await alive(a.access_token)).toBe(true);
  });

  it('a completed session is consumed: it cannot authorise the request a second time', async () => {
    const a = await newDevice();
    const path = `${V3}/devices/${a.device_id}`;
    const first = await s.request('DELETE', path, { token: alice.accessToken });
    expect((await s.request('DELETE', path, { token: alice.accessToken, body: { auth: pw(first.body.session) } })).status).toBe(200);
    const again = await s.request('DELETE', path, { token: alice.accessToken, body: { auth: pw(first.body.session) } });
    expect(again.status).toBe(400);
    expect(again.body).toEqual({ errcode: 'M_UNKNOWN', error: `Unknown session ID: ${first.body.session}` });
  });

  it('password change: the new password cannot change within a session, nor is it stored in clear', async () => {
    const u = await s.registerUser('carl', { password: 'carl-old' });
    const path = `${V3}/account/password`;
    const auth = (session: string) => ({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'carl' }, password: 'carl-old', session });
    const first = await s.request('POST', path, { token: u.accessToken, body: { new_password: 'carl-new-1' } });
    expect(first.status).toBe(401);
    const rows = await querySql<{ clientdict: string; serverdict: string }>(s, `SELECT clientdict, serverdict FROM ui_auth_sessions WHERE session_id = '${first.body.session}'`);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.clientdict + rows[0]!.serverdict).not.toContain('carl-new-1');

    const swapped = await s.request('POST', path, { token: u.accessToken, body: { new_password: 'carl-new-2', auth: auth(first.body.session) } });
    expect(swapped.status).toBe(403);
    expect(swapped.body).toEqual(CHANGED);
    expect((await s.request('POST', `${V3}/login`, { body: { type: 'm.login.password', user: 'carl', password: 'carl-old' } })).status).toBe(200);

    const ok = await s.request('POST', path, { token: u.accessToken, body: { new_password: 'carl-new-1', auth: auth(first.body.session) } });
    expect(ok.status).toBe(200);
    expect((await s.request('POST', `${V3}/login`, { body: { type: 'm.login.password', user: 'carl', password: 'carl-new-1' } })).status).toBe(200);
  });

  it('another user\'s correct password: 403 M_FORBIDDEN "Invalid auth"; the session then completes with the right one', async () => {
    const bob = await s.registerUser('bob');
    const a = await newDevice();
    const path = `${V3}/devices/${a.device_id}`;
    const first = await s.request('DELETE', path, { token: alice.accessToken });
    const asBob = await s.request('DELETE', path, {
      token: alice.accessToken,
      body: { auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: bob.password, session: first.body.session } },
    });
    expect(asBob.status).toBe(403);
    expect(asBob.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Invalid auth' });
    expect(await alive(a.access_token)).toBe(true);
    // Bob's wrong password is an ordinary failed stage (401).
    const wrong = await s.request('DELETE', path, {
      token: alice.accessToken,
      body: { auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: 'nope', session: first.body.session } },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errcode).toBe('M_FORBIDDEN');
    const ok = await s.request('DELETE', path, { token: alice.accessToken, body: { auth: pw(first.body.session) } });
    expect(ok.status).toBe(200);
    expect(await alive(a.access_token)).toBe(false);
  });
});

describe('UIA sessions survive a restart', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startServer({ registration_requires_token: true, ...NO_RATE_LIMITS });
  });
  afterAll(async () => s?.close());

  it('a session started on one process completes on another over the same database', async () => {
    const alice = await s.registerUser('alice');
    const phone = await s.login('alice', alice.password);
    const path = `${V3}/devices/${phone.deviceId}`;
    const first = await s.request('DELETE', path, { token: alice.accessToken });
    expect(first.status).toBe(401);
    expect(await querySql(s, `SELECT uri, method FROM ui_auth_sessions WHERE session_id = '${first.body.session}'`)).toEqual([{ uri: path, method: 'DELETE' }]);

    const other = await secondInstance(s, { registration_requires_token: true });
    try {
      const auth = { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: alice.password, session: first.body.session };
      const ok = await other.request('DELETE', path, { token: alice.accessToken, body: { auth } });
      expect(ok.status).toBe(200);
      expect((await s.request('GET', `${V3}/account/whoami`, { token: phone.accessToken })).status).toBe(401);
      expect(await querySql(s, `SELECT session_id FROM ui_auth_sessions WHERE session_id = '${first.body.session}'`)).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('registration: the token stage on one process, the account on another; an expired session gives its use back', async () => {
    const admin = await s.registerUser('admin', { admin: true });
    const token = (await s.request('POST', '/_synapse/admin/v1/registration_tokens/new', { token: admin.accessToken, body: { uses_allowed: 2 } })).body.token;
    const info = async () => (await s.request('GET', `/_synapse/admin/v1/registration_tokens/${token}`, { token: admin.accessToken })).body;
    const register = (body: Record<string, unknown>) => s.request('POST', `${V3}/register`, { body });
    const tokenAuth = (session: string) => ({ type: 'm.login.registration_token', token, session });

    // Finished across processes.
    const one = (await register({ username: 'dave', password: 'dave-pw' })).body.session as string;
    expect((await register({ auth: tokenAuth(one) })).status).toBe(401);
    expect(await info()).toMatchObject({ pending: 1, completed: 0 });
    // Abandoned after the token stage.
    const two = (await register({ username: 'erin', password: 'erin-pw' })).body.session as string;
    expect((await register({ auth: tokenAuth(two) })).status).toBe(401);
    expect(await info()).toMatchObject({ pending: 2, completed: 0 });

    const other = await secondInstance(s, { registration_requires_token: true });
    try {
      const done = await other.request('POST', `${V3}/register`, { body: { auth: { type: 'm.login.dummy', session: one } } });
      expect(done.status).toBe(200);
      expect(done.body.user_id).toBe('@dave:localhost');
      expect(await info()).toMatchObject({ pending: 1, completed: 1 });

      // A day later (aged in the database), any UIA request on the other process sweeps: the
      // abandoned session's use returns, the finished one's stays spent.
      await runSql(s, `UPDATE ui_auth_sessions SET creation_time = creation_time - ${25 * 3600 * 1000}`);
      expect((await other.request('POST', `${V3}/register`, { body: { username: 'frank', password: 'frank-pw' } })).status).toBe(401);
      expect(await info()).toMatchObject({ pending: 0, completed: 1 });
      const gone = await other.request('POST', `${V3}/register`, { body: { auth: { type: 'm.login.dummy', session: two } } });
      expect(gone.status).toBe(400);
      expect(gone.body).toEqual({ errcode: 'M_UNKNOWN', error: `Unknown session ID: ${two}` });
      expect(await querySql(s, `SELECT session_id FROM ui_auth_sessions_credentials WHERE session_id IN ('${one}', '${two}')`)).toEqual([]);
    } finally {
      await other.close();
    }
  });
});
