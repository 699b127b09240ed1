import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceKeys } from '../harness/e2e.js';
import { secondInstance } from '../harness/second-instance.js';
import { startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';

// The per-user streams in /sync (typing, receipts, presence, account data, tags, device lists,
// unread counts, push rules) and the legacy /events and /initialSync built on it.
describe('/sync streams and the legacy endpoints', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let roomId: string;
  let txn = 0;

  const sync = (u: TestUser, q: Record<string, string | number> = {}) => {
    const qs = new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)])).toString();
    return s.request('GET', `${V3}/sync${qs ? `?${qs}` : ''}`, { token: u.accessToken });
  };
  const room = (r: string) => `${V3}/rooms/${encodeURIComponent(r)}`;
  const send = async (u: TestUser, body: Record<string, unknown>, r = roomId) => {
    const res = await s.request('PUT', `${room(r)}/send/m.room.message/s${++txn}`, { token: u.accessToken, body });
    expect(res.status).toBe(200);
    return res.body.event_id as string;
  };
  const tokenOf = async (u: TestUser) => (await sync(u)).body.next_batch as string;

  beforeAll(async () => {
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    carol = await s.registerUser('carol');
    const res = await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat' } });
    roomId = res.body.room_id;
    for (const u of [bob, carol]) expect((await s.request('POST', `${V3}/join/${encodeURIComponent(roomId)}`, { token: u.accessToken, body: {} })).status).toBe(200);
  });
  afterAll(async () => s?.close());

  it('typing wakes a held poll and arrives as m.typing in the room\'s ephemeral events', async () => {
    const since = await tokenOf(bob);
    const poll = sync(bob, { since, timeout: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    const put = await s.request('PUT', `${room(roomId)}/typing/${encodeURIComponent(alice.userId)}`, { token: alice.accessToken, body: { typing: true, timeout: 10000 } });
    expect(put.status).toBe(200);
    const res = await poll;
    expect(Date.now() - t0).toBeLessThan(1000);
    const eph = res.body.rooms.join[roomId].ephemeral.events;
    expect(eph).toContainEqual({ type: 'm.typing', content: { user_ids: [alice.userId] } });
    expect(specErrors('client-server', '/sync', 'get', 200, res.body)).toEqual([]);
    await s.request('PUT', `${room(roomId)}/typing/${encodeURIComponent(alice.userId)}`, { token: alice.accessToken, body: { typing: false } });
    const stopped = await sync(bob, { since: res.body.next_batch });
    expect(stopped.body.rooms.join[roomId].ephemeral.events).toContainEqual({ type: 'm.typing', content: { user_ids: [] } });
  });

  it('receipts: m.read reaches others, m.read.private only its owner; unread counts follow the receipt', async () => {
    const e1 = await send(alice, { msgtype: 'm.text', body: 'count me' });
    const e2 = await send(alice, { msgtype: 'm.text', body: `hey ${bob.userId.slice(1, 4)} and me too` });
    const before = await sync(bob);
    expect(before.body.rooms.join[roomId].unread_notifications.notification_count).toBeGreaterThanOrEqual(2);
    const since = before.body.next_batch;
    const aliceSince = await tokenOf(alice);
    expect((await s.request('POST', `${room(roomId)}/receipt/m.read/${encodeURIComponent(e1)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
    expect((await s.request('POST', `${room(roomId)}/receipt/m.read.private/${encodeURIComponent(e2)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
    const own = await sync(bob, { since });
    const ownReceipts = own.body.rooms.join[roomId].ephemeral.events.filter((e: any) => e.type === 'm.receipt');
    expect(JSON.stringify(ownReceipts)).toContain('m.read.private');
    expect(own.body.rooms.join[roomId].unread_notifications.notification_count).toBe(0);
    const other = await sync(alice, { since: aliceSince });
    const seen = JSON.stringify(other.body.rooms.join[roomId].ephemeral.events);
    expect(seen).toContain(e1);
    expect(seen).not.toContain('m.read.private');
  });

  it('presence set by one member reaches the others\' syncs', async () => {
    const since = await tokenOf(bob);
    const put = await s.request('PUT', `${V3}/presence/${encodeURIComponent(carol.userId)}/status`, { token: carol.accessToken, body: { presence: 'unavailable', status_msg: 'lunch' } });
    expect(put.status).toBe(200);
    const res = await sync(bob, { since, timeout: 3000 });
    const ev = (res.body.presence?.events ?? []).find((e: any) => e.sender === carol.userId);
    expect(ev.type).toBe('m.presence');
    expect(ev.content.presence).toBe('unavailable');
    expect(ev.content.status_msg).toBe('lunch');
  });

  it('sending a message is activity: an unavailable sender reads as online again', async () => {
    expect((await s.request('PUT', `${V3}/presence/${encodeURIComponent(carol.userId)}/status`, { token: carol.accessToken, body: { presence: 'unavailable' } })).status).toBe(200);
    const since = await tokenOf(bob);
    await send(carol, { msgtype: 'm.text', body: 'back' });
    let ev: any;
    for (let i = 0; i < 50 && !ev; i++) {
      const res = await sync(bob, { since, timeout: 200 });
      ev = (res.body.presence?.events ?? []).find((e: any) => e.sender === carol.userId && e.content.presence === 'online');
    }
    expect(ev.content.currently_active).toBe(true);
  });

  it('global and room account data and tags arrive once, on the sync after they change', async () => {
    const since = await tokenOf(alice);
    const u = encodeURIComponent(alice.userId);
    expect((await s.request('PUT', `${V3}/user/${u}/account_data/org.example.pref`, { token: alice.accessToken, body: { v: 1 } })).status).toBe(200);
    expect((await s.request('PUT', `${V3}/user/${u}/rooms/${encodeURIComponent(roomId)}/account_data/org.example.room`, { token: alice.accessToken, body: { r: 2 } })).status).toBe(200);
    expect((await s.request('PUT', `${V3}/user/${u}/rooms/${encodeURIComponent(roomId)}/tags/m.favourite`, { token: alice.accessToken, body: { order: 0.5 } })).status).toBe(200);
    const res = await sync(alice, { since });
    expect(res.body.account_data.events).toContainEqual({ type: 'org.example.pref', content: { v: 1 } });
    const roomData = res.body.rooms.join[roomId].account_data.events;
    expect(roomData).toContainEqual({ type: 'org.example.room', content: { r: 2 } });
    expect(roomData).toContainEqual({ type: 'm.tag', content: { tags: { 'm.favourite': { order: 0.5 } } } });
    const again = await sync(alice, { since: res.body.next_batch });
    expect(again.body.account_data).toBeUndefined();
    expect(again.body.rooms).toBeUndefined();
  });

  it('a push rule change sends m.push_rules again', async () => {
    const since = await tokenOf(alice);
    const put = await s.request('PUT', `${V3}/pushrules/global/override/org.example.rule`, {
      token: alice.accessToken,
      body: { conditions: [{ kind: 'event_match', key: 'content.body', pattern: 'zzz' }], actions: ['notify'] },
    });
    expect(put.status).toBe(200);
    const res = await sync(alice, { since, timeout: 3000 });
    const rules = res.body.account_data.events.find((e: any) => e.type === 'm.push_rules');
    expect(JSON.stringify(rules.content)).toContain('org.example.rule');
  });

  it('device list changes of a room member show in device_lists.changed; keys uploads update the key counts', async () => {
    const since = await tokenOf(alice);
    const bob2 = await s.login('bob', bob.password);
    const up = await s.request('POST', `${V3}/keys/upload`, { token: bob2.accessToken, body: { device_keys: deviceKeys(bob2.userId, bob2.deviceId) } });
    expect(up.status).toBe(200);
    const res = await sync(alice, { since, timeout: 3000 });
    expect(res.body.device_lists.changed).toContain(bob.userId);
    const otk = await s.request('POST', `${V3}/keys/upload`, { token: bob2.accessToken, body: { one_time_keys: { 'signed_curve25519:AAAA': { key: 'k', signatures: {} } } } });
    expect(otk.status).toBe(200);
    const own = await sync(bob2);
    expect(own.body.device_one_time_keys_count.signed_curve25519).toBe(1);
    // A claim by someone else is seen on the device's next sync (the counts are cached per device).
    const claim = await s.request('POST', `${V3}/keys/claim`, { token: alice.accessToken, body: { one_time_keys: { [bob2.userId]: { [bob2.deviceId]: 'signed_curve25519' } } } });
    expect(Object.keys(claim.body.one_time_keys[bob2.userId][bob2.deviceId])).toEqual(['signed_curve25519:AAAA']);
    expect((await sync(bob2)).body.device_one_time_keys_count.signed_curve25519).toBe(0);
    const more = await s.request('POST', `${V3}/keys/upload`, { token: bob2.accessToken, body: { one_time_keys: { 'signed_curve25519:BBBB': { key: 'k2', signatures: {} }, 'signed_curve25519:CCCC': { key: 'k3', signatures: {} } } } });
    expect(more.status).toBe(200);
    expect((await sync(bob2)).body.device_one_time_keys_count.signed_curve25519).toBe(2);
  });

  it('the room summary comes with membership changes, not with every message', async () => {
    const since = await tokenOf(alice);
    await send(bob, { msgtype: 'm.text', body: 'plain' });
    const plain = await sync(alice, { since });
    expect(plain.body.rooms.join[roomId].summary).toBeUndefined();
    const dan = await s.registerUser('dan');
    expect((await s.request('POST', `${V3}/join/${encodeURIComponent(roomId)}`, { token: dan.accessToken, body: {} })).status).toBe(200);
    const joined = await sync(alice, { since: plain.body.next_batch });
    expect(joined.body.rooms.join[roomId].summary['m.joined_member_count']).toBe(4);
  });

  it('GET /events returns what happened after `from`, and holds when nothing has', async () => {
    const first = await s.request('GET', `${V3}/events?timeout=0`, { token: bob.accessToken });
    expect(first.status).toBe(200);
    const from = first.body.end;
    const poll = s.request('GET', `${V3}/events?from=${from}&timeout=5000`, { token: bob.accessToken });
    await new Promise((r) => setTimeout(r, 50));
    const e = await send(alice, { msgtype: 'm.text', body: 'legacy' });
    const res = await poll;
    expect(res.status).toBe(200);
    expect(res.body.start).toBe(from);
    expect(res.body.chunk.map((x: any) => x.event_id)).toContain(e);
    expect(res.body.chunk.find((x: any) => x.event_id === e).room_id).toBe(roomId);
    expect((await s.request('GET', `${V3}/events?from=nonsense`, { token: bob.accessToken })).status).toBe(400);
  });

  it('GET /initialSync lists rooms with messages, state and visibility', async () => {
    const res = await s.request('GET', `${V3}/initialSync?limit=2`, { token: bob.accessToken });
    expect(res.status).toBe(200);
    const r = res.body.rooms.find((x: any) => x.room_id === roomId);
    expect(r.membership).toBe('join');
    expect(r.visibility).toBe('public');
    expect(r.messages.chunk.length).toBeLessThanOrEqual(2);
    expect(r.state.map((e: any) => e.type)).toContain('m.room.create');
    expect(typeof res.body.end).toBe('string');
    // The room part of `start` continues with /messages.
    const back = await s.request('GET', `${room(roomId)}/messages?dir=b&limit=1&from=${r.messages.start}`, { token: bob.accessToken });
    expect(back.status).toBe(200);
    expect(back.body.chunk).toHaveLength(1);
  });

  it('a token stays valid across a restart: the new process answers with exactly what came after it', async () => {
    const s1 = await startServer();
    let s2: Awaited<ReturnType<typeof secondInstance>> | undefined;
    try {
      const dave = await s1.registerUser('dave');
      const created = await s1.request('POST', `${V3}/createRoom`, { token: dave.accessToken, body: {} });
      const rid = created.body.room_id as string;
      await s1.request('PUT', `${room(rid)}/send/m.room.message/r1`, { token: dave.accessToken, body: { msgtype: 'm.text', body: 'before' } });
      const token = (await s1.request('GET', `${V3}/sync`, { token: dave.accessToken })).body.next_batch as string;
      await s1.stop();
      s2 = await secondInstance(s1);
      const quiet = await s2.request('GET', `${V3}/sync?since=${token}`, { token: dave.accessToken });
      expect(quiet.status).toBe(200);
      expect(quiet.body.rooms).toBeUndefined();
      const sent = await s2.request('PUT', `${room(rid)}/send/m.room.message/r2`, { token: dave.accessToken, body: { msgtype: 'm.text', body: 'after' } });
      const next = await s2.request('GET', `${V3}/sync?since=${token}`, { token: dave.accessToken });
      expect(next.body.rooms.join[rid].timeline.events.map((e: any) => e.event_id)).toEqual([sent.body.event_id]);
    } finally {
      await s2?.close();
      await s1.close();
    }
  });

  it('deleting the room that holds the newest events does not send positions backwards after a restart', async () => {
    const s1 = await startServer();
    let s2: Awaited<ReturnType<typeof secondInstance>> | undefined;
    try {
      const admin = await s1.registerUser('root', { admin: true });
      const erin = await s1.registerUser('erin');
      const keep = (await s1.request('POST', `${V3}/createRoom`, { token: erin.accessToken, body: {} })).body.room_id as string;
      const doomed = (await s1.request('POST', `${V3}/createRoom`, { token: erin.accessToken, body: {} })).body.room_id as string;
      for (let i = 0; i < 3; i++) await s1.request('PUT', `${room(doomed)}/send/m.room.message/d${i}`, { token: erin.accessToken, body: { msgtype: 'm.text', body: 'doomed' } });
      await s1.request('POST', `${room(doomed)}/receipt/m.read/${encodeURIComponent((await s1.request('GET', `${room(doomed)}/messages?dir=b&limit=1`, { token: erin.accessToken })).body.chunk[0].event_id)}`, { token: erin.accessToken, body: {} });
      const token = (await s1.request('GET', `${V3}/sync`, { token: erin.accessToken })).body.next_batch as string;
      const del = await s1.request('DELETE', `/_synapse/admin/v2/rooms/${encodeURIComponent(doomed)}`, { token: admin.accessToken, body: { purge: true } });
      expect(del.status).toBe(200);
      for (let i = 0; i < 250; i++) {
        const st = await s1.request('GET', `/_synapse/admin/v2/rooms/delete_status/${del.body.delete_id}`, { token: admin.accessToken });
        if (st.body.status === 'complete') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await s1.stop();
      s2 = await secondInstance(s1);
      const after = await s2.request('GET', `${V3}/sync?since=${token}`, { token: erin.accessToken });
      expect(after.status).toBe(200);
      const sent = await s2.request('PUT', `${room(keep)}/send/m.room.message/k1`, { token: erin.accessToken, body: { msgtype: 'm.text', body: 'kept' } });
      const next = await s2.request('GET', `${V3}/sync?since=${token}`, { token: erin.accessToken });
      expect(next.body.rooms.join[keep].timeline.events.map((e: any) => e.event_id)).toEqual([sent.body.event_id]);
    } finally {
      await s2?.close();
      await s1.close();
    }
  });
});
