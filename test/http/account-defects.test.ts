import bcrypt from 'bcrypt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registrationMac } from '../harness/registration-mac.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { querySql, runSql, SHARED_SECRET, startServer, type TestServer, type TestUser } from '../harness/server.js';

// Account defects found trying the users area as real clients and tools would: login input types,
// Unicode password forms, one display-name length rule, timing-safe unknown-user logins.
const V3 = '/_matrix/client/v3';
const REGISTER = '/_synapse/admin/v1/register';

// "pässwörd" in the two forms: precomposed (NFC, what most keyboards send) and decomposed (NFD).
const NFC = 'p\u00e4ssw\u00f6rd';
const NFD = 'pa\u0308sswo\u0308rd';

describe('account defects', () => {
  let s: TestServer;
  let admin: TestUser;

  const login = (user: string, password: unknown, extra: Record<string, unknown> = {}) =>
    s.request('POST', `${V3}/login`, { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, ...extra } });
  const sharedSecretRegister = async (body: Record<string, unknown>) => {
    const nonce = (await s.request('GET', REGISTER)).body.nonce as string;
    const username = body.username as string;
    const password = body.password as string;
    return s.request('POST', REGISTER, {
      body: { nonce, admin: false, mac: registrationMac(SHARED_SECRET, nonce, username, password, false, null), ...body },
    });
  };

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    admin = await s.registerUser('admin', { admin: true });
  });
  afterAll(async () => s?.close());

  describe('login: wrong JSON types are M_INVALID_PARAM (Synapse validate_login), not M_MISSING_PARAM', () => {
    it('type, password and identifier.user of the wrong type', async () => {
      await s.registerUser('typo', { password: 'typo-pw' });
      const cases: Array<[Record<string, unknown>, Record<string, string>]> = [
        [{ type: 42, identifier: { type: 'm.id.user', user: 'typo' }, password: 'typo-pw' }, { errcode: 'M_INVALID_PARAM', error: 'Bad parameter: type' }],
        [{ type: ['m.login.password'], user: 'typo', password: 'typo-pw' }, { errcode: 'M_INVALID_PARAM', error: 'Bad parameter: type' }],
        [{ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'typo' }, password: 12345 }, { errcode: 'M_INVALID_PARAM', error: 'Bad parameter: password' }],
        [{ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'typo' }, password: { x: 1 } }, { errcode: 'M_INVALID_PARAM', error: 'Bad parameter: password' }],
        [{ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'typo' } }, { errcode: 'M_INVALID_PARAM', error: 'Bad parameter: password' }],
        [{ type: 'm.login.password', identifier: { type: 'm.id.user', user: 42 }, password: 'typo-pw' }, { errcode: 'M_INVALID_PARAM', error: 'Bad parameter: user' }],
        [{ type: 'm.login.password', identifier: { type: 'm.id.user', user: ['typo'] }, password: 'typo-pw' }, { errcode: 'M_INVALID_PARAM', error: 'Bad parameter: user' }],
        [{ type: 'm.login.password', user: { name: 'typo' }, password: 'typo-pw' }, { errcode: 'M_INVALID_PARAM', error: 'Bad parameter: user' }],
        [{ type: 'm.login.password', identifier: { type: 'm.id.user' }, password: 'typo-pw' }, { errcode: 'M_UNKNOWN', error: "User identifier is missing 'user' key" }],
        [{ type: 'm.login.password', identifier: { user: 'typo' }, password: 'typo-pw' }, { errcode: 'M_MISSING_PARAM', error: "'identifier' dict has no key 'type'" }],
        [{ type: 'm.login.password', identifier: 'typo', password: 'typo-pw' }, { errcode: 'M_INVALID_PARAM', error: 'Bad parameter: identifier' }],
      ];
      for (const [body, error] of cases) {
        const res = await s.request('POST', `${V3}/login`, { body });
        expect({ body, status: res.status, error: res.body }).toEqual({ body, status: 400, error });
      }
      expect(await querySql(s, "SELECT device_id FROM devices WHERE user_id = '@typo:localhost'")).toHaveLength(1);
    });
  });

  describe('passwords are compared in NFKC, as Synapse does', () => {
    it('set in one form through every path, the other form logs in and passes UIA', async () => {
      // Shared-secret registration: the MAC is over the password as sent (NFD here).
      const reg = await sharedSecretRegister({ username: 'nfd1', password: NFD });
      expect(reg.status).toBe(200);
      expect((await login('nfd1', NFC)).status).toBe(200);
      expect((await login('nfd1', NFD)).status).toBe(200);
      expect((await login('nfd1', 'passwoerd')).status).toBe(403);

      // Client registration.
      const first = await s.request('POST', `${V3}/register`, { body: { username: 'nfd2', password: NFC } });
      const done = await s.request('POST', `${V3}/register`, { body: { username: 'nfd2', password: NFC, auth: { type: 'm.login.dummy', session: first.body.session } } });
      expect(done.status).toBe(200);
      expect((await login('nfd2', NFD)).status).toBe(200);

      // Admin PUT (create, then change), admin reset_password, client password change.
      const put = await s.request('PUT', '/_synapse/admin/v2/users/@nfd3:localhost', { token: admin.accessToken, body: { password: NFD } });
      expect(put.status).toBe(201);
      expect((await login('nfd3', NFC)).status).toBe(200);
      expect((await s.request('PUT', '/_synapse/admin/v2/users/@nfd3:localhost', { token: admin.accessToken, body: { password: `${NFD}2` } })).status).toBe(200);
      expect((await login('nfd3', `${NFC}2`)).status).toBe(200);
      const reset = await s.request('POST', '/_synapse/admin/v1/reset_password/@nfd3:localhost', { token: admin.accessToken, body: { new_password: `${NFC}3` } });
      expect(reset.status).toBe(200);
      const session = await login('nfd3', `${NFD}3`);
      expect(session.status).toBe(200);

      // UIA password stage in the other form, then a password change in NFD.
      const change = await s.request('POST', `${V3}/account/password`, {
        token: session.body.access_token,
        body: { new_password: `${NFD}4`, logout_devices: false, auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'nfd3' }, password: `${NFC}3` } },
      });
      expect(change.status).toBe(200);
      expect((await login('nfd3', `${NFC}4`)).status).toBe(200);
    });
  });

  describe('one display-name rule: 256 code points on every path', () => {
    const emoji200 = '\u{1F600}'.repeat(200); // 200 code points, 400 UTF-16 units
    const long = 'x'.repeat(257);

    it('admin PUT, client PUT and shared-secret registration agree', async () => {
      const u = await s.registerUser('named');
      const adminPut = await s.request('PUT', '/_synapse/admin/v2/users/@named:localhost', { token: admin.accessToken, body: { displayname: emoji200 } });
      expect(adminPut.status).toBe(200);
      expect(adminPut.body.displayname).toBe(emoji200);
      const clientPut = await s.request('PUT', `${V3}/profile/@named:localhost/displayname`, { token: u.accessToken, body: { displayname: emoji200 } });
      expect(clientPut.status).toBe(200);
      const created = await s.request('PUT', '/_synapse/admin/v2/users/@named2:localhost', { token: admin.accessToken, body: { displayname: emoji200 } });
      expect(created.status).toBe(201);
      const registered = await sharedSecretRegister({ username: 'named3', password: 'pw-named3', displayname: emoji200 });
      expect(registered.status).toBe(200);
      expect((await s.request('GET', `${V3}/profile/@named3:localhost/displayname`)).body).toEqual({ displayname: emoji200 });

      const tooLong = { errcode: 'M_UNKNOWN', error: 'Displayname is too long (max 256)' };
      const a = await s.request('PUT', '/_synapse/admin/v2/users/@named:localhost', { token: admin.accessToken, body: { displayname: long } });
      expect({ status: a.status, body: a.body }).toEqual({ status: 400, body: tooLong });
      const c = await s.request('PUT', `${V3}/profile/@named:localhost/displayname`, { token: u.accessToken, body: { displayname: long } });
      expect({ status: c.status, body: c.body }).toEqual({ status: 400, body: tooLong });
      const r = await sharedSecretRegister({ username: 'named4', password: 'pw-named4', displayname: long });
      expect({ status: r.status, body: r.body }).toEqual({ status: 400, body: tooLong });
      expect(await querySql(s, "SELECT name FROM users WHERE name = '@named4:localhost'")).toEqual([]);
    });

    it('shared-secret registration with a non-string displayname is 400 and creates nothing', async () => {
      for (const [i, displayname] of [{}, [], 42, true].entries()) {
        const res = await sharedSecretRegister({ username: `oddname${i}`, password: 'pw-odd', displayname });
        expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: { errcode: 'M_INVALID_PARAM', error: "'displayname' must be a string" } });
      }
      expect(await querySql(s, "SELECT name FROM users WHERE name LIKE '@oddname%'")).toEqual([]);
      expect(await querySql(s, "SELECT user_id FROM profiles WHERE user_id LIKE 'oddname%'")).toEqual([]);
      // null means "not given": the localpart.
      const ok = await sharedSecretRegister({ username: 'nullname', password: 'pw-null', displayname: null });
      expect(ok.status).toBe(200);
      expect((await s.request('GET', `${V3}/profile/@nullname:localhost/displayname`)).body).toEqual({ displayname: 'nullname' });
    });
  });

  describe('unknown users cost a bcrypt comparison like known ones', () => {
    it('a login for an unknown, password-less or deactivated user still runs bcrypt once', async () => {
      await s.request('PUT', '/_synapse/admin/v2/users/@nopassword:localhost', { token: admin.accessToken, body: {} });
      const gone = await s.registerUser('gone', { password: 'gone-pw' });
      await s.request('POST', `/_synapse/admin/v1/deactivate/${gone.userId}`, { token: admin.accessToken, body: {} });
      const compare = vi.spyOn(bcrypt, 'compare');
      try {
        for (const user of ['nobody-here', 'nopassword', 'gone']) {
          compare.mockClear();
          const res = await login(user, 'whatever-pw');
          expect(res.status).toBe(403);
          expect({ user, calls: compare.mock.calls.length }).toEqual({ user, calls: 1 });
        }
        // The UIA password stage naming an unknown user too.
        const u = await s.registerUser('uiauser');
        compare.mockClear();
        const res = await s.request('POST', `${V3}/account/deactivate`, {
          token: u.accessToken,
          body: { auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'nobody-at-all' }, password: 'x' } },
        });
        expect(res.status).toBe(401);
        expect(compare.mock.calls.length).toBe(1);
      } finally {
        compare.mockRestore();
      }
    });
  });

  describe('registration nonces: durable, one-use, expiring after 60 s, bounded', () => {
    it('a nonce is stored, works once, and not after 60 s', async () => {
      const nonce = (await s.request('GET', REGISTER)).body.nonce as string;
      expect(nonce).toMatch(/^[0-9a-f]{128}$/);
      expect(await querySql(s, `SELECT nonce FROM registration_nonces WHERE nonce = '${nonce}'`)).toHaveLength(1);
      const body = (n: string, username: string) => ({ nonce: n, username, password: 'pw', admin: false, mac: registrationMac(SHARED_SECRET, n, username, 'pw', false, null) });
      expect((await s.request('POST', REGISTER, { body: body(nonce, 'once1') })).status).toBe(200);
      const again = await s.request('POST', REGISTER, { body: body(nonce, 'once2') });
      expect({ status: again.status, body: again.body }).toEqual({ status: 400, body: { errcode: 'M_UNKNOWN', error: 'unrecognised nonce' } });

      const old = (await s.request('GET', REGISTER)).body.nonce as string;
      await runSql(s, `UPDATE registration_nonces SET created_ts = created_ts - 61000 WHERE nonce = '${old}'`);
      const late = await s.request('POST', REGISTER, { body: body(old, 'late1') });
      expect({ status: late.status, body: late.body }).toEqual({ status: 400, body: { errcode: 'M_UNKNOWN', error: 'unrecognised nonce' } });
      expect(await querySql(s, "SELECT name FROM users WHERE name IN ('@once2:localhost', '@late1:localhost')")).toEqual([]);
    });

    it('racing registrations with one nonce: exactly one succeeds', async () => {
      const nonce = (await s.request('GET', REGISTER)).body.nonce as string;
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          s.request('POST', REGISTER, { body: { nonce, username: `race${i}`, password: 'pw', admin: false, mac: registrationMac(SHARED_SECRET, nonce, `race${i}`, 'pw', false, null) } }),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400, 400, 400, 400, 400]);
    });

    it('the store never holds more than 10,000 nonces: the oldest go first', async () => {
      const now = Date.now();
      const values = Array.from({ length: 10_000 }, (_, i) => `('filler${String(i).padStart(5, '0')}', ${now - 30_000 + i})`).join(',');
      await runSql(s, `DELETE FROM registration_nonces; INSERT INTO registration_nonces (nonce, created_ts) VALUES ${values};`);
      const fresh = (await s.request('GET', REGISTER)).body.nonce as string;
      const count = await querySql<{ n: number | string }>(s, 'SELECT COUNT(*) AS n FROM registration_nonces');
      expect(Number(count[0]!.n)).toBe(10_000);
      expect(await querySql(s, "SELECT nonce FROM registration_nonces WHERE nonce = 'filler00000'")).toEqual([]);
      expect(await querySql(s, "SELECT nonce FROM registration_nonces WHERE nonce = 'filler00001'")).toHaveLength(1);
      expect(await querySql(s, `SELECT nonce FROM registration_nonces WHERE nonce = '${fresh}'`)).toHaveLength(1);
    });
  });
});
