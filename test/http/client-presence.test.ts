import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
/** Synapse's presence timers. */
const IDLE_TIMER_MS = 5 * 60_000;
const SYNC_ONLINE_TIMEOUT_MS = 30_000;
const LAST_ACTIVE_GRANULARITY_MS = 60_000;

type Presence = TestServer['ctx']['services']['presence'];
/** A second presence service on the server's database with its own clock (the class, reached through the running one). */
const openPresence = (s: TestServer, now: () => number): Promise<Presence> =>
  (s.ctx.services.presence.constructor as unknown as { open(...a: unknown[]): Promise<Presence> }).open(s.ctx.storage.db, { enabled: true, tracked: true }, pino({ level: 'silent' }), now);
const enc = encodeURIComponent;
const path = (userId: string) => `${V3}/presence/${enc(userId)}/status`;

async function createRoom(s: TestServer, u: TestUser): Promise<string> {
  return (await s.request('POST', `${V3}/createRoom`, { token: u.accessToken, body: { preset: 'public_chat' } })).body.room_id as string;
}
async function join(s: TestServer, u: TestUser, roomId: string): Promise<void> {
  expect((await s.request('POST', `${V3}/join/${enc(roomId)}`, { token: u.accessToken, body: {} })).status).toBe(200);
}

describe('Presence', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let roomId: string;
  const put = (u: TestUser, body: unknown, target = u.userId) => s.request('PUT', path(target), { token: u.accessToken, body });
  const get = (u: TestUser, target = u.userId) => s.request('GET', path(target), { token: u.accessToken });
  const svc = () => s.ctx.services.presence;

  beforeAll(async () => {
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    carol = await s.registerUser('carol');
    roomId = await createRoom(s, alice);
    await join(s, bob, roomId);
  });
  afterAll(async () => s?.close());

  it('a user never seen is offline, with nothing else', async () => {
    // carol has done nothing yet (alice created a room, which is activity).
    const res = await get(carol);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ presence: 'offline' });
    expect(specErrors('client-server', '/presence/{userId}/status', 'get', 200, res.body)).toEqual([]);
    expect(svc().enabled).toBe(true);
  });

  it('PUT sets state and status message at a new stream position, announced for the user', async () => {
    const seen: string[][] = [];
    const off = s.ctx.storage.notifier.subscribe(['presence'], (n) => seen.push([...(n.keys as string[])]));
    const before = svc().position;
    const res = await put(alice, { presence: 'online', status_msg: 'Busy coding' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(specErrors('client-server', '/presence/{userId}/status', 'put', 200, res.body)).toEqual([]);
    expect(svc().position).toBe(before + 1);
    expect(seen).toEqual([[alice.userId]]);
    const got = await get(alice);
    expect(got.body).toMatchObject({ presence: 'online', status_msg: 'Busy coding', currently_active: true });
    expect(got.body.last_active_ago).toBeGreaterThanOrEqual(0);
    expect(got.body.last_active_ago).toBeLessThan(5_000);
    expect(specErrors('client-server', '/presence/{userId}/status', 'get', 200, got.body)).toEqual([]);
    const [row] = await querySql<Record<string, unknown>>(s, `SELECT * FROM presence_stream WHERE user_id = '${alice.userId}'`);
    expect(row).toMatchObject({ state: 'online', status_msg: 'Busy coding' });
    expect(Number(row!.stream_id)).toBe(before + 1);
    expect(Number(row!.currently_active)).toBe(1);
    // Without status_msg the message is cleared (Synapse); unavailable has no currently_active.
    await put(alice, { presence: 'unavailable' });
    expect((await get(alice)).body).toEqual({ presence: 'unavailable', last_active_ago: expect.any(Number) });
    expect(svc().position).toBe(before + 2);
    off();
  });

  it("refuses others' presence and malformed bodies with Synapse's answers", async () => {
    const before = svc().position;
    let res = await put(bob, { presence: 'online' }, alice.userId);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Can only set your own presence state' });
    const cases: Array<[unknown, string]> = [
      [{}, 'Unable to parse state'],
      [{ status_msg: 'x' }, 'Unable to parse state'],
      [{ presence: 'online', extra: 1 }, 'Unable to parse state'],
      [{ presence: 'online', status_msg: 5 }, 'status_msg must be a string.'],
      [{ presence: 'busy' }, 'Invalid presence state'],
      [{ presence: 7 }, 'Invalid presence state'],
    ];
    for (const [body, error] of cases) {
      res = await put(alice, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error });
    }
    res = await s.request('PUT', path(alice.userId), { token: alice.accessToken, rawBody: '[1]', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    res = await get(alice, 'not-a-user');
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    res = await s.request('GET', path(alice.userId));
    expect(res.status).toBe(401);
    expect(svc().position).toBe(before);
  });

  it('others see a user’s presence only while they share a room', async () => {
    let res = await get(carol, alice.userId);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You are not allowed to see their presence.' });
    res = await get(bob, alice.userId);
    expect(res.status).toBe(200);
    expect(res.body.presence).toBe('unavailable');
    await join(s, carol, roomId);
    expect((await get(carol, alice.userId)).status).toBe(200);
    await s.request('POST', `${V3}/rooms/${enc(roomId)}/leave`, { token: carol.accessToken, body: {} });
    expect((await get(carol, alice.userId)).status).toBe(403);
  });

  it('presenceForSync: initial = current presence of self and room-mates (not offline, not never-seen); incremental = changes in range', async () => {
    await put(bob, { presence: 'online' });
    await put(carol, { presence: 'online', status_msg: 'not in your rooms' });
    const pos = svc().position;
    const initial = await svc().presenceForSync(alice.userId, 0, pos);
    expect(initial.map((e) => e.sender).sort()).toEqual([alice.userId, bob.userId].sort());
    const bobEvent = initial.find((e) => e.sender === bob.userId)!;
    expect(bobEvent).toMatchObject({ type: 'm.presence', content: { presence: 'online', currently_active: true } });
    expect(bobEvent.content.last_active_ago).toEqual(expect.any(Number));
    // Incremental: only what changed after `from`, offline included.
    await put(bob, { presence: 'offline' });
    const pos2 = svc().position;
    const delta = await svc().presenceForSync(alice.userId, pos, pos2);
    expect(delta.map((e) => [e.sender, e.content.presence])).toEqual([[bob.userId, 'offline']]);
    expect(await svc().presenceForSync(alice.userId, pos2, pos2)).toEqual([]);
    // Initial syncs leave offline users out.
    expect((await svc().presenceForSync(alice.userId, 0, pos2)).map((e) => e.sender)).toEqual([alice.userId]);
    // `to` bounds what is returned.
    expect(await svc().presenceForSync(alice.userId, pos, pos)).toEqual([]);
  });

  it('syncStarted marks the user online (set_presence online/unavailable) and offline leaves them as they are', async () => {
    const erin = await s.registerUser('erin');
    await svc().syncStarted(erin.userId, 'offline');
    svc().syncEnded(erin.userId);
    expect((await get(erin)).body).toEqual({ presence: 'offline' });
    const before = svc().position;
    await svc().syncStarted(erin.userId, 'online');
    expect((await get(erin)).body).toMatchObject({ presence: 'online', currently_active: true });
    expect(svc().position).toBe(before + 1);
    // A second sync while online takes no new position.
    await svc().syncStarted(erin.userId, 'online');
    expect(svc().position).toBe(before + 1);
    await svc().syncStarted(erin.userId, 'unavailable');
    expect((await get(erin)).body.presence).toBe('unavailable');
    svc().syncEnded(erin.userId);
    svc().syncEnded(erin.userId);
    svc().syncEnded(erin.userId);
  });

  it('through /sync: syncing marks the user online, and room-mates see it in presence.events', async () => {
    const hal = await s.registerUser('hal');
    await join(s, hal, roomId);
    const seen = await s.request('GET', `${V3}/sync`, { token: alice.accessToken });
    const res = await s.request('GET', `${V3}/sync?timeout=0`, { token: hal.accessToken });
    expect(res.status).toBe(200);
    expect((await get(hal)).body.presence).toBe('online');
    const next = await s.request('GET', `${V3}/sync?since=${enc(seen.body.next_batch)}&timeout=0`, { token: alice.accessToken });
    const events = (next.body.presence?.events ?? []) as Array<{ sender: string; content: { presence: string } }>;
    expect(events.find((e) => e.sender === hal.userId)?.content.presence).toBe('online');
    // set_presence=offline does not mark a never-seen user online.
    const ivy = await s.registerUser('ivy');
    await s.request('GET', `${V3}/sync?timeout=0&set_presence=offline`, { token: ivy.accessToken });
    expect((await get(ivy)).body).toEqual({ presence: 'offline' });
  });

  it('timeouts: idle online → unavailable after 5 min, no sync for 30 s → offline, currently_active drops after a minute; activity batched', async () => {
    // A second service on the same database with its own clock (it also times out the users above).
    let now = Date.now();
    const p = await openPresence(s, () => now);
    const frank = await s.registerUser('frank');
    const state = async () => (await p.presenceForSync(frank.userId, 0, p.position)).find((e) => e.sender === frank.userId)?.content;
    const row = async () => (await querySql<Record<string, unknown>>(s, `SELECT * FROM presence_stream WHERE user_id = '${frank.userId}'`))[0]!;
    await p.syncStarted(frank.userId, 'online');
    expect(await state()).toMatchObject({ presence: 'online', currently_active: true });
    // Still syncing: no offline; active over a minute ago: no longer currently active (clients are told).
    now += LAST_ACTIVE_GRANULARITY_MS + 1_000;
    let streamId = Number((await row()).stream_id);
    await p.sweep();
    expect(Number((await row()).stream_id)).toBeGreaterThan(streamId);
    expect(await state()).toMatchObject({ presence: 'online', currently_active: false });
    expect(Number((await row()).currently_active)).toBe(0);
    // Idle past 5 minutes while syncing: unavailable.
    now += IDLE_TIMER_MS;
    await p.sweep();
    expect((await state())!.presence).toBe('unavailable');
    // Activity (typing, sending) brings them back online.
    p.bumpActive(frank.userId);
    await p.syncStarted(frank.userId, 'online');
    expect(await state()).toMatchObject({ presence: 'online', currently_active: true });
    // Activity times alone are written by the sweep, batched, without a new position.
    streamId = Number((await row()).stream_id);
    p.syncEnded(frank.userId);
    p.syncEnded(frank.userId);
    const endedAt = now;
    now += 1_000;
    await p.sweep();
    expect(Number((await row()).stream_id)).toBe(streamId);
    expect(Number((await row()).last_user_sync_ts)).toBe(endedAt);
    // Not syncing for 30 s: offline.
    now += SYNC_ONLINE_TIMEOUT_MS + 1;
    await p.sweep();
    expect((await row()).state).toBe('offline');
    expect((await p.presenceForSync(frank.userId, streamId, p.position)).map((e) => e.content.presence)).toEqual(['offline']);
    await p.close();
  });

  it('users left online by a previous run time out in this one', async () => {
    let now = Date.now();
    const gina = await s.registerUser('gina');
    await put(gina, { presence: 'online' });
    const p = await openPresence(s, () => now);
    expect(p.position).toBeGreaterThanOrEqual(svc().position);
    now += SYNC_ONLINE_TIMEOUT_MS + 1_000;
    await p.sweep();
    const [row] = await querySql<{ state: string }>(s, `SELECT state FROM presence_stream WHERE user_id = '${gina.userId}'`);
    expect(row!.state).toBe('offline');
    await p.close();
  });
});

describe.each([
  ['presence.enabled: false', { presence: { enabled: false } }],
  ['use_presence: false', { use_presence: false }],
])('Presence disabled (%s)', (_name, overrides) => {
  let s: TestServer;
  let alice: TestUser;
  beforeAll(async () => {
    s = await startServer(overrides);
    alice = await s.registerUser('alice');
  });
  afterAll(async () => s?.close());

  it('PUT is accepted and ignored, GET answers offline, sync shows nothing', async () => {
    const res = await s.request('PUT', path(alice.userId), { token: alice.accessToken, body: { presence: 'online', status_msg: 'hi' } });
    expect(res.status).toBe(200);
    // Even an invalid state is accepted (Synapse checks it only when presence is on).
    expect((await s.request('PUT', path(alice.userId), { token: alice.accessToken, body: { presence: 'busy' } })).status).toBe(200);
    // The shape is still checked.
    expect((await s.request('PUT', path(alice.userId), { token: alice.accessToken, body: {} })).status).toBe(400);
    expect((await s.request('GET', path(alice.userId), { token: alice.accessToken })).body).toEqual({ presence: 'offline' });
    expect((await s.request('GET', path('@nobody:localhost'), { token: alice.accessToken })).body).toEqual({ presence: 'offline' });
    await s.ctx.services.presence.syncStarted(alice.userId, 'online');
    expect(await querySql(s, 'SELECT * FROM presence_stream')).toEqual([]);
    expect(await s.ctx.services.presence.presenceForSync(alice.userId, 0, 100)).toEqual([]);
    expect(s.ctx.services.presence.enabled).toBe(false);
  });
});

describe("Presence 'untracked'", () => {
  let s: TestServer;
  let alice: TestUser;
  beforeAll(async () => {
    s = await startServer({ presence: { enabled: 'untracked' } });
    alice = await s.registerUser('alice');
  });
  afterAll(async () => s?.close());

  it('the API works but syncs change nobody', async () => {
    await s.ctx.services.presence.syncStarted(alice.userId, 'online');
    expect((await s.request('GET', path(alice.userId), { token: alice.accessToken })).body).toEqual({ presence: 'offline' });
    await s.request('PUT', path(alice.userId), { token: alice.accessToken, body: { presence: 'online' } });
    expect((await s.request('GET', path(alice.userId), { token: alice.accessToken })).body.presence).toBe('online');
    expect(s.ctx.services.presence.enabled).toBe(true);
  });
});
