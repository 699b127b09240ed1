import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';

// Catalogue §5: /_synapse/admin/v1/registration_tokens…
const BASE = '/_synapse/admin/v1/registration_tokens';
const TOKEN_ALPHABET = /^[A-Za-z0-9._~-]+$/;
const FAR_FUTURE = 4_781_243_146_000;

describe('Admin API: registration tokens', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;

  const req = (method: string, path: string, body?: unknown) =>
    s.request(method, path, { token: admin.accessToken, ...(body === undefined ? {} : { body }) });
  const create = (body: unknown) => req('POST', `${BASE}/new`, body);
  const invalid = (error: string) => ({ errcode: 'M_INVALID_PARAM', error });

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
  });
  afterAll(async () => s?.close());

  describe('authentication', () => {
    it('401 without a token and 403 for a non-admin, on every route', async () => {
      for (const [method, path] of [
        ['GET', BASE],
        ['POST', `${BASE}/new`],
        ['GET', `${BASE}/abc`],
        ['PUT', `${BASE}/abc`],
        ['DELETE', `${BASE}/abc`],
      ] as const) {
        const body = method === 'GET' ? undefined : {};
        const anon = await s.request(method, path, { body });
        expect(anon.status).toBe(401);
        expect(anon.body).toEqual({ errcode: 'M_MISSING_TOKEN', error: 'Missing access token' });
        const user = await s.request(method, path, { token: alice.accessToken, body });
        expect(user.status).toBe(403);
        expect(user.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You are not a server admin' });
      }
    });

    it('405 M_UNRECOGNIZED for a method a token path does not serve', async () => {
      const res = await req('POST', `${BASE}/abc`, {});
      expect(res.status).toBe(405);
      expect(res.body).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
    });
  });

  describe('POST /new', () => {
    it('creates a random 16-character token with the defaults (200, not 201)', async () => {
      const res = await create({});
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['completed', 'expiry_time', 'pending', 'token', 'uses_allowed']);
      expect(res.body).toMatchObject({ uses_allowed: null, pending: 0, completed: 0, expiry_time: null });
      expect(res.body.token).toHaveLength(16);
      expect(res.body.token).toMatch(TOKEN_ALPHABET);
      const rows = await querySql(s, `SELECT token, uses_allowed, pending, completed, expiry_time FROM registration_tokens WHERE token = '${res.body.token}'`);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.uses_allowed).toBeNull();
      expect(rows[0]!.expiry_time).toBeNull();
      expect(Number(rows[0]!.pending)).toBe(0);
    });

    it('generates tokens of the requested length from the spec alphabet, distinct each time', async () => {
      const seen = new Set<string>();
      for (const length of [1, 7, 64]) {
        const res = await create({ length });
        expect(res.status).toBe(200);
        expect(res.body.token).toHaveLength(length);
        expect(res.body.token).toMatch(TOKEN_ALPHABET);
        seen.add(res.body.token);
      }
      expect(seen.size).toBe(3);
    });

    it('stores a given token with uses_allowed and expiry_time, echoing them', async () => {
      const res = await create({ token: 'aB9._~-x', uses_allowed: 3, expiry_time: FAR_FUTURE });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ token: 'aB9._~-x', uses_allowed: 3, pending: 0, completed: 0, expiry_time: FAR_FUTURE });
      const got = await req('GET', `${BASE}/aB9._~-x`);
      expect(got.status).toBe(200);
      expect(got.body).toEqual(res.body);
    });

    it('accepts uses_allowed 0 and explicit nulls', async () => {
      const res = await create({ token: 'zero-uses', uses_allowed: 0, expiry_time: null });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ token: 'zero-uses', uses_allowed: 0, pending: 0, completed: 0, expiry_time: null });
    });

    it('400 (not a 500) when every token of the requested length is taken', async () => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-';
      await Promise.all([...alphabet].map((c) => create({ token: c })));
      const res = await create({ length: 1 });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Unable to generate a unique registration token. Try again with a greater length' });
    });

    it('400 for a token that already exists', async () => {
      expect((await create({ token: 'dup' })).status).toBe(200);
      const res = await create({ token: 'dup', uses_allowed: 5 });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(invalid('Token already exists: dup'));
      expect((await req('GET', `${BASE}/dup`)).body.uses_allowed).toBeNull();
    });

    it('validates the token with Synapse texts', async () => {
      const mustBeString = invalid('token must be a string');
      const length = invalid('token must not be empty and must not be longer than 64 characters');
      const chars = invalid('token must consist only of characters matched by the regex [A-Za-z0-9-_]');
      for (const [body, error] of [
        [{ token: 123 }, mustBeString],
        [{ token: null }, mustBeString],
        [{ token: ['a'] }, mustBeString],
        [{ token: '' }, length],
        [{ token: 'x'.repeat(65) }, length],
        [{ token: 'has space' }, chars],
        [{ token: 'slash/' }, chars],
        [{ token: 'ümlaut' }, chars],
      ] as const) {
        const res = await create(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body).toEqual(error);
      }
      expect((await create({ token: 'y'.repeat(64) })).status).toBe(200);
    });

    it('validates length only when no token is given', async () => {
      const mustBeInt = invalid('length must be an integer');
      const range = invalid('length must be greater than zero and not greater than 64');
      for (const [body, error] of [
        [{ length: '5' }, mustBeInt],
        [{ length: 1.5 }, mustBeInt],
        [{ length: null }, mustBeInt],
        [{ length: true }, mustBeInt],
        [{ length: 0 }, range],
        [{ length: -3 }, range],
        [{ length: 65 }, range],
      ] as const) {
        const res = await create(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body).toEqual(error);
      }
      const ignored = await create({ token: 'length-ignored', length: 'nonsense' });
      expect(ignored.status).toBe(200);
      expect(ignored.body.token).toBe('length-ignored');
    });

    it('validates uses_allowed and expiry_time, in Synapse order', async () => {
      const uses = invalid('uses_allowed must be a non-negative integer or null');
      const expiryType = invalid('expiry_time must be an integer or null');
      const past = invalid('expiry_time must not be in the past');
      for (const [body, error] of [
        [{ uses_allowed: -1 }, uses],
        [{ uses_allowed: 2.5 }, uses],
        [{ uses_allowed: '3' }, uses],
        [{ uses_allowed: true }, uses],
        [{ expiry_time: 'tomorrow' }, expiryType],
        [{ expiry_time: 1.5 }, expiryType],
        [{ expiry_time: Date.now() - 60_000 }, past],
        [{ expiry_time: -1 }, past],
        // token problems come first, then uses_allowed, then expiry_time
        [{ token: '', uses_allowed: -1 }, invalid('token must not be empty and must not be longer than 64 characters')],
        [{ length: 0, uses_allowed: -1 }, invalid('length must be greater than zero and not greater than 64')],
        [{ uses_allowed: -1, expiry_time: 'x' }, uses],
      ] as const) {
        const res = await create(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body).toEqual(error);
      }
    });

    it('M_NOT_JSON for an empty body, M_BAD_JSON for a non-object', async () => {
      const empty = await s.request('POST', `${BASE}/new`, { token: admin.accessToken });
      expect(empty.status).toBe(400);
      expect(empty.body).toEqual({ errcode: 'M_NOT_JSON', error: 'Content not JSON.' });
      const list = await create([1]);
      expect(list.status).toBe(400);
      expect(list.body).toEqual({ errcode: 'M_BAD_JSON', error: 'Content must be a JSON object.' });
    });
  });

  describe('GET one', () => {
    it('404 M_NOT_FOUND naming the token', async () => {
      const res = await req('GET', `${BASE}/nope`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'No such registration token: nope' });
    });

    it('GET …/new is a token lookup like any other (only POST creates)', async () => {
      const res = await req('GET', `${BASE}/new`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'No such registration token: new' });
    });

    it('decodes a percent-encoded token in the path', async () => {
      await create({ token: 'tilde~dot.' });
      const res = await req('GET', `${BASE}/tilde%7Edot.`);
      expect(res.status).toBe(200);
      expect(res.body.token).toBe('tilde~dot.');
    });

    it('reports counters changed in the database', async () => {
      await create({ token: 'counted', uses_allowed: 10 });
      await runSql(s, "UPDATE registration_tokens SET pending = 2, completed = 5 WHERE token = 'counted'");
      const res = await req('GET', `${BASE}/counted`);
      expect(res.body).toEqual({ token: 'counted', uses_allowed: 10, pending: 2, completed: 5, expiry_time: null });
    });
  });

  describe('PUT', () => {
    it('updates uses_allowed and expiry_time, leaving omitted fields alone', async () => {
      await create({ token: 'upd', uses_allowed: 1, expiry_time: FAR_FUTURE });
      const a = await req('PUT', `${BASE}/upd`, { uses_allowed: 5 });
      expect(a.status).toBe(200);
      expect(a.body).toEqual({ token: 'upd', uses_allowed: 5, pending: 0, completed: 0, expiry_time: FAR_FUTURE });
      const b = await req('PUT', `${BASE}/upd`, { expiry_time: null });
      expect(b.body).toEqual({ token: 'upd', uses_allowed: 5, pending: 0, completed: 0, expiry_time: null });
      const c = await req('PUT', `${BASE}/upd`, { uses_allowed: null, expiry_time: FAR_FUTURE + 1 });
      expect(c.body).toEqual({ token: 'upd', uses_allowed: null, pending: 0, completed: 0, expiry_time: FAR_FUTURE + 1 });
      expect((await req('GET', `${BASE}/upd`)).body).toEqual(c.body);
    });

    it('an empty object changes nothing and returns the token', async () => {
      await create({ token: 'same', uses_allowed: 2 });
      const res = await req('PUT', `${BASE}/same`, {});
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ token: 'same', uses_allowed: 2, pending: 0, completed: 0, expiry_time: null });
    });

    it('validates before looking the token up; unknown tokens are 404', async () => {
      await create({ token: 'val' });
      for (const [body, error] of [
        [{ uses_allowed: -2 }, invalid('uses_allowed must be a non-negative integer or null')],
        [{ expiry_time: 'soon' }, invalid('expiry_time must be an integer or null')],
        [{ expiry_time: 1000 }, invalid('expiry_time must not be in the past')],
      ] as const) {
        for (const token of ['val', 'missing']) {
          const res = await req('PUT', `${BASE}/${token}`, body);
          expect(res.status).toBe(400);
          expect(res.body).toEqual(error);
        }
      }
      const unknown = await req('PUT', `${BASE}/missing`, { uses_allowed: 1 });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'No such registration token: missing' });
      const unknownEmpty = await req('PUT', `${BASE}/missing`, {});
      expect(unknownEmpty.status).toBe(404);
      expect(unknownEmpty.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'No such registration token: missing' });
      expect((await req('GET', `${BASE}/val`)).body.uses_allowed).toBeNull();
    });

    it('M_NOT_JSON for an empty body', async () => {
      const res = await s.request('PUT', `${BASE}/val`, { token: admin.accessToken });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_NOT_JSON');
    });
  });

  describe('DELETE', () => {
    it('deletes (200 {}), then 404', async () => {
      await create({ token: 'gone' });
      const res = await req('DELETE', `${BASE}/gone`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      expect((await req('GET', `${BASE}/gone`)).status).toBe(404);
      expect(await querySql(s, "SELECT token FROM registration_tokens WHERE token = 'gone'")).toEqual([]);
      const again = await req('DELETE', `${BASE}/gone`);
      expect(again.status).toBe(404);
      expect(again.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'No such registration token: gone' });
    });
  });

  describe('GET list', () => {
    let t: TestServer;
    let tAdmin: TestUser;
    const list = async (query = '') => {
      const res = await t.request('GET', `${BASE}${query}`, { token: tAdmin.accessToken });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body)).toEqual(['registration_tokens']);
      return res.body.registration_tokens as Array<Record<string, unknown>>;
    };
    const names = (rows: Array<Record<string, unknown>>) => rows.map((r) => r.token).sort();

    beforeAll(async () => {
      t = await startServer();
      tAdmin = await t.registerUser('admin', { admin: true });
      const make = (body: unknown) => t.request('POST', `${BASE}/new`, { token: tAdmin.accessToken, body });
      await make({ token: 'unlimited' });
      await make({ token: 'room-left', uses_allowed: 3 });
      await make({ token: 'used-up', uses_allowed: 2 });
      await make({ token: 'disabled', uses_allowed: 0 });
      await make({ token: 'future', expiry_time: FAR_FUTURE });
      await make({ token: 'expired', expiry_time: Date.now() + 60_000 });
      // Counters and a past expiry can only come from use and time; set them as they would be.
      await runSql(t, "UPDATE registration_tokens SET pending = 1, completed = 1 WHERE token IN ('room-left', 'used-up')");
      await runSql(t, `UPDATE registration_tokens SET expiry_time = ${Date.now() - 1000} WHERE token = 'expired'`);
    });
    afterAll(async () => t?.close());

    it('lists every token with the full shape, without pagination fields', async () => {
      const rows = await list();
      expect(names(rows)).toEqual(['disabled', 'expired', 'future', 'room-left', 'unlimited', 'used-up']);
      expect(rows.find((r) => r.token === 'room-left')).toEqual({ token: 'room-left', uses_allowed: 3, pending: 1, completed: 1, expiry_time: null });
      expect(rows.find((r) => r.token === 'future')).toEqual({ token: 'future', uses_allowed: null, pending: 0, completed: 0, expiry_time: FAR_FUTURE });
    });

    it('valid=true: uses left and not expired', async () => {
      expect(names(await list('?valid=true'))).toEqual(['future', 'room-left', 'unlimited']);
    });

    it('valid=false: used up (pending counts) or expired', async () => {
      expect(names(await list('?valid=false'))).toEqual(['disabled', 'expired', 'used-up']);
    });

    it('400 M_INVALID_PARAM for a valid that is not true/false', async () => {
      const res = await t.request('GET', `${BASE}?valid=yes`, { token: tAdmin.accessToken });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_INVALID_PARAM', error: "Boolean query parameter 'valid' must be one of ['true', 'false']" });
    });
  });
});
