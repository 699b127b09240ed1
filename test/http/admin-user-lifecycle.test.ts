import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';

// Deactivate, reset password and suspend (catalogue §3.5–3.7), on both engines.

const enc = encodeURIComponent;
const count = async (s: TestServer, sql: string) => Number((await querySql<{ n: number | string }>(s, sql))[0]!.n);

async function loginWith(s: TestServer, user: string, password: string, deviceId?: string) {
  return s.request('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, ...(deviceId ? { device_id: deviceId } : {}) },
  });
}

/** A pusher registered through one of the user's tokens (as the client API would store it). */
async function addPusher(s: TestServer, userId: string, token: string | null, pushkey: string) {
  const tokenId = token === null ? 'NULL' : `(SELECT id FROM access_tokens WHERE token = '${token}')`;
  await runSql(
    s,
    `INSERT INTO pushers (user_name, access_token, kind, app_id, pushkey, ts, data) VALUES ('${userId}', ${tokenId}, 'http', 'm.test', '${pushkey}', 1, '{}')`,
  );
}

describe('POST /_synapse/admin/v1/deactivate/<user_id>', () => {
  let s: TestServer;
  let admin: TestUser;

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
  });
  afterAll(async () => s?.close());

  const deactivate = (userId: string, opts: { body?: unknown; rawBody?: string; token?: string } = {}) =>
    s.request('POST', `/_synapse/admin/v1/deactivate/${enc(userId)}`, { token: admin.accessToken, ...opts });

  it('accepts an empty body and answers like Synapse 1.94 (11_v1_deactivate.txt)', async () => {
    const u = await s.registerUser('empty');
    const res = await deactivate(u.userId);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id_server_unbind_result: 'success' });
    const after = await s.request('GET', `/_synapse/admin/v2/users/${enc(u.userId)}`, { token: admin.accessToken });
    expect(after.body.deactivated).toBe(true);
    expect(after.body.erased).toBe(false);
    // Without erase the profile stays (11b_v2_user_get_after_deactivate.txt keeps the display name).
    expect(after.body.displayname).toBe('empty');
  });

  it('removes 3PIDs, devices, tokens, password, pushers, account data and account validity in one go', async () => {
    const bob = await s.registerUser('bob');
    const second = await s.login('@bob:localhost', bob.password);
    const put = await s.request('PUT', '/_synapse/admin/v2/users/@bob:localhost', {
      token: admin.accessToken,
      body: { threepids: [{ medium: 'email', address: 'bob@example.org' }] },
    });
    expect(put.status).toBe(200);
    await addPusher(s, bob.userId, bob.accessToken, 'device-pusher');
    await addPusher(s, bob.userId, null, 'bob@example.org');
    await runSql(s, `INSERT INTO account_data (user_id, account_data_type, stream_id, content) VALUES ('${bob.userId}', 'm.secret', 1, '{}')`);
    await runSql(s, `INSERT INTO room_account_data (user_id, room_id, account_data_type, stream_id, content) VALUES ('${bob.userId}', '!r:localhost', 'm.tag', 1, '{}')`);
    await runSql(s, `INSERT INTO account_validity (user_id, expiration_ts_ms) VALUES ('${bob.userId}', 9999999999999)`);
    // Bob's profile must survive a plain deactivation while another user's data stays untouched.
    await addPusher(s, admin.userId, admin.accessToken, 'admin-pusher');

    const res = await deactivate(bob.userId, { body: { erase: false } });
    expect(res.status).toBe(200);

    for (const token of [bob.accessToken, second.accessToken]) {
      const who = await s.request('GET', '/_matrix/client/v3/account/whoami', { token });
      expect(who.status).toBe(401);
      expect(who.body.errcode).toBe('M_UNKNOWN_TOKEN');
    }
    const q = (table: string, col = 'user_id') => count(s, `SELECT COUNT(*) AS n FROM ${table} WHERE ${col} = '${bob.userId}'`);
    expect(await q('user_threepids')).toBe(0);
    expect(await q('devices')).toBe(0);
    expect(await q('access_tokens')).toBe(0);
    expect(await q('pushers', 'user_name')).toBe(0);
    expect(await q('account_data')).toBe(0);
    expect(await q('room_account_data')).toBe(0);
    expect(await q('account_validity')).toBe(0);
    const [row] = await querySql<{ password_hash: string | null; deactivated: number }>(s, `SELECT password_hash, deactivated FROM users WHERE name = '${bob.userId}'`);
    expect(row!.password_hash).toBeNull();
    expect(Number(row!.deactivated)).toBe(1);
    expect(await count(s, `SELECT COUNT(*) AS n FROM pushers WHERE user_name = '${admin.userId}'`)).toBe(1);

    const login = await loginWith(s, 'bob', bob.password);
    expect(login.status).toBe(403);
  });

  it('with erase: clears display name and avatar and marks the user erased', async () => {
    const carol = await s.registerUser('carol');
    await s.request('PUT', '/_synapse/admin/v2/users/@carol:localhost', {
      token: admin.accessToken,
      body: { displayname: 'Carol C', avatar_url: 'mxc://localhost/abc' },
    });
    const res = await deactivate(carol.userId, { body: { erase: true } });
    expect(res.status).toBe(200);
    const after = await s.request('GET', '/_synapse/admin/v2/users/@carol:localhost', { token: admin.accessToken });
    expect(after.body).toMatchObject({ deactivated: true, erased: true, displayname: null, avatar_url: null });
    expect(await count(s, `SELECT COUNT(*) AS n FROM erased_users WHERE user_id = '${carol.userId}'`)).toBe(1);
  });

  it('repeating it on a deactivated user is harmless', async () => {
    const dan = await s.registerUser('dan');
    expect((await deactivate(dan.userId)).status).toBe(200);
    const again = await deactivate(dan.userId, { body: {} });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ id_server_unbind_result: 'success' });
  });

  it('PUT v2 deactivated:true runs the same clean-up (pushers go too)', async () => {
    const eve = await s.registerUser('eve');
    await addPusher(s, eve.userId, null, 'eve@example.org');
    const put = await s.request('PUT', '/_synapse/admin/v2/users/@eve:localhost', { token: admin.accessToken, body: { deactivated: true } });
    expect(put.status).toBe(200);
    expect(await count(s, `SELECT COUNT(*) AS n FROM pushers WHERE user_name = '${eve.userId}'`)).toBe(0);
  });

  it('rejects a non-boolean erase with M_BAD_JSON', async () => {
    const u = await s.registerUser('badbody');
    for (const erase of ['yes', 1, null]) {
      const res = await deactivate(u.userId, { body: { erase } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_BAD_JSON', error: "Param 'erase' must be a boolean, if given" });
    }
    const notJson = await deactivate(u.userId, { rawBody: '{oops' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.errcode).toBe('M_NOT_JSON');
    const array = await deactivate(u.userId, { body: [] });
    expect(array.status).toBe(400);
    expect(array.body.errcode).toBe('M_BAD_JSON');
    // Nothing happened to the account.
    expect((await s.request('GET', '/_matrix/client/v3/account/whoami', { token: u.accessToken })).status).toBe(200);
  });

  it('remote user 400, unknown user 404 (checked before the body), non-admin 403', async () => {
    const remote = await deactivate('@someone:elsewhere.org', { body: {} });
    expect(remote.status).toBe(400);
    expect(remote.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Can only deactivate local users' });
    const unknown = await deactivate('@ghost:localhost', { rawBody: 'not json' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'User not found' });
    const invalid = await deactivate('ghost');
    expect(invalid.status).toBe(400);
    expect(invalid.body.errcode).toBe('M_INVALID_PARAM');
    const plain = await s.registerUser('plain');
    const forbidden = await deactivate(admin.userId, { token: plain.accessToken });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You are not a server admin' });
  });
});

describe('POST /_synapse/admin/v1/reset_password/<user_id>', () => {
  let s: TestServer;
  let admin: TestUser;

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
  });
  afterAll(async () => s?.close());

  const reset = (userId: string, body: unknown, token = admin.accessToken) =>
    s.request('POST', `/_synapse/admin/v1/reset_password/${enc(userId)}`, { token, body });

  it('sets the password and by default logs every session out (and their pushers)', async () => {
    const alice = await s.registerUser('alice', { password: 'old-password' });
    const other = await s.login('alice', 'old-password');
    await addPusher(s, alice.userId, other.accessToken, 'alice-phone');
    const res = await reset(alice.userId, { new_password: 'new-password' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    for (const token of [alice.accessToken, other.accessToken]) {
      const who = await s.request('GET', '/_matrix/client/v3/account/whoami', { token });
      expect(who.status).toBe(401);
      expect(who.body).toEqual({ errcode: 'M_UNKNOWN_TOKEN', error: 'Invalid access token passed.', soft_logout: false });
    }
    expect(await count(s, `SELECT COUNT(*) AS n FROM devices WHERE user_id = '${alice.userId}'`)).toBe(0);
    expect(await count(s, `SELECT COUNT(*) AS n FROM pushers WHERE user_name = '${alice.userId}'`)).toBe(0);
    expect((await loginWith(s, 'alice', 'old-password')).status).toBe(403);
    expect((await loginWith(s, 'alice', 'new-password')).status).toBe(200);
  });

  it('logout_devices: false keeps the sessions', async () => {
    const bob = await s.registerUser('bob', { password: 'old-password' });
    const res = await reset(bob.userId, { new_password: 'newer', logout_devices: false });
    expect(res.status).toBe(200);
    expect((await s.request('GET', '/_matrix/client/v3/account/whoami', { token: bob.accessToken })).status).toBe(200);
    expect((await loginWith(s, 'bob', 'newer')).status).toBe(200);
  });

  it('applies no password policy and needs no particular length', async () => {
    const u = await s.registerUser('short');
    expect((await reset(u.userId, { new_password: 'x' })).status).toBe(200);
    expect((await loginWith(s, 'short', 'x')).status).toBe(200);
  });

  it("spares the calling admin's own session when resetting their own password", async () => {
    const boss = await s.registerUser('boss', { admin: true, password: 'boss-old' });
    const otherSession = await s.login('boss', 'boss-old');
    const res = await reset(boss.userId, { new_password: 'boss-new' }, boss.accessToken);
    expect(res.status).toBe(200);
    expect((await s.request('GET', '/_matrix/client/v3/account/whoami', { token: boss.accessToken })).status).toBe(200);
    expect((await s.request('GET', '/_matrix/client/v3/account/whoami', { token: otherSession.accessToken })).status).toBe(401);
  });

  it("Synapse's quirk: a target device with the admin's device ID survives, its tokens do not", async () => {
    const adminSession = await loginWith(s, 'admin', admin.password, 'SHAREDID');
    expect(adminSession.status).toBe(200);
    const carol = await s.registerUser('carol', { password: 'carol-pw' });
    const carolShared = await loginWith(s, 'carol', 'carol-pw', 'SHAREDID');
    expect(carolShared.status).toBe(200);
    const res = await reset(carol.userId, { new_password: 'carol-new' }, adminSession.body.access_token);
    expect(res.status).toBe(200);
    const devices = await querySql<{ device_id: string }>(s, `SELECT device_id FROM devices WHERE user_id = '${carol.userId}'`);
    expect(devices.map((d) => d.device_id)).toEqual(['SHAREDID']);
    expect((await s.request('GET', '/_matrix/client/v3/account/whoami', { token: carolShared.body.access_token })).status).toBe(401);
  });

  it('validates the body', async () => {
    const u = await s.registerUser('val');
    const missing = await reset(u.userId, { logout_devices: false });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ errcode: 'M_MISSING_PARAM', error: "Missing params: ['new_password']" });
    const empty = await s.request('POST', `/_synapse/admin/v1/reset_password/${enc(u.userId)}`, { token: admin.accessToken });
    expect(empty.status).toBe(400);
    expect(empty.body.errcode).toBe('M_NOT_JSON');
    const notString = await reset(u.userId, { new_password: 12345 });
    expect(notString.status).toBe(400);
    expect(notString.body.errcode).toBe('M_UNKNOWN');
    expect((await s.request('GET', '/_matrix/client/v3/account/whoami', { token: u.accessToken })).status).toBe(200);
  });

  it('unknown and remote users: 404 "Unknown user"; malformed ID: M_INVALID_PARAM; non-admin: 403', async () => {
    for (const userId of ['@ghost:localhost', '@someone:elsewhere.org']) {
      const res = await reset(userId, { new_password: 'pw' });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Unknown user' });
    }
    const invalid = await reset('nobody', { new_password: 'pw' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errcode).toBe('M_INVALID_PARAM');
    const plain = await s.registerUser('plain');
    const forbidden = await reset(admin.userId, { new_password: 'pw' }, plain.accessToken);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toBe('You are not a server admin');
  });

  it('403 "Password change disabled" when the local password database is off', async () => {
    const s2 = await startServer({ password_config: { localdb_enabled: false } });
    try {
      const a2 = await s2.registerUser('admin', { admin: true });
      const u2 = await s2.registerUser('someone');
      const res = await s2.request('POST', `/_synapse/admin/v1/reset_password/${enc(u2.userId)}`, { token: a2.accessToken, body: { new_password: 'pw' } });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Password change disabled' });
      expect((await s2.request('GET', '/_matrix/client/v3/account/whoami', { token: u2.accessToken })).status).toBe(200);
    } finally {
      await s2.close();
    }
  });
});

describe('PUT /_synapse/admin/v1/suspend/<user_id> (Δ1.110)', () => {
  let s: TestServer;
  let admin: TestUser;
  let mallory: TestUser;

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
    mallory = await s.registerUser('mallory');
  });
  afterAll(async () => s?.close());

  const suspend = (userId: string, opts: { body?: unknown; rawBody?: string; token?: string }) =>
    s.request('PUT', `/_synapse/admin/v1/suspend/${enc(userId)}`, { token: admin.accessToken, ...opts });

  it('suspends and unsuspends, answering with the MXID embedded in the key', async () => {
    const on = await suspend(mallory.userId, { body: { suspend: true } });
    expect(on.status).toBe(200);
    expect(on.body).toEqual({ 'user_@mallory:localhost_suspended': true });
    const user = await s.request('GET', '/_synapse/admin/v2/users/@mallory:localhost', { token: admin.accessToken });
    expect(user.body.suspended).toBe(true);
    const [row] = await querySql<{ suspended: boolean | number }>(s, `SELECT suspended FROM users WHERE name = '${mallory.userId}'`);
    expect(Boolean(row!.suspended)).toBe(true);
    // A suspended user still authenticates.
    expect((await s.request('GET', '/_matrix/client/v3/account/whoami', { token: mallory.accessToken })).status).toBe(200);

    const off = await suspend(mallory.userId, { body: { suspend: false, extra: 'ignored' } });
    expect(off.status).toBe(200);
    expect(off.body).toEqual({ 'user_@mallory:localhost_suspended': false });
    const after = await s.request('GET', '/_synapse/admin/v2/users/@mallory:localhost', { token: admin.accessToken });
    expect(after.body.suspended).toBe(false);
  });

  it('a suspended user cannot change their profile until unsuspended', async () => {
    const sam = await s.registerUser('sam');
    const setName = (displayname: string) =>
      s.request('PUT', '/_matrix/client/v3/profile/@sam:localhost/displayname', { token: sam.accessToken, body: { displayname } });
    expect((await suspend(sam.userId, { body: { suspend: true } })).status).toBe(200);
    const refused = await setName('Sam S');
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ errcode: 'M_USER_SUSPENDED', error: 'Updating displayname while account is suspended is not allowed.' });
    const avatar = await s.request('PUT', '/_matrix/client/v3/profile/@sam:localhost/avatar_url', { token: sam.accessToken, body: { avatar_url: 'mxc://localhost/x' } });
    expect(avatar.status).toBe(403);
    expect(avatar.body.errcode).toBe('M_USER_SUSPENDED');
    expect((await s.request('GET', '/_matrix/client/v3/profile/@sam:localhost/displayname')).body).toEqual({ displayname: 'sam' });
    expect((await suspend(sam.userId, { body: { suspend: false } })).status).toBe(200);
    expect((await setName('Sam S')).status).toBe(200);
    expect((await s.request('GET', '/_matrix/client/v3/profile/@sam:localhost/displayname')).body).toEqual({ displayname: 'Sam S' });
  });

  it('a suspended user may read, leave and redact their own events, but not send, join, invite, knock or redact others', async () => {
    const V3 = '/_matrix/client/v3';
    const tom = await s.registerUser('tom');
    const una = await s.registerUser('una');
    const made = await s.request('POST', `${V3}/createRoom`, { token: una.accessToken, body: { preset: 'public_chat' } });
    const roomId = made.body.room_id as string;
    const r = `${V3}/rooms/${enc(roomId)}`;
    expect((await s.request('POST', `${V3}/join/${enc(roomId)}`, { token: tom.accessToken, body: {} })).status).toBe(200);
    const own = (await s.request('PUT', `${r}/send/m.room.message/t1`, { token: tom.accessToken, body: { msgtype: 'm.text', body: 'mine' } })).body.event_id;
    const theirs = (await s.request('PUT', `${r}/send/m.room.message/u1`, { token: una.accessToken, body: { msgtype: 'm.text', body: 'theirs' } })).body.event_id;
    const other = (await s.request('POST', `${V3}/createRoom`, { token: una.accessToken, body: { preset: 'public_chat' } })).body.room_id as string;
    expect((await suspend(tom.userId, { body: { suspend: true } })).status).toBe(200);

    const refusals = [
      await s.request('PUT', `${r}/send/m.room.message/t2`, { token: tom.accessToken, body: { msgtype: 'm.text', body: 'no' } }),
      await s.request('PUT', `${r}/state/m.room.topic/`, { token: tom.accessToken, body: { topic: 'no' } }),
      await s.request('POST', `${V3}/join/${enc(other)}`, { token: tom.accessToken, body: {} }),
      await s.request('POST', `${r}/invite`, { token: tom.accessToken, body: { user_id: mallory.userId } }),
      await s.request('PUT', `${r}/redact/${enc(theirs)}/t3`, { token: tom.accessToken, body: {} }),
    ];
    for (const res of refusals) {
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_USER_SUSPENDED');
    }
    // Reading, redacting their own event and leaving still work.
    expect((await s.request('GET', `${r}/messages?dir=b&limit=5`, { token: tom.accessToken })).status).toBe(200);
    expect((await s.request('PUT', `${r}/redact/${enc(own)}/t4`, { token: tom.accessToken, body: {} })).status).toBe(200);
    expect((await s.request('POST', `${r}/leave`, { token: tom.accessToken, body: {} })).status).toBe(200);
    // An operator's SQL unsuspension takes effect on the next request.
    await runSql(s, `UPDATE users SET suspended = ${s.dialect === 'postgres' ? 'FALSE' : '0'} WHERE name = '${tom.userId}'`);
    expect((await s.request('POST', `${V3}/join/${enc(other)}`, { token: tom.accessToken, body: {} })).status).toBe(200);
  });

  it('requires a strict boolean', async () => {
    const missing = await suspend(mallory.userId, { body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.errcode).toBe('M_MISSING_PARAM');
    expect(missing.body.error).toContain('suspend');
    for (const value of ['true', 1, null]) {
      const res = await suspend(mallory.userId, { body: { suspend: value } });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
    }
    const empty = await suspend(mallory.userId, {});
    expect(empty.status).toBe(400);
    expect(empty.body.errcode).toBe('M_NOT_JSON');
  });

  it('remote 400, unknown 404, non-admin 403', async () => {
    const remote = await suspend('@x:elsewhere.org', { body: { suspend: true } });
    expect(remote.status).toBe(400);
    expect(remote.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Can only suspend local users' });
    const unknown = await suspend('@ghost:localhost', { body: { suspend: true } });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'User not found' });
    const forbidden = await suspend(admin.userId, { body: { suspend: true }, token: mallory.accessToken });
    expect(forbidden.status).toBe(403);
  });
});
