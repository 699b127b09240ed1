import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED_SECRET, startServer, type TestServer } from '../harness/server.js';

// GET/POST /_synapse/admin/v1/register (catalogue §4): nonces, HMAC-SHA1, errors.
// The MAC is computed here independently of Axon's code, as Synapse's docs describe it.
function mac(nonce: string, user: string, password: string, admin: boolean, userType?: string, secret = SHARED_SECRET) {
  const parts = [nonce, user, password, admin ? 'admin' : 'notadmin', ...(userType ? [userType] : [])];
  return createHmac('sha1', secret).update(parts.join('\0')).digest('hex');
}

describe('shared-secret registration', () => {
  let s: TestServer;
  const nonce = async () => (await s.request('GET', '/_synapse/admin/v1/register')).body.nonce as string;
  const post = (body: unknown) => s.request('POST', '/_synapse/admin/v1/register', { body });

  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => s?.close());

  it('hands out 128-hex-char nonces without auth', async () => {
    const res = await s.request('GET', '/_synapse/admin/v1/register');
    expect(res.status).toBe(200);
    expect(res.body.nonce).toMatch(/^[0-9a-f]{128}$/);
    expect(await nonce()).not.toBe(res.body.nonce);
  });

  it('registers a user with a correct MAC; the token works', async () => {
    const n = await nonce();
    const res = await post({ nonce: n, username: 'Foo', password: 'secret', admin: true, user_type: null, mac: mac(n, 'Foo', 'secret', true) });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe('@foo:localhost'); // lower-cased
    expect(res.body.home_server).toBe('localhost');
    expect(res.body.access_token).toMatch(/^syt_Zm9v_[A-Za-z]{20}_[0-9A-Za-z]{6,}$/);
    expect(typeof res.body.device_id).toBe('string');
    const details = await s.request('GET', '/_synapse/admin/v2/users/@foo:localhost', { token: res.body.access_token });
    expect(details.status).toBe(200);
    expect(details.body).toMatchObject({ admin: true, displayname: 'foo' });
  });

  it('includes user_type in the MAC and stores it', async () => {
    const n = await nonce();
    const res = await post({ nonce: n, username: 'botty', password: 'pw', admin: false, user_type: 'bot', mac: mac(n, 'botty', 'pw', false, 'bot') });
    expect(res.status).toBe(200);
    const admin = await s.registerUser('admin2', { admin: true });
    const details = await s.request('GET', '/_synapse/admin/v2/users/@botty:localhost', { token: admin.accessToken });
    expect(details.body.user_type).toBe('bot');
    expect(details.body.admin).toBe(false);
  });

  it('rejects a wrong MAC with 403 M_UNKNOWN and consumes the nonce', async () => {
    const n = await nonce();
    const bad = await post({ nonce: n, username: 'eve', password: 'pw', admin: false, mac: mac(n, 'eve', 'pw', true) });
    expect(bad.status).toBe(403);
    expect(bad.body).toEqual({ errcode: 'M_UNKNOWN', error: 'HMAC incorrect' });
    const reuse = await post({ nonce: n, username: 'eve', password: 'pw', admin: false, mac: mac(n, 'eve', 'pw', false) });
    expect(reuse.status).toBe(400);
    expect(reuse.body).toEqual({ errcode: 'M_UNKNOWN', error: 'unrecognised nonce' });
  });

  it('a nonce is single-use', async () => {
    const n = await nonce();
    expect((await post({ nonce: n, username: 'once', password: 'pw', mac: mac(n, 'once', 'pw', false) })).status).toBe(200);
    const again = await post({ nonce: n, username: 'twice', password: 'pw', mac: mac(n, 'twice', 'pw', false) });
    expect(again.body).toEqual({ errcode: 'M_UNKNOWN', error: 'unrecognised nonce' });
  });

  it('M_USER_IN_USE for an existing user (what --exists-ok looks for)', async () => {
    await s.registerUser('taken');
    const n = await nonce();
    const res = await post({ nonce: n, username: 'taken', password: 'pw', mac: mac(n, 'taken', 'pw', false) });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errcode: 'M_USER_IN_USE', error: 'User ID already taken.' });
  });

  it('field errors in Synapse order and texts', async () => {
    expect((await post({})).body).toEqual({ errcode: 'M_BAD_JSON', error: 'nonce must be specified' });
    let n = await nonce();
    expect((await post({ nonce: n })).body).toEqual({ errcode: 'M_BAD_JSON', error: 'username must be specified' });
    n = await nonce();
    // Synapse answers M_UNKNOWN 'Invalid username' here; Axon's input gate refuses any NUL in a body first.
    expect((await post({ nonce: n, username: 'a\u0000b' })).body.errcode).toBe('M_BAD_JSON');
    n = await nonce();
    expect((await post({ nonce: n, username: 'ok' })).body).toEqual({ errcode: 'M_BAD_JSON', error: 'password must be specified' });
    n = await nonce();
    expect((await post({ nonce: n, username: 'ok', password: 'x'.repeat(513) })).body).toEqual({ errcode: 'M_UNKNOWN', error: 'Invalid password' });
    n = await nonce();
    expect((await post({ nonce: n, username: 'ok', password: 'pw', user_type: 'wizard' })).body).toEqual({ errcode: 'M_UNKNOWN', error: 'Invalid user type' });
    n = await nonce();
    expect((await post({ nonce: n, username: 'ok', password: 'pw' })).body).toEqual({ errcode: 'M_BAD_JSON', error: 'mac must be specified' });
    n = await nonce();
    const invalid = await post({ nonce: n, username: 'bad name', password: 'pw', mac: mac(n, 'bad name', 'pw', false) });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errcode).toBe('M_INVALID_USERNAME');
    const notJson = await s.request('POST', '/_synapse/admin/v1/register', { rawBody: 'nope' });
    expect(notJson.body).toEqual({ errcode: 'M_NOT_JSON', error: 'Content not JSON.' });
  });

  it('inhibit_login registers without a token', async () => {
    const n = await nonce();
    const res = await post({ nonce: n, username: 'quiet', password: 'pw', mac: mac(n, 'quiet', 'pw', false), inhibit_login: true });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user_id: '@quiet:localhost', home_server: 'localhost' });
  });
});

describe('shared-secret registration without a configured secret', () => {
  it('still gives nonces but refuses every POST', async () => {
    const s = await startServer({ registration_shared_secret: null });
    try {
      const n = (await s.request('GET', '/_synapse/admin/v1/register')).body.nonce;
      const res = await s.request('POST', '/_synapse/admin/v1/register', { body: { nonce: n, username: 'x', password: 'y', mac: 'z' } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Shared secret registration is not enabled' });
    } finally {
      await s.close();
    }
  });
});
