import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('Receipts, read markers and notification counts', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let roomId: string;
  let otherRoom: string;
  let txn = 0;

  const send = async (u: TestUser, content: Record<string, unknown>, room = roomId) => {
    const res = await s.request('PUT', `${V3}/rooms/${enc(room)}/send/m.room.message/r${++txn}`, { token: u.accessToken, body: content });
    expect(res.status, res.text).toBe(200);
    return res.body.event_id as string;
  };
  const text = (u: TestUser, body: string) => send(u, { msgtype: 'm.text', body });
  const inThread = (u: TestUser, root: string, body: string) => send(u, { msgtype: 'm.text', body, 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
  const receipt = (u: TestUser, type: string, eventId: string, body: unknown = {}, room = roomId) =>
    s.request('POST', `${V3}/rooms/${enc(room)}/receipt/${enc(type)}/${enc(eventId)}`, { token: u.accessToken, body });
  const ok = async (p: Promise<{ status: number; text: string; body: unknown }>) => {
    const res = await p;
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({});
    return res;
  };
  const receiptsFor = (u: TestUser, from = 0) => s.ctx.services.receipts.receiptsForSync(u.userId, [roomId], from, s.ctx.services.receipts.position);
  const counts = async (u: TestUser, threaded = false) => (await s.ctx.services.notifications.unreadCountsForSync(u.userId, [roomId], threaded)).get(roomId)!;
  const expectError = (res: { status: number; body: any; text: string }, status: number, errcode: string) => {
    expect(res.status, res.text).toBe(status);
    expect(res.body.errcode).toBe(errcode);
  };

  beforeAll(async () => {
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    carol = await s.registerUser('carol');
    await s.request('PUT', `${V3}/profile/${enc(bob.userId)}/displayname`, { token: bob.accessToken, body: { displayname: 'Bobby' } });
    roomId = (await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat' } })).body.room_id;
    otherRoom = (await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat' } })).body.room_id;
    expect((await s.request('POST', `${V3}/join/${enc(roomId)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
  });
  afterAll(async () => s?.close());

  it('m.read receipts: stored, shown to everyone, never moved backwards, and they clear notification counts', async () => {
    const m1 = await text(alice, 'one');
    const m2 = await text(alice, 'two');
    const m3 = await text(alice, 'three');
    expect(await counts(bob)).toEqual({ notification_count: 3, highlight_count: 0, threads: {} });

    const before = s.ctx.services.receipts.position;
    const res = await ok(receipt(bob, 'm.read', m2));
    expect(specErrors('client-server', '/rooms/{roomId}/receipt/{receiptType}/{eventId}', 'post', 200, res.body)).toEqual([]);
    expect(s.ctx.services.receipts.position).toBe(before + 1);
    const seen = (await receiptsFor(alice)).get(roomId)!;
    expect(seen.type).toBe('m.receipt');
    const data = (seen.content as any)[m2]['m.read'][bob.userId];
    expect(typeof data.ts).toBe('number');
    expect(data.thread_id).toBeUndefined();
    expect(await counts(bob)).toEqual({ notification_count: 1, highlight_count: 0, threads: {} });

    // An older event: accepted, ignored (no new stream position, receipt unchanged).
    await ok(receipt(bob, 'm.read', m1));
    expect(s.ctx.services.receipts.position).toBe(before + 1);
    expect(Object.keys((await receiptsFor(alice)).get(roomId)!.content)).toEqual([m2]);
    // The same event again: ignored too.
    await ok(receipt(bob, 'm.read', m2));
    expect(s.ctx.services.receipts.position).toBe(before + 1);

    // /notifications marks what the receipt covers as read.
    const page = await s.request('GET', `${V3}/notifications`, { token: bob.accessToken });
    expect(page.status).toBe(200);
    const read = Object.fromEntries((page.body.notifications as Array<{ event: { event_id: string }; read: boolean }>).map((n) => [n.event.event_id, n.read]));
    expect(read).toMatchObject({ [m1]: true, [m2]: true, [m3]: false });

    // Synapse's tables: one current row per (room, type, user, thread).
    const rows = await querySql<{ event_id: string; thread_id: string | null }>(s, `SELECT event_id, thread_id FROM receipts_linearized WHERE user_id = '${bob.userId}'`);
    expect(rows).toEqual([{ event_id: m2, thread_id: null }]);
    const graph = await querySql<{ event_ids: string }>(s, `SELECT event_ids FROM receipts_graph WHERE user_id = '${bob.userId}'`);
    expect(JSON.parse(graph[0]!.event_ids)).toEqual([m2]);

    // Moving forward replaces it; an incremental read shows only what changed since.
    const mid = s.ctx.services.receipts.position;
    await ok(receipt(bob, 'm.read', m3));
    const inc = (await receiptsFor(alice, mid)).get(roomId)!;
    expect(Object.keys(inc.content)).toEqual([m3]);
    expect(await receiptsFor(alice, s.ctx.services.receipts.position)).toEqual(new Map());
    expect(await counts(bob)).toEqual({ notification_count: 0, highlight_count: 0, threads: {} });
  });

  it('m.read.private: only its owner sees it, and it clears counts as m.read does', async () => {
    const m = await text(alice, 'private please');
    const mention = await text(alice, 'hey Bobby');
    expect(await counts(bob)).toEqual({ notification_count: 2, highlight_count: 1, threads: {} });
    const before = s.ctx.services.receipts.position;
    await ok(receipt(bob, 'm.read.private', m));
    const forAlice = await receiptsFor(alice, before);
    expect(forAlice.get(roomId)).toBeUndefined();
    const forBob = (await receiptsFor(bob, before)).get(roomId)!;
    expect(Object.keys((forBob.content as any)[m])).toEqual(['m.read.private']);
    expect((forBob.content as any)[m]['m.read.private'][bob.userId].ts).toEqual(expect.any(Number));
    // Initial reads (from 0) hide it from others too.
    expect(JSON.stringify((await receiptsFor(alice)).get(roomId))).not.toContain('m.read.private');
    // The mention after it is still unread, and still a highlight.
    expect(await counts(bob)).toEqual({ notification_count: 1, highlight_count: 1, threads: {} });
    await ok(receipt(bob, 'm.read.private', mention));
    expect(await counts(bob)).toEqual({ notification_count: 0, highlight_count: 0, threads: {} });
  });

  it('threaded receipts: thread_id "main" or a thread root, counted per thread', async () => {
    const root = await text(alice, 'thread root');
    const t1 = await inThread(alice, root, 'reply one');
    const t2 = await inThread(alice, root, 'reply two');
    const after = await text(alice, 'main again');
    // Unthreaded view: everything in the room totals.
    expect(await counts(bob)).toEqual({ notification_count: 4, highlight_count: 0, threads: {} });
    // Threaded view: the root and `after` on the main timeline, the replies under the root.
    expect(await counts(bob, true)).toEqual({ notification_count: 2, highlight_count: 0, threads: { [root]: { notification_count: 2, highlight_count: 0 } } });

    // A receipt in the thread covers that thread only.
    await ok(receipt(bob, 'm.read', t1, { thread_id: root }));
    expect(await counts(bob, true)).toEqual({ notification_count: 2, highlight_count: 0, threads: { [root]: { notification_count: 1, highlight_count: 0 } } });
    // "main" covers the main timeline only (the root is on it; replies are not).
    await ok(receipt(bob, 'm.read', root, { thread_id: 'main' }));
    expect(await counts(bob, true)).toEqual({ notification_count: 1, highlight_count: 0, threads: { [root]: { notification_count: 1, highlight_count: 0 } } });
    expect(await counts(bob)).toEqual({ notification_count: 2, highlight_count: 0, threads: {} });
    const shown = (await receiptsFor(alice)).get(roomId)!.content as any;
    expect(shown[t1]['m.read'][bob.userId].thread_id).toBe(root);
    expect(shown[root]['m.read'][bob.userId].thread_id).toBe('main');
    // A receipt on the root for its own thread is allowed (Synapse's rule); and the reply's thread.
    await ok(receipt(bob, 'm.read', t2, { thread_id: root }));
    expect((await counts(bob, true)).threads).toEqual({});
    // An unthreaded receipt covers everything up to it, threads included.
    await ok(receipt(bob, 'm.read', after));
    expect(await counts(bob, true)).toEqual({ notification_count: 0, highlight_count: 0, threads: {} });
    const rows = await querySql<{ thread_id: string | null }>(s, `SELECT thread_id FROM receipts_linearized WHERE user_id = '${bob.userId}' AND receipt_type = 'm.read' ORDER BY thread_id`);
    expect(rows.map((r) => r.thread_id).sort()).toEqual([null, 'main', root].sort());

    // Thread IDs that do not fit the event.
    const badMain = await receipt(bob, 'm.read', t1, { thread_id: 'main' });
    expectError(badMain, 400, 'M_INVALID_PARAM');
    expect(badMain.body.error).toBe(`event_id ${t1} is not related to thread main`);
    expectError(await receipt(bob, 'm.read', after, { thread_id: root }), 400, 'M_INVALID_PARAM');
    expectError(await receipt(bob, 'm.read', after, { thread_id: after }), 400, 'M_INVALID_PARAM');
    const empty = await receipt(bob, 'm.read', after, { thread_id: '' });
    expectError(empty, 400, 'M_INVALID_PARAM');
    expect(empty.body.error).toBe('thread_id field must be a non-empty string');
    expectError(await receipt(bob, 'm.read', after, { thread_id: 5 }), 400, 'M_INVALID_PARAM');
    expectError(await receipt(bob, 'm.read', after, { thread_id: null }), 400, 'M_INVALID_PARAM');
    expectError(await receipt(bob, 'm.fully_read', after, { thread_id: 'main' }), 400, 'M_INVALID_PARAM');
  });

  it('read markers: m.fully_read in room account data (forward only), with m.read and m.read.private receipts', async () => {
    const a = await text(alice, 'marker a');
    const b = await text(alice, 'marker b');
    const res = await ok(s.request('POST', `${V3}/rooms/${enc(roomId)}/read_markers`, { token: bob.accessToken, body: { 'm.fully_read': a, 'm.read': b } }));
    expect(specErrors('client-server', '/rooms/{roomId}/read_markers', 'post', 200, res.body)).toEqual([]);
    const marker = () => s.request('GET', `${V3}/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`, { token: bob.accessToken });
    expect((await marker()).body).toEqual({ event_id: a });
    expect(((await receiptsFor(alice)).get(roomId)!.content as any)[b]['m.read'][bob.userId]).toBeDefined();
    expect((await counts(bob)).notification_count).toBe(0);
    // Forward via the receipt endpoint, never back.
    await ok(receipt(bob, 'm.fully_read', b));
    expect((await marker()).body).toEqual({ event_id: b });
    await ok(s.request('POST', `${V3}/rooms/${enc(roomId)}/read_markers`, { token: bob.accessToken, body: { 'm.fully_read': a } }));
    expect((await marker()).body).toEqual({ event_id: b });
    // m.fully_read never appears as a receipt.
    expect(JSON.stringify((await receiptsFor(bob)).get(roomId))).not.toContain('m.fully_read');
    // Private receipt through read_markers; unknown keys ignored (Synapse only logs them).
    const c = await text(alice, 'marker c');
    await ok(s.request('POST', `${V3}/rooms/${enc(roomId)}/read_markers`, { token: bob.accessToken, body: { 'm.read.private': c, 'org.example.unknown': c } }));
    expect(((await receiptsFor(bob)).get(roomId)!.content as any)[c]['m.read.private']).toBeDefined();
    // The account-data endpoint still refuses m.fully_read.
    const put = await s.request('PUT', `${V3}/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`, { token: bob.accessToken, body: { event_id: c } });
    expect(put.status).toBe(405);
  });

  it('a receipt is announced as "receipts" keyed by room ID after it commits', async () => {
    const m = await text(alice, 'announce me');
    const seen: unknown[] = [];
    const off = s.ctx.storage.notifier.subscribe(['receipts'], (n) => seen.push(n.keys));
    try {
      await ok(receipt(bob, 'm.read', m));
      await new Promise((r) => setTimeout(r, 20));
      expect(seen).toEqual([[roomId]]);
    } finally {
      off();
    }
  });

  it('through /sync: receipts as m.receipt ephemeral events (private ones only to their owner), counts, thread counts, the read marker, and a long-poll woken by a receipt', async () => {
    const room = (await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat' } })).body.room_id as string;
    expect((await s.request('POST', `${V3}/join/${enc(room)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
    const sync = async (u: TestUser, q: Record<string, string | number> = {}) => {
      const res = await s.request('GET', `${V3}/sync?${new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)])).toString()}`, { token: u.accessToken });
      expect(res.status, res.text).toBe(200);
      expect(specErrors('client-server', '/sync', 'get', 200, res.body)).toEqual([]);
      return res.body;
    };
    const receiptsIn = (body: any) => (body.rooms?.join?.[room]?.ephemeral?.events ?? []).filter((e: any) => e.type === 'm.receipt');
    const m1 = await send(alice, { msgtype: 'm.text', body: 'sync one' }, room);
    const m2 = await send(alice, { msgtype: 'm.text', body: 'sync two, Bobby' }, room);
    const bob0 = await sync(bob);
    expect(bob0.rooms.join[room].unread_notifications).toEqual({ notification_count: 2, highlight_count: 1 });
    const alice0 = await sync(alice);

    await ok(receipt(bob, 'm.read', m1, {}, room));
    await ok(receipt(bob, 'm.read.private', m2, {}, room));
    const alice1 = await sync(alice, { since: alice0.next_batch, timeout: 0 });
    const forAlice = receiptsIn(alice1);
    expect(forAlice).toHaveLength(1);
    expect(forAlice[0].content[m1]['m.read'][bob.userId].ts).toEqual(expect.any(Number));
    expect(JSON.stringify(alice1)).not.toContain('m.read.private');
    const bob1 = await sync(bob, { since: bob0.next_batch, timeout: 0 });
    expect(receiptsIn(bob1)[0].content[m2]['m.read.private'][bob.userId]).toBeDefined();
    expect(bob1.rooms.join[room].unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    // An initial sync shows the room's current receipts (others' private ones left out).
    const aliceInitial = receiptsIn(await sync(alice));
    expect(aliceInitial).toHaveLength(1);
    expect(Object.keys(aliceInitial[0].content)).toEqual([m1]);

    // Thread counts with unread_thread_notifications.
    const root = await send(alice, { msgtype: 'm.text', body: 'sync root' }, room);
    await send(alice, { msgtype: 'm.text', body: 'in thread', 'm.relates_to': { rel_type: 'm.thread', event_id: root } }, room);
    const filter = JSON.stringify({ room: { timeline: { unread_thread_notifications: true } } });
    const threaded = (await sync(bob, { filter })).rooms.join[room];
    expect(threaded.unread_notifications).toEqual({ notification_count: 1, highlight_count: 0 });
    expect(threaded.unread_thread_notifications).toEqual({ [root]: { notification_count: 1, highlight_count: 0 } });
    const plain = (await sync(bob)).rooms.join[room];
    expect(plain.unread_notifications).toEqual({ notification_count: 2, highlight_count: 0 });
    expect(plain.unread_thread_notifications).toBeUndefined();

    // The read marker reaches /sync as room account data.
    await ok(s.request('POST', `${V3}/rooms/${enc(room)}/read_markers`, { token: bob.accessToken, body: { 'm.fully_read': root } }));
    const ad = (await sync(bob)).rooms.join[room].account_data.events as Array<{ type: string; content: unknown }>;
    expect(ad.find((e) => e.type === 'm.fully_read')?.content).toEqual({ event_id: root });

    // A long-poll is answered by a receipt.
    const since = (await sync(alice, { timeout: 0 })).next_batch as string;
    const started = Date.now();
    const poll = sync(alice, { since, timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    await ok(receipt(bob, 'm.read', root, {}, room));
    const woke = await poll;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(receiptsIn(woke)[0].content[root]['m.read'][bob.userId]).toBeDefined();
  });

  it('concurrent receipts: all answered 200, the newest event wins, one row per user', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await text(alice, `burst ${i}`));
    const shuffled = [...ids].sort(() => Math.random() - 0.5);
    const results = await Promise.all([
      ...shuffled.map((id) => receipt(bob, 'm.read', id)),
      ...shuffled.map((id) => receipt(alice, 'm.read', id)),
    ]);
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    const rows = await querySql<{ user_id: string; event_id: string }>(
      s,
      `SELECT user_id, event_id FROM receipts_linearized WHERE room_id = '${roomId}' AND receipt_type = 'm.read' AND thread_id IS NULL ORDER BY user_id`,
    );
    expect(rows).toEqual([
      { user_id: alice.userId, event_id: ids.at(-1) },
      { user_id: bob.userId, event_id: ids.at(-1) },
    ]);
  });

  it('bad input: unknown type, unknown or foreign event, non-member, malformed IDs and bodies; never a 500', async () => {
    const m = await text(alice, 'for bad input');
    const foreign = await send(alice, { msgtype: 'm.text', body: 'elsewhere' }, otherRoom);
    const unknownType = await receipt(bob, 'm.unknown', m);
    expect(unknownType.status).toBe(400);
    expect(unknownType.body.error).toBe('Receipt type must be m.read, m.read.private, m.fully_read');
    expectError(await receipt(bob, 'm.read', '$nope:localhost'), 404, 'M_NOT_FOUND');
    expectError(await receipt(bob, 'm.read', foreign), 404, 'M_NOT_FOUND');
    expectError(await receipt(carol, 'm.read', m), 403, 'M_FORBIDDEN');
    // A non-member learns nothing about an event's existence.
    expectError(await receipt(carol, 'm.read', '$nope:localhost'), 403, 'M_FORBIDDEN');
    expectError(await receipt(carol, 'm.fully_read', m), 403, 'M_FORBIDDEN');
    expect((await receipt(bob, 'm.read', 'not-an-event')).status).toBe(400);
    expect((await receipt(bob, 'm.read', m, {}, 'not-a-room')).status).toBe(400);
    expectError(await receipt(bob, 'm.read', m, {}, '!unknown:localhost'), 403, 'M_FORBIDDEN');
    // The body is required (spec, Synapse) and must be an object.
    const noBody = await s.request('POST', `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(m)}`, { token: bob.accessToken });
    expectError(noBody, 400, 'M_NOT_JSON');
    expectError(await receipt(bob, 'm.read', m, [1]), 400, 'M_BAD_JSON');
    const rm = (body: unknown, u = bob) => s.request('POST', `${V3}/rooms/${enc(roomId)}/read_markers`, { token: u.accessToken, body });
    expectError(await rm({ 'm.read': 5 }), 400, 'M_INVALID_PARAM');
    expectError(await rm({ 'm.fully_read': 'nope' }), 400, 'M_INVALID_PARAM');
    expectError(await rm({ 'm.read': '$nope:localhost' }), 404, 'M_NOT_FOUND');
    expectError(await rm({ 'm.read': m }, carol), 403, 'M_FORBIDDEN');
    await ok(rm({}));
    expect((await s.request('POST', `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(m)}`, { body: {} })).status).toBe(401);
    // Nothing was stored by any refused call.
    const rows = await querySql<{ n: number | string }>(s, `SELECT count(*) AS n FROM receipts_linearized WHERE user_id = '${carol.userId}'`);
    expect(Number(rows[0]!.n)).toBe(0);
  });

  it('counts for many rooms come from a few statements, and rooms without notifications show zeros', async () => {
    const rooms: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = (await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat' } })).body.room_id as string;
      expect((await s.request('POST', `${V3}/join/${enc(r)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
      rooms.push(r);
    }
    await send(alice, { msgtype: 'm.text', body: 'x' }, rooms[0]);
    await send(alice, { msgtype: 'm.text', body: 'Bobby!' }, rooms[0]);
    const lots = [...rooms, ...Array.from({ length: 450 }, (_, i) => `!none${i}:localhost`)];
    const got = await s.ctx.services.notifications.unreadCountsForSync(bob.userId, lots, false);
    expect(got.size).toBe(lots.length);
    expect(got.get(rooms[0]!)).toEqual({ notification_count: 2, highlight_count: 1, threads: {} });
    expect(got.get(rooms[1]!)).toEqual({ notification_count: 0, highlight_count: 0, threads: {} });
    expect(got.get('!none3:localhost')).toEqual({ notification_count: 0, highlight_count: 0, threads: {} });
  });
});
