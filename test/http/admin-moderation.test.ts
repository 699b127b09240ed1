import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';

const enc = encodeURIComponent;

describe('moderation admin API', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;

  beforeAll(async () => {
    // Public registration closed: username_available must still answer.
    s = await startServer({ enable_registration: false });
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
  });
  afterAll(async () => s?.close());

  const shadowBanned = async (userId: string) =>
    (await s.request('GET', `/_synapse/admin/v2/users/${enc(userId)}`, { token: admin.accessToken })).body.shadow_banned;

  describe('shadow_ban (catalogue §3.17)', () => {
    const path = (u: string) => `/_synapse/admin/v1/users/${enc(u)}/shadow_ban`;

    it('POST sets and DELETE clears users.shadow_banned; both answer {} and ignore the body', async () => {
      expect(await shadowBanned(alice.userId)).toBe(false);
      let res = await s.request('POST', path(alice.userId), { token: admin.accessToken, rawBody: 'not json at all' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      expect(await shadowBanned(alice.userId)).toBe(true);
      const rows = await querySql<{ shadow_banned: unknown }>(s, `SELECT shadow_banned FROM users WHERE name = '${alice.userId}'`);
      expect(Boolean(rows[0]!.shadow_banned)).toBe(true);
      // A shadow-banned user still authenticates (sends would silently go nowhere).
      expect((await s.request('GET', '/_matrix/client/v3/pushers', { token: alice.accessToken })).status).toBe(200);

      res = await s.request('DELETE', path(alice.userId), { token: admin.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      expect(await shadowBanned(alice.userId)).toBe(false);
    });

    it('400 "Only local users can be shadow-banned" for remote users on both methods', async () => {
      for (const method of ['POST', 'DELETE']) {
        const res = await s.request(method, path('@bob:remote.example'), { token: admin.accessToken });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Only local users can be shadow-banned' });
      }
      // No colon at all: not one of ours either.
      const res = await s.request('POST', path('nobody'), { token: admin.accessToken });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('Only local users can be shadow-banned');
    });

    it('404 from the single-row update for an unknown local user; M_INVALID_PARAM for a malformed one', async () => {
      let res = await s.request('POST', path('@ghost:localhost'), { token: admin.accessToken });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'No row found' });
      res = await s.request('POST', path('ghost:localhost'), { token: admin.accessToken });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_INVALID_PARAM', error: "Expected UserID string to start with '@'" });
    });

    it('403 for non-admins', async () => {
      const res = await s.request('POST', path(alice.userId), { token: alice.accessToken });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You are not a server admin' });
    });
  });

  describe('override_ratelimit (catalogue §3.18)', () => {
    const path = (u: string) => `/_synapse/admin/v1/users/${enc(u)}/override_ratelimit`;

    it('GET is {} without an override', async () => {
      const res = await s.request('GET', path(alice.userId), { token: admin.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
    });

    it('POST with no body stores 0/0; with values stores them; GET shows them', async () => {
      let res = await s.request('POST', path(alice.userId), { token: admin.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ messages_per_second: 0, burst_count: 0 });
      res = await s.request('POST', path(alice.userId), { token: admin.accessToken, body: { messages_per_second: 10, burst_count: 25 } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ messages_per_second: 10, burst_count: 25 });
      res = await s.request('GET', path(alice.userId), { token: admin.accessToken });
      expect(res.body).toEqual({ messages_per_second: 10, burst_count: 25 });
      const rows = await querySql<Record<string, unknown>>(s, `SELECT messages_per_second, burst_count FROM ratelimit_override WHERE user_id = '${alice.userId}'`);
      expect(rows.map((r) => [Number(r.messages_per_second), Number(r.burst_count)])).toEqual([[10, 25]]);
      // One key only: the other defaults to 0.
      res = await s.request('POST', path(alice.userId), { token: admin.accessToken, body: { burst_count: 3 } });
      expect(res.body).toEqual({ messages_per_second: 0, burst_count: 3 });
    });

    it('GET shows NULL columns as 0', async () => {
      await runSql(s, `UPDATE ratelimit_override SET messages_per_second = NULL, burst_count = NULL WHERE user_id = '${alice.userId}'`);
      const res = await s.request('GET', path(alice.userId), { token: admin.accessToken });
      expect(res.body).toEqual({ messages_per_second: 0, burst_count: 0 });
    });

    it('rejects non-integers and negatives with the value as Python prints it', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ messages_per_second: 'abc' }, "'abc' parameter must be a positive int"],
        [{ messages_per_second: -1 }, '-1 parameter must be a positive int'],
        [{ messages_per_second: 1.5 }, '1.5 parameter must be a positive int'],
        [{ messages_per_second: true }, 'True parameter must be a positive int'],
        [{ messages_per_second: null }, 'None parameter must be a positive int'],
        [{ burst_count: [1] }, '[1] parameter must be a positive int'],
        [{ burst_count: "it's" }, `"it's" parameter must be a positive int`],
      ];
      for (const [body, error] of cases) {
        const res = await s.request('POST', path(alice.userId), { token: admin.accessToken, body });
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body).toEqual({ errcode: 'M_INVALID_PARAM', error });
      }
      const res = await s.request('POST', path(alice.userId), { token: admin.accessToken, body: [1] });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
    });

    it('remote and unknown users, checked before the body', async () => {
      let res = await s.request('GET', path('@x:remote.example'), { token: admin.accessToken });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Can only look up local users' });
      for (const method of ['POST', 'DELETE']) {
        res = await s.request(method, path('@x:remote.example'), { token: admin.accessToken, rawBody: '{bad' });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Only local users can be ratelimited' });
      }
      for (const method of ['GET', 'POST', 'DELETE']) {
        res = await s.request(method, path('@ghost:localhost'), { token: admin.accessToken, rawBody: method === 'POST' ? '{bad' : undefined });
        expect(res.status, method).toBe(404);
        expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'User not found' });
      }
    });

    it('DELETE removes the override', async () => {
      let res = await s.request('DELETE', path(alice.userId), { token: admin.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      res = await s.request('GET', path(alice.userId), { token: admin.accessToken });
      expect(res.body).toEqual({});
      expect(await querySql(s, `SELECT * FROM ratelimit_override WHERE user_id = '${alice.userId}'`)).toEqual([]);
    });
  });

  describe('username_available (catalogue §3.19)', () => {
    const check = (u?: string) =>
      s.request('GET', `/_synapse/admin/v1/username_available${u === undefined ? '' : `?username=${enc(u)}`}`, { token: admin.accessToken });

    it('{"available": true} for a free name even with registration closed', async () => {
      const res = await check('newbie');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ available: true });
    });

    it('errors instead of available:false', async () => {
      let res = await check('alice');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_USER_IN_USE', error: 'User ID already taken.' });
      for (const bad of ['Bad Name', '_under', '12345', '']) {
        res = await check(bad);
        expect(res.status, bad).toBe(400);
        expect(res.body.errcode, bad).toBe('M_INVALID_USERNAME');
      }
      res = await check('');
      expect(res.body.error).toBe('User ID cannot be empty');
      res = await check('x'.repeat(260));
      expect(res.body.errcode).toBe('M_INVALID_USERNAME');
    });

    it('400 M_MISSING_PARAM without username; 403 for non-admins', async () => {
      let res = await check();
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_MISSING_PARAM', error: "Missing string query parameter 'username'" });
      res = await s.request('GET', '/_synapse/admin/v1/username_available?username=x', { token: alice.accessToken });
      expect(res.status).toBe(403);
    });
  });

  describe('reverse look-ups (catalogue §3.20)', () => {
    beforeAll(async () => {
      const now = Date.now();
      await runSql(s, `INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES ('oidc-github', 'sub/42', '${alice.userId}')`);
      await runSql(s, `INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES ('${alice.userId}', 'email', 'alice@example.org', ${now}, ${now})`);
    });

    it('finds a user by external ID (percent-encoded "/" included)', async () => {
      const res = await s.request('GET', `/_synapse/admin/v1/auth_providers/oidc-github/users/${enc('sub/42')}`, { token: admin.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ user_id: alice.userId });
    });

    it('finds a user by 3PID, exact match only', async () => {
      let res = await s.request('GET', `/_synapse/admin/v1/threepid/email/users/${enc('alice@example.org')}`, { token: admin.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ user_id: alice.userId });
      res = await s.request('GET', `/_synapse/admin/v1/threepid/msisdn/users/${enc('alice@example.org')}`, { token: admin.accessToken });
      expect(res.status).toBe(404);
    });

    it('404 "User not found" otherwise; 403 for non-admins', async () => {
      let res = await s.request('GET', '/_synapse/admin/v1/auth_providers/oidc-github/users/nobody', { token: admin.accessToken });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'User not found' });
      res = await s.request('GET', `/_synapse/admin/v1/threepid/email/users/${enc('nobody@example.org')}`, { token: admin.accessToken });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'User not found' });
      res = await s.request('GET', '/_synapse/admin/v1/auth_providers/oidc-github/users/sub', { token: alice.accessToken });
      expect(res.status).toBe(403);
    });
  });

  describe('experimental_features (catalogue §15)', () => {
    const path = (u: string) => `/_synapse/admin/v1/experimental_features/${enc(u)}`;

    it('GET lists every known feature, all off at first', async () => {
      const res = await s.request('GET', path(alice.userId), { token: admin.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ features: { msc3881: false, msc3575: false, msc4222: false } });
    });

    it('PUT changes only the listed features', async () => {
      let res = await s.request('PUT', path(alice.userId), { token: admin.accessToken, body: { features: { msc3881: true } } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      res = await s.request('PUT', path(alice.userId), { token: admin.accessToken, body: { features: { msc3575: true } } });
      res = await s.request('GET', path(alice.userId), { token: admin.accessToken });
      expect(res.body).toEqual({ features: { msc3881: true, msc3575: true, msc4222: false } });
      await s.request('PUT', path(alice.userId), { token: admin.accessToken, body: { features: { msc3881: false } } });
      res = await s.request('GET', path(alice.userId), { token: admin.accessToken });
      expect(res.body).toEqual({ features: { msc3881: false, msc3575: true, msc4222: false } });
    });

    it('rejects features this version does not know (msc3026/msc3967 of older docs)', async () => {
      for (const f of ['msc3026', 'msc3967']) {
        const res = await s.request('PUT', path(alice.userId), { token: admin.accessToken, body: { features: { [f]: true } } });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: `'${f}' is not recognised as a valid experimental feature.` });
      }
      const rows = await querySql(s, `SELECT * FROM per_user_experimental_features WHERE feature IN ('msc3026', 'msc3967')`);
      expect(rows).toEqual([]);
    });

    it('missing or empty features, non-JSON bodies, remote and malformed users', async () => {
      for (const body of [{}, { features: {} }, { features: null }]) {
        const res = await s.request('PUT', path(alice.userId), { token: admin.accessToken, body });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'You must provide features to set.' });
      }
      let res = await s.request('PUT', path(alice.userId), { token: admin.accessToken });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_NOT_JSON');
      res = await s.request('GET', path('@x:remote.example'), { token: admin.accessToken });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'User must be local to check what experimental features are enabled.' });
      res = await s.request('PUT', path('@x:remote.example'), { token: admin.accessToken, body: { features: { msc3881: true } } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'User must be local to enable experimental features.' });
      res = await s.request('GET', path('alice'), { token: admin.accessToken });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
      res = await s.request('GET', path(alice.userId), { token: alice.accessToken });
      expect(res.status).toBe(403);
    });
  });

  describe('account validity with the feature off (catalogue §14)', () => {
    const path = '/_synapse/admin/v1/account_validity/validity';

    it('stores an explicit expiry (as Synapse does) but never enforces it', async () => {
      const res = await s.request('POST', path, { token: admin.accessToken, body: { user_id: alice.userId, expiration_ts: 1000 } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ expiration_ts: 1000 });
      const rows = await querySql<Record<string, unknown>>(s, `SELECT expiration_ts_ms, email_sent FROM account_validity WHERE user_id = '${alice.userId}'`);
      expect(Number(rows[0]!.expiration_ts_ms)).toBe(1000);
      expect(Boolean(rows[0]!.email_sent)).toBe(false);
      expect((await s.request('GET', '/_matrix/client/v3/pushers', { token: alice.accessToken })).status).toBe(200);
    });

    it('400 without expiration_ts when no period is configured; 400 without user_id', async () => {
      let res = await s.request('POST', path, { token: admin.accessToken, body: { user_id: alice.userId } });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_UNKNOWN');
      res = await s.request('POST', path, { token: admin.accessToken, body: {} });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: "Missing property 'user_id' in the request body" });
      res = await s.request('POST', path, { token: admin.accessToken });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_NOT_JSON');
      res = await s.request('POST', path, { token: admin.accessToken, body: { user_id: alice.userId, expiration_ts: 'soon' } });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
      res = await s.request('POST', path, { token: alice.accessToken, body: { user_id: alice.userId } });
      expect(res.status).toBe(403);
    });
  });
});

