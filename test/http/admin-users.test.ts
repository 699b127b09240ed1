import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';

// GET/PUT /_synapse/admin/v2/users/<user_id> and GET/PUT /_synapse/admin/v1/users/<user_id>/admin
// (catalogue §3.2–3.4; real responses 01, 09*, 10*, 20, 21*, 27).
const USER_FIELDS = [
  'name', 'admin', 'deactivated', 'locked', 'shadow_banned', 'creation_ts', 'appservice_id', 'consent_server_notice_sent',
  'consent_version', 'consent_ts', 'user_type', 'is_guest', 'displayname', 'avatar_url', 'threepids', 'external_ids', 'erased', 'last_seen_ts',
];

describe('Admin API: one user', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;
  const get = (id: string, token = admin.accessToken) => s.request('GET', `/_synapse/admin/v2/users/${encodeURIComponent(id)}`, { token });
  const put = (id: string, body: unknown, token = admin.accessToken) =>
    s.request('PUT', `/_synapse/admin/v2/users/${encodeURIComponent(id)}`, { token, body });

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
  });
  afterAll(async () => s?.close());

  it('GET returns Synapse 1.94 fields with booleans and creation_ts in seconds', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await get('@alice:localhost');
    expect(res.status).toBe(200);
    for (const f of USER_FIELDS) expect(res.body, f).toHaveProperty(f);
    expect(res.body).toMatchObject({
      name: '@alice:localhost', admin: false, deactivated: false, locked: false, shadow_banned: false, is_guest: false,
      displayname: 'alice', avatar_url: null, threepids: [], external_ids: [], erased: false, user_type: null,
      appservice_id: null, consent_version: null, consent_ts: null, consent_server_notice_sent: null,
    });
    expect(typeof res.body.creation_ts).toBe('number');
    expect(res.body.creation_ts).toBeGreaterThan(before - 120);
    expect(res.body.creation_ts).toBeLessThan(before + 120); // seconds, not ms
  });

  it('GET errors: unknown 404, invalid ID 400 M_INVALID_PARAM, remote 400', async () => {
    expect((await get('@nobody:localhost')).body).toEqual({ errcode: 'M_NOT_FOUND', error: 'User not found' });
    expect((await get('@nobody:localhost')).status).toBe(404);
    const bad = await s.request('GET', '/_synapse/admin/v2/users/notauserid', { token: admin.accessToken });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ errcode: 'M_INVALID_PARAM', error: "Expected UserID string to start with '@'" });
    const remote = await get('@someone:example.org');
    expect(remote.status).toBe(400);
    expect(remote.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Can only look up local users' });
  });

  it('PUT creates with 201, then modifies with 200', async () => {
    const created = await put('@new:localhost', { password: 'newpass', displayname: 'New User', admin: false, threepids: [], external_ids: [] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: '@new:localhost', displayname: 'New User', admin: false, deactivated: false });
    const login = await s.login('new', 'newpass');
    expect(login.userId).toBe('@new:localhost');

    const renamed = await put('@new:localhost', { displayname: 'New User Renamed' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.displayname).toBe('New User Renamed');
    expect(renamed.body.creation_ts).toBe(created.body.creation_ts);
  });

  it('PUT create defaults the display name to the localpart and can make an admin', async () => {
    const res = await put('@new3:localhost', { admin: true });
    expect(res.status).toBe(201);
    expect(res.body.admin).toBe(true);
    expect(res.body.displayname).toBe('new3');
    const flag = await s.request('GET', '/_synapse/admin/v1/users/@new3:localhost/admin', { token: admin.accessToken });
    expect(flag.body).toEqual({ admin: true });
  });

  it('PUT replaces threepids and external_ids, and reports conflicts with 409', async () => {
    const first = await put('@tp:localhost', {
      threepids: [{ medium: 'email', address: 'One@Example.org' }, { medium: 'msisdn', address: '447700900000' }],
      external_ids: [{ auth_provider: 'oidc', external_id: 'abc/1' }],
    });
    expect(first.status).toBe(201);
    expect(first.body.threepids.map((t: any) => t.address).sort()).toEqual(['447700900000', 'one@example.org']);
    for (const t of first.body.threepids) {
      expect(typeof t.added_at).toBe('number');
      expect(t.validated_at).toBeGreaterThan(1e12); // ms
    }
    expect(first.body.external_ids).toEqual([{ auth_provider: 'oidc', external_id: 'abc/1' }]);

    const second = await put('@tp:localhost', { threepids: [{ medium: 'email', address: 'two@example.org' }], external_ids: [] });
    expect(second.status).toBe(200);
    expect(second.body.threepids.map((t: any) => t.address)).toEqual(['two@example.org']);
    expect(second.body.external_ids).toEqual([]);

    await put('@tp:localhost', { external_ids: [{ auth_provider: 'oidc', external_id: 'taken' }] });
    const clash = await put('@other:localhost', { external_ids: [{ auth_provider: 'oidc', external_id: 'taken' }] });
    expect(clash.status).toBe(409);
    expect(clash.body).toEqual({ errcode: 'M_UNKNOWN', error: 'External id is already in use.' });
    expect((await get('@other:localhost')).status).toBe(404); // nothing half-written
  });

  it('PUT validation errors have Synapse texts and write nothing', async () => {
    const cases: Array<[unknown, number, string, string]> = [
      [{ admin: 'yes' }, 400, 'M_BAD_JSON', "Param 'admin' must be a boolean, if given"],
      [{ user_type: 'wizard' }, 400, 'M_UNKNOWN', 'Invalid user type'],
      [{ password: 12 }, 400, 'M_UNKNOWN', 'Invalid password'],
      [{ password: 'x'.repeat(513) }, 400, 'M_UNKNOWN', 'Invalid password'],
      [{ logout_devices: 'no' }, 400, 'M_UNKNOWN', "'logout_devices' parameter is not of type boolean"],
      [{ deactivated: 1 }, 400, 'M_UNKNOWN', "'deactivated' parameter is not of type boolean"],
      [{ locked: 'true' }, 400, 'M_UNKNOWN', "'locked' parameter is not of type boolean"],
      [{ deactivated: true, locked: true }, 400, 'M_UNKNOWN', "An user can't be deactivated and locked"],
      [{ threepids: [{ medium: 'email' }] }, 400, 'M_MISSING_PARAM', "Missing params: ['address']"],
      [{ external_ids: [{ external_id: 'x' }] }, 400, 'M_MISSING_PARAM', "Missing params: ['auth_provider']"],
    ];
    for (const [body, status, errcode, error] of cases) {
      const res = await put('@new2:localhost', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body, JSON.stringify(body)).toEqual({ errcode, error });
    }
    expect((await get('@new2:localhost')).status).toBe(404);
  });

  it('PUT body errors: empty body M_NOT_JSON, non-object M_BAD_JSON, remote user 400', async () => {
    const empty = await s.request('PUT', '/_synapse/admin/v2/users/@new4:localhost', { token: admin.accessToken, headers: { 'content-type': 'application/json' } });
    expect(empty.status).toBe(400);
    expect(empty.body).toEqual({ errcode: 'M_NOT_JSON', error: 'Content not JSON.' });
    const garbage = await s.request('PUT', '/_synapse/admin/v2/users/@new4:localhost', { token: admin.accessToken, rawBody: '{"a":' });
    expect(garbage.body.errcode).toBe('M_NOT_JSON');
    const array = await s.request('PUT', '/_synapse/admin/v2/users/@new4:localhost', { token: admin.accessToken, rawBody: '[1]' });
    expect(array.status).toBe(400);
    expect(array.body).toEqual({ errcode: 'M_BAD_JSON', error: 'Content must be a JSON object.' });
    const remote = await put('@x:example.org', { displayname: 'x' });
    expect(remote.status).toBe(400);
    expect(remote.body).toEqual({ errcode: 'M_UNKNOWN', error: 'This endpoint can only be used with local users' });
  });

  it('PUT create validates the localpart', async () => {
    expect((await put('@Upper:localhost', {})).body.errcode).toBe('M_INVALID_USERNAME');
    expect((await put('@12345:localhost', {})).body.errcode).toBe('M_INVALID_USERNAME');
    expect((await put('@_under:localhost', {})).body.errcode).toBe('M_INVALID_USERNAME');
  });

  it('PUT password logs out the user\'s devices unless logout_devices is false', async () => {
    const u = await s.registerUser('pwuser', { password: 'first' });
    const res = await put('@pwuser:localhost', { password: 'second', logout_devices: false });
    expect(res.status).toBe(200);
    expect((await s.request('GET', '/_matrix/client/v3/account/whoami', { token: u.accessToken })).status).toBe(200);
    await s.login('pwuser', 'second');
    await put('@pwuser:localhost', { password: 'third' });
    expect((await s.request('GET', '/_matrix/client/v3/account/whoami', { token: u.accessToken })).status).toBe(401);
    await expect(s.login('pwuser', 'second')).rejects.toThrow(/403/);
    await s.login('pwuser', 'third');
  });

  it('PUT deactivated true/false, locked, user_type, avatar_url', async () => {
    await s.registerUser('cycle', { password: 'pw' });
    let res = await put('@cycle:localhost', { deactivated: true });
    expect(res.body.deactivated).toBe(true);
    const noPw = await put('@cycle:localhost', { deactivated: false });
    expect(noPw.status).toBe(400);
    expect(noPw.body.error).toBe('Must provide a password to re-activate an account.');
    res = await put('@cycle:localhost', { deactivated: false, password: 'again' });
    expect(res.status).toBe(200);
    expect(res.body.deactivated).toBe(false);
    await s.login('cycle', 'again');

    res = await put('@cycle:localhost', { locked: true, user_type: 'bot', avatar_url: 'mxc://localhost/abc' });
    expect(res.body).toMatchObject({ locked: true, user_type: 'bot', avatar_url: 'mxc://localhost/abc' });
    res = await put('@cycle:localhost', { locked: false, user_type: null, avatar_url: '' });
    expect(res.body).toMatchObject({ locked: false, user_type: null, avatar_url: null });
  });

  it('ignores unknown keys (synapse-admin sends whole records back)', async () => {
    const current = (await get('@alice:localhost')).body;
    const res = await put('@alice:localhost', { ...current, id: '@alice:localhost', some_ui_field: 1, displayname: 'Alice A' });
    expect(res.status).toBe(200);
    expect(res.body.displayname).toBe('Alice A');
  });

  it('an admin may not demote themselves', async () => {
    const res = await put('@admin:localhost', { admin: false });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'You may not demote yourself.' });
    const v1 = await s.request('PUT', '/_synapse/admin/v1/users/@admin:localhost/admin', { token: admin.accessToken, body: { admin: false } });
    expect(v1.status).toBe(400);
    expect(v1.body.error).toBe('You may not demote yourself.');
  });

  it('v1 admin flag: GET false for unknown users, PUT truthiness, errors', async () => {
    const path = (id: string) => `/_synapse/admin/v1/users/${id}/admin`;
    expect((await s.request('GET', path('@ghost:localhost'), { token: admin.accessToken })).body).toEqual({ admin: false });
    const remote = await s.request('GET', path('@someone:example.org'), { token: admin.accessToken });
    expect(remote.status).toBe(400);
    expect(remote.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Only local users can be admins of this homeserver' });

    const promote = await s.request('PUT', path('@alice:localhost'), { token: admin.accessToken, body: { admin: 1 } });
    expect(promote.status).toBe(200);
    expect(promote.body).toEqual({});
    expect((await s.request('GET', path('@alice:localhost'), { token: admin.accessToken })).body).toEqual({ admin: true });
    expect((await get('@admin:localhost', alice.accessToken)).status).toBe(200); // alice is admin now
    await s.request('PUT', path('@alice:localhost'), { token: admin.accessToken, body: { admin: '' } });
    expect((await get('@admin:localhost', alice.accessToken)).status).toBe(403);

    const missing = await s.request('PUT', path('@alice:localhost'), { token: admin.accessToken, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ errcode: 'M_MISSING_PARAM', error: "Missing params: ['admin']" });
    const notAdmin = await s.request('PUT', path('@alice:localhost'), { token: alice.accessToken, body: { admin: true } });
    expect(notAdmin.status).toBe(403);
  });

  it('reads shadow_banned/locked NULL-or-boolean columns written by operators', async () => {
    await s.registerUser('sb');
    await runSql(s, `UPDATE users SET shadow_banned = ${s.dialect === 'postgres' ? 'TRUE' : '1'} WHERE name = '@sb:localhost'`);
    expect((await get('@sb:localhost')).body.shadow_banned).toBe(true);
  });

  it('concurrent PUTs of different fields of one user lose nothing', async () => {
    await s.registerUser('conc');
    const results = await Promise.all([
      put('@conc:localhost', { displayname: 'Conc' }),
      put('@conc:localhost', { avatar_url: 'mxc://localhost/conc' }),
      put('@conc:localhost', { user_type: 'bot' }),
      put('@conc:localhost', { threepids: [{ medium: 'email', address: 'conc@example.org' }] }),
    ]);
    for (const r of results) expect(r.status).toBe(200);
    const final = (await get('@conc:localhost')).body;
    expect(final).toMatchObject({ displayname: 'Conc', avatar_url: 'mxc://localhost/conc', user_type: 'bot' });
    expect(final.threepids.map((t: any) => t.address)).toEqual(['conc@example.org']);
  });
});
