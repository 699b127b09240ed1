import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';

describe('GET /sync', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let txn = 0;

  const sync = (u: TestUser, q: Record<string, string | number | boolean> = {}) => {
    const qs = new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)])).toString();
    return s.request('GET', `${V3}/sync${qs ? `?${qs}` : ''}`, { token: u.accessToken });
  };
  const createRoom = async (u: TestUser, body: Record<string, unknown> = {}) => {
    const res = await s.request('POST', `${V3}/createRoom`, { token: u.accessToken, body });
    expect(res.status).toBe(200);
    return res.body.room_id as string;
  };
  const send = async (u: TestUser, roomId: string, body: Record<string, unknown>, type = 'm.room.message') => {
    const res = await s.request('PUT', `${V3}/rooms/${encodeURIComponent(roomId)}/send/${type}/t${++txn}`, { token: u.accessToken, body });
    expect(res.status).toBe(200);
    return res.body.event_id as string;
  };
  const join = async (u: TestUser, roomId: string) => {
    const res = await s.request('POST', `${V3}/join/${encodeURIComponent(roomId)}`, { token: u.accessToken, body: {} });
    expect(res.status).toBe(200);
  };
  const invite = async (u: TestUser, roomId: string, target: string) => {
    const res = await s.request('POST', `${V3}/rooms/${encodeURIComponent(roomId)}/invite`, { token: u.accessToken, body: { user_id: target } });
    expect(res.status).toBe(200);
  };
  const timelineIds = (body: any, roomId: string): string[] => (body.rooms?.join?.[roomId]?.timeline?.events ?? []).map((e: any) => e.event_id);

  beforeAll(async () => {
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
  });
  afterAll(async () => s?.close());


  it('an initial sync shows joined rooms with state, timeline, summary and counts, valid per the spec', async () => {
    const roomId = await createRoom(alice, { name: 'Initial', preset: 'public_chat' });
    const e1 = await send(alice, roomId, { msgtype: 'm.text', body: 'hello' });
    const res = await sync(alice);
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/sync', 'get', 200, res.body)).toEqual([]);
    const room = res.body.rooms.join[roomId];
    expect(room.timeline.events.at(-1).event_id).toBe(e1);
    expect(room.timeline.events.at(-1).unsigned.transaction_id).toBe(`t${txn}`);
    const stateTypes = [...room.state.events, ...room.timeline.events].map((e: any) => e.type);
    for (const t of ['m.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.join_rules', 'm.room.name']) expect(stateTypes).toContain(t);
    // State and timeline do not overlap.
    const stateIds = new Set(room.state.events.map((e: any) => e.event_id));
    expect(room.timeline.events.some((e: any) => stateIds.has(e.event_id))).toBe(false);
    expect(room.summary['m.joined_member_count']).toBe(1);
    expect(room.unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    expect(res.body.next_batch).toMatch(/^s\d+_\d+_\d+_\d+_\d+_\d+_\d+_\d+_0_0$/);
    expect(res.body.account_data.events.map((e: any) => e.type)).toContain('m.push_rules');
    expect(res.body.device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
  });

  it('a limited timeline has prev_batch usable with /messages to read what came before', async () => {
    const roomId = await createRoom(alice);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await send(alice, roomId, { msgtype: 'm.text', body: `m${i}` }));
    const res = await sync(alice, { filter: JSON.stringify({ room: { timeline: { limit: 3 } } }) });
    const room = res.body.rooms.join[roomId];
    expect(room.timeline.limited).toBe(true);
    expect(timelineIds(res.body, roomId)).toEqual(ids.slice(3));
    // State comes with a limited timeline: the room's state at its start.
    expect(room.state.events.map((e: any) => e.type)).toContain('m.room.create');
    const back = await s.request('GET', `${V3}/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=3&from=${room.timeline.prev_batch}`, { token: alice.accessToken });
    expect(back.status).toBe(200);
    expect(back.body.chunk.map((e: any) => e.event_id)).toEqual(ids.slice(0, 3).reverse());
  });

  it('an incremental sync returns only what is new; a quiet one answers with the same token', async () => {
    const roomId = await createRoom(alice);
    const first = await sync(alice);
    const e = await send(alice, roomId, { msgtype: 'm.text', body: 'new' });
    const next = await sync(alice, { since: first.body.next_batch });
    expect(specErrors('client-server', '/sync', 'get', 200, next.body)).toEqual([]);
    expect(Object.keys(next.body.rooms.join)).toEqual([roomId]);
    expect(timelineIds(next.body, roomId)).toEqual([e]);
    expect(next.body.rooms.join[roomId].timeline.limited).toBe(false);
    expect(next.body.rooms.join[roomId].state.events).toEqual([]);
    expect(next.body.account_data).toBeUndefined();
    const quiet = await sync(alice, { since: next.body.next_batch });
    expect(quiet.body.rooms).toBeUndefined();
    expect(quiet.body.next_batch).toBe(next.body.next_batch);
  });

  it('a long-poll wakes within milliseconds of a message in one of the user\'s rooms, and not for others\' rooms', async () => {
    const roomId = await createRoom(alice);
    const other = await createRoom(bob);
    const base = (await sync(alice)).body.next_batch;
    const started = Date.now();
    const poll = sync(alice, { since: base, timeout: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    await send(bob, other, { msgtype: 'm.text', body: 'not for alice' });
    await new Promise((r) => setTimeout(r, 100));
    const sentAt = Date.now();
    const e = await send(alice, roomId, { msgtype: 'm.text', body: 'wake' });
    const res = await poll;
    expect(Date.now() - sentAt).toBeLessThan(1000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(timelineIds(res.body, roomId)).toEqual([e]);
    expect(res.body.rooms.join[other]).toBeUndefined();
  });

  it('a long-poll with nothing new ends after its timeout with the same token', async () => {
    const base = (await sync(bob)).body.next_batch;
    const started = Date.now();
    const res = await sync(bob, { since: base, timeout: 300 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(res.status).toBe(200);
    expect(res.body.next_batch).toBe(base);
    expect(res.body.rooms).toBeUndefined();
  });

  it('an invite wakes the invitee\'s poll and shows invite_state; joining moves the room to join with full state', async () => {
    const roomId = await createRoom(alice, { name: 'Invited' });
    const base = (await sync(bob)).body.next_batch;
    const poll = sync(bob, { since: base, timeout: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    await invite(alice, roomId, bob.userId);
    const res = await poll;
    expect(specErrors('client-server', '/sync', 'get', 200, res.body)).toEqual([]);
    const inv = res.body.rooms.invite[roomId];
    const types = inv.invite_state.events.map((e: any) => e.type);
    expect(types).toContain('m.room.name');
    const own = inv.invite_state.events.find((e: any) => e.type === 'm.room.member' && e.state_key === bob.userId);
    expect(own.content.membership).toBe('invite');
    expect(own.sender).toBe(alice.userId);
    await join(bob, roomId);
    const after = await sync(bob, { since: res.body.next_batch });
    const room = after.body.rooms.join[roomId];
    const all = [...room.state.events, ...room.timeline.events].map((e: any) => e.type);
    expect(all).toContain('m.room.create');
    expect(all).toContain('m.room.name');
    expect(room.summary['m.joined_member_count']).toBe(2);
    expect(after.body.rooms.invite).toBeUndefined();
  });

  it('leaving puts the room in leave with the timeline up to the leave; include_leave shows it on initial syncs', async () => {
    const roomId = await createRoom(alice);
    await invite(alice, roomId, bob.userId);
    await join(bob, roomId);
    const base = (await sync(bob)).body.next_batch;
    const res = await s.request('POST', `${V3}/rooms/${encodeURIComponent(roomId)}/leave`, { token: bob.accessToken, body: {} });
    expect(res.status).toBe(200);
    await send(alice, roomId, { msgtype: 'm.text', body: 'after bob left' });
    const next = await sync(bob, { since: base });
    const left = next.body.rooms.leave[roomId];
    const last = left.timeline.events.at(-1);
    expect(last.type).toBe('m.room.member');
    expect(last.content.membership).toBe('leave');
    expect(next.body.rooms.join?.[roomId]).toBeUndefined();
    expect((await sync(bob)).body.rooms?.leave?.[roomId]).toBeUndefined();
    const withLeave = await sync(bob, { filter: JSON.stringify({ room: { include_leave: true } }) });
    expect(withLeave.body.rooms.leave[roomId].timeline.events.at(-1).content.membership).toBe('leave');
  });

  it('to-device messages arrive once per device and are deleted once acknowledged', async () => {
    const base = (await sync(bob)).body.next_batch;
    const r = await s.request('PUT', `${V3}/sendToDevice/m.test/td1`, { token: alice.accessToken, body: { messages: { [bob.userId]: { [bob.deviceId]: { hello: 1 } } } } });
    expect(r.status).toBe(200);
    const got = await sync(bob, { since: base });
    expect(got.body.to_device.events).toEqual([{ type: 'm.test', sender: alice.userId, content: { hello: 1 } }]);
    // Retrying the same since (the answer was lost) gets them again; moving on does not.
    const retry = await sync(bob, { since: base });
    expect(retry.body.to_device.events).toHaveLength(1);
    const next = await sync(bob, { since: got.body.next_batch });
    expect(next.body.to_device).toBeUndefined();
  });

  it('filters: by ID and inline; types, not_types, event_fields, lazy_load_members', async () => {
    const roomId = await createRoom(alice);
    await invite(alice, roomId, bob.userId);
    await join(bob, roomId);
    await send(alice, roomId, { msgtype: 'm.text', body: 'a' });
    await send(alice, roomId, { foo: 1 }, 'org.example.custom');
    const up = await s.request('POST', `${V3}/user/${encodeURIComponent(alice.userId)}/filter`, {
      token: alice.accessToken,
      body: { event_fields: ['type', 'content.body'], room: { rooms: [roomId], timeline: { not_types: ['m.room.member'], limit: 2 } } },
    });
    expect(up.status).toBe(200);
    const res = await sync(alice, { filter: up.body.filter_id });
    expect(Object.keys(res.body.rooms.join)).toEqual([roomId]);
    const tl = res.body.rooms.join[roomId].timeline.events;
    expect(tl.map((e: any) => e.type)).toEqual(['m.room.message', 'org.example.custom']);
    const lazy = await sync(bob, { filter: JSON.stringify({ room: { rooms: [roomId], timeline: { limit: 1 }, state: { lazy_load_members: true } } }) });
    const members = lazy.body.rooms.join[roomId].state.events.filter((e: any) => e.type === 'm.room.member').map((e: any) => e.state_key).sort();
    // The timeline's sender (alice) and the user themself, nobody else.
    expect(members).toEqual([alice.userId, bob.userId].sort());
  });

  it('bad input gets Matrix errors, never a 500', async () => {
    for (const [q, status] of [
      [{ since: 'garbage' }, 400],
      [{ since: 's99999999999_0_0_0_0_0_0_0_0_0' }, 400],
      [{ filter: '{not json' }, 400],
      [{ filter: '12345' }, 400],
      [{ filter: JSON.stringify({ room: { timeline: { limit: 'x' } } }) }, 400],
      [{ timeout: -5 }, 400],
      [{ timeout: 'abc' }, 400],
      [{ set_presence: 'dancing' }, 400],
      [{ full_state: 'maybe' }, 400],
    ] as const) {
      const res = await sync(alice, q as Record<string, string | number>);
      expect(res.status, JSON.stringify(q)).toBe(status);
      expect(typeof res.body.errcode).toBe('string');
    }
    expect((await s.request('GET', `${V3}/sync`)).status).toBe(401);
  });

  it('identical syncs in flight share one answer; a client that disconnects releases its poll', async () => {
    const base = (await sync(alice)).body.next_batch;
    const waiters = () => (s.ctx.services.sync as any).d.waiters.size as number;
    const before = waiters();
    const a = sync(alice, { since: base, timeout: 3000 });
    const b = sync(alice, { since: base, timeout: 3000 });
    for (let i = 0; i < 100 && waiters() === before; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    expect(waiters()).toBe(before + 1);
    const roomId = await createRoom(alice);
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.body).toEqual(rb.body);
    expect(ra.body.rooms.join[roomId]).toBeDefined();
    // A dropped connection ends its held poll.
    const next = ra.body.next_batch;
    const ac = new AbortController();
    const dropped = fetch(`${s.url}${V3}/sync?since=${next}&timeout=10000`, { headers: { Authorization: `Bearer ${bob.accessToken}` }, signal: ac.signal }).catch(() => null);
    for (let i = 0; i < 100 && waiters() === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const held = waiters();
    expect(held).toBe(1);
    ac.abort();
    await dropped;
    await new Promise((r) => setTimeout(r, 100));
    expect(waiters()).toBe(held - 1);
  });

  it('a commit that lands while a poll is being set up still wakes it (no lost wake-ups)', async () => {
    // Each round: a stream bob does not see moves (carol's account data), so bob's poll builds an
    // empty answer before it waits; alice's message commits at staggered moments around that. A
    // commit between the poll reading its position and registering its wait used to be announced
    // to nobody, and the poll slept to its timeout.
    const carol = await s.registerUser('sync-race-carol');
    const roomId = await createRoom(alice, { preset: 'public_chat' });
    await join(bob, roomId);
    let since = (await sync(bob)).body.next_batch;
    const late: Array<[round: number, ms: number]> = [];
    for (let i = 0; i < 40; i++) {
      const put = await s.request('PUT', `${V3}/user/${encodeURIComponent(carol.userId)}/account_data/x.noise`, { token: carol.accessToken, body: { i } });
      expect(put.status).toBe(200);
      const t0 = Date.now();
      const poll = sync(bob, { since, timeout: 5000 });
      await new Promise((r) => setTimeout(r, i % 20));
      await send(alice, roomId, { msgtype: 'm.text', body: `race ${i}` });
      let res = await poll;
      since = res.body.next_batch;
      // The poll may have answered with carol's move alone (before the message): the next one gets it.
      if (!res.body.rooms?.join?.[roomId]) {
        res = await sync(bob, { since, timeout: 5000 });
        since = res.body.next_batch;
      }
      expect(res.body.rooms?.join?.[roomId]?.timeline.events.at(-1)?.content.body).toBe(`race ${i}`);
      if (Date.now() - t0 > 2000) late.push([i, Date.now() - t0]);
    }
    expect(late).toEqual([]);
  }, 120_000);
});
