import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';

const enc = encodeURIComponent;
const ROOM = '!room1:localhost';
const PUSH_URL = 'https://push.example.org/_matrix/push/v1/notify';

const httpPusher = (over: Record<string, unknown> = {}) => ({
  kind: 'http',
  app_id: 'org.example.app',
  app_display_name: 'Example',
  device_display_name: 'Phone',
  pushkey: 'pk-1',
  lang: 'en',
  data: { url: PUSH_URL, format: 'event_id_only' },
  ...over,
});

describe('client account data (spec Client Config)', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
  });
  afterAll(async () => s?.close());

  const globalPath = (user: string, type: string) => `/_matrix/client/v3/user/${enc(user)}/account_data/${enc(type)}`;
  const roomPath = (user: string, room: string, type: string) =>
    `/_matrix/client/v3/user/${enc(user)}/rooms/${enc(room)}/account_data/${enc(type)}`;

  it('stores and returns global account data, replacing on a second PUT', async () => {
    let res = await s.request('PUT', globalPath(alice.userId, 'org.example.settings'), { token: alice.accessToken, body: { theme: 'dark', n: [1, 2] } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    res = await s.request('GET', globalPath(alice.userId, 'org.example.settings'), { token: alice.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ theme: 'dark', n: [1, 2] });

    await s.request('PUT', globalPath(alice.userId, 'org.example.settings'), { token: alice.accessToken, body: { theme: 'light' } });
    res = await s.request('GET', globalPath(alice.userId, 'org.example.settings'), { token: alice.accessToken });
    expect(res.body).toEqual({ theme: 'light' });
    // The r0 alias reaches the same data.
    res = await s.request('GET', `/_matrix/client/r0/user/${enc(alice.userId)}/account_data/org.example.settings`, { token: alice.accessToken });
    expect(res.body).toEqual({ theme: 'light' });
  });

  it('404 M_NOT_FOUND for missing data, with distinct texts for global and room data', async () => {
    let res = await s.request('GET', globalPath(alice.userId, 'org.example.none'), { token: alice.accessToken });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Account data not found' });
    res = await s.request('GET', roomPath(alice.userId, ROOM, 'org.example.none'), { token: alice.accessToken });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Room account data not found' });
  });

  it('403 for another user\'s data, before the body is read', async () => {
    let res = await s.request('PUT', globalPath(alice.userId, 'x.y'), { token: bob.accessToken, rawBody: 'not json' });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Cannot add account data for other users.' });
    res = await s.request('GET', globalPath(alice.userId, 'org.example.settings'), { token: bob.accessToken });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Cannot get account data for other users.' });
    res = await s.request('PUT', roomPath(alice.userId, ROOM, 'x.y'), { token: bob.accessToken, body: {} });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('Cannot add account data for other users.');
  });

  it('requires a JSON object body', async () => {
    let res = await s.request('PUT', globalPath(alice.userId, 'x.y'), { token: alice.accessToken, body: [1, 2] });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    res = await s.request('PUT', globalPath(alice.userId, 'x.y'), { token: alice.accessToken, rawBody: '{nope' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
    res = await s.request('PUT', globalPath(alice.userId, 'x.y'), { token: alice.accessToken });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
  });

  it('401 without a token', async () => {
    const res = await s.request('GET', globalPath(alice.userId, 'org.example.settings'));
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('refuses m.fully_read and m.push_rules with 405', async () => {
    let res = await s.request('PUT', roomPath(alice.userId, ROOM, 'm.fully_read'), { token: alice.accessToken, body: { event_id: '$x' } });
    expect(res.status).toBe(405);
    expect(res.body).toEqual({
      errcode: 'M_BAD_JSON',
      error: 'Cannot set m.fully_read through this API. Use /rooms/!roomId:server.name/read_markers',
    });
    res = await s.request('PUT', globalPath(alice.userId, 'm.push_rules'), { token: alice.accessToken, body: {} });
    expect(res.status).toBe(405);
    expect(res.body).toEqual({ errcode: 'M_BAD_JSON', error: 'Cannot set m.push_rules through this API. Use /pushrules' });
  });

  it('stores room account data per room and validates the room ID', async () => {
    let res = await s.request('PUT', roomPath(alice.userId, ROOM, 'm.tag.like'), { token: alice.accessToken, body: { a: 1 } });
    expect(res.status).toBe(200);
    res = await s.request('PUT', roomPath(alice.userId, '!other:example.org', 'm.tag.like'), { token: alice.accessToken, body: { a: 2 } });
    expect(res.status).toBe(200);
    res = await s.request('GET', roomPath(alice.userId, ROOM, 'm.tag.like'), { token: alice.accessToken });
    expect(res.body).toEqual({ a: 1 });
    res = await s.request('GET', roomPath(alice.userId, '!other:example.org', 'm.tag.like'), { token: alice.accessToken });
    expect(res.body).toEqual({ a: 2 });
    // Room data is not global data.
    res = await s.request('GET', globalPath(alice.userId, 'm.tag.like'), { token: alice.accessToken });
    expect(res.status).toBe(404);

    res = await s.request('PUT', roomPath(alice.userId, 'notaroom', 'm.tag.like'), { token: alice.accessToken, body: {} });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errcode: 'M_INVALID_PARAM', error: 'notaroom is not a valid room ID' });
    res = await s.request('GET', roomPath(alice.userId, '!bad:ex ample', 'm.tag.like'), { token: alice.accessToken });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('gives every write a new, higher stream position', async () => {
    const type = 'org.example.stream';
    await s.request('PUT', globalPath(bob.userId, type), { token: bob.accessToken, body: { v: 1 } });
    const [first] = await querySql<{ stream_id: number | string }>(s, `SELECT stream_id FROM account_data WHERE user_id = '${bob.userId}' AND account_data_type = '${type}'`);
    await s.request('PUT', roomPath(bob.userId, ROOM, type), { token: bob.accessToken, body: { v: 2 } });
    const [room] = await querySql<{ stream_id: number | string }>(s, `SELECT stream_id FROM room_account_data WHERE user_id = '${bob.userId}'`);
    await s.request('PUT', globalPath(bob.userId, type), { token: bob.accessToken, body: { v: 3 } });
    const [again] = await querySql<{ stream_id: number | string }>(s, `SELECT stream_id FROM account_data WHERE user_id = '${bob.userId}' AND account_data_type = '${type}'`);
    expect(Number(room!.stream_id)).toBeGreaterThan(Number(first!.stream_id));
    expect(Number(again!.stream_id)).toBeGreaterThan(Number(room!.stream_id));
  });
});

describe('admin account data — GET /_synapse/admin/v1/users/<user_id>/accountdata', () => {
  let s: TestServer;
  let admin: TestUser;
  let carol: TestUser;

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
    carol = await s.registerUser('carol');
    await s.request('PUT', `/_matrix/client/v3/user/${enc(carol.userId)}/account_data/m.direct`, { token: carol.accessToken, body: { '@x:localhost': ['!a:localhost'] } });
    await s.request('PUT', `/_matrix/client/v3/user/${enc(carol.userId)}/account_data/org.example.b`, { token: carol.accessToken, body: { b: true } });
    await s.request('PUT', `/_matrix/client/v3/user/${enc(carol.userId)}/rooms/${enc(ROOM)}/account_data/m.tag.x`, { token: carol.accessToken, body: { t: 1 } });
    await s.request('PUT', `/_matrix/client/v3/user/${enc(carol.userId)}/rooms/${enc('!r2:localhost')}/account_data/m.tag.y`, { token: carol.accessToken, body: { t: 2 } });
  });
  afterAll(async () => s?.close());

  it('returns global data by type and room data by room, then type', async () => {
    const res = await s.request('GET', `/_synapse/admin/v1/users/${enc(carol.userId)}/accountdata`, { token: admin.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      account_data: {
        global: { 'm.direct': { '@x:localhost': ['!a:localhost'] }, 'org.example.b': { b: true } },
        rooms: { [ROOM]: { 'm.tag.x': { t: 1 } }, '!r2:localhost': { 'm.tag.y': { t: 2 } } },
      },
    });
  });

  it('empty maps for a user without account data', async () => {
    const res = await s.request('GET', `/_synapse/admin/v1/users/${enc(admin.userId)}/accountdata`, { token: admin.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ account_data: { global: {}, rooms: {} } });
  });

  it('400 for a remote user, 404 for an unknown one, 403 for non-admins', async () => {
    let res = await s.request('GET', `/_synapse/admin/v1/users/${enc('@x:remote.example')}/accountdata`, { token: admin.accessToken });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Can only look up local users' });
    res = await s.request('GET', `/_synapse/admin/v1/users/${enc('@ghost:localhost')}/accountdata`, { token: admin.accessToken });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'User not found' });
    res = await s.request('GET', `/_synapse/admin/v1/users/${enc(carol.userId)}/accountdata`, { token: carol.accessToken });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You are not a server admin' });
  });

  it('deactivation removes the account data', async () => {
    const dave = await s.registerUser('dave');
    await s.request('PUT', `/_matrix/client/v3/user/${enc(dave.userId)}/account_data/org.example.c`, { token: dave.accessToken, body: { c: 1 } });
    const del = await s.request('POST', `/_synapse/admin/v1/deactivate/${enc(dave.userId)}`, { token: admin.accessToken, body: {} });
    expect(del.status).toBe(200);
    const res = await s.request('GET', `/_synapse/admin/v1/users/${enc(dave.userId)}/accountdata`, { token: admin.accessToken });
    expect(res.body).toEqual({ account_data: { global: {}, rooms: {} } });
  });
});

