import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('Client API: profiles', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let admin: TestUser;

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    admin = await s.registerUser('admin', { admin: true });
  });
  afterAll(async () => s?.close());

  it('a new account has its localpart as display name and no avatar (field omitted, not null)', async () => {
    const res = await s.request('GET', `${V3}/profile/${enc('@alice:localhost')}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ displayname: 'alice' });
    expect(specErrors('client-server', '/profile/{userId}', 'get', 200, res.body)).toEqual([]);
    const avatar = await s.request('GET', `${V3}/profile/@alice:localhost/avatar_url`);
    expect(avatar.status).toBe(200);
    expect(avatar.body).toEqual({});
  });

  it('PUT displayname and avatar_url, read back through every GET and via SQL', async () => {
    const put = await s.request('PUT', `${V3}/profile/${enc('@alice:localhost')}/displayname`, { token: alice.accessToken, body: { displayname: 'Alice A.' } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({});
    const av = await s.request('PUT', `${V3}/profile/@alice:localhost/avatar_url`, { token: alice.accessToken, body: { avatar_url: 'mxc://localhost/abc' } });
    expect(av.status).toBe(200);

    const full = await s.request('GET', `${V3}/profile/@alice:localhost`);
    expect(full.body).toEqual({ displayname: 'Alice A.', avatar_url: 'mxc://localhost/abc' });
    expect(specErrors('client-server', '/profile/{userId}', 'get', 200, full.body)).toEqual([]);
    const dn = await s.request('GET', `/_matrix/client/r0/profile/@alice:localhost/displayname`);
    expect(dn.body).toEqual({ displayname: 'Alice A.' });
    expect(specErrors('client-server', '/profile/{userId}/{keyName}', 'get', 200, dn.body)).toEqual([]);
    expect((await s.request('GET', `${V3}/profile/@alice:localhost/avatar_url`)).body).toEqual({ avatar_url: 'mxc://localhost/abc' });

    // The admin API reads the same row.
    const adminView = await s.request('GET', '/_synapse/admin/v2/users/@alice:localhost', { token: admin.accessToken });
    expect(adminView.body.displayname).toBe('Alice A.');
    expect(adminView.body.avatar_url).toBe('mxc://localhost/abc');
  });

  it('trims the display name; "" clears it (then omitted from GET)', async () => {
    await s.request('PUT', `${V3}/profile/@bob:localhost/displayname`, { token: bob.accessToken, body: { displayname: '  Bobby  ' } });
    expect((await s.request('GET', `${V3}/profile/@bob:localhost/displayname`)).body).toEqual({ displayname: 'Bobby' });
    const clear = await s.request('PUT', `${V3}/profile/@bob:localhost/displayname`, { token: bob.accessToken, body: { displayname: '' } });
    expect(clear.status).toBe(200);
    expect((await s.request('GET', `${V3}/profile/@bob:localhost`)).body).toEqual({});
    await s.request('PUT', `${V3}/profile/@bob:localhost/avatar_url`, { token: bob.accessToken, body: { avatar_url: 'mxc://x/y' } });
    await s.request('PUT', `${V3}/profile/@bob:localhost/avatar_url`, { token: bob.accessToken, body: { avatar_url: '' } });
    expect((await s.request('GET', `${V3}/profile/@bob:localhost/avatar_url`)).body).toEqual({});
  });

  it('unknown local user: 404 M_NOT_FOUND "Profile was not found" on every GET', async () => {
    for (const suffix of ['', '/displayname', '/avatar_url']) {
      const res = await s.request('GET', `${V3}/profile/@nobody:localhost${suffix}`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Profile was not found' });
    }
  });

  it('invalid user IDs: 400 M_INVALID_PARAM', async () => {
    const get = await s.request('GET', `${V3}/profile/alice`);
    expect(get.status).toBe(400);
    expect(get.body).toEqual({ errcode: 'M_INVALID_PARAM', error: 'Invalid user id' });
    const badDomain = await s.request('GET', `${V3}/profile/${enc('@alice:bad domain!')}`);
    expect(badDomain.status).toBe(400);
    const put = await s.request('PUT', `${V3}/profile/alice/displayname`, { token: alice.accessToken, body: { displayname: 'x' } });
    expect(put.status).toBe(400);
    expect(put.body).toEqual({ errcode: 'M_INVALID_PARAM', error: "Expected UserID string to start with '@'" });
  });

  it('remote users: GET is not found (no federation), PUT is 400', async () => {
    const get = await s.request('GET', `${V3}/profile/@carol:remote.example`);
    expect(get.status).toBe(404);
    expect(get.body.errcode).toBe('M_NOT_FOUND');
    const put = await s.request('PUT', `${V3}/profile/@carol:remote.example/displayname`, { token: admin.accessToken, body: { displayname: 'x' } });
    expect(put.status).toBe(400);
    expect(put.body).toEqual({ errcode: 'M_UNKNOWN', error: 'User is not hosted on this homeserver' });
  });

  it('setting someone else\'s profile: 400 M_FORBIDDEN (as Synapse), nothing changes', async () => {
    const dn = await s.request('PUT', `${V3}/profile/@bob:localhost/displayname`, { token: alice.accessToken, body: { displayname: 'hacked' } });
    expect(dn.status).toBe(400);
    expect(dn.body).toEqual({ errcode: 'M_FORBIDDEN', error: "Cannot set another user's displayname" });
    const av = await s.request('PUT', `${V3}/profile/@bob:localhost/avatar_url`, { token: alice.accessToken, body: { avatar_url: 'mxc://x/evil' } });
    expect(av.status).toBe(400);
    expect(av.body).toEqual({ errcode: 'M_FORBIDDEN', error: "Cannot set another user's avatar_url" });
    expect((await s.request('GET', `${V3}/profile/@bob:localhost`)).body.displayname).not.toBe('hacked');
  });

  it('a server admin may set another user\'s profile; an SQL demotion takes effect at once', async () => {
    const res = await s.request('PUT', `${V3}/profile/@bob:localhost/displayname`, { token: admin.accessToken, body: { displayname: 'Set by admin' } });
    expect(res.status).toBe(200);
    expect((await s.request('GET', `${V3}/profile/@bob:localhost/displayname`)).body).toEqual({ displayname: 'Set by admin' });
    await runSql(s, "UPDATE users SET admin = 0 WHERE name = '@admin:localhost'");
    const after = await s.request('PUT', `${V3}/profile/@bob:localhost/displayname`, { token: admin.accessToken, body: { displayname: 'again' } });
    expect(after.status).toBe(400);
    expect(after.body.errcode).toBe('M_FORBIDDEN');
    await runSql(s, "UPDATE users SET admin = 1 WHERE name = '@admin:localhost'");
  });

  it('validates bodies with Synapse\'s codes and texts', async () => {
    const path = `${V3}/profile/@alice:localhost`;
    const cases: Array<[string, unknown, number, Record<string, string>]> = [
      ['/displayname', {}, 400, { errcode: 'M_BAD_JSON', error: 'Unable to parse name' }],
      ['/displayname', { displayname: 7 }, 400, { errcode: 'M_INVALID_PARAM', error: "'displayname' must be a string" }],
      ['/displayname', { displayname: null }, 400, { errcode: 'M_INVALID_PARAM', error: "'displayname' must be a string" }],
      ['/displayname', { displayname: 'x'.repeat(257) }, 400, { errcode: 'M_UNKNOWN', error: 'Displayname is too long (max 256)' }],
      ['/avatar_url', {}, 400, { errcode: 'M_MISSING_PARAM', error: "Missing key 'avatar_url'" }],
      ['/avatar_url', { avatar_url: ['mxc://a/b'] }, 400, { errcode: 'M_INVALID_PARAM', error: "'avatar_url' must be a string" }],
      ['/avatar_url', { avatar_url: 'm'.repeat(1001) }, 400, { errcode: 'M_UNKNOWN', error: 'Avatar URL is too long (max 1000)' }],
    ];
    for (const [suffix, body, status, expected] of cases) {
      const res = await s.request('PUT', path + suffix, { token: alice.accessToken, body });
      expect(res.status, `${suffix} ${JSON.stringify(body).slice(0, 40)}`).toBe(status);
      expect(res.body).toEqual(expected);
    }
    const ok256 = await s.request('PUT', `${path}/displayname`, { token: alice.accessToken, body: { displayname: '😀'.repeat(256) } });
    expect(ok256.status).toBe(200);
    const notJson = await s.request('PUT', `${path}/displayname`, { token: alice.accessToken, rawBody: 'nope' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.errcode).toBe('M_NOT_JSON');
    const array = await s.request('PUT', `${path}/displayname`, { token: alice.accessToken, body: ['x'] });
    expect(array.status).toBe(400);
    expect(array.body.errcode).toBe('M_BAD_JSON');
  });

  it('PUT needs a token; GET does not', async () => {
    const res = await s.request('PUT', `${V3}/profile/@alice:localhost/displayname`, { body: { displayname: 'x' } });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('after /account/deactivate with erase the profile reads as empty; without erase it is kept', async () => {
    const deactivate = (u: TestUser, erase: boolean) =>
      s.request('POST', `${V3}/account/deactivate`, {
        token: u.accessToken,
        body: { erase, auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: u.password } },
      });
    const carol = await s.registerUser('carol');
    await s.request('PUT', `${V3}/profile/@carol:localhost/displayname`, { token: carol.accessToken, body: { displayname: 'Carol' } });
    expect((await deactivate(carol, true)).status).toBe(200);
    expect((await s.request('GET', `${V3}/profile/@carol:localhost`)).body).toEqual({});
    const dave = await s.registerUser('dave');
    expect((await deactivate(dave, false)).status).toBe(200);
    expect((await s.request('GET', `${V3}/profile/@dave:localhost`)).body).toEqual({ displayname: 'dave' });
  });
});

describe('Client API: profiles with enable_set_displayname / enable_set_avatar_url off', () => {
  let s: TestServer;
  afterAll(async () => s?.close());

  it('refuses changes with 400 M_FORBIDDEN once a value is set, but lets admins through', async () => {
    s = await startServer({ ...NO_RATE_LIMITS, enable_set_displayname: false, enable_set_avatar_url: false });
    const u = await s.registerUser('erin');
    const admin = await s.registerUser('root', { admin: true });
    const dn = await s.request('PUT', `${V3}/profile/@erin:localhost/displayname`, { token: u.accessToken, body: { displayname: 'New' } });
    expect(dn.status).toBe(400);
    expect(dn.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Changing display name is disabled on this server' });
    // No avatar yet: the first one may be set (Synapse only blocks changes).
    expect((await s.request('PUT', `${V3}/profile/@erin:localhost/avatar_url`, { token: u.accessToken, body: { avatar_url: 'mxc://a/b' } })).status).toBe(200);
    const av = await s.request('PUT', `${V3}/profile/@erin:localhost/avatar_url`, { token: u.accessToken, body: { avatar_url: 'mxc://a/c' } });
    expect(av.status).toBe(400);
    expect(av.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Changing avatar is disabled on this server' });
    const byAdmin = await s.request('PUT', `${V3}/profile/@erin:localhost/displayname`, { token: admin.accessToken, body: { displayname: 'Admin-set' } });
    expect(byAdmin.status).toBe(200);
    const caps = await s.request('GET', `${V3}/capabilities`, { token: u.accessToken });
    expect(caps.body.capabilities['m.set_displayname']).toEqual({ enabled: false });
    expect(caps.body.capabilities['m.set_avatar_url']).toEqual({ enabled: false });
  });
});
