import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('OpenID, third-party look-ups, TURN, versions and room initialSync', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let txn = 0;
  const create = async (u: TestUser, body: unknown = {}) => {
    const res = await s.request('POST', `${V3}/createRoom`, { token: u.accessToken, body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.room_id as string;
  };
  const join = async (u: TestUser, roomId: string) => {
    const res = await s.request('POST', `${V3}/join/${enc(roomId)}`, { token: u.accessToken, body: {} });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };
  const send = async (u: TestUser, roomId: string, body: string) => {
    const res = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`, { token: u.accessToken, body: { msgtype: 'm.text', body } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.event_id as string;
  };
  const initialSync = (u: TestUser, roomId: string, query = '') => s.request('GET', `${V3}/rooms/${enc(roomId)}/initialSync${query}`, { token: u.accessToken });
  const bodies = (chunk: Array<{ type: string; content: { body?: string } }>) => chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => s.registerUser(n)));
  });
  afterAll(async () => s?.close());

  describe('OpenID', () => {
    const requestToken = (u: TestUser, userId = u.userId, body: unknown = {}) =>
      s.request('POST', `${V3}/user/${enc(userId)}/openid/request_token`, { token: u.accessToken, body });
    const userinfo = (token?: string) => s.request('GET', `/_matrix/federation/v1/openid/userinfo${token === undefined ? '' : `?access_token=${enc(token)}`}`);

    it('a token for oneself, exchanged at the federation API for the user ID', async () => {
      const res = await requestToken(alice);
      expect(res.status).toBe(200);
      expect(specErrors('client-server', '/user/{userId}/openid/request_token', 'post', 200, res.body)).toEqual([]);
      expect(res.body).toMatchObject({ token_type: 'Bearer', matrix_server_name: 'localhost', expires_in: 3600 });
      expect(res.body.access_token).toMatch(/^[A-Za-z]{24}$/);
      // Not an access token of the client API.
      expect((await s.request('GET', `${V3}/account/whoami`, { token: res.body.access_token })).status).toBe(401);
      const info = await userinfo(res.body.access_token);
      expect(info.status).toBe(200);
      expect(info.body).toEqual({ sub: alice.userId });
      expect(specErrors('server-server', '/openid/userinfo', 'get', 200, info.body)).toEqual([]);
      // Tokens are distinct per request.
      const again = await requestToken(alice);
      expect(again.body.access_token).not.toBe(res.body.access_token);
      expect((await userinfo(again.body.access_token)).body).toEqual({ sub: alice.userId });
    });

    it('refuses unknown, expired and deactivated users\' tokens with 401, and other users with 403', async () => {
      const bad = await userinfo('nope');
      expect(bad.status).toBe(401);
      expect(bad.body).toEqual({ errcode: 'M_UNKNOWN_TOKEN', error: 'Access Token unknown or expired' });
      const missing = await userinfo();
      expect(missing.status).toBe(401);
      expect(missing.body.errcode).toBe('M_MISSING_TOKEN');
      const other = await requestToken(alice, bob.userId);
      expect(other.status).toBe(403);
      expect(other.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Cannot request tokens for other users.' });
      const expiring = (await requestToken(bob)).body.access_token as string;
      await runSql(s, `UPDATE open_id_tokens SET ts_valid_until_ms = ${Date.now() - 1} WHERE token = '${expiring}'`);
      expect((await userinfo(expiring)).status).toBe(401);
      const dave = await s.registerUser('dave');
      const admin = await s.registerUser('root', { admin: true });
      const daves = (await requestToken(dave)).body.access_token as string;
      expect((await userinfo(daves)).status).toBe(200);
      await s.request('POST', `/_synapse/admin/v1/deactivate/${enc(dave.userId)}`, { token: admin.accessToken, body: {} });
      expect((await userinfo(daves)).status).toBe(401);
    });

    it('the body must be a JSON object; no token is 401', async () => {
      const notJson = await s.request('POST', `${V3}/user/${enc(alice.userId)}/openid/request_token`, { token: alice.accessToken, rawBody: 'x' });
      expect(notJson.status).toBe(400);
      expect(notJson.body.errcode).toBe('M_NOT_JSON');
      const list = await requestToken(alice, alice.userId, []);
      expect(list.status).toBe(400);
      expect((await s.request('POST', `${V3}/user/${enc(alice.userId)}/openid/request_token`, { body: {} })).status).toBe(401);
    });
  });

  it('third-party protocols: none (no application services), look-ups empty, unknown protocol 404', async () => {
    const protocols = await s.request('GET', `${V3}/thirdparty/protocols`, { token: alice.accessToken });
    expect(protocols.status).toBe(200);
    expect(protocols.body).toEqual({});
    // (No specErrors here: the thirdparty schemas reference application-service files the local spec copy lacks.)
    const one = await s.request('GET', `${V3}/thirdparty/protocol/irc`, { token: alice.accessToken });
    expect(one.status).toBe(404);
    expect(one.body.errcode).toBe('M_NOT_FOUND');
    for (const path of ['/thirdparty/location/irc?searchFields=x', '/thirdparty/user/irc', '/thirdparty/location?alias=%23a:b', '/thirdparty/user?userid=%40a:b']) {
      const r = await s.request('GET', `${V3}${path}`, { token: alice.accessToken });
      expect(r.status, path).toBe(200);
      expect(r.body, path).toEqual([]);
    }
    expect((await s.request('GET', `${V3}/thirdparty/protocols`)).status).toBe(401);
  });

  it('/voip/turnServer is {} when no TURN server is configured', async () => {
    const res = await s.request('GET', `${V3}/voip/turnServer`, { token: alice.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
  });

  it('/versions advertises v1.6 and only the unstable features Axon serves', async () => {
    const res = await s.request('GET', '/_matrix/client/versions');
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/versions', 'get', 200, res.body)).toEqual([]);
    expect(res.body.versions).toContain('v1.6');
    expect(res.body.versions).not.toContain('v1.7');
    expect(res.body.unstable_features).toMatchObject({ 'org.matrix.e2e_cross_signing': true, 'org.matrix.msc3827.stable': true });
    // Not served: not claimed.
    for (const f of ['uk.half-shot.msc2666.query_mutual_rooms', 'org.matrix.label_based_filtering', 'fi.mau.msc2659.stable']) expect(res.body.unstable_features[f]).not.toBe(true);
  });

  describe('GET /rooms/{roomId}/initialSync', () => {
    it('members get the latest 10 events oldest first, the current state, and tokens /messages continues from', async () => {
      const room = await create(alice, { preset: 'public_chat', visibility: 'public', name: 'Snap' });
      await join(bob, room);
      for (let i = 1; i <= 15; i++) await send(alice, room, `m${i}`);
      await s.request('PUT', `${V3}/user/${enc(alice.userId)}/rooms/${enc(room)}/tags/u.work`, { token: alice.accessToken, body: { order: 0.5 } });
      await s.request('PUT', `${V3}/user/${enc(alice.userId)}/rooms/${enc(room)}/account_data/org.example.x`, { token: alice.accessToken, body: { a: 1 } });

      const res = await initialSync(alice, room);
      expect(res.status).toBe(200);
      expect(specErrors('client-server', '/rooms/{roomId}/initialSync', 'get', 200, res.body)).toEqual([]);
      expect(res.body.room_id).toBe(room);
      expect(res.body.membership).toBe('join');
      expect(res.body.visibility).toBe('public');
      expect(res.body.messages.chunk).toHaveLength(10);
      expect(bodies(res.body.messages.chunk)).toEqual(['m6', 'm7', 'm8', 'm9', 'm10', 'm11', 'm12', 'm13', 'm14', 'm15']);
      const types = res.body.state.map((e: { type: string; state_key: string }) => `${e.type}|${e.state_key}`);
      expect(types).toEqual(expect.arrayContaining(['m.room.create|', 'm.room.name|', `m.room.member|${alice.userId}`, `m.room.member|${bob.userId}`]));
      expect(res.body.account_data).toEqual(
        expect.arrayContaining([
          { type: 'm.tag', content: { tags: { 'u.work': { order: 0.5 } } } },
          { type: 'org.example.x', content: { a: 1 } },
        ]),
      );
      // start continues backwards with /messages, with no overlap.
      const back = await s.request('GET', `${V3}/rooms/${enc(room)}/messages?dir=b&limit=5&from=${enc(res.body.messages.start)}`, { token: alice.accessToken });
      expect(back.status).toBe(200);
      expect(bodies(back.body.chunk)).toEqual(['m5', 'm4', 'm3', 'm2', 'm1']);
      // end continues forwards: nothing yet, then what is sent next.
      const fwd = () => s.request('GET', `${V3}/rooms/${enc(room)}/messages?dir=f&from=${enc(res.body.messages.end)}`, { token: alice.accessToken });
      expect((await fwd()).body.chunk).toEqual([]);
      await send(bob, room, 'later');
      expect(bodies((await fwd()).body.chunk)).toEqual(['later']);

      const three = await initialSync(alice, room, '?limit=3');
      expect(bodies(three.body.messages.chunk)).toEqual(['m14', 'm15', 'later']);
      // Account data is the caller's own.
      expect((await initialSync(bob, room)).body.account_data).toEqual([]);
      const bad = await initialSync(alice, room, '?limit=-1');
      expect(bad.status).toBe(400);
      expect(bad.body.errcode).toBe('M_INVALID_PARAM');
    });

    it('a member who left sees up to their leave and the state then; strangers 403; world_readable rooms can be peeked', async () => {
      const room = await create(alice, { preset: 'private_chat', invite: [carol.userId] });
      await join(carol, room);
      await send(alice, room, 'before');
      const leave = await s.request('POST', `${V3}/rooms/${enc(room)}/leave`, { token: carol.accessToken, body: {} });
      expect(leave.status).toBe(200);
      await send(alice, room, 'after');
      await s.request('PUT', `${V3}/rooms/${enc(room)}/state/m.room.topic`, { token: alice.accessToken, body: { topic: 'new topic' } });

      const parted = await initialSync(carol, room);
      expect(parted.status).toBe(200);
      expect(specErrors('client-server', '/rooms/{roomId}/initialSync', 'get', 200, parted.body)).toEqual([]);
      expect(parted.body.membership).toBe('leave');
      expect(bodies(parted.body.messages.chunk)).toEqual(['before']);
      expect(parted.body.messages.chunk.at(-1)).toMatchObject({ type: 'm.room.member', state_key: carol.userId, content: { membership: 'leave' } });
      expect(parted.body.state.find((e: { type: string }) => e.type === 'm.room.topic')).toBeUndefined();
      expect(parted.body.visibility).toBe('private');

      const stranger = await initialSync(bob, room);
      expect(stranger.status).toBe(403);
      expect(stranger.body.errcode).toBe('M_FORBIDDEN');
      expect((await initialSync(bob, '!nosuchroom:localhost')).status).toBe(403);

      const readable = await create(alice, { preset: 'private_chat', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }] });
      await send(alice, readable, 'visible to all');
      const peek = await initialSync(bob, readable);
      expect(peek.status).toBe(200);
      expect(specErrors('client-server', '/rooms/{roomId}/initialSync', 'get', 200, peek.body)).toEqual([]);
      expect(peek.body.membership).toBeUndefined();
      expect(bodies(peek.body.messages.chunk)).toEqual(['visible to all']);
    });
  });
});

describe('/voip/turnServer with a TURN server configured', () => {
  let s: TestServer;
  afterAll(async () => s?.close());

  it('shared secret: username <expiry>:<user ID>, password base64(HMAC-SHA1(secret, username)), ttl from turn_user_lifetime', async () => {
    const uris = ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349?transport=tcp'];
    s = await startServer({ turn_uris: uris, turn_shared_secret: 's3cret', turn_user_lifetime: '2h' });
    const alice = await s.registerUser('alice');
    const before = Math.floor(Date.now() / 1000);
    const res = await s.request('GET', `${V3}/voip/turnServer`, { token: alice.accessToken });
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/voip/turnServer', 'get', 200, res.body)).toEqual([]);
    expect(res.body.uris).toEqual(uris);
    expect(res.body.ttl).toBe(7200);
    const [expiry, ...rest] = (res.body.username as string).split(':');
    expect(rest.join(':')).toBe(alice.userId);
    expect(Number(expiry)).toBeGreaterThanOrEqual(before + 7200);
    expect(Number(expiry)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 7200);
    expect(res.body.password).toBe(createHmac('sha1', 's3cret').update(res.body.username).digest('base64'));
    // The legacy v1 path answers too.
    expect((await s.request('GET', '/_matrix/client/api/v1/voip/turnServer', { token: alice.accessToken })).body.uris).toEqual(uris);
    await s.close();

    s = await startServer({ turn_uris: ['turn:t.example.org'], turn_username: 'static', turn_password: 'pw' });
    const bob = await s.registerUser('bob');
    const stat = await s.request('GET', `${V3}/voip/turnServer`, { token: bob.accessToken });
    expect(stat.body).toEqual({ username: 'static', password: 'pw', ttl: 3600, uris: ['turn:t.example.org'] });
    expect((await s.request('GET', `${V3}/voip/turnServer`)).status).toBe(401);
  });
});
