import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';

describe('Send-to-device messages', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let bob2: TestUser;
  let txn = 0;
  const send = (u: TestUser, body: unknown, type = 'm.room_key_request', id = `t${++txn}`) =>
    s.request('PUT', `${V3}/sendToDevice/${type}/${id}`, { token: u.accessToken, body });
  const inbox = (u: TestUser, since = 0, limit = 100) => s.ctx.services.toDevice.toDeviceSince(u.userId, u.deviceId, since, limit);

  beforeAll(async () => {
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    bob2 = await s.login('bob', bob.password);
  });
  afterAll(async () => s?.close());

  it('stores one row per target device at one stream position; * reaches every device', async () => {
    const before = s.ctx.services.toDevice.position;
    const res = await send(alice, { messages: { [bob.userId]: { [bob.deviceId]: { n: 1 }, NOSUCHDEVICE: { n: 0 } }, '@ghost:localhost': { X: {} } } });
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/sendToDevice/{eventType}/{txnId}', 'put', 200, res.body)).toEqual([]);
    expect((await inbox(bob)).messages).toEqual([{ type: 'm.room_key_request', sender: alice.userId, content: { n: 1 } }]);
    expect((await inbox(bob2)).messages).toEqual([]);
    await send(alice, { messages: { [bob.userId]: { '*': { n: 2 }, [bob2.deviceId]: { n: 3 } } } }, 'm.dummy');
    expect((await inbox(bob)).messages.map((m) => m.content)).toEqual([{ n: 1 }, { n: 2 }]);
    expect((await inbox(bob2)).messages).toEqual([{ type: 'm.dummy', sender: alice.userId, content: { n: 3 } }]);
    const rows = await querySql(s, `SELECT user_id, device_id, stream_id FROM device_inbox WHERE stream_id > ${before} ORDER BY stream_id, device_id`);
    expect(rows.map((r) => r.device_id)).toEqual([bob.deviceId, ...[bob.deviceId, bob2.deviceId].sort()]);
    expect(Number(rows[1]!.stream_id)).toBe(Number(rows[2]!.stream_id));
    expect(s.ctx.services.toDevice.position).toBe(before + 2);
  });

  it('the same transaction ID from the same device is stored once; another device may reuse it', async () => {
    const body = { messages: { [bob.userId]: { [bob.deviceId]: { once: true } } } };
    const before = (await inbox(bob)).messages.length;
    const results = await Promise.all([send(alice, body, 'm.x', 'same'), send(alice, body, 'm.x', 'same'), send(alice, body, 'm.x', 'same')]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await send(alice, body, 'm.x', 'same')).status).toBe(200);
    expect((await inbox(bob)).messages.length).toBe(before + 1);
    const alice2 = await s.login('alice', alice.password);
    await send(alice2, body, 'm.x', 'same');
    expect((await inbox(bob)).messages.length).toBe(before + 2);
  });

  it('toDeviceSince pages by position and deleteToDeviceUpTo removes what was delivered', async () => {
    const carol = await s.registerUser('carol');
    for (let i = 0; i < 5; i++) await send(alice, { messages: { [carol.userId]: { [carol.deviceId]: { i } } } });
    const page1 = await inbox(carol, 0, 2);
    expect(page1.messages.map((m) => m.content.i)).toEqual([0, 1]);
    const page2 = await inbox(carol, page1.next, 2);
    expect(page2.messages.map((m) => m.content.i)).toEqual([2, 3]);
    const rest = await inbox(carol, page2.next, 10);
    expect(rest.messages.map((m) => m.content.i)).toEqual([4]);
    expect(rest.next).toBe(s.ctx.services.toDevice.position);
    expect(await s.ctx.services.toDevice.deleteToDeviceUpTo(carol.userId, carol.deviceId, page2.next)).toBe(4);
    expect((await inbox(carol)).messages.map((m) => m.content.i)).toEqual([4]);
    await s.ctx.services.toDevice.deleteToDeviceUpTo(carol.userId, carol.deviceId, rest.next);
    // The highest position went with the rows: it is kept so a restart continues above it.
    const [kept] = await querySql(s, "SELECT stream_id FROM stream_positions WHERE stream_name = 'to_device'");
    expect(Number(kept!.stream_id)).toBe(rest.next);
  });

  it('bad bodies are 400 and store nothing', async () => {
    const before = await querySql(s, 'SELECT count(*) AS n FROM device_inbox');
    const missing = await send(alice, {});
    expect(missing.status).toBe(400);
    expect(missing.body.errcode).toBe('M_MISSING_PARAM');
    for (const body of [{ messages: [] }, { messages: { [bob.userId]: 'x' } }, { messages: { [bob.userId]: { [bob.deviceId]: 5 } } }]) {
      const r = await send(alice, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.errcode).toBe('M_BAD_JSON');
    }
    expect((await s.request('PUT', `${V3}/sendToDevice/m.x/t`, { token: alice.accessToken, rawBody: 'x' })).body.errcode).toBe('M_NOT_JSON');
    expect(await querySql(s, 'SELECT count(*) AS n FROM device_inbox')).toEqual(before);
  });

  it("concurrent sends wake every recipient's held /sync (a commit landing ahead of a lower position is not lost)", async () => {
    // Positions are allocated when each transaction starts and commits land out of order: a
    // recipient woken by its commit while a lower position was still open built nothing, waited
    // again, and slept to its timeout with the message unseen.
    const users: TestUser[] = [];
    for (let i = 0; i < 12; i++) users.push(await s.registerUser(`race-${i}`));
    const late: string[] = [];
    for (let round = 0; round < 8; round++) {
      const since = await Promise.all(users.map(async (u) => (await s.request('GET', `${V3}/sync?timeout=0`, { token: u.accessToken })).body.next_batch));
      // The first six hold polls; the other six each send one of them a message, all at once.
      // An answer without the message (something else moved) is followed by the next poll.
      const polls = users.slice(0, 6).map(async (u, i) => {
        const t0 = Date.now();
        let token = since[i];
        for (;;) {
          const r = await s.request('GET', `${V3}/sync?timeout=5000&since=${token}`, { token: u.accessToken });
          const got = (r.body.to_device?.events ?? []).filter((e: any) => e.type === 'm.race').map((e: any) => e.content.round);
          token = r.body.next_batch;
          if (got.length > 0 || Date.now() - t0 > 5000) return { got, ms: Date.now() - t0 };
        }
      });
      await new Promise((r) => setTimeout(r, 100));
      const sent = await Promise.all(
        users.slice(6).map((u, i) => send(u, { messages: { [users[i]!.userId]: { [users[i]!.deviceId]: { round } } } }, 'm.race', `race-${round}-${i}`)),
      );
      expect(sent.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
      for (const [i, { got, ms }] of (await Promise.all(polls)).entries()) {
        // A lost wake-up shows as the poll's whole 5 s timeout.
        if (ms > 4000 || got[0] !== round) late.push(`round ${round}, recipient ${i}: ${JSON.stringify(got)} after ${ms} ms`);
      }
    }
    expect(late).toEqual([]);
  }, 120_000);
});
