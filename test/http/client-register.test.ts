import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { startServer, type TestServer } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';

describe('Client API: registration (m.login.dummy)', () => {
  let s: TestServer;

  const register = (body: Record<string, unknown>) => s.request('POST', `${V3}/register`, { body });
  /** The two-step dummy flow: the 401 with a session, then the same body with auth. */
  const registerDummy = async (body: Record<string, unknown>) => {
    const first = await register(body);
    expect(first.status).toBe(401);
    return register({ ...body, auth: { type: 'm.login.dummy', session: first.body.session } });
  };

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
  });
  afterAll(async () => s?.close());

  it('first answers 401 with the dummy flow and a session, and creates nothing yet', async () => {
    const res = await register({ username: 'pending', password: 'pw-pending-1' });
    expect(res.status).toBe(401);
    expect(res.body.flows).toEqual([{ stages: ['m.login.dummy'] }]);
    expect(typeof res.body.session).toBe('string');
    expect(res.body.session.length).toBeGreaterThan(0);
    expect(res.body.params).toEqual({});
    expect(specErrors('client-server', '/register', 'post', 401, res.body)).toEqual([]);
    const avail = await s.request('GET', `${V3}/register/available?username=pending`);
    expect(avail.status).toBe(200);
    expect(avail.body).toEqual({ available: true });
  });

  it('completes with m.login.dummy: a logged-in account whose password works', async () => {
    const res = await registerDummy({ username: 'newbie', password: 'pw-newbie-1', initial_device_display_name: 'Signup phone' });
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/register', 'post', 200, res.body)).toEqual([]);
    expect(res.body.user_id).toBe('@newbie:localhost');
    expect(res.body.home_server).toBe('localhost');
    expect(res.body.device_id).toMatch(/^[A-Z]{10}$/);
    expect(res.body.access_token).toMatch(/^syt_bmV3Ymll_/);

    const me = await s.request('GET', `${V3}/account/whoami`, { token: res.body.access_token });
    expect(me.body).toEqual({ user_id: '@newbie:localhost', is_guest: false, device_id: res.body.device_id });
    const dev = await s.request('GET', `${V3}/devices/${res.body.device_id}`, { token: res.body.access_token });
    expect(dev.body.display_name).toBe('Signup phone');
    const profile = await s.request('GET', `${V3}/profile/@newbie:localhost`);
    expect(profile.body).toEqual({ displayname: 'newbie' });
    const login = await s.login('newbie', 'pw-newbie-1');
    expect(login.userId).toBe('@newbie:localhost');
  });

  it('lower-cases the requested username', async () => {
    const res = await registerDummy({ username: 'MixedCase', password: 'pw-mixed-1' });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe('@mixedcase:localhost');
  });

  it('inhibit_login: the account exists but no token or device is returned', async () => {
    const res = await registerDummy({ username: 'quiet', password: 'pw-quiet-1', inhibit_login: true });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user_id: '@quiet:localhost', home_server: 'localhost' });
    expect(specErrors('client-server', '/register', 'post', 200, res.body)).toEqual([]);
    const login = await s.login('quiet', 'pw-quiet-1');
    const devices = await s.request('GET', `${V3}/devices`, { token: login.accessToken });
    expect(devices.body.devices).toHaveLength(1);
  });

  it('without a username the server picks a lower-case localpart', async () => {
    const res = await registerDummy({ password: 'pw-random-1' });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toMatch(/^@[a-z0-9._=\-/+]+:localhost$/);
  });

  it('a taken username is 400 M_USER_IN_USE before any UIA (also ignoring case)', async () => {
    for (const username of ['newbie', 'NEWBIE']) {
      const res = await register({ username, password: 'pw-x-1' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_USER_IN_USE', error: 'User ID already taken.' });
    }
    const avail = await s.request('GET', `${V3}/register/available?username=newbie`);
    expect(avail.status).toBe(400);
    expect(avail.body).toEqual({ errcode: 'M_USER_IN_USE', error: 'User ID already taken.' });
  });

  it('invalid usernames are 400 M_INVALID_USERNAME', async () => {
    for (const username of ['bad name', 'émile', '_underscore', '12345']) {
      const res = await register({ username, password: 'pw-x-1' });
      expect(res.status, username).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_USERNAME');
      const avail = await s.request('GET', `${V3}/register/available?username=${encodeURIComponent(username)}`);
      expect(avail.status).toBe(400);
      expect(avail.body.errcode).toBe('M_INVALID_USERNAME');
    }
  });

  it('GET /register/available needs the username parameter', async () => {
    const res = await s.request('GET', `${V3}/register/available`);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('a wrong stage type is refused, and an unknown session is 400', async () => {
    const first = await register({ username: 'stagey', password: 'pw-stagey-1' });
    const wrong = await register({ username: 'stagey', password: 'pw-stagey-1', auth: { type: 'm.login.password', session: first.body.session } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.flows).toEqual([{ stages: ['m.login.dummy'] }]);
    const unknown = await register({ username: 'stagey', password: 'pw-stagey-1', auth: { type: 'm.login.dummy', session: 'no-such-session' } });
    expect(unknown.status).toBe(400);
    expect((await s.request('GET', `${V3}/register/available?username=stagey`)).body).toEqual({ available: true });
  });

  it('bad bodies are 400s', async () => {
    const notJson = await s.request('POST', `${V3}/register`, { rawBody: 'nope' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.errcode).toBe('M_NOT_JSON');
    const badPassword = await register({ username: 'typed', password: 12 });
    expect(badPassword.status).toBe(400);
    const badUser = await register({ username: 12, password: 'pw-typed-1' });
    expect(badUser.status).toBe(400);
  });
});

describe('Client API: registration disabled', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ ...NO_RATE_LIMITS, enable_registration: false });
  });
  afterAll(async () => s?.close());

  it('POST /register and GET /register/available are 403 M_FORBIDDEN', async () => {
    const res = await s.request('POST', `${V3}/register`, { body: { username: 'nope', password: 'pw-nope-1', auth: { type: 'm.login.dummy' } } });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Registration has been disabled' });
    const avail = await s.request('GET', `${V3}/register/available?username=nope`);
    expect(avail.status).toBe(403);
    expect(avail.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Registration has been disabled' });
    // Shared-secret registration (the operator's path) still works.
    expect((await s.registerUser('operator')).userId).toBe('@operator:localhost');
  });
});
