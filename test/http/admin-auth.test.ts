import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';

// The operator's first workflow (issue 2): make an admin, get a token, call the Admin API.
describe('Admin API authentication', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
  });
  afterAll(async () => s?.close());

  it('accepts the token as a Bearer header', async () => {
    const res = await s.request('GET', '/_synapse/admin/v2/users/@admin:localhost', { token: admin.accessToken });
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('@admin:localhost');
    expect(res.body.admin).toBe(true);
  });

  it('accepts the token as ?access_token=', async () => {
    const res = await s.request('GET', `/_synapse/admin/v2/users/@admin:localhost?access_token=${admin.accessToken}`);
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('@admin:localhost');
  });

  it('accepts percent-encoded user IDs in the path', async () => {
    const res = await s.request('GET', `/_synapse/admin/v2/users/${encodeURIComponent('@alice:localhost')}`, { token: admin.accessToken });
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('@alice:localhost');
  });

  it('401 M_MISSING_TOKEN without a token', async () => {
    const res = await s.request('GET', '/_synapse/admin/v2/users/@admin:localhost');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ errcode: 'M_MISSING_TOKEN', error: 'Missing access token' });
  });

  it('401 M_UNKNOWN_TOKEN with soft_logout false for a bad token', async () => {
    const res = await s.request('GET', '/_synapse/admin/v2/users/@admin:localhost', { token: 'syt_bogus_token_12345' });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ errcode: 'M_UNKNOWN_TOKEN', error: 'Invalid access token passed.', soft_logout: false });
  });

  it('403 M_FORBIDDEN for a non-admin', async () => {
    const res = await s.request('GET', '/_synapse/admin/v2/users/@admin:localhost', { token: alice.accessToken });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You are not a server admin' });
  });

  it('rejects mixing a header and a query token, and malformed headers', async () => {
    const mixed = await s.request('GET', `/_synapse/admin/v2/users/@admin:localhost?access_token=${admin.accessToken}`, { token: admin.accessToken });
    expect(mixed.status).toBe(401);
    expect(mixed.body).toEqual({ errcode: 'M_MISSING_TOKEN', error: 'Mixing Authorization headers and access_token query parameters.' });
    const basic = await s.request('GET', '/_synapse/admin/v2/users/@admin:localhost', { headers: { authorization: `bearer ${admin.accessToken}` } });
    expect(basic.status).toBe(401);
    expect(basic.body).toEqual({ errcode: 'M_MISSING_TOKEN', error: 'Invalid Authorization header.' });
  });

  it('authenticates before reading the body: no token and a bad body gives 401', async () => {
    const res = await s.request('PUT', '/_synapse/admin/v2/users/@x:localhost', { rawBody: '{not json' });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('promotion and demotion by SQL take effect on the very next request', async () => {
    const bob = await s.registerUser('bob');
    const path = '/_synapse/admin/v2/users/@admin:localhost';
    expect((await s.request('GET', path, { token: bob.accessToken })).status).toBe(403);
    await runSql(s, "UPDATE users SET admin = 1 WHERE name = '@bob:localhost';");
    expect((await s.request('GET', path, { token: bob.accessToken })).status).toBe(200);
    await runSql(s, "UPDATE users SET admin = 0 WHERE name = '@bob:localhost';");
    const after = await s.request('GET', path, { token: bob.accessToken });
    expect(after.status).toBe(403);
    expect(after.body.errcode).toBe('M_FORBIDDEN');
  });

  it('401 M_USER_LOCKED for a locked user, and a deactivated user\'s token stops working', async () => {
    const carol = await s.registerUser('carol');
    await runSql(s, `UPDATE users SET locked = ${s.dialect === 'postgres' ? 'TRUE' : '1'} WHERE name = '@carol:localhost'`);
    const locked = await s.request('GET', '/_matrix/client/v3/account/whoami', { token: carol.accessToken });
    expect(locked.status).toBe(401);
    expect(locked.body).toEqual({ errcode: 'M_USER_LOCKED', error: 'User account has been locked', soft_logout: true });

    const dave = await s.registerUser('dave');
    expect((await s.request('GET', '/_matrix/client/v3/account/whoami', { token: dave.accessToken })).status).toBe(200);
    const put = await s.request('PUT', '/_synapse/admin/v2/users/@dave:localhost', { token: admin.accessToken, body: { deactivated: true } });
    expect(put.status).toBe(200);
    const res = await s.request('GET', '/_matrix/client/v3/account/whoami', { token: dave.accessToken });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('sends CORS and Cache-Control headers on success and on errors', async () => {
    for (const res of [
      await s.request('GET', '/_synapse/admin/v1/server_version'),
      await s.request('GET', '/_synapse/admin/v2/users/@admin:localhost'),
    ]) {
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-methods')).toBe('GET, HEAD, POST, PUT, DELETE, OPTIONS');
      expect(res.headers.get('access-control-allow-headers')).toBe('X-Requested-With, Content-Type, Authorization, Date');
      expect(res.headers.get('cache-control')).toBe('no-cache, no-store, must-revalidate');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    }
  });

  it('answers OPTIONS on any path with 204 and CORS, without auth', async () => {
    const res = await s.request('OPTIONS', '/_synapse/admin/v2/users/@admin:localhost');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('unknown path 404 and wrong method 405, both M_UNRECOGNIZED', async () => {
    const unknown = await s.request('GET', '/_synapse/admin/v1/doesnotexist', { token: admin.accessToken });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
    const wrong = await s.request('DELETE', '/_synapse/admin/v1/server_version', { token: admin.accessToken });
    expect(wrong.status).toBe(405);
    expect(wrong.body).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
    const v3 = await s.request('POST', '/_synapse/admin/v2/users/@admin:localhost', { token: admin.accessToken, body: {} });
    expect(v3.status).toBe(405);
  });

  it('413 M_TOO_LARGE for a body over the limit, as Matrix JSON', async () => {
    const big = JSON.stringify({ displayname: 'x'.repeat(2 * 1024 * 1024) });
    const res = await s.request('PUT', '/_synapse/admin/v2/users/@big:localhost', { token: admin.accessToken, rawBody: big });
    expect(res.status).toBe(413);
    expect(res.body.errcode).toBe('M_TOO_LARGE');
    expect(typeof res.body.error).toBe('string');
    expect((await s.request('GET', '/_synapse/admin/v2/users/@big:localhost', { token: admin.accessToken })).status).toBe(404);
  });

  it('HEAD is routed like GET', async () => {
    const res = await s.request('HEAD', '/_synapse/admin/v1/server_version');
    expect(res.status).toBe(200);
  });
});
