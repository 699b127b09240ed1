import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';

// The parts of a /sync room the bench's optimisations touch: the summary (counts from the room's
// head, heroes picked in the database) and the state of incremental syncs (read only when the
// timeline is limited, the sync is full-state, or lazy loading wants the senders' members).
describe('GET /sync room summary and incremental state', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let dave: TestUser;
  let txn = 0;

  const sync = (u: TestUser, q: Record<string, string | number | boolean> = {}) => {
    const qs = new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)])).toString();
    return s.request('GET', `${V3}/sync${qs ? `?${qs}` : ''}`, { token: u.accessToken });
  };
  const ok = async (p: Promise<{ status: number; body: any }>) => {
    const res = await p;
    expect(res.status).toBe(200);
    return res.body;
  };
  const createRoom = async (u: TestUser, body: Record<string, unknown>) => (await ok(s.request('POST', `${V3}/createRoom`, { token: u.accessToken, body }))).room_id as string;
  const send = async (u: TestUser, roomId: string, body: Record<string, unknown>, type = 'm.room.message', stateKey?: string) => {
    const path = stateKey === undefined ? `send/${type}/s${++txn}` : `state/${type}/${encodeURIComponent(stateKey)}`;
    return (await ok(s.request('PUT', `${V3}/rooms/${encodeURIComponent(roomId)}/${path}`, { token: u.accessToken, body }))).event_id as string;
  };
  const join = (u: TestUser, roomId: string) => ok(s.request('POST', `${V3}/join/${encodeURIComponent(roomId)}`, { token: u.accessToken, body: {} }));
  const leave = (u: TestUser, roomId: string) => ok(s.request('POST', `${V3}/rooms/${encodeURIComponent(roomId)}/leave`, { token: u.accessToken, body: {} }));
  const invite = (u: TestUser, roomId: string, target: string) =>
    ok(s.request('POST', `${V3}/rooms/${encodeURIComponent(roomId)}/invite`, { token: u.accessToken, body: { user_id: target } }));

  beforeAll(async () => {
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    carol = await s.registerUser('carol');
    dave = await s.registerUser('dave');
  });
  afterAll(async () => s?.close());

  it('an unnamed room has heroes (joined and invited first, in order of joining) and current counts; a named one has none', async () => {
    const roomId = await createRoom(alice, { preset: 'public_chat' });
    await join(carol, roomId);
    await join(bob, roomId);
    await invite(alice, roomId, dave.userId);
    const body = await ok(sync(alice));
    expect(specErrors('client-server', '/sync', 'get', 200, body)).toEqual([]);
    const summary = body.rooms.join[roomId].summary;
    expect(summary).toEqual({ 'm.joined_member_count': 3, 'm.invited_member_count': 1, 'm.heroes': [carol.userId, bob.userId, dave.userId] });

    // Everyone else leaves: the heroes are those who left (in order of their current membership
    // event, as for joins), the counts follow.
    await leave(bob, roomId);
    await leave(carol, roomId);
    await s.request('POST', `${V3}/rooms/${encodeURIComponent(roomId)}/leave`, { token: dave.accessToken, body: {} });
    const after = await ok(sync(alice, { since: body.next_batch }));
    expect(after.rooms.join[roomId].summary).toEqual({ 'm.joined_member_count': 1, 'm.invited_member_count': 0, 'm.heroes': [bob.userId, carol.userId, dave.userId] });

    const named = await createRoom(alice, { preset: 'public_chat', name: 'Named' });
    await join(bob, named);
    const n = await ok(sync(alice, { since: after.next_batch }));
    expect(n.rooms.join[named].summary).toEqual({ 'm.joined_member_count': 2, 'm.invited_member_count': 0 });
  });

  it('an incremental sync carries changed state only when the timeline is limited; full_state and lazy loading still get theirs', async () => {
    const roomId = await createRoom(alice, { preset: 'public_chat', name: 'Inc' });
    await join(bob, roomId);
    const start = await ok(sync(bob));

    // Not limited: the timeline carries the change, the state is empty.
    const topic = await send(alice, roomId, { topic: 'one' }, 'm.room.topic', '');
    const m1 = await send(alice, roomId, { msgtype: 'm.text', body: 'after the topic' });
    const inc = await ok(sync(bob, { since: start.next_batch }));
    const room = inc.rooms.join[roomId];
    expect(room.timeline.limited).toBe(false);
    expect(room.timeline.events.map((e: any) => e.event_id)).toEqual([topic, m1]);
    expect(room.state.events).toEqual([]);

    // Limited: the topic change falls before the timeline and comes as state.
    const topic2 = await send(alice, roomId, { topic: 'two' }, 'm.room.topic', '');
    for (let i = 0; i < 3; i++) await send(alice, roomId, { msgtype: 'm.text', body: `m${i}` });
    const filter = JSON.stringify({ room: { timeline: { limit: 2 } } });
    const lim = await ok(sync(bob, { since: inc.next_batch, filter }));
    const lroom = lim.rooms.join[roomId];
    expect(lroom.timeline.limited).toBe(true);
    expect(lroom.state.events.map((e: any) => e.event_id)).toEqual([topic2]);

    // full_state: the whole state even though nothing is limited.
    const m2 = await send(alice, roomId, { msgtype: 'm.text', body: 'full' });
    const full = await ok(sync(bob, { since: lim.next_batch, full_state: true }));
    const types = full.rooms.join[roomId].state.events.map((e: any) => e.type);
    for (const t of ['m.room.create', 'm.room.power_levels', 'm.room.name', 'm.room.topic', 'm.room.member']) expect(types).toContain(t);
    expect(full.rooms.join[roomId].timeline.events.map((e: any) => e.event_id)).toEqual([m2]);

    // Lazy loading, not limited: the new sender's member event comes as state.
    await join(carol, roomId);
    await send(alice, roomId, { msgtype: 'm.text', body: 'carol is here' });
    const lazy = JSON.stringify({ room: { state: { lazy_load_members: true } } });
    const lz0 = await ok(sync(bob, { filter: JSON.stringify({ room: { state: { lazy_load_members: true }, timeline: { limit: 1 } } }) }));
    expect(lz0.rooms.join[roomId].state.events.some((e: any) => e.state_key === carol.userId)).toBe(false);
    const m3 = await send(carol, roomId, { msgtype: 'm.text', body: 'from carol' });
    const lz = await ok(sync(bob, { since: lz0.next_batch, filter: lazy }));
    const lzroom = lz.rooms.join[roomId];
    expect(lzroom.timeline.limited).toBe(false);
    expect(lzroom.timeline.events.map((e: any) => e.event_id)).toEqual([m3]);
    expect(lzroom.state.events.map((e: any) => `${e.type}|${e.state_key}`)).toEqual([`m.room.member|${carol.userId}`]);
  });
});
