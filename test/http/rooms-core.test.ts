import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { specErrors } from '../harness/spec-schema.js';
import { checkContentHash, eventIdFor, verifyEventSignature } from '../harness/event-model.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('Rooms: create, send, state, membership (the room core)', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let txn = 0;
  const send = (u: TestUser, roomId: string, body: unknown, type = 'm.room.message') =>
    s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/${type}/t${++txn}`, { token: u.accessToken, body });
  const create = async (u: TestUser, body: unknown = {}) => {
    const res = await s.request('POST', `${V3}/createRoom`, { token: u.accessToken, body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.room_id as string;
  };

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    carol = await s.registerUser('carol');
  });
  afterAll(async () => s?.close());

  it('createRoom answers a room ID and stores the initial events in Synapse\'s tables, signed and hashed', async () => {
    const res = await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { name: 'Core', topic: 'the topic' } });
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/createRoom', 'post', 200, res.body)).toEqual([]);
    const roomId = res.body.room_id as string;
    expect(roomId).toMatch(/^![A-Za-z]{18}:localhost$/);
    const rows = await querySql<{ type: string; state_key: string; depth: number | string; stream_ordering: number | string; event_id: string }>(
      s,
      `SELECT type, state_key, depth, stream_ordering, event_id FROM events WHERE room_id = '${roomId}' ORDER BY stream_ordering`,
    );
    expect(rows.map((r) => r.type)).toEqual([
      'm.room.create',
      'm.room.member',
      'm.room.power_levels',
      'm.room.join_rules',
      'm.room.history_visibility',
      'm.room.guest_access',
      'm.room.name',
      'm.room.topic',
    ]);
    expect(rows.map((r) => Number(r.depth))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const [room] = await querySql<{ room_version: string; creator: string }>(s, `SELECT room_version, creator FROM rooms WHERE room_id = '${roomId}'`);
    expect(room).toMatchObject({ room_version: '10', creator: alice.userId });
    // Every event verifies: content hash, the server's signature, and the reference-hash event ID.
    const key = (await s.request('GET', '/_matrix/key/v2/server')).body;
    const keyId = Object.keys(key.verify_keys)[0]!;
    const json = await querySql<{ event_id: string; json: string }>(s, `SELECT event_id, json FROM event_json WHERE room_id = '${roomId}'`);
    expect(json).toHaveLength(8);
    for (const j of json) {
      const pdu = JSON.parse(j.json);
      expect(checkContentHash(pdu, '10')).toBe(true);
      expect(verifyEventSignature(pdu, '10', 'localhost', keyId, key.verify_keys[keyId].key)).toBe(true);
      expect(eventIdFor(pdu, '10')).toBe(j.event_id);
    }
    // Edges chain each event to the previous one; one forward extremity, the last event.
    const edges = await querySql(s, `SELECT count(*) AS n FROM event_edges WHERE room_id = '${roomId}'`);
    expect(Number(edges[0]!.n)).toBe(7);
    const extrem = await querySql<{ event_id: string }>(s, `SELECT event_id FROM event_forward_extremities WHERE room_id = '${roomId}'`);
    expect(extrem.map((e) => e.event_id)).toEqual([rows[7]!.event_id]);
    // Statistics kept in the same transaction.
    const [stats] = await querySql(s, `SELECT joined_members, current_state_events, local_users_in_room FROM room_stats_current WHERE room_id = '${roomId}'`);
    expect(Number(stats!.joined_members)).toBe(1);
    expect(Number(stats!.current_state_events)).toBe(8);
    expect(Number(stats!.local_users_in_room)).toBe(1);
    const [st] = await querySql(s, `SELECT name, topic, join_rules, history_visibility FROM room_stats_state WHERE room_id = '${roomId}'`);
    expect(st).toEqual({ name: 'Core', topic: 'the topic', join_rules: 'invite', history_visibility: 'shared' });
    const [lcm] = await querySql(s, `SELECT membership FROM local_current_membership WHERE room_id = '${roomId}' AND user_id = '${alice.userId}'`);
    expect(lcm).toEqual({ membership: 'join' });
  });

  it('state reads: GET state/{type} answers the content; unknown state is 404; non-members are refused', async () => {
    const roomId = await create(alice, { name: 'Named' });
    const name = await s.request('GET', `${V3}/rooms/${enc(roomId)}/state/m.room.name`, { token: alice.accessToken });
    expect(name.status).toBe(200);
    expect(name.body).toEqual({ name: 'Named' });
    const slash = await s.request('GET', `${V3}/rooms/${enc(roomId)}/state/m.room.name/`, { token: alice.accessToken });
    expect(slash.body).toEqual({ name: 'Named' });
    const missing = await s.request('GET', `${V3}/rooms/${enc(roomId)}/state/m.room.topic`, { token: alice.accessToken });
    expect(missing.status).toBe(404);
    expect(missing.body.errcode).toBe('M_NOT_FOUND');
    const outsider = await s.request('GET', `${V3}/rooms/${enc(roomId)}/state/m.room.name`, { token: bob.accessToken });
    expect(outsider.status).toBe(403);
    expect(outsider.body.errcode).toBe('M_FORBIDDEN');
    const all = await s.request('GET', `${V3}/rooms/${enc(roomId)}/state`, { token: alice.accessToken });
    expect(all.status).toBe(200);
    expect(all.body.map((e: { type: string }) => e.type).sort()).toEqual(
      ['m.room.create', 'm.room.guest_access', 'm.room.history_visibility', 'm.room.join_rules', 'm.room.member', 'm.room.name', 'm.room.power_levels'].sort(),
    );
    for (const e of all.body) {
      expect(e).not.toHaveProperty('hashes');
      expect(e).not.toHaveProperty('signatures');
      expect(e).not.toHaveProperty('prev_events');
      expect(e.room_id).toBe(roomId);
      expect(typeof e.event_id).toBe('string');
    }
  });

  it('PUT state sets it (a new state group), sending the same content again answers the same event', async () => {
    const roomId = await create(alice);
    const put = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.topic`, { token: alice.accessToken, body: { topic: 'one' } });
    expect(put.status).toBe(200);
    const again = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.topic/`, { token: alice.accessToken, body: { topic: 'one' } });
    expect(again.body.event_id).toBe(put.body.event_id);
    const two = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.topic`, { token: alice.accessToken, body: { topic: 'two' } });
    expect(two.body.event_id).not.toBe(put.body.event_id);
    const [cur] = await querySql(s, `SELECT event_id FROM current_state_events WHERE room_id = '${roomId}' AND type = 'm.room.topic'`);
    expect(cur!.event_id).toBe(two.body.event_id);
    const groups = await querySql(s, `SELECT g.state_group FROM event_to_state_groups g WHERE g.event_id = '${two.body.event_id}'`);
    const edges = await querySql(s, `SELECT prev_state_group FROM state_group_edges WHERE state_group = ${groups[0]!.state_group}`);
    expect(edges).toHaveLength(1);
    // Every state group is referenced by an event.
    const orphans = await querySql(s, 'SELECT id FROM state_groups WHERE id NOT IN (SELECT state_group FROM event_to_state_groups)');
    expect(orphans).toEqual([]);
  });

  it('send: members may, others are refused with 403; the same transaction ID answers the same event', async () => {
    const roomId = await create(alice);
    const path = `${V3}/rooms/${enc(roomId)}/send/m.room.message/same-txn`;
    const first = await s.request('PUT', path, { token: alice.accessToken, body: { msgtype: 'm.text', body: 'hi' } });
    expect(first.status).toBe(200);
    expect(first.body.event_id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    const second = await s.request('PUT', path, { token: alice.accessToken, body: { msgtype: 'm.text', body: 'hi' } });
    expect(second.body.event_id).toBe(first.body.event_id);
    const count = await querySql(s, `SELECT count(*) AS n FROM events WHERE room_id = '${roomId}' AND type = 'm.room.message'`);
    expect(Number(count[0]!.n)).toBe(1);
    const refused = await send(bob, roomId, { msgtype: 'm.text', body: 'intruder' });
    expect(refused.status).toBe(403);
    expect(refused.body.errcode).toBe('M_FORBIDDEN');
    const unknown = await send(alice, '!nope:localhost', { msgtype: 'm.text', body: 'x' });
    expect(unknown.status).toBe(404);
    const bad = await send(alice, 'not-a-room', { msgtype: 'm.text', body: 'x' });
    expect(bad.status).toBe(400);
  });

  it('concurrent retries of one transaction ID produce one event', async () => {
    const roomId = await create(alice);
    const path = `${V3}/rooms/${enc(roomId)}/send/m.room.message/race`;
    const results = await Promise.all(Array.from({ length: 10 }, () => s.request('PUT', path, { token: alice.accessToken, body: { msgtype: 'm.text', body: 'once' } })));
    expect(new Set(results.map((r) => r.body.event_id)).size).toBe(1);
    const count = await querySql(s, `SELECT count(*) AS n FROM events WHERE room_id = '${roomId}' AND type = 'm.room.message'`);
    expect(Number(count[0]!.n)).toBe(1);
  });

  it('membership: invite then join; private rooms refuse uninvited joins; public rooms admit them', async () => {
    const priv = await create(alice, { preset: 'private_chat' });
    const uninvited = await s.request('POST', `${V3}/rooms/${enc(priv)}/join`, { token: carol.accessToken, body: {} });
    expect(uninvited.status).toBe(403);
    const inv = await s.request('POST', `${V3}/rooms/${enc(priv)}/invite`, { token: alice.accessToken, body: { user_id: carol.userId } });
    expect(inv.status).toBe(200);
    const join = await s.request('POST', `${V3}/join/${enc(priv)}`, { token: carol.accessToken, body: {} });
    expect(join.status).toBe(200);
    expect(join.body).toEqual({ room_id: priv });
    const msg = await send(carol, priv, { msgtype: 'm.text', body: 'hello' });
    expect(msg.status).toBe(200);
    const pub = await create(alice, { preset: 'public_chat', room_alias_name: 'corepub' });
    const byAlias = await s.request('POST', `${V3}/join/${enc('#corepub:localhost')}`, { token: bob.accessToken, body: {} });
    expect(byAlias.status).toBe(200);
    expect(byAlias.body.room_id).toBe(pub);
    const joined = await s.request('GET', `${V3}/joined_rooms`, { token: bob.accessToken });
    expect(joined.body.joined_rooms).toContain(pub);
    const [stats] = await querySql(s, `SELECT joined_members FROM room_stats_current WHERE room_id = '${pub}'`);
    expect(Number(stats!.joined_members)).toBe(2);
  });

  it('kick, ban and unban follow the power levels; a banned user cannot send or rejoin', async () => {
    const roomId = await create(alice, { preset: 'public_chat' });
    await s.request('POST', `${V3}/rooms/${enc(roomId)}/join`, { token: bob.accessToken, body: {} });
    await s.request('POST', `${V3}/rooms/${enc(roomId)}/join`, { token: carol.accessToken, body: {} });
    const byBob = await s.request('POST', `${V3}/rooms/${enc(roomId)}/kick`, { token: bob.accessToken, body: { user_id: carol.userId } });
    expect(byBob.status).toBe(403);
    const kick = await s.request('POST', `${V3}/rooms/${enc(roomId)}/kick`, { token: alice.accessToken, body: { user_id: carol.userId, reason: 'bye' } });
    expect(kick.status).toBe(200);
    const ban = await s.request('POST', `${V3}/rooms/${enc(roomId)}/ban`, { token: alice.accessToken, body: { user_id: bob.userId } });
    expect(ban.status).toBe(200);
    const sendBanned = await send(bob, roomId, { msgtype: 'm.text', body: 'still here?' });
    expect(sendBanned.status).toBe(403);
    const rejoin = await s.request('POST', `${V3}/rooms/${enc(roomId)}/join`, { token: bob.accessToken, body: {} });
    expect(rejoin.status).toBe(403);
    const unban = await s.request('POST', `${V3}/rooms/${enc(roomId)}/unban`, { token: alice.accessToken, body: { user_id: bob.userId } });
    expect(unban.status).toBe(200);
    const back = await s.request('POST', `${V3}/rooms/${enc(roomId)}/join`, { token: bob.accessToken, body: {} });
    expect(back.status).toBe(200);
    const missingUser = await s.request('POST', `${V3}/rooms/${enc(roomId)}/ban`, { token: alice.accessToken, body: {} });
    expect(missingUser.status).toBe(400);
    const leave = await s.request('POST', `${V3}/rooms/${enc(roomId)}/leave`, { token: bob.accessToken });
    expect(leave.status).toBe(200);
    const [lcm] = await querySql(s, `SELECT membership FROM local_current_membership WHERE room_id = '${roomId}' AND user_id = '${bob.userId}'`);
    expect(lcm).toEqual({ membership: 'leave' });
  });

  it('100 concurrent sends by several members never fork the room: one chain, one extremity', async () => {
    const roomId = await create(alice, { preset: 'public_chat' });
    await s.request('POST', `${V3}/rooms/${enc(roomId)}/join`, { token: bob.accessToken, body: {} });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => send(i % 2 ? alice : bob, roomId, { msgtype: 'm.text', body: `m${i}` })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const extrem = await querySql(s, `SELECT event_id FROM event_forward_extremities WHERE room_id = '${roomId}'`);
    expect(extrem).toHaveLength(1);
    const events = await querySql<{ event_id: string; depth: number | string }>(s, `SELECT event_id, depth FROM events WHERE room_id = '${roomId}' ORDER BY stream_ordering`);
    // Depth rises by one per event and every event but the first has exactly one prev event: the previous one.
    const depths = events.map((e) => Number(e.depth));
    expect(depths).toEqual(depths.map((_, i) => i + 1));
    const edges = await querySql<{ event_id: string; prev_event_id: string }>(s, `SELECT event_id, prev_event_id FROM event_edges WHERE room_id = '${roomId}'`);
    const prevOf = new Map(edges.map((e) => [e.event_id, e.prev_event_id]));
    expect(edges).toHaveLength(events.length - 1);
    for (let i = 1; i < events.length; i++) expect(prevOf.get(events[i]!.event_id)).toBe(events[i - 1]!.event_id);
    expect(extrem[0]!.event_id).toBe(events[events.length - 1]!.event_id);
  });

  it('redaction: the sender may redact their own event; others need the redact level', async () => {
    const roomId = await create(alice, { preset: 'public_chat' });
    await s.request('POST', `${V3}/rooms/${enc(roomId)}/join`, { token: bob.accessToken, body: {} });
    const a = await send(alice, roomId, { msgtype: 'm.text', body: 'secret' });
    const byBob = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/redact/${enc(a.body.event_id)}/r1`, { token: bob.accessToken, body: {} });
    expect(byBob.status).toBe(403);
    const own = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/redact/${enc(a.body.event_id)}/r2`, { token: alice.accessToken, body: { reason: 'oops' } });
    expect(own.status).toBe(200);
    const [row] = await querySql(s, `SELECT redacts FROM redactions WHERE event_id = '${own.body.event_id}'`);
    expect(row).toEqual({ redacts: a.body.event_id });
  });

  it('an unsupported room version is refused with M_UNSUPPORTED_ROOM_VERSION; v1 rooms get server-name event IDs', async () => {
    const bad = await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { room_version: '99' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_UNSUPPORTED_ROOM_VERSION');
    const v1 = await create(alice, { room_version: '1' });
    const ev = await send(alice, v1, { msgtype: 'm.text', body: 'old' });
    expect(ev.status).toBe(200);
    expect(ev.body.event_id).toMatch(/^\$[A-Za-z]{18}:localhost$/);
    const v3 = await create(alice, { room_version: '3' });
    const ev3 = await send(alice, v3, { msgtype: 'm.text', body: 'v3' });
    expect(ev3.body.event_id).toMatch(/^\$[A-Za-z0-9+/]{43}$/);
  });

  it('oversized events are refused with 413 M_TOO_LARGE and change nothing', async () => {
    const roomId = await create(alice);
    const before = await querySql(s, `SELECT count(*) AS n FROM events WHERE room_id = '${roomId}'`);
    const big = await send(alice, roomId, { msgtype: 'm.text', body: 'x'.repeat(70_000) });
    expect(big.status).toBe(413);
    expect(big.body.errcode).toBe('M_TOO_LARGE');
    const after = await querySql(s, `SELECT count(*) AS n FROM events WHERE room_id = '${roomId}'`);
    expect(after).toEqual(before);
  });

  it('third-party invites are refused cleanly: missing fields 400 M_MISSING_PARAM, otherwise 403, nothing created', async () => {
    const roomId = await create(alice);
    const partial = await s.request('POST', `${V3}/rooms/${enc(roomId)}/invite`, { token: alice.accessToken, body: { medium: 'email', address: 'x@example.org' } });
    expect(partial.status).toBe(400);
    expect(partial.body.errcode).toBe('M_MISSING_PARAM');
    const full = await s.request('POST', `${V3}/rooms/${enc(roomId)}/invite`, {
      token: alice.accessToken,
      body: { medium: 'email', address: 'x@example.org', id_server: 'id.example.org', id_access_token: 'abc' },
    });
    expect(full.status).toBe(403);
    expect(full.body.errcode).toBe('M_FORBIDDEN');
    const roomsBefore = await querySql(s, 'SELECT count(*) AS n FROM rooms');
    const created = await s.request('POST', `${V3}/createRoom`, {
      token: alice.accessToken,
      body: { invite_3pid: [{ medium: 'email', address: 'x@example.org', id_server: 'id.example.org', id_access_token: 'abc' }] },
    });
    expect(created.status).toBe(403);
    expect(await querySql(s, 'SELECT count(*) AS n FROM rooms')).toEqual(roomsBefore);
  });

  it('a member who left reads the state as it was when they left; a banned one is refused', async () => {
    const roomId = await create(alice, { preset: 'public_chat', name: 'first name' });
    await s.request('POST', `${V3}/rooms/${enc(roomId)}/join`, { token: bob.accessToken, body: {} });
    await s.request('POST', `${V3}/rooms/${enc(roomId)}/join`, { token: carol.accessToken, body: {} });
    await s.request('POST', `${V3}/rooms/${enc(roomId)}/leave`, { token: bob.accessToken, body: {} });
    await s.request('POST', `${V3}/rooms/${enc(roomId)}/ban`, { token: alice.accessToken, body: { user_id: carol.userId } });
    await s.request('PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.name`, { token: alice.accessToken, body: { name: 'second name' } });
    const left = await s.request('GET', `${V3}/rooms/${enc(roomId)}/state/m.room.name`, { token: bob.accessToken });
    expect(left.status).toBe(200);
    expect(left.body).toEqual({ name: 'first name' });
    const banned = await s.request('GET', `${V3}/rooms/${enc(roomId)}/state/m.room.name`, { token: carol.accessToken });
    expect(banned.status).toBe(403);
  });
});

