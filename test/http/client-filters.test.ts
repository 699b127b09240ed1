import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('Filters: POST /user/{userId}/filter, GET /user/{userId}/filter/{filterId}', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const post = (u: TestUser, body: unknown, userId = u.userId) => s.request('POST', `${V3}/user/${enc(userId)}/filter`, { token: u.accessToken, body });
  const get = (u: TestUser, id: string, userId = u.userId) => s.request('GET', `${V3}/user/${enc(userId)}/filter/${enc(id)}`, { token: u.accessToken });

  beforeAll(async () => {
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
  });
  afterAll(async () => s?.close());

  const example = {
    room: {
      state: { types: ['m.room.*'], not_rooms: ['!726s6s6q:example.com'], lazy_load_members: true },
      timeline: { limit: 10, types: ['m.room.message'], not_senders: ['@spam:example.com'], unread_thread_notifications: true },
      ephemeral: { types: ['m.receipt', 'm.typing'] },
      include_leave: false,
    },
    presence: { types: ['m.presence'], not_senders: ['@alice:example.com'] },
    event_format: 'client',
    event_fields: ['type', 'content', 'sender'],
  };

  it('stores a filter under a small per-user integer ID and returns it unchanged', async () => {
    const res = await post(alice, example);
    expect(res.status, res.text).toBe(200);
    expect(specErrors('client-server', '/user/{userId}/filter', 'post', 200, res.body)).toEqual([]);
    expect(res.body).toEqual({ filter_id: '0' });
    const back = await get(alice, '0');
    expect(back.status).toBe(200);
    expect(specErrors('client-server', '/user/{userId}/filter/{filterId}', 'get', 200, back.body)).toEqual([]);
    expect(back.body).toEqual(example);
    // The next distinct filter is 1; the same filter again answers its existing ID (Synapse).
    expect((await post(alice, { room: { timeline: { limit: 5 } } })).body).toEqual({ filter_id: '1' });
    expect((await post(alice, example)).body).toEqual({ filter_id: '0' });
    // Another user's IDs start at 0 too.
    expect((await post(bob, { presence: { not_types: ['*'] } })).body).toEqual({ filter_id: '0' });
    expect((await get(bob, '0')).body).toEqual({ presence: { not_types: ['*'] } });
    // Synapse's table: localpart in user_id, the full ID beside it.
    const rows = await querySql<{ user_id: string; full_user_id: string; filter_id: number | string; filter_json: string }>(
      s,
      `SELECT user_id, full_user_id, filter_id, filter_json FROM user_filters WHERE full_user_id = '${alice.userId}' ORDER BY filter_id`,
    );
    expect(rows.map((r) => [r.user_id, Number(r.filter_id)])).toEqual([
      ['alice', 0],
      ['alice', 1],
    ]);
    expect(JSON.parse(rows[0]!.filter_json)).toEqual(example);
  });

  it('the empty filter and unknown keys are accepted; a huge timeline limit is lowered to 100', async () => {
    const empty = await post(alice, {});
    expect(empty.status).toBe(200);
    expect((await get(alice, empty.body.filter_id)).body).toEqual({});
    const big = await post(alice, { room: { timeline: { limit: 100000 } }, 'org.example.x': true });
    expect(big.status).toBe(200);
    expect((await get(alice, big.body.filter_id)).body).toEqual({ room: { timeline: { limit: 100 } }, 'org.example.x': true });
  });

  it('refuses invalid filters with 400 M_BAD_JSON and stores nothing', async () => {
    const before = await querySql(s, 'SELECT count(*) AS n FROM user_filters');
    for (const body of [
      { room: { timeline: { limit: 'ten' } } },
      { room: { timeline: { limit: -1 } } },
      { room: { rooms: ['not-a-room'] } },
      { room: { state: { senders: ['nobody'] } } },
      { room: { state: { types: 'm.room.member' } } },
      { room: { include_leave: 'yes' } },
      { presence: [] },
      { event_format: 'xml' },
      { event_fields: [1] },
    ]) {
      const res = await post(alice, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
    }
    const notObject = await s.request('POST', `${V3}/user/${enc(alice.userId)}/filter`, { token: alice.accessToken, rawBody: '[]' });
    expect(notObject.status).toBe(400);
    expect(notObject.body.errcode).toBe('M_BAD_JSON');
    const notJson = await s.request('POST', `${V3}/user/${enc(alice.userId)}/filter`, { token: alice.accessToken, rawBody: '{nope' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.errcode).toBe('M_NOT_JSON');
    expect(await querySql(s, 'SELECT count(*) AS n FROM user_filters')).toEqual(before);
  });

  it("another user's filters: 403; unknown IDs: 404 M_NOT_FOUND; malformed IDs: 400", async () => {
    const up = await post(bob, example, alice.userId);
    expect(up.status).toBe(403);
    expect(up.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Cannot create filters for other users' });
    const peek = await get(bob, '0', alice.userId);
    expect(peek.status).toBe(403);
    expect(peek.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Cannot get filters for other users' });
    for (const id of ['999', '-1', '99999999999999999999']) {
      const res = await get(alice, id);
      expect(res.status, id).toBe(404);
      expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'No such filter' });
    }
    const bad = await get(alice, 'abc');
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
    const badUser = await s.request('POST', `${V3}/user/not-a-user/filter`, { token: alice.accessToken, body: {} });
    expect(badUser.status).toBe(400);
    expect(badUser.body.errcode).toBe('M_INVALID_PARAM');
    const noToken = await s.request('POST', `${V3}/user/${enc(alice.userId)}/filter`, { body: {} });
    expect(noToken.status).toBe(401);
  });

  it('concurrent uploads by one user get distinct IDs', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => post(bob, { room: { timeline: { limit: i + 1 } } })));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(new Set(results.map((r) => r.body.filter_id)).size).toBe(8);
  });
});
