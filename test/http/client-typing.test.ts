import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
/** Synapse's cap on typing timeouts. */
const MAX_TYPING_TIMEOUT_MS = 120_000;
const enc = encodeURIComponent;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Typing notifications', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let roomId: string;
  const typing = (u: TestUser, room: string, body: unknown, target = u.userId) =>
    s.request('PUT', `${V3}/rooms/${enc(room)}/typing/${enc(target)}`, { token: u.accessToken, body });
  const svc = () => s.ctx.services.typing;
  const createRoom = async (u: TestUser) => (await s.request('POST', `${V3}/createRoom`, { token: u.accessToken, body: { preset: 'public_chat' } })).body.room_id as string;
  const join = async (u: TestUser, room: string) => expect((await s.request('POST', `${V3}/join/${enc(room)}`, { token: u.accessToken, body: {} })).status).toBe(200);

  beforeAll(async () => {
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    carol = await s.registerUser('carol');
    roomId = await createRoom(alice);
    await join(bob, roomId);
  });
  afterAll(async () => s?.close());

  it('starting to type moves the position once, is announced for the room, and shows in typingForSync', async () => {
    const seen: string[][] = [];
    const off = s.ctx.storage.notifier.subscribe(['typing'], (n) => seen.push([...(n.keys as string[])]));
    const before = svc().position;
    const res = await typing(alice, roomId, { typing: true, timeout: 30_000 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(specErrors('client-server', '/rooms/{roomId}/typing/{userId}', 'put', 200, res.body)).toEqual([]);
    expect(svc().position).toBe(before + 1);
    expect(seen).toEqual([[roomId]]);
    // Typing again only extends the timeout: nothing new for clients.
    expect((await typing(alice, roomId, { typing: true, timeout: 30_000 })).status).toBe(200);
    expect(svc().position).toBe(before + 1);
    expect(seen.length).toBe(1);
    expect(svc().typingForSync([roomId, '!other:localhost'], before)).toEqual(new Map([[roomId, { type: 'm.typing', content: { user_ids: [alice.userId] } }]]));
    expect(svc().typingForSync([roomId], 0).get(roomId)!.content.user_ids).toEqual([alice.userId]);
    // Nothing changed after the current position.
    expect(svc().typingForSync([roomId], svc().position).size).toBe(0);
    await typing(bob, roomId, { typing: true });
    expect(svc().typingForSync([roomId], before + 1).get(roomId)!.content.user_ids).toEqual([alice.userId, bob.userId]);
    off();
  });

  it('stopping yields an empty list for incremental syncs and nothing for initial ones', async () => {
    await typing(alice, roomId, { typing: false });
    await typing(bob, roomId, { typing: false });
    const pos = svc().position;
    expect(svc().typingForSync([roomId], pos - 1)).toEqual(new Map([[roomId, { type: 'm.typing', content: { user_ids: [] } }]]));
    expect(svc().typingForSync([roomId], 0).size).toBe(0);
    // Stopping when not typing changes nothing.
    expect((await typing(alice, roomId, { typing: false })).status).toBe(200);
    expect(svc().position).toBe(pos);
  });

  it('a since position from another run (above the current one) gets every room with typers', async () => {
    await typing(alice, roomId, { typing: true });
    const all = svc().typingForSync([roomId], svc().position + 1000);
    expect(all.get(roomId)!.content.user_ids).toEqual([alice.userId]);
    await typing(alice, roomId, { typing: false });
  });

  it("refuses another user's typing state, non-members, other servers' users and bad bodies", async () => {
    const pos = svc().position;
    let res = await typing(bob, roomId, { typing: true }, alice.userId);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: "Cannot set another user's typing state" });
    res = await typing(carol, roomId, { typing: true });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    res = await typing(carol, '!nosuchroom:localhost', { typing: true });
    expect(res.status).toBe(403);
    res = await typing(alice, roomId, { typing: true }, '@alice:elsewhere.org');
    expect(res.status).toBe(400);
    res = await typing(alice, roomId, { typing: true }, 'notauser');
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    for (const body of [{}, { typing: 'yes' }, { typing: true, timeout: 'soon' }, { typing: null }]) {
      res = await typing(alice, roomId, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
    }
    res = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { token: alice.accessToken, rawBody: 'not json', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    res = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { body: { typing: true } });
    expect(res.status).toBe(401);
    expect(svc().position).toBe(pos);
    expect(svc().typingIn(roomId)).toEqual([]);
  });

  it('typing expires after its timeout on one timer, and long timeouts are capped at 120 s', async () => {
    await typing(alice, roomId, { typing: true, timeout: 100 });
    await typing(bob, roomId, { typing: true, timeout: 10 ** 9 });
    const pos = svc().position;
    expect(svc().typingIn(roomId).sort()).toEqual([alice.userId, bob.userId].sort());
    const until = (svc() as unknown as { rooms: Map<string, { until: Map<string, number> }> }).rooms.get(roomId)!.until.get(bob.userId)!;
    expect(until - Date.now()).toBeLessThanOrEqual(MAX_TYPING_TIMEOUT_MS);
    expect(until - Date.now()).toBeGreaterThan(MAX_TYPING_TIMEOUT_MS - 5_000);
    const deadline = Date.now() + 5_000;
    while (svc().typingIn(roomId).includes(alice.userId) && Date.now() < deadline) await sleep(50);
    expect(svc().typingIn(roomId)).toEqual([bob.userId]);
    expect(svc().position).toBe(pos + 1);
    expect(svc().typingForSync([roomId], pos).get(roomId)!.content.user_ids).toEqual([bob.userId]);
    await typing(bob, roomId, { typing: false });
  });

  it('a user who leaves the room stops typing', async () => {
    await join(carol, roomId);
    await typing(carol, roomId, { typing: true });
    expect(svc().typingIn(roomId)).toContain(carol.userId);
    const pos = svc().position;
    expect((await s.request('POST', `${V3}/rooms/${enc(roomId)}/leave`, { token: carol.accessToken, body: {} })).status).toBe(200);
    const deadline = Date.now() + 2_000;
    while (svc().typingIn(roomId).includes(carol.userId) && Date.now() < deadline) await sleep(10);
    expect(svc().typingIn(roomId)).not.toContain(carol.userId);
    expect(svc().typingForSync([roomId], pos).get(roomId)!.content.user_ids).toEqual([]);
    // And may not type there any more.
    expect((await typing(carol, roomId, { typing: true })).status).toBe(403);
  });

  it('typing counts as activity for presence', async () => {
    const dave = await s.registerUser('dave');
    await join(dave, roomId);
    await s.request('PUT', `${V3}/presence/${enc(dave.userId)}/status`, { token: dave.accessToken, body: { presence: 'unavailable' } });
    await typing(dave, roomId, { typing: true });
    const deadline = Date.now() + 2_000;
    let state = '';
    while (Date.now() < deadline) {
      state = (await s.request('GET', `${V3}/presence/${enc(dave.userId)}/status`, { token: dave.accessToken })).body.presence;
      if (state === 'online') break;
      await sleep(20);
    }
    expect(state).toBe('online');
    await typing(dave, roomId, { typing: false });
  });

  it('through /sync: m.typing in the room\'s ephemeral events, and a held long-poll is woken by typing', async () => {
    const sync = (u: TestUser, q = '') => s.request('GET', `${V3}/sync${q}`, { token: u.accessToken });
    const first = await sync(bob);
    expect(first.status).toBe(200);
    const since = first.body.next_batch as string;
    const started = Date.now();
    const held = sync(bob, `?since=${enc(since)}&timeout=10000`);
    await sleep(200);
    await typing(alice, roomId, { typing: true });
    const woke = await held;
    expect(woke.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5_000);
    const eph = woke.body.rooms?.join?.[roomId]?.ephemeral?.events ?? [];
    expect(eph).toContainEqual({ type: 'm.typing', content: { user_ids: [alice.userId] } });
    await typing(alice, roomId, { typing: false });
    const after = await sync(bob, `?since=${enc(woke.body.next_batch)}&timeout=0`);
    expect(after.body.rooms?.join?.[roomId]?.ephemeral?.events).toContainEqual({ type: 'm.typing', content: { user_ids: [] } });
  });
});