describe('pushers — client /pushers, /pushers/set and admin …/pushers', () => {
  let s: TestServer;
  let admin: TestUser;
  let erin: TestUser;
  let frank: TestUser;

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
    erin = await s.registerUser('erin');
    frank = await s.registerUser('frank');
  });
  afterAll(async () => s?.close());

  const list = async (u: TestUser) => (await s.request('GET', '/_matrix/client/v3/pushers', { token: u.accessToken })).body.pushers as any[];

  it('starts empty', async () => {
    const res = await s.request('GET', '/_matrix/client/v3/pushers', { token: erin.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ pushers: [] });
  });

  it('creates an http pusher; the client view omits enabled/device_id, the admin view has them', async () => {
    const res = await s.request('POST', '/_matrix/client/v3/pushers/set', { token: erin.accessToken, body: httpPusher({ profile_tag: 'tag1' }) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(await list(erin)).toEqual([
      {
        app_display_name: 'Example',
        app_id: 'org.example.app',
        data: { url: PUSH_URL, format: 'event_id_only' },
        device_display_name: 'Phone',
        kind: 'http',
        lang: 'en',
        profile_tag: 'tag1',
        pushkey: 'pk-1',
      },
    ]);
    const adm = await s.request('GET', `/_synapse/admin/v1/users/${enc(erin.userId)}/pushers`, { token: admin.accessToken });
    expect(adm.status).toBe(200);
    expect(adm.body).toEqual({
      pushers: [
        {
          app_display_name: 'Example',
          app_id: 'org.example.app',
          data: { url: PUSH_URL, format: 'event_id_only' },
          device_display_name: 'Phone',
          kind: 'http',
          lang: 'en',
          profile_tag: 'tag1',
          pushkey: 'pk-1',
          enabled: true,
          device_id: erin.deviceId,
        },
      ],
      total: 1,
    });
  });

  it('updates the same (app_id, pushkey) in place; profile_tag defaults to ""', async () => {
    await s.request('POST', '/_matrix/client/v3/pushers/set', { token: erin.accessToken, body: httpPusher({ app_display_name: 'Renamed', lang: 'de' }) });
    const ps = await list(erin);
    expect(ps).toHaveLength(1);
    expect(ps[0].app_display_name).toBe('Renamed');
    expect(ps[0].lang).toBe('de');
    expect(ps[0].profile_tag).toBe('');
  });

  it('a second pushkey adds a pusher; total counts them', async () => {
    await s.request('POST', '/_matrix/client/v3/pushers/set', { token: erin.accessToken, body: httpPusher({ pushkey: 'pk-2' }) });
    const adm = await s.request('GET', `/_synapse/admin/v1/users/${enc(erin.userId)}/pushers`, { token: admin.accessToken });
    expect(adm.body.total).toBe(2);
    expect(adm.body.pushers.map((p: any) => p.pushkey)).toEqual(['pk-1', 'pk-2']);
  });

  it('without append, the same pushkey of another user is taken over; with append both keep it', async () => {
    await s.request('POST', '/_matrix/client/v3/pushers/set', { token: frank.accessToken, body: httpPusher({ pushkey: 'pk-2', append: true }) });
    expect((await list(frank)).map((p) => p.pushkey)).toEqual(['pk-2']);
    expect((await list(erin)).map((p) => p.pushkey)).toEqual(['pk-1', 'pk-2']);
    await s.request('POST', '/_matrix/client/v3/pushers/set', { token: frank.accessToken, body: httpPusher({ pushkey: 'pk-2' }) });
    expect((await list(erin)).map((p) => p.pushkey)).toEqual(['pk-1']);
    expect((await list(frank)).map((p) => p.pushkey)).toEqual(['pk-2']);
  });

  it('kind: null deletes the caller\'s pusher only', async () => {
    const res = await s.request('POST', '/_matrix/client/v3/pushers/set', {
      token: frank.accessToken,
      body: { kind: null, app_id: 'org.example.app', pushkey: 'pk-1' },
    });
    expect(res.status).toBe(200);
    expect((await list(erin)).map((p) => p.pushkey)).toEqual(['pk-1']);
    await s.request('POST', '/_matrix/client/v3/pushers/set', { token: frank.accessToken, body: { kind: null, app_id: 'org.example.app', pushkey: 'pk-2' } });
    expect(await list(frank)).toEqual([]);
  });

  it('missing keys: 400 M_MISSING_PARAM listing them in Synapse\'s format', async () => {
    const res = await s.request('POST', '/_matrix/client/v3/pushers/set', { token: erin.accessToken, body: { kind: 'http', pushkey: 'x' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errcode: 'M_MISSING_PARAM',
      error: "Missing params: ['app_id', 'app_display_name', 'device_display_name', 'lang', 'data']",
    });
  });

  it('http pushers need data.url with the push gateway path', async () => {
    const cases: Array<[unknown, string]> = [
      [null, "Config Error: 'data' key can not be null for HTTP pusher"],
      [{}, "Config Error: 'url' required in data for HTTP pusher"],
      [{ url: 5 }, "Config Error: 'url' must be a string"],
      [{ url: 'https://push.example.org/notify' }, "Config Error: 'url' must have a path of '/_matrix/push/v1/notify'"],
    ];
    for (const [data, error] of cases) {
      const res = await s.request('POST', '/_matrix/client/v3/pushers/set', { token: erin.accessToken, body: httpPusher({ pushkey: 'pk-bad', data }) });
      expect(res.status, JSON.stringify(data)).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_MISSING_PARAM', error });
    }
    expect((await list(erin)).map((p) => p.pushkey)).toEqual(['pk-1']);
  });

  it('validates kind, app_id length and pushkey size per the spec', async () => {
    let res = await s.request('POST', '/_matrix/client/v3/pushers/set', { token: erin.accessToken, body: httpPusher({ kind: 'carrier-pigeon' }) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    res = await s.request('POST', '/_matrix/client/v3/pushers/set', { token: erin.accessToken, body: httpPusher({ app_id: 'a'.repeat(65) }) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    res = await s.request('POST', '/_matrix/client/v3/pushers/set', { token: erin.accessToken, body: httpPusher({ pushkey: 'é'.repeat(257) }) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    res = await s.request('POST', '/_matrix/client/v3/pushers/set', { token: erin.accessToken, body: httpPusher({ app_id: 'a'.repeat(64), pushkey: 'k'.repeat(512) }) });
    expect(res.status).toBe(200);
  });

  it('email pushers only for the user\'s own address', async () => {
    let res = await s.request('POST', '/_matrix/client/v3/pushers/set', {
      token: erin.accessToken,
      body: httpPusher({ kind: 'email', app_id: 'm.email', pushkey: 'erin@example.org', data: {} }),
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errcode: 'M_THREEPID_NOT_FOUND', error: 'Email not found' });
    const now = Date.now();
    await runSql(s, `INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES ('${erin.userId}', 'email', 'erin@example.org', ${now}, ${now})`);
    res = await s.request('POST', '/_matrix/client/v3/pushers/set', {
      token: erin.accessToken,
      body: httpPusher({ kind: 'email', app_id: 'm.email', pushkey: 'erin@example.org', data: {} }),
    });
    expect(res.status).toBe(200);
    expect((await list(erin)).find((p) => p.kind === 'email')).toMatchObject({ app_id: 'm.email', pushkey: 'erin@example.org', data: {} });
  });

  it('admin errors: invalid ID, remote, unknown, non-admin', async () => {
    let res = await s.request('GET', `/_synapse/admin/v1/users/nobody/pushers`, { token: admin.accessToken });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    res = await s.request('GET', `/_synapse/admin/v1/users/${enc('@x:remote.example')}/pushers`, { token: admin.accessToken });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Can only look up local users' });
    res = await s.request('GET', `/_synapse/admin/v1/users/${enc('@ghost:localhost')}/pushers`, { token: admin.accessToken });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'User not found' });
    res = await s.request('GET', `/_synapse/admin/v1/users/${enc(erin.userId)}/pushers`, { token: erin.accessToken });
    expect(res.status).toBe(403);
  });

  it('pushers are stored in Synapse\'s columns', async () => {
    const rows = await querySql<Record<string, unknown>>(s, `SELECT user_name, app_id, pushkey, kind, data, device_id, enabled FROM pushers WHERE user_name = '${erin.userId}' AND pushkey = 'pk-1'`);
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.data as string)).toEqual({ url: PUSH_URL, format: 'event_id_only' });
    expect(rows[0]!.device_id).toBe(erin.deviceId);
    expect(Boolean(rows[0]!.enabled)).toBe(true);
  });
});
