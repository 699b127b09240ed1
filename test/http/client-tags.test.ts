import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secondInstance } from '../harness/second-instance.js';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;
const ROOM = '!tagged:localhost';
const ROOM2 = '!other:localhost';

describe('Room tags and the account-data stream', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const tagsPath = (u: string, room: string) => `${V3}/user/${enc(u)}/rooms/${enc(room)}/tags`;
  const tagPath = (u: string, room: string, tag: string) => `${tagsPath(u, room)}/${enc(tag)}`;
  const svc = () => s.ctx.services.accountData;

  beforeAll(async () => {
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
  });
  afterAll(async () => s?.close());

  it('PUT, GET and DELETE tags, each change one account-data position announced for the user', async () => {
    const seen: string[][] = [];
    const off = s.ctx.storage.notifier.subscribe(['account_data'], (n) => seen.push([...(n.keys as string[])]));
    const before = svc().position;
    let res = await s.request('GET', tagsPath(alice.userId, ROOM), { token: alice.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tags: {} });
    res = await s.request('PUT', tagPath(alice.userId, ROOM, 'u.work'), { token: alice.accessToken, body: { order: 0.5 } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(specErrors('client-server', '/user/{userId}/rooms/{roomId}/tags/{tag}', 'put', 200, res.body)).toEqual([]);
    await s.request('PUT', tagPath(alice.userId, ROOM, 'm.favourite'), { token: alice.accessToken, body: {} });
    res = await s.request('GET', tagsPath(alice.userId, ROOM), { token: alice.accessToken });
    expect(res.body).toEqual({ tags: { 'm.favourite': {}, 'u.work': { order: 0.5 } } });
    expect(specErrors('client-server', '/user/{userId}/rooms/{roomId}/tags', 'get', 200, res.body)).toEqual([]);
    // Replacing a tag replaces its content.
    await s.request('PUT', tagPath(alice.userId, ROOM, 'u.work'), { token: alice.accessToken, body: { order: 0.25 } });
    expect((await s.request('GET', tagsPath(alice.userId, ROOM), { token: alice.accessToken })).body.tags['u.work']).toEqual({ order: 0.25 });
    res = await s.request('DELETE', tagPath(alice.userId, ROOM, 'm.favourite'), { token: alice.accessToken });
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/user/{userId}/rooms/{roomId}/tags/{tag}', 'delete', 200, res.body)).toEqual([]);
    expect((await s.request('GET', tagsPath(alice.userId, ROOM), { token: alice.accessToken })).body).toEqual({ tags: { 'u.work': { order: 0.25 } } });
    expect(svc().position).toBe(before + 4);
    expect(seen).toEqual([[alice.userId], [alice.userId], [alice.userId], [alice.userId]]);
    const [rev] = await querySql<{ stream_id: string | number }>(s, `SELECT stream_id FROM room_tags_revisions WHERE user_id = '${alice.userId}' AND room_id = '${ROOM}'`);
    expect(Number(rev!.stream_id)).toBe(before + 4);
    // Bob sees none of it.
    expect((await s.request('GET', tagsPath(bob.userId, ROOM), { token: bob.accessToken })).body).toEqual({ tags: {} });
    off();
  });

  it("refuses other users' tags (403) and bodies that are not objects (400), writing nothing", async () => {
    const before = svc().position;
    let res = await s.request('GET', tagsPath(alice.userId, ROOM), { token: bob.accessToken });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Cannot get tags for other users.' });
    res = await s.request('PUT', tagPath(alice.userId, ROOM, 'x'), { token: bob.accessToken, body: {} });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Cannot add tags for other users.' });
    res = await s.request('DELETE', tagPath(alice.userId, ROOM, 'u.work'), { token: bob.accessToken });
    expect(res.status).toBe(403);
    for (const raw of ['[1]', '"x"', 'not json']) {
      res = await s.request('PUT', tagPath(alice.userId, ROOM, 'x'), { token: alice.accessToken, rawBody: raw, headers: { 'content-type': 'application/json' } });
      expect(res.status, raw).toBe(400);
    }
    res = await s.request('GET', tagsPath(alice.userId, ROOM));
    expect(res.status).toBe(401);
    expect(svc().position).toBe(before);
    expect((await s.request('GET', tagsPath(alice.userId, ROOM), { token: alice.accessToken })).body).toEqual({ tags: { 'u.work': { order: 0.25 } } });
  });

  it('accountDataForSync: everything at from = 0, exact deltas after, m.tag built from room tags ({tags: {}} once all are removed)', async () => {
    const carol = await s.registerUser('carol');
    const put = (path: string, body: unknown) => s.request('PUT', `${V3}/user/${enc(carol.userId)}${path}`, { token: carol.accessToken, body });
    const p0 = svc().position;
    await put('/account_data/m.direct', { '@x:localhost': ['!a:localhost'] });
    await put(`/rooms/${enc(ROOM)}/account_data/org.example.room`, { n: 1 });
    await put(`/rooms/${enc(ROOM)}/tags/u.a`, { order: 1 });
    await put(`/rooms/${enc(ROOM2)}/tags/u.b`, {});
    const p1 = svc().position;
    expect(p1).toBe(p0 + 4);
    let all = await svc().accountDataForSync(carol.userId, 0, p1);
    expect(all.global).toEqual([{ type: 'm.direct', content: { '@x:localhost': ['!a:localhost'] } }]);
    expect(all.rooms.get(ROOM)).toEqual([
      { type: 'org.example.room', content: { n: 1 } },
      { type: 'm.tag', content: { tags: { 'u.a': { order: 1 } } } },
    ]);
    expect(all.rooms.get(ROOM2)).toEqual([{ type: 'm.tag', content: { tags: { 'u.b': {} } } }]);
    // `to` bounds it: the first two writes only.
    const early = await svc().accountDataForSync(carol.userId, 0, p0 + 2);
    expect(early.global.length).toBe(1);
    expect([...early.rooms.keys()]).toEqual([ROOM]);
    expect(early.rooms.get(ROOM)!.map((e) => e.type)).toEqual(['org.example.room']);
    // Nothing new: empty.
    const none = await svc().accountDataForSync(carol.userId, p1, p1);
    expect(none.global).toEqual([]);
    expect(none.rooms.size).toBe(0);
    // A delta: the whole tag set of the changed room only; removed-all yields {tags: {}}.
    await put(`/rooms/${enc(ROOM)}/tags/u.c`, {});
    await s.request('DELETE', `${V3}/user/${enc(carol.userId)}/rooms/${enc(ROOM2)}/tags/u.b`, { token: carol.accessToken });
    const p2 = svc().position;
    const delta = await svc().accountDataForSync(carol.userId, p1, p2);
    expect(delta.global).toEqual([]);
    expect(delta.rooms).toEqual(
      new Map([
        [ROOM, [{ type: 'm.tag', content: { tags: { 'u.a': { order: 1 }, 'u.c': {} } } }]],
        [ROOM2, [{ type: 'm.tag', content: { tags: {} } }]],
      ]),
    );
    // An initial sync leaves rooms without tags out.
    all = await svc().accountDataForSync(carol.userId, 0, p2);
    expect(all.rooms.has(ROOM2)).toBe(false);
    // Global data overwritten later moves to its new position.
    await put('/account_data/m.direct', {});
    const p3 = svc().position;
    expect((await svc().accountDataForSync(carol.userId, p2, p3)).global).toEqual([{ type: 'm.direct', content: {} }]);
  });

  it('putInternal writes types the API refuses (m.fully_read), at the next position', async () => {
    const dan = await s.registerUser('dan');
    const p0 = svc().position;
    await svc().putInternal(dan.userId, 'm.fully_read', { event_id: '$e' }, ROOM);
    expect(svc().position).toBe(p0 + 1);
    const res = await svc().accountDataForSync(dan.userId, p0, p0 + 1);
    expect(res.rooms.get(ROOM)).toEqual([{ type: 'm.fully_read', content: { event_id: '$e' } }]);
    const api = await s.request('PUT', `${V3}/user/${enc(dan.userId)}/rooms/${enc(ROOM)}/account_data/m.fully_read`, { token: dan.accessToken, body: {} });
    expect(api.status).toBe(405);
  });

  it('concurrent writers publish positions in order: an announced position never hides a lower uncommitted one', async () => {
    const erin = await s.registerUser('erin');
    const base = svc().position;
    const checks: Array<Promise<void>> = [];
    const gaps: string[] = [];
    const off = s.ctx.storage.notifier.subscribe(['account_data'], (n) => {
      if (!(n.keys as string[]).includes(erin.userId)) return;
      const pos = svc().position;
      checks.push(
        svc()
          .accountDataForSync(erin.userId, base, pos)
          .then((r) => {
            const seen = r.global.length + [...r.rooms.values()].reduce((k, l) => k + l.length, 0);
            if (seen !== pos - base) gaps.push(`at ${pos}: ${seen} of ${pos - base}`);
          }),
      );
    });
    const N = 24;
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        i % 3 === 0
          ? svc().putInternal(erin.userId, `org.example.g${i}`, { i })
          : i % 3 === 1
            ? svc().putInternal(erin.userId, `org.example.r${i}`, { i }, ROOM)
            : svc().putTagInternal(erin.userId, `!r${i}:localhost`, 'u.t', { i }),
      ),
    );
    off();
    await Promise.all(checks);
    expect(gaps).toEqual([]);
    expect(svc().position).toBe(base + N);
    const all = await svc().accountDataForSync(erin.userId, base, svc().position);
    expect(all.global.length + [...all.rooms.values()].reduce((k, l) => k + l.length, 0)).toBe(N);
  });

  it('through /sync: m.tag in the room\'s account_data, then only what changed', async () => {
    const fay = await s.registerUser('fay');
    const room = (await s.request('POST', `${V3}/createRoom`, { token: fay.accessToken, body: {} })).body.room_id as string;
    await s.request('PUT', tagPath(fay.userId, room, 'm.lowpriority'), { token: fay.accessToken, body: { order: 0.1 } });
    const first = await s.request('GET', `${V3}/sync`, { token: fay.accessToken });
    expect(first.status).toBe(200);
    expect(first.body.rooms.join[room].account_data.events).toContainEqual({ type: 'm.tag', content: { tags: { 'm.lowpriority': { order: 0.1 } } } });
    await s.request('DELETE', tagPath(fay.userId, room, 'm.lowpriority'), { token: fay.accessToken });
    const next = await s.request('GET', `${V3}/sync?since=${enc(first.body.next_batch)}&timeout=0`, { token: fay.accessToken });
    expect(next.body.rooms.join[room].account_data.events).toEqual([{ type: 'm.tag', content: { tags: {} } }]);
  });

  it('the admin account-data dump shows account data only, not tags (as Synapse)', async () => {
    const admin = await s.registerUser('admin', { admin: true });
    const dump = await s.request('GET', `/_synapse/admin/v1/users/${enc(alice.userId)}/accountdata`, { token: admin.accessToken });
    expect(dump.status).toBe(200);
    expect(dump.body.account_data.rooms[ROOM]).toBeUndefined();
  });
});

