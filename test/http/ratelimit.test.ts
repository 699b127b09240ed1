import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ApiResponse, type TestServer, type TestUser } from '../harness/server.js';

// Slow drain (one action per 1000 s), so buckets never refill during a test.
const SLOW = 0.001;
const BURST = 2;

function expectLimited(res: ApiResponse, rate = SLOW) {
  expect(res.status).toBe(429);
  expect(Object.keys(res.body).sort()).toEqual(['errcode', 'error', 'retry_after_ms']);
  expect(res.body.errcode).toBe('M_LIMIT_EXCEEDED');
  expect(res.body.error).toBe('Too Many Requests');
  expect(Number.isInteger(res.body.retry_after_ms)).toBe(true);
  // The next action is allowed once one counted action has drained: ~1/rate seconds away.
  expect(res.body.retry_after_ms).toBeGreaterThan(1000 / rate - 60_000);
  expect(res.body.retry_after_ms).toBeLessThanOrEqual(1000 / rate);
}

describe('rate limiting (rc_login, rc_registration, rc_message)', () => {
  let s: TestServer;
  let admin: TestUser;

  beforeAll(async () => {
    s = await startServer({
      // The client IP comes from X-Forwarded-For, so each test can be its own client.
      listeners: [{ port: 8008, x_forwarded: true, resources: [{ names: ['client'] }] }],
      rc_login: {
        address: { per_second: SLOW, burst_count: 3 },
        account: { per_second: SLOW, burst_count: BURST },
        failed_attempts: { per_second: SLOW, burst_count: BURST },
      },
      rc_registration: { per_second: SLOW, burst_count: BURST },
      rc_message: { per_second: SLOW, burst_count: BURST },
    });
    admin = await s.registerUser('admin', { admin: true });
  });
  afterAll(async () => s?.close());

  const login = (ip: string, user: string, password: string) =>
    s.request('POST', '/_matrix/client/v3/login', {
      headers: { 'x-forwarded-for': ip },
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password },
    });

  describe('rc_login.address: every login request per client IP', () => {
    it('limits the fourth request from one IP, whatever its outcome; other IPs are unaffected', async () => {
      const u = await s.registerUser('addr1');
      // A body without `type` is refused before the limiter and costs nothing.
      const untyped = await s.request('POST', '/_matrix/client/v3/login', { headers: { 'x-forwarded-for': '10.0.0.1' }, body: {} });
      expect(untyped.status).toBe(400);
      expect((await login('10.0.0.1', 'addr1', 'wrong')).status).toBe(403);
      expect((await login('10.0.0.1', 'nobody', 'wrong')).status).toBe(403);
      const unknownType = await s.request('POST', '/_matrix/client/v3/login', {
        headers: { 'x-forwarded-for': '10.0.0.1' },
        body: { type: 'm.login.bogus' },
      });
      expect(unknownType.status).toBe(400);
      expectLimited(await login('10.0.0.1', 'addr1', u.password));
      expect((await login('10.0.0.2', 'addr1', u.password)).status).toBe(200);
    });
  });

  describe('rc_login.account: successful logins per account', () => {
    it('limits the third login of one account; failed attempts do not count; other accounts are unaffected', async () => {
      const u = await s.registerUser('acct1');
      const other = await s.registerUser('acct2');
      expect((await login('10.0.1.1', 'acct1', 'wrong')).status).toBe(403);
      expect((await login('10.0.1.2', 'acct1', u.password)).status).toBe(200);
      expect((await login('10.0.1.3', '@acct1:localhost', u.password)).status).toBe(200);
      const third = await login('10.0.1.4', 'acct1', u.password);
      expectLimited(third);
      expect((await login('10.0.1.5', 'acct2', other.password)).status).toBe(200);
    });

    it('a refused login opens no session', async () => {
      const u = await s.registerUser('acct3');
      await login('10.0.2.1', 'acct3', u.password);
      await login('10.0.2.2', 'acct3', u.password);
      const before = await s.request('GET', `/_synapse/admin/v2/users/${encodeURIComponent(u.userId)}/devices`, { token: admin.accessToken });
      expectLimited(await login('10.0.2.3', 'acct3', u.password));
      const after = await s.request('GET', `/_synapse/admin/v2/users/${encodeURIComponent(u.userId)}/devices`, { token: admin.accessToken });
      expect(after.body.total).toBe(before.body.total);
    });
  });

  describe('rc_login.failed_attempts: wrong passwords per account', () => {
    it('after two failures even the right password is refused; case does not matter; other accounts are unaffected', async () => {
      const u = await s.registerUser('fail1');
      const other = await s.registerUser('fail2');
      expect((await login('10.0.3.1', 'fail1', 'nope')).status).toBe(403);
      expect((await login('10.0.3.2', 'fail1', 'nope')).status).toBe(403);
      expectLimited(await login('10.0.3.3', 'fail1', u.password));
      expectLimited(await login('10.0.3.4', '@FAIL1:localhost', u.password));
      expect((await login('10.0.3.5', 'fail2', other.password)).status).toBe(200);
    });
  });

  describe('rc_registration: accounts created per client IP', () => {
    const register = (ip: string, username: string, withAuth = true) =>
      s.request('POST', '/_matrix/client/v3/register', {
        headers: { 'x-forwarded-for': ip },
        body: { username, password: 'pw-secret-123', ...(withAuth ? { auth: { type: 'm.login.dummy' } } : {}) },
      });

    it('counts completed registrations only and refuses the third from one IP', async () => {
      // The UIA challenge does not count.
      expect((await register('10.0.4.1', 'reg0', false)).status).toBe(401);
      expect((await register('10.0.4.1', 'reg1')).status).toBe(200);
      expect((await register('10.0.4.1', 'reg2')).status).toBe(200);
      expectLimited(await register('10.0.4.1', 'reg3'));
      expectLimited(await register('10.0.4.1', 'reg3', false));
      const res = await s.request('GET', `/_synapse/admin/v2/users/${encodeURIComponent('@reg3:localhost')}`, { token: admin.accessToken });
      expect(res.status).toBe(404);
      expect((await register('10.0.4.2', 'reg3')).status).toBe(200);
    });

    it('shared-secret and admin API registrations are not limited', async () => {
      // 127.0.0.1 is the harness's own address (no X-Forwarded-For).
      await s.request('POST', '/_matrix/client/v3/register', { body: { username: 'loc1', password: 'pw-secret-123', auth: { type: 'm.login.dummy' } } });
      await s.request('POST', '/_matrix/client/v3/register', { body: { username: 'loc2', password: 'pw-secret-123', auth: { type: 'm.login.dummy' } } });
      const limited = await s.request('POST', '/_matrix/client/v3/register', { body: { username: 'loc3', password: 'pw-secret-123', auth: { type: 'm.login.dummy' } } });
      expectLimited(limited);
      await s.registerUser('shared1');
      await s.registerUser('shared2');
      await s.registerUser('shared3');
      const put = await s.request('PUT', `/_synapse/admin/v2/users/${encodeURIComponent('@byadmin:localhost')}`, { token: admin.accessToken, body: { password: 'pw-secret-123' } });
      expect(put.status).toBe(201);
    });
  });

  describe('rc_message (the limiter for event sends) and ratelimit_override', () => {
    const limiter = () => s.ctx.services.ratelimits;
    const limited = { status: 429, errcode: 'M_LIMIT_EXCEEDED', extra: { retry_after_ms: expect.any(Number) } };

    it('limits a user after rc_message.burst_count sends, admins included', async () => {
      for (const who of ['@msg1:localhost', admin.userId]) {
        await limiter().checkMessage({ userId: who, authenticatedBy: null });
        await limiter().checkMessage({ userId: who, authenticatedBy: null });
        await expect(limiter().checkMessage({ userId: who, authenticatedBy: null })).rejects.toMatchObject(limited);
      }
    });

    it('an override of 0/0 set through the admin API disables limiting; DELETE restores it', async () => {
      const u = await s.registerUser('msg2');
      const path = `/_synapse/admin/v1/users/${encodeURIComponent(u.userId)}/override_ratelimit`;
      expect((await s.request('POST', path, { token: admin.accessToken })).status).toBe(200);
      for (let i = 0; i < 20; i++) await limiter().checkMessage({ userId: u.userId, authenticatedBy: null });
      expect((await s.request('DELETE', path, { token: admin.accessToken })).status).toBe(200);
      await limiter().checkMessage({ userId: u.userId, authenticatedBy: null });
      await limiter().checkMessage({ userId: u.userId, authenticatedBy: null });
      await expect(limiter().checkMessage({ userId: u.userId, authenticatedBy: null })).rejects.toMatchObject(limited);
    });

    it('a non-zero override replaces rc_message for that user', async () => {
      const u = await s.registerUser('msg3');
      await s.request('POST', `/_synapse/admin/v1/users/${encodeURIComponent(u.userId)}/override_ratelimit`, {
        token: admin.accessToken,
        body: { messages_per_second: 1, burst_count: 5 },
      });
      for (let i = 0; i < 5; i++) await limiter().checkMessage({ userId: u.userId, authenticatedBy: null });
      const err = await limiter()
        .checkMessage({ userId: u.userId, authenticatedBy: null })
        .catch((e) => e);
      expect(err).toMatchObject(limited);
      // At 1 per second the next send is at most a second away.
      expect(err.extra.retry_after_ms).toBeGreaterThan(0);
      expect(err.extra.retry_after_ms).toBeLessThanOrEqual(1000);
    });

    it('"login as" tokens are exempt when the admin behind them has a 0/0 override; server sends can opt out', async () => {
      await s.request('POST', `/_synapse/admin/v1/users/${encodeURIComponent(admin.userId)}/override_ratelimit`, { token: admin.accessToken });
      for (let i = 0; i < 5; i++) await limiter().checkMessage({ userId: '@msg4:localhost', authenticatedBy: admin.userId });
      for (let i = 0; i < 5; i++) await limiter().checkMessage({ userId: '@msg5:localhost', authenticatedBy: null }, { exempt: true });
      // update: false asks without counting.
      for (let i = 0; i < 5; i++) await limiter().checkMessage({ userId: '@msg6:localhost', authenticatedBy: null }, { update: false });
      await limiter().checkMessage({ userId: '@msg6:localhost', authenticatedBy: null });
    });
  });
});
