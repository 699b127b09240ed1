import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { querySql, runSql, startServer, type ApiResponse, type TestServer, type TestUser } from '../harness/server.js';

// Registration gated by m.login.registration_token (spec §5.7) and the token validity endpoint.
const REGISTER = '/_matrix/client/v3/register';
const VALIDITY = '/_matrix/client/v1/register/m.login.registration_token/validity';
const TOKENS = '/_synapse/admin/v1/registration_tokens';
const TOKEN_STAGE = 'm.login.registration_token';
const FLOWS = [{ stages: [TOKEN_STAGE, 'm.login.dummy'] }];

describe('registration with registration_requires_token', () => {
  let s: TestServer;
  let admin: TestUser;

  const newToken = async (body: Record<string, unknown>) => {
    const res = await s.request('POST', `${TOKENS}/new`, { token: admin.accessToken, body });
    expect(res.status).toBe(200);
    return res.body.token as string;
  };
  const tokenInfo = async (token: string) => (await s.request('GET', `${TOKENS}/${token}`, { token: admin.accessToken })).body;
  const register = (body: Record<string, unknown>) => s.request('POST', REGISTER, { body });
  const start = async (username: string, password = 'secret-pw') => {
    const res = await register({ username, password });
    expect(res.status).toBe(401);
    return res.body.session as string;
  };
  const tokenStage = (session: string, token: unknown, extra: Record<string, unknown> = {}) =>
    register({ ...extra, auth: { type: TOKEN_STAGE, token, session } });
  const dummyStage = (session: string, extra: Record<string, unknown> = {}) => register({ ...extra, auth: { type: 'm.login.dummy', session } });
  /** The whole flow for one account: flows, token stage, dummy stage. */
  const registerWith = async (username: string, token: string): Promise<ApiResponse> => {
    const session = await start(username);
    const t = await tokenStage(session, token, { username, password: 'secret-pw' });
    if (t.status !== 401 || t.body.errcode) return t;
    return dummyStage(session, { username, password: 'secret-pw' });
  };

  beforeAll(async () => {
    s = await startServer({ registration_requires_token: true, ...NO_RATE_LIMITS });
    admin = await s.registerUser('admin', { admin: true });
  });
  afterAll(async () => s?.close());

  describe('the UIA flow', () => {
    it('offers token then dummy, with a session and no completed list', async () => {
      const res = await register({ username: 'flows', password: 'secret-pw' });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ flows: FLOWS, params: {}, session: expect.any(String) });
    });

    it('registers through token then dummy; pending while in progress, completed after', async () => {
      const token = await newToken({ uses_allowed: 5 });
      const session = await start('carol');

      const t = await tokenStage(session, token, { username: 'carol', password: 'secret-pw' });
      expect(t.status).toBe(401);
      expect(t.body).toEqual({ flows: FLOWS, params: {}, session, completed: [TOKEN_STAGE] });
      expect(await tokenInfo(token)).toMatchObject({ pending: 1, completed: 0 });

      const done = await dummyStage(session, { username: 'carol', password: 'secret-pw' });
      expect(done.status).toBe(200);
      expect(done.body).toEqual({ user_id: '@carol:localhost', home_server: 'localhost', access_token: expect.any(String), device_id: expect.any(String) });
      expect(await tokenInfo(token)).toEqual({ token, uses_allowed: 5, pending: 0, completed: 1, expiry_time: null });

      const who = await s.request('GET', '/_matrix/client/v3/account/whoami', { token: done.body.access_token });
      expect(who.body.user_id).toBe('@carol:localhost');
      await s.login('carol', 'secret-pw');
    });

    it('dummy alone does not register', async () => {
      const session = await start('nodummy');
      const res = await dummyStage(session, { username: 'nodummy', password: 'secret-pw' });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ flows: FLOWS, params: {}, session, completed: ['m.login.dummy'] });
      expect(await querySql(s, "SELECT name FROM users WHERE name = '@nodummy:localhost'")).toEqual([]);
    });

    it('later requests may carry only auth: username and password come from the session', async () => {
      const token = await newToken({});
      const session = await start('dora', 'dora-password');
      expect((await register({ auth: { type: TOKEN_STAGE, token, session } })).status).toBe(401);
      const done = await register({ auth: { type: 'm.login.dummy', session } });
      expect(done.status).toBe(200);
      expect(done.body.user_id).toBe('@dora:localhost');
      await s.login('dora', 'dora-password');
      // The plaintext password is never stored in the database either.
      const rows = await querySql<{ password_hash: string }>(s, "SELECT password_hash FROM users WHERE name = '@dora:localhost'");
      expect(rows[0]!.password_hash).toMatch(/^\$2[aby]\$/);
    });

    it('400 M_MISSING_PARAM when no password was ever given', async () => {
      const token = await newToken({});
      const first = await register({ username: 'nopass' });
      const session = first.body.session as string;
      await tokenStage(session, token);
      const res = await dummyStage(session);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_MISSING_PARAM', error: 'Missing params: password' });
    });
  });

  describe('token stage errors (merged into the 401)', () => {
    it('an unknown token: M_UNAUTHORIZED "Invalid registration token", nothing completed', async () => {
      const session = await start('wrongtoken');
      const res = await tokenStage(session, 'no-such-token');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ flows: FLOWS, params: {}, session, completed: [], errcode: 'M_UNAUTHORIZED', error: 'Invalid registration token' });
    });

    it('a missing or non-string token, and a missing session', async () => {
      const session = await start('badstage');
      const missing = await register({ auth: { type: TOKEN_STAGE, session } });
      expect(missing.status).toBe(401);
      expect(missing.body).toMatchObject({ session, completed: [], errcode: 'M_MISSING_PARAM', error: 'Missing registration token' });
      const notString = await tokenStage(session, 42);
      expect(notString.status).toBe(401);
      expect(notString.body).toMatchObject({ session, errcode: 'M_INVALID_PARAM', error: 'Registration token must be a string' });

      const token = await newToken({});
      const noSession = await register({ username: 'badstage', password: 'secret-pw', auth: { type: TOKEN_STAGE, token } });
      expect(noSession.status).toBe(401);
      expect(noSession.body).toMatchObject({ flows: FLOWS, completed: [], errcode: 'M_MISSING_PARAM', error: 'Missing UIA session' });
      expect(noSession.body.session).toEqual(expect.any(String));
      expect(await tokenInfo(token)).toMatchObject({ pending: 0, completed: 0 });
    });

    it('repeating the stage takes one use; another token in the same session is refused', async () => {
      const a = await newToken({ uses_allowed: 2 });
      const b = await newToken({ uses_allowed: 2 });
      const session = await start('twice');
      expect((await tokenStage(session, a)).body.completed).toEqual([TOKEN_STAGE]);
      expect((await tokenStage(session, a)).body).toEqual({ flows: FLOWS, params: {}, session, completed: [TOKEN_STAGE] });
      expect(await tokenInfo(a)).toMatchObject({ pending: 1 });
      const changed = await tokenStage(session, b);
      expect(changed.status).toBe(401);
      expect(changed.body).toMatchObject({ completed: [TOKEN_STAGE], errcode: 'M_INVALID_PARAM', error: 'Registration token has changed' });
      expect(await tokenInfo(b)).toMatchObject({ pending: 0, completed: 0 });
    });

    it('used-up, zero-use and expired tokens are invalid', async () => {
      const one = await newToken({ uses_allowed: 1 });
      expect((await registerWith('firstuse', one)).status).toBe(200);
      const used = await registerWith('seconduse', one);
      expect(used.body).toMatchObject({ errcode: 'M_UNAUTHORIZED', error: 'Invalid registration token' });

      const zero = await newToken({ uses_allowed: 0 });
      expect((await registerWith('zerouse', zero)).body.errcode).toBe('M_UNAUTHORIZED');

      const expiring = await newToken({ expiry_time: Date.now() + 60_000 });
      await runSql(s, `UPDATE registration_tokens SET expiry_time = ${Date.now() - 1} WHERE token = '${expiring}'`);
      expect((await registerWith('expireduse', expiring)).body.errcode).toBe('M_UNAUTHORIZED');
      expect(await tokenInfo(expiring)).toMatchObject({ pending: 0, completed: 0 });
      expect(await querySql(s, "SELECT name FROM users WHERE name IN ('@seconduse:localhost', '@zerouse:localhost', '@expireduse:localhost')")).toEqual([]);
    });

    it('a pending registration holds a use: the last use cannot be taken twice', async () => {
      const token = await newToken({ uses_allowed: 1 });
      const first = await start('holder');
      expect((await tokenStage(first, token)).body.completed).toEqual([TOKEN_STAGE]);
      const second = await start('latecomer');
      expect((await tokenStage(second, token)).body.errcode).toBe('M_UNAUTHORIZED');
      expect((await s.request('GET', `${VALIDITY}?token=${token}`)).body).toEqual({ valid: false });
    });
  });

  describe('retries within a session', () => {
    it('a name taken meanwhile keeps the reserved use; the session can finish under another name', async () => {
      const token = await newToken({ uses_allowed: 1 });
      const session = await start('contested');
      await tokenStage(session, token, { username: 'contested', password: 'secret-pw' });
      await s.registerUser('contested');
      const clash = await dummyStage(session, { username: 'contested', password: 'secret-pw' });
      expect(clash.status).toBe(400);
      expect(clash.body).toEqual({ errcode: 'M_USER_IN_USE', error: 'User ID already taken.' });
      expect(await tokenInfo(token)).toMatchObject({ pending: 1, completed: 0 });

      const retry = await dummyStage(session, { username: 'contested2', password: 'secret-pw' });
      expect(retry.status).toBe(200);
      expect(retry.body.user_id).toBe('@contested2:localhost');
      expect(await tokenInfo(token)).toMatchObject({ pending: 0, completed: 1 });
    });

    it('repeating a finished request logs the same account in again without spending the token', async () => {
      const token = await newToken({ uses_allowed: 3 });
      const session = await start('repeat');
      await tokenStage(session, token, { username: 'repeat', password: 'secret-pw' });
      const first = await dummyStage(session, { username: 'repeat', password: 'secret-pw' });
      expect(first.status).toBe(200);
      const again = await dummyStage(session, { username: 'repeat', password: 'secret-pw' });
      expect(again.status).toBe(200);
      expect(again.body.user_id).toBe('@repeat:localhost');
      expect(again.body.access_token).not.toBe(first.body.access_token);
      expect(await tokenInfo(token)).toMatchObject({ pending: 0, completed: 1 });
    });

    it('a registration session cannot authenticate another operation', async () => {
      const session = await start('hijack');
      const user = await s.registerUser('victim');
      const res = await s.request('POST', '/_matrix/client/v3/account/deactivate', {
        token: user.accessToken,
        body: { auth: { type: 'm.login.dummy', session } },
      });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Requested operation has changed during the UI authentication session.' });
    });

    it('400 for an unknown session', async () => {
      const res = await dummyStage('not-a-session');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Unknown session ID: not-a-session' });
    });
  });

  describe('atomicity', () => {
    it('the token use completes in the account transaction: a failure after it rolls both back', async () => {
      // Make the device insert (after the token update, inside the account transaction) fail.
      await runSql(
        s,
        s.dialect === 'sqlite'
          ? "CREATE TRIGGER boom BEFORE INSERT ON devices WHEN NEW.user_id = '@boom:localhost' BEGIN SELECT RAISE(ABORT, 'boom'); END;"
          : `CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.user_id = '@boom:localhost' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER boom BEFORE INSERT ON devices FOR EACH ROW EXECUTE FUNCTION boom();`,
      );
      try {
        const token = await newToken({ uses_allowed: 1 });
        const res = await registerWith('boom', token);
        expect(res.status).toBe(500);
        expect(await tokenInfo(token)).toMatchObject({ pending: 1, completed: 0 });
        expect(await querySql(s, "SELECT name FROM users WHERE name = '@boom:localhost'")).toEqual([]);
      } finally {
        await runSql(s, s.dialect === 'sqlite' ? 'DROP TRIGGER boom;' : 'DROP TRIGGER boom ON devices; DROP FUNCTION boom();');
      }
    });
  });

  describe('concurrency', () => {
    it('10 parallel registrations on a 3-use token: exactly 3 accounts, completed 3, pending 0', async () => {
      const token = await newToken({ uses_allowed: 3 });
      // Every session first, then every token stage at once, then the final stages: most contention.
      const names = Array.from({ length: 10 }, (_, i) => `racer${i}`);
      const sessions = await Promise.all(names.map((n) => start(n)));
      const stages = await Promise.all(sessions.map((session) => tokenStage(session, token)));
      const passed = sessions.filter((_, i) => !stages[i]!.body.errcode);
      const refused = stages.filter((r) => r.body.errcode);
      expect(passed).toHaveLength(3);
      for (const r of refused) expect(r.body).toMatchObject({ errcode: 'M_UNAUTHORIZED', error: 'Invalid registration token' });
      const finals = await Promise.all(sessions.map((session) => dummyStage(session)));
      expect(finals.filter((r) => r.status === 200)).toHaveLength(3);
      expect(await tokenInfo(token)).toEqual({ token, uses_allowed: 3, pending: 0, completed: 3, expiry_time: null });
      const rows = await querySql<{ n: number | string }>(s, "SELECT COUNT(*) AS n FROM users WHERE name LIKE '@racer%'");
      expect(Number(rows[0]!.n)).toBe(3);
    });

    it('10 parallel registrations on an unlimited token count every use', async () => {
      const token = await newToken({});
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => registerWith(`crowd${i}`, token)));
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
      expect(await tokenInfo(token)).toMatchObject({ pending: 0, completed: 10 });
    });

    it('parallel token stages in one session take a single use', async () => {
      const token = await newToken({ uses_allowed: 5 });
      const session = await start('samesession');
      const results = await Promise.all(Array.from({ length: 5 }, () => tokenStage(session, token)));
      for (const r of results) expect(r.body.completed).toEqual([TOKEN_STAGE]);
      expect(await tokenInfo(token)).toMatchObject({ pending: 1, completed: 0 });
    });
  });

  describe('GET /_matrix/client/v1/register/m.login.registration_token/validity', () => {
    it('true for a usable token, false for unknown or badly formed ones', async () => {
      const token = await newToken({ uses_allowed: 2 });
      expect(await s.request('GET', `${VALIDITY}?token=${token}`)).toMatchObject({ status: 200, body: { valid: true } });
      expect(await s.request('GET', `${VALIDITY}?token=unknown-token`)).toMatchObject({ status: 200, body: { valid: false } });
      expect(await s.request('GET', `${VALIDITY}?token=${encodeURIComponent('not valid!')}`)).toMatchObject({ status: 200, body: { valid: false } });
      expect(await s.request('GET', `${VALIDITY}?token=`)).toMatchObject({ status: 200, body: { valid: false } });
      expect((await s.request('GET', `/_matrix/client/unstable/register/m.login.registration_token/validity?token=${token}`)).body).toEqual({ valid: true });
    });

    it('tracks uses: false once pending + completed reach uses_allowed', async () => {
      const token = await newToken({ uses_allowed: 1 });
      expect((await s.request('GET', `${VALIDITY}?token=${token}`)).body).toEqual({ valid: true });
      expect((await registerWith('validityuser', token)).status).toBe(200);
      expect((await s.request('GET', `${VALIDITY}?token=${token}`)).body).toEqual({ valid: false });
      await s.request('PUT', `${TOKENS}/${token}`, { token: admin.accessToken, body: { uses_allowed: 2 } });
      expect((await s.request('GET', `${VALIDITY}?token=${token}`)).body).toEqual({ valid: true });
    });

    it('400 M_MISSING_PARAM without a token', async () => {
      const res = await s.request('GET', VALIDITY);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_MISSING_PARAM', error: "Missing string query parameter 'token'" });
    });

    it('only under v1 (and unstable)', async () => {
      const res = await s.request('GET', '/_matrix/client/v3/register/m.login.registration_token/validity?token=x');
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
    });
  });
});

