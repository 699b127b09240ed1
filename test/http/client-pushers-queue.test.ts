import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secondInstance } from '../harness/second-instance.js';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A tiny push gateway: records every POST; answers 500 to the next `failNext` requests. */
class Gateway {
  server!: Server;
  url = '';
  received: Array<{ notification: any }> = [];
  failed = 0;
  failNext = 0;
  rejectNext: string[] = [];

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.url !== '/_matrix/push/v1/notify' || req.method !== 'POST') {
          res.writeHead(404).end();
          return;
        }
        if (this.failNext > 0) {
          this.failNext--;
          this.failed++;
          res.writeHead(500, { 'content-type': 'application/json' }).end('{}');
          return;
        }
        this.received.push(JSON.parse(body));
        const rejected = this.rejectNext;
        this.rejectNext = [];
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ rejected }));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/_matrix/push/v1/notify`;
  }

  /** Event notifications (not badge-only updates). */
  get events() {
    return this.received.map((r) => r.notification).filter((n) => n.event_id);
  }

  async close(): Promise<void> {
    await new Promise((r) => this.server.close(r));
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('Pusher queue: HTTP pushers get what they are owed', () => {
  let s: TestServer;
  let gw: Gateway;
  let alice: TestUser;
  let bob: TestUser;
  let dm: string;
  let txn = 0;
  const send = async (srv: { request: TestServer['request'] }, u: TestUser, room: string, body: string) => {
    const res = await srv.request('PUT', `${V3}/rooms/${enc(room)}/send/m.room.message/q${++txn}`, { token: u.accessToken, body: { msgtype: 'm.text', body } });
    expect(res.status, res.text).toBe(200);
    return res.body.event_id as string;
  };
  const setPusher = async (srv: TestServer, u: TestUser, url: string, extra: Record<string, unknown> = {}, pushkey = 'pk-bob') => {
    const res = await srv.request('POST', `${V3}/pushers/set`, {
      token: u.accessToken,
      body: { kind: 'http', app_id: 'org.example.app', app_display_name: 'App', device_display_name: 'Phone', pushkey, lang: 'en', data: { url, ...extra } },
    });
    expect(res.status, res.text).toBe(200);
  };
  const pusherRow = async (srv: TestServer, pushkey = 'pk-bob') =>
    (await querySql<{ last_stream_ordering: number | string | null; last_success: number | string | null; failing_since: number | string | null }>(
      srv,
      `SELECT last_stream_ordering, last_success, failing_since FROM pushers WHERE pushkey = '${pushkey}'`,
    ))[0];
  const streamOf = async (srv: TestServer, eventId: string) => Number((await querySql<{ s: number | string }>(srv, `SELECT stream_ordering AS s FROM events WHERE event_id = '${eventId}'`))[0]!.s);

  beforeAll(async () => {
    gw = new Gateway();
    await gw.start();
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    await s.request('PUT', `${V3}/profile/${enc(alice.userId)}/displayname`, { token: alice.accessToken, body: { displayname: 'Alice A' } });
    dm = (await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { preset: 'private_chat', invite: [bob.userId], name: 'Lunch' } })).body.room_id;
    expect((await s.request('POST', `${V3}/join/${enc(dm)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
  });
  afterAll(async () => {
    await s?.close();
    await gw?.close();
  });

  it('a new pusher starts at the current stream position and is owed only later events', async () => {
    const before = await send(s, alice, dm, 'before the pusher');
    await setPusher(s, bob, gw.url, { format: 'full', extra: 'kept' });
    const row = await pusherRow(s);
    expect(Number(row!.last_stream_ordering)).toBeGreaterThanOrEqual(await streamOf(s, before));
    await sleep(200);
    expect(gw.events).toEqual([]);
  });

  it('delivers the spec notification for each owed event, advances last_stream_ordering and last_success', async () => {
    const m1 = await send(s, alice, dm, 'hello bob');
    await until('m1 pushed', () => gw.events.length === 1);
    const n = gw.events[0]!;
    expect(n).toMatchObject({
      event_id: m1,
      room_id: dm,
      type: 'm.room.message',
      sender: alice.userId,
      sender_display_name: 'Alice A',
      room_name: 'Lunch',
      content: { msgtype: 'm.text', body: 'hello bob' },
      counts: { unread: 1 },
      prio: 'high',
    });
    expect(n.devices).toHaveLength(1);
    const d = n.devices[0];
    expect(d).toMatchObject({ app_id: 'org.example.app', pushkey: 'pk-bob', data: { format: 'full', extra: 'kept' }, tweaks: { sound: 'default' } });
    expect(d.data.url).toBeUndefined();
    expect(typeof d.pushkey_ts).toBe('number');
    expect(d.pushkey_ts).toBeLessThan(Date.now() / 100);
    // A second unread message in the same room: the badge counts rooms (group_unread_count_by_room).
    const m2 = await send(s, alice, dm, 'are you there?');
    await until('m2 pushed', () => gw.events.length === 2);
    expect(gw.events[1]).toMatchObject({ event_id: m2, counts: { unread: 1 } });
    await until('position saved', async () => Number((await pusherRow(s))!.last_stream_ordering) === (await streamOf(s, m2)));
    const row = await pusherRow(s);
    expect(Number(row!.last_success)).toBeGreaterThan(Date.now() - 60_000);
    expect(row!.failing_since).toBeNull();
    // The sender's own messages are never owed to her (she has no push actions for them), and
    // nothing is sent twice.
    await sleep(150);
    expect(gw.events.map((e) => e.event_id)).toEqual([m1, m2]);
  });

  it('a receipt sends a badge-only update when the badge changes', async () => {
    const last = gw.events.at(-1)!.event_id as string;
    const count = gw.received.length;
    expect((await s.request('POST', `${V3}/rooms/${enc(dm)}/receipt/m.read/${enc(last)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
    await until('badge update', () => gw.received.length === count + 1);
    const badge = gw.received.at(-1)!.notification;
    expect(badge).toMatchObject({ id: '', sender: '', counts: { unread: 0 } });
    expect(badge.event_id).toBeUndefined();
  });

  it('a gateway failure sets failing_since, backs off, then delivers the same push once', async () => {
    gw.failNext = 1;
    const m3 = await send(s, alice, dm, 'third');
    await until('first attempt failed', () => gw.failed === 1);
    await until('failing_since set', async () => (await pusherRow(s))!.failing_since !== null);
    expect(gw.events.map((e) => e.event_id)).not.toContain(m3);
    // Retried after the back-off (1 s).
    await until('m3 delivered after back-off', () => gw.events.some((e) => e.event_id === m3), 5000);
    await sleep(100);
    expect(gw.events.filter((e) => e.event_id === m3)).toHaveLength(1);
    await until('failing_since cleared', async () => (await pusherRow(s))!.failing_since === null);
    expect(Number((await pusherRow(s))!.last_stream_ordering)).toBe(await streamOf(s, m3));
  });

  it('already-read events are skipped; event_id_only pushes carry no content; a rejected pushkey removes the pusher', async () => {
    await setPusher(s, bob, gw.url, { format: 'event_id_only' });
    const m4 = await send(s, alice, dm, 'secret words');
    await until('m4 pushed', () => gw.events.some((e) => e.event_id === m4));
    const n = gw.events.find((e) => e.event_id === m4)!;
    expect(n).toMatchObject({ event_id: m4, room_id: dm, counts: { unread: 1 } });
    expect(n.content).toBeUndefined();
    expect(n.sender).toBeUndefined();
    expect(n.devices[0].data).toEqual({ format: 'event_id_only' });

    gw.rejectNext = ['pk-bob'];
    const m5 = await send(s, alice, dm, 'goodbye pusher');
    await until('m5 pushed', () => gw.events.some((e) => e.event_id === m5));
    await until('pusher removed', async () => (await pusherRow(s)) === undefined);
    expect((await s.request('GET', `${V3}/pushers`, { token: bob.accessToken })).body.pushers).toEqual([]);
  });

  it('group_unread_count_by_room: false counts notifications; start_pushers: false records the queue and a restart delivers it', async () => {
    const g2 = new Gateway();
    await g2.start();
    const s1 = await startServer({ start_pushers: false, push: { group_unread_count_by_room: false } });
    let s2: Awaited<ReturnType<typeof secondInstance>> | undefined;
    try {
      const a = await s1.registerUser('alice');
      const b = await s1.registerUser('bob');
      const room = (await s1.request('POST', `${V3}/createRoom`, { token: a.accessToken, body: { preset: 'private_chat', invite: [b.userId] } })).body.room_id as string;
      expect((await s1.request('POST', `${V3}/join/${enc(room)}`, { token: b.accessToken, body: {} })).status).toBe(200);
      await setPusher(s1, b, g2.url, {}, 'pk-b2');
      const start = Number((await pusherRow(s1, 'pk-b2'))!.last_stream_ordering);
      const sent = [await send(s1, a, room, 'one'), await send(s1, a, room, 'two'), await send(s1, a, room, 'three')];
      await sleep(300);
      // Delivery off: nothing sent, nothing advanced; what is owed is in the tables.
      expect(g2.received).toEqual([]);
      expect(Number((await pusherRow(s1, 'pk-b2'))!.last_stream_ordering)).toBe(start);
      const owed = await querySql<{ n: number | string }>(
        s1,
        `SELECT count(*) AS n FROM pushers p JOIN event_push_actions a ON a.user_id = p.user_name AND a.stream_ordering > p.last_stream_ordering AND a.notif = 1 WHERE p.pushkey = 'pk-b2'`,
      );
      expect(Number(owed[0]!.n)).toBe(3);
      await s1.stop();

      // A process that delivers picks the queue up where it was.
      s2 = await secondInstance(s1, { push: { group_unread_count_by_room: false } });
      await until('owed pushes delivered', () => g2.events.length === 3);
      expect(g2.events.map((e) => e.event_id)).toEqual(sent);
      // Not grouped by room: the badge is the number of unread notifications at the time of each push.
      expect(g2.events.map((e) => e.counts.unread)).toEqual([3, 3, 3]);
      await until('queue drained', async () => Number((await pusherRow(s1, 'pk-b2'))!.last_stream_ordering) === (await streamOf(s1, sent[2]!)));
    } finally {
      await s2?.close();
      await s1.close();
      await g2.close();
    }
  });
  it('push.enabled: false evaluates no push rules: no push actions, no counts, nothing pushed (as Synapse)', async () => {
    const g3 = new Gateway();
    await g3.start();
    const s3 = await startServer({ push: { enabled: false } });
    try {
      const a = await s3.registerUser('alice');
      const b = await s3.registerUser('bob');
      const room = (await s3.request('POST', `${V3}/createRoom`, { token: a.accessToken, body: { preset: 'private_chat', invite: [b.userId] } })).body.room_id as string;
      expect((await s3.request('POST', `${V3}/join/${enc(room)}`, { token: b.accessToken, body: {} })).status).toBe(200);
      await setPusher(s3, b, g3.url, {}, 'pk-b3');
      await send(s3, a, room, 'quiet');
      await sleep(300);
      expect(g3.received).toEqual([]);
      expect(Number((await querySql<{ n: number | string }>(s3, 'SELECT count(*) AS n FROM event_push_actions'))[0]!.n)).toBe(0);
      const sync = await s3.request('GET', `${V3}/sync`, { token: b.accessToken });
      expect(sync.body.rooms.join[room].unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    } finally {
      await s3.close();
      await g3.close();
    }
  });
});