describe('The account-data stream after a restart', () => {
  it('is seeded from room_tags_revisions as well as the account-data tables', async () => {
    const s1 = await startServer();
    let s2: Awaited<ReturnType<typeof secondInstance>> | undefined;
    try {
      const u = await s1.registerUser('alice');
      // A tag is the highest write of the stream.
      await s1.request('PUT', `${V3}/user/${enc(u.userId)}/account_data/org.example.a`, { token: u.accessToken, body: {} });
      expect((await s1.request('PUT', `${V3}/user/${enc(u.userId)}/rooms/${enc(ROOM)}/tags/u.x`, { token: u.accessToken, body: {} })).status).toBe(200);
      const top = s1.ctx.services.accountData.position;
      await s1.stop();
      s2 = await secondInstance(s1);
      expect((await s2.request('PUT', `${V3}/user/${enc(u.userId)}/account_data/org.example.b`, { token: u.accessToken, body: {} })).status).toBe(200);
      const [row] = await querySql<{ stream_id: string | number }>(s1, `SELECT stream_id FROM account_data WHERE user_id = '${u.userId}' AND account_data_type = 'org.example.b'`);
      expect(Number(row!.stream_id)).toBe(top + 1);
    } finally {
      await s2?.close();
      await s1.close();
    }
  });
});