describe('account validity enabled (catalogue §1.2 step 5, §14)', () => {
  let s: TestServer;
  let admin: TestUser;
  let gina: TestUser;
  const DAY = 86_400_000;
  const path = '/_synapse/admin/v1/account_validity/validity';

  beforeAll(async () => {
    s = await startServer({ account_validity: { enabled: true, period: '1d' } });
    admin = await s.registerUser('admin', { admin: true });
    gina = await s.registerUser('gina');
  });
  afterAll(async () => s?.close());

  it('renews for the configured period by default; enable_renewal_emails false marks the e-mail sent', async () => {
    const before = Date.now();
    const res = await s.request('POST', path, { token: admin.accessToken, body: { user_id: gina.userId, enable_renewal_emails: false } });
    expect(res.status).toBe(200);
    expect(res.body.expiration_ts).toBeGreaterThanOrEqual(before + DAY);
    expect(res.body.expiration_ts).toBeLessThanOrEqual(Date.now() + DAY);
    const rows = await querySql<Record<string, unknown>>(s, `SELECT expiration_ts_ms, email_sent, token_used_ts_ms FROM account_validity WHERE user_id = '${gina.userId}'`);
    expect(Number(rows[0]!.expiration_ts_ms)).toBe(res.body.expiration_ts);
    expect(Boolean(rows[0]!.email_sent)).toBe(true);
    expect(Number(rows[0]!.token_used_ts_ms)).toBeGreaterThanOrEqual(before);
  });

  it('an expired account gets 403 M_EXPIRED_ACCOUNT; renewing restores access', async () => {
    let res = await s.request('POST', path, { token: admin.accessToken, body: { user_id: gina.userId, expiration_ts: Date.now() - 1000 } });
    expect(res.status).toBe(200);
    res = await s.request('GET', '/_matrix/client/v3/pushers', { token: gina.accessToken });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_EXPIRED_ACCOUNT', error: 'User account has expired' });
    // Users without an account_validity row never expire.
    expect((await s.request('GET', '/_matrix/client/v3/pushers', { token: admin.accessToken })).status).toBe(200);

    res = await s.request('POST', path, { token: admin.accessToken, body: { user_id: gina.userId, expiration_ts: Date.now() + DAY } });
    expect(res.status).toBe(200);
    res = await s.request('GET', '/_matrix/client/v3/pushers', { token: gina.accessToken });
    expect(res.status).toBe(200);
  });

  it('a new account starts with the configured period of validity', async () => {
    const before = Date.now();
    const hal = await s.registerUser('hal');
    const rows = await querySql<Record<string, unknown>>(s, `SELECT expiration_ts_ms FROM account_validity WHERE user_id = '${hal.userId}'`);
    expect(rows).toHaveLength(1);
    expect(Number(rows[0]!.expiration_ts_ms)).toBeGreaterThanOrEqual(before + DAY);
    expect(Number(rows[0]!.expiration_ts_ms)).toBeLessThanOrEqual(Date.now() + DAY);
  });

  it('an expired account may still log out', async () => {
    const session = await s.login('gina', gina.password);
    await s.request('POST', path, { token: admin.accessToken, body: { user_id: gina.userId, expiration_ts: 1 } });
    expect((await s.request('GET', '/_matrix/client/v3/pushers', { token: session.accessToken })).status).toBe(403);
    const res = await s.request('POST', '/_matrix/client/v3/logout', { token: session.accessToken, body: {} });
    expect(res.status).toBe(200);
    expect((await s.request('GET', '/_matrix/client/v3/pushers', { token: session.accessToken })).status).toBe(401);
  });
});