describe('registration tokens with other registration settings', () => {
  let open: TestServer;
  let closed: TestServer;

  beforeAll(async () => {
    open = await startServer(NO_RATE_LIMITS);
    closed = await startServer({ enable_registration: false, registration_requires_token: true });
  });
  afterAll(async () => {
    await open?.close();
    await closed?.close();
  });

  it('without registration_requires_token the flow is dummy alone and tokens are untouched', async () => {
    const admin = await open.registerUser('admin', { admin: true });
    await open.request('POST', `${TOKENS}/new`, { token: admin.accessToken, body: { token: 'unused' } });
    const first = await open.request('POST', REGISTER, { body: { username: 'plain', password: 'secret-pw' } });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ['m.login.dummy'] }]);
    const wrongStage = await open.request('POST', REGISTER, { body: { auth: { type: TOKEN_STAGE, token: 'unused', session: first.body.session } } });
    expect(wrongStage.status).toBe(401);
    expect(wrongStage.body.errcode).toBe('M_UNRECOGNIZED');
    const done = await open.request('POST', REGISTER, { body: { username: 'plain', password: 'secret-pw', auth: { type: 'm.login.dummy', session: first.body.session } } });
    expect(done.status).toBe(200);
    const info = await open.request('GET', `${TOKENS}/unused`, { token: admin.accessToken });
    expect(info.body).toMatchObject({ pending: 0, completed: 0 });
  });

  it('403 from the validity endpoint when registration is disabled', async () => {
    const res = await closed.request('GET', `${VALIDITY}?token=anything`);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Registration has been disabled' });
  });
});
