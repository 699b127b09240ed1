import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const ADMIN = '/_synapse/admin';
const enc = encodeURIComponent;

/** Helpers shared by the suites below, bound to one server. */
function roomClient(s: () => TestServer) {
  let txn = 0;
  const api = {
    create: async (u: TestUser, body: unknown = {}) => {
      const res = await s().request('POST', `${V3}/createRoom`, { token: u.accessToken, body });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.room_id as string;
    },
    send: (u: TestUser, roomId: string, body: unknown = { msgtype: 'm.text', body: 'hi' }, type = 'm.room.message') =>
      s().request('PUT', `${V3}/rooms/${enc(roomId)}/send/${type}/t${++txn}`, { token: u.accessToken, body }),
    join: async (u: TestUser, roomId: string) => {
      const res = await s().request('POST', `${V3}/join/${enc(roomId)}`, { token: u.accessToken, body: {} });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    },
    invite: (by: TestUser, roomId: string, userId: string) =>
      s().request('POST', `${V3}/rooms/${enc(roomId)}/invite`, { token: by.accessToken, body: { user_id: userId } }),
    member: (u: TestUser, roomId: string, userId: string) =>
      s().request('GET', `${V3}/rooms/${enc(roomId)}/state/m.room.member/${enc(userId)}`, { token: u.accessToken }),
    membershipRows: (userId: string) =>
      querySql<{ room_id: string; membership: string }>(s(), `SELECT room_id, membership FROM local_current_membership WHERE user_id = '${userId}' ORDER BY room_id`),
    eventCount: async () => Number((await querySql<{ n: number | string }>(s(), 'SELECT count(*) AS n FROM events'))[0]!.n),
  };
  return api;
}

describe('Users in rooms: deactivation, profile propagation, shadow-ban, admin joined_rooms', () => {
  let s: TestServer;
  let admin: TestUser;
  let bob: TestUser;
  const r = roomClient(() => s);

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    admin = await s.registerUser('admin', { admin: true });
    bob = await s.registerUser('bob');
  });
  afterAll(async () => s?.close());

  it('admin deactivation: the user leaves joined rooms, rejects invites, withdraws knocks; every membership reads leave', async () => {
    const alice = await s.registerUser('alice');
    const joinedOwn = await r.create(alice, { name: 'alice room' });
    const joinedOther = await r.create(bob, { preset: 'public_chat' });
    await r.join(alice, joinedOther);
    const invitedTo = await r.create(bob);
    expect((await r.invite(bob, invitedTo, alice.userId)).status).toBe(200);
    const knockRoom = await r.create(bob, { initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
    const knock = await s.request('POST', `${V3}/knock/${enc(knockRoom)}`, { token: alice.accessToken, body: {} });
    expect(knock.status, JSON.stringify(knock.body)).toBe(200);
    // A room alice left long ago, and one she was banned from, are not touched.
    const leftRoom = await r.create(bob, { preset: 'public_chat' });
    await r.join(alice, leftRoom);
    expect((await s.request('POST', `${V3}/rooms/${enc(leftRoom)}/leave`, { token: alice.accessToken, body: {} })).status).toBe(200);
    const leftEvents = await querySql(s, `SELECT count(*) AS n FROM events WHERE room_id = '${leftRoom}'`);

    expect((await r.membershipRows(alice.userId)).map((x) => x.membership).sort()).toEqual(['invite', 'join', 'join', 'knock', 'leave']);
    const res = await s.request('POST', `${ADMIN}/v1/deactivate/${enc(alice.userId)}`, { token: admin.accessToken, body: {} });
    expect(res.status, JSON.stringify(res.body)).toBe(200);

    const rows = await r.membershipRows(alice.userId);
    expect(rows).toHaveLength(5);
    expect(rows.every((x) => x.membership === 'leave')).toBe(true);
    // Each leave is alice's own member event, visible to the rooms' other members.
    for (const roomId of [joinedOther, invitedTo, knockRoom]) {
      const m = await r.member(bob, roomId, alice.userId);
      expect(m.status, roomId).toBe(200);
      expect(m.body.membership).toBe('leave');
      const [ev] = await querySql<{ sender: string }>(
        s,
        `SELECT e.sender FROM current_state_events c JOIN events e ON e.event_id = c.event_id WHERE c.room_id = '${roomId}' AND c.type = 'm.room.member' AND c.state_key = '${alice.userId}'`,
      );
      expect(ev!.sender).toBe(alice.userId);
    }
    // Her own room is left too (the room lives on with no one joined).
    const [stats] = await querySql(s, `SELECT joined_members FROM room_stats_current WHERE room_id = '${joinedOwn}'`);
    expect(Number(stats!.joined_members)).toBe(0);
    expect(await querySql(s, `SELECT count(*) AS n FROM events WHERE room_id = '${leftRoom}'`)).toEqual(leftEvents);
    const jr = await s.request('GET', `${ADMIN}/v1/users/${enc(alice.userId)}/joined_rooms`, { token: admin.accessToken });
    expect(jr.body).toEqual({ joined_rooms: [], total: 0 });
  });

  it('client /account/deactivate goes through the same service: the user leaves their rooms', async () => {
    const carol = await s.registerUser('carol', { password: 'carol-pw' });
    const roomId = await r.create(bob, { preset: 'public_chat' });
    await r.join(carol, roomId);
    const first = await s.request('POST', `${V3}/account/deactivate`, { token: carol.accessToken, body: {} });
    expect(first.status).toBe(401);
    const ok = await s.request('POST', `${V3}/account/deactivate`, {
      token: carol.accessToken,
      body: { auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'carol' }, password: 'carol-pw', session: first.body.session } },
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(await r.membershipRows(carol.userId)).toEqual([{ room_id: roomId, membership: 'leave' }]);
    expect((await r.member(bob, roomId, carol.userId)).body.membership).toBe('leave');
  });

  it('admin PUT /v2/users with deactivated: true leaves the rooms too', async () => {
    const dave = await s.registerUser('dave');
    const roomId = await r.create(bob, { preset: 'public_chat' });
    await r.join(dave, roomId);
    const res = await s.request('PUT', `${ADMIN}/v2/users/${enc(dave.userId)}`, { token: admin.accessToken, body: { deactivated: true } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await r.membershipRows(dave.userId)).toEqual([{ room_id: roomId, membership: 'leave' }]);
  });

  it('profile changes send a new join event with the new displayname and avatar_url into every joined room', async () => {
    const erin = await s.registerUser('erin');
    const a = await r.create(erin);
    const b = await r.create(bob, { preset: 'public_chat' });
    await r.join(erin, b);
    const left = await r.create(bob, { preset: 'public_chat' });
    await r.join(erin, left);
    await s.request('POST', `${V3}/rooms/${enc(left)}/leave`, { token: erin.accessToken, body: {} });

    const put = await s.request('PUT', `${V3}/profile/${enc(erin.userId)}/displayname`, { token: erin.accessToken, body: { displayname: 'Erin New' } });
    expect(put.status).toBe(200);
    for (const roomId of [a, b]) {
      const m = await r.member(erin, roomId, erin.userId);
      expect(m.status).toBe(200);
      expect(m.body).toEqual({ membership: 'join', displayname: 'Erin New' });
    }
    const avatar = await s.request('PUT', `${V3}/profile/${enc(erin.userId)}/avatar_url`, { token: erin.accessToken, body: { avatar_url: 'mxc://localhost/abc' } });
    expect(avatar.status).toBe(200);
    const m = await r.member(bob, b, erin.userId);
    expect(m.body).toEqual({ membership: 'join', displayname: 'Erin New', avatar_url: 'mxc://localhost/abc' });
    // The member event replaced the earlier one in the room's state (prev_content carries the old name).
    const state = await s.request('GET', `${V3}/rooms/${enc(b)}/state`, { token: bob.accessToken });
    const ev = (state.body as any[]).find((e) => e.type === 'm.room.member' && e.state_key === erin.userId);
    expect(ev.sender).toBe(erin.userId);
    expect(ev.unsigned?.prev_content?.displayname).toBe('Erin New');
    // The room she left gets nothing: she is not re-joined.
    expect((await r.member(bob, left, erin.userId)).body.membership).toBe('leave');
    expect(await r.membershipRows(erin.userId)).toEqual(expect.arrayContaining([{ room_id: left, membership: 'leave' }]));

    // The admin API's displayname change propagates too.
    const byAdmin = await s.request('PUT', `${ADMIN}/v2/users/${enc(erin.userId)}`, { token: admin.accessToken, body: { displayname: 'Set By Admin' } });
    expect(byAdmin.status).toBe(200);
    for (const roomId of [a, b]) expect((await r.member(bob, roomId, erin.userId)).body.displayname ?? (await r.member(erin, roomId, erin.userId)).body.displayname).toBe('Set By Admin');
    // Clearing the displayname leaves it out of the member event.
    await s.request('PUT', `${V3}/profile/${enc(erin.userId)}/displayname`, { token: erin.accessToken, body: { displayname: '' } });
    expect((await r.member(bob, b, erin.userId)).body).toEqual({ membership: 'join', avatar_url: 'mxc://localhost/abc' });
  });

  it('shadow-ban: sends, state, redactions and invites answer plausible event IDs and reach no one', async () => {
    const mallory = await s.registerUser('mallory');
    const carl = await s.registerUser('carl');
    const v10 = await r.create(bob, { preset: 'public_chat', power_level_content_override: { users: { [bob.userId]: 100, [mallory.userId]: 100 } } });
    const v1 = await r.create(bob, { preset: 'public_chat', room_version: '1' });
    const v3 = await r.create(bob, { preset: 'public_chat', room_version: '3' });
    for (const room of [v10, v1, v3]) await r.join(mallory, room);
    const own = (await r.send(mallory, v10, { msgtype: 'm.text', body: 'before the ban' })).body.event_id as string;
    expect((await s.request('POST', `${ADMIN}/v1/users/${enc(mallory.userId)}/shadow_ban`, { token: admin.accessToken, body: {} })).status).toBe(200);

    const before = await r.eventCount();
    const sent = await r.send(mallory, v10, { msgtype: 'm.text', body: 'spam' });
    expect(sent.status).toBe(200);
    expect(sent.body.event_id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    expect(specErrors('client-server', '/rooms/{roomId}/send/{eventType}/{txnId}', 'put', 200, sent.body)).toEqual([]);
    expect((await r.send(mallory, v1)).body.event_id).toMatch(/^\$[A-Za-z]{18}:localhost$/);
    expect((await r.send(mallory, v3)).body.event_id).toMatch(/^\$[A-Za-z0-9+/]{43}$/);
    const state = await s.request('PUT', `${V3}/rooms/${enc(v10)}/state/m.room.topic/`, { token: mallory.accessToken, body: { topic: 'spam topic' } });
    expect(state.status).toBe(200);
    expect(state.body.event_id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    const redact = await s.request('PUT', `${V3}/rooms/${enc(v10)}/redact/${enc(own)}/r1`, { token: mallory.accessToken, body: {} });
    expect(redact.status).toBe(200);
    expect(redact.body.event_id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    const invite = await r.invite(mallory, v10, carl.userId);
    expect(invite.status).toBe(200);
    expect(invite.body).toEqual({});
    const stateInvite = await s.request('PUT', `${V3}/rooms/${enc(v10)}/state/m.room.member/${enc(carl.userId)}`, { token: mallory.accessToken, body: { membership: 'invite' } });
    expect(stateInvite.status).toBe(200);
    expect(stateInvite.body.event_id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    expect(await r.eventCount()).toBe(before);
    const ids = [sent.body.event_id, state.body.event_id, redact.body.event_id, stateInvite.body.event_id];
    expect(await querySql(s, `SELECT event_id FROM events WHERE event_id IN (${ids.map((i) => `'${i}'`).join(',')})`)).toEqual([]);
    expect(await r.membershipRows(carl.userId)).toEqual([]);
    // Others see nothing: the topic is unset, the message is not redacted.
    expect((await s.request('GET', `${V3}/rooms/${enc(v10)}/state/m.room.topic`, { token: bob.accessToken })).status).toBe(404);

    // createRoom with invites: the room is made (the user is in it) but no invite goes out.
    const made = await s.request('POST', `${V3}/createRoom`, { token: mallory.accessToken, body: { invite: [carl.userId], preset: 'trusted_private_chat', name: 'hidden' } });
    expect(made.status).toBe(200);
    const invites = await querySql(s, `SELECT count(*) AS n FROM room_memberships WHERE room_id = '${made.body.room_id}' AND membership = 'invite'`);
    expect(Number(invites[0]!.n)).toBe(0);
    const pl = await s.request('GET', `${V3}/rooms/${enc(made.body.room_id)}/state/m.room.power_levels`, { token: mallory.accessToken });
    expect(Object.keys(pl.body.users)).toEqual([mallory.userId]);
    // Leaving and joining are not shadow-banned.
    expect((await s.request('POST', `${V3}/rooms/${enc(v3)}/leave`, { token: mallory.accessToken, body: {} })).status).toBe(200);
    expect((await r.member(bob, v3, mallory.userId)).body.membership).toBe('leave');
    // A shadow-banned user's own profile change is not sent to rooms (Synapse).
    await s.request('PUT', `${V3}/profile/${enc(mallory.userId)}/displayname`, { token: mallory.accessToken, body: { displayname: 'Sneaky' } });
    expect((await r.member(bob, v10, mallory.userId)).body.displayname).not.toBe('Sneaky');

    // Lifting the ban: sends reach the room again.
    await s.request('DELETE', `${ADMIN}/v1/users/${enc(mallory.userId)}/shadow_ban`, { token: admin.accessToken });
    const real = await r.send(mallory, v10, { msgtype: 'm.text', body: 'real' });
    expect(await querySql(s, `SELECT event_id FROM events WHERE event_id = '${real.body.event_id}'`)).toHaveLength(1);
  });

  it('GET /_synapse/admin/v1/users/<id>/joined_rooms reads the current memberships', async () => {
    const fay = await s.registerUser('fay');
    const one = await r.create(fay);
    const two = await r.create(bob, { preset: 'public_chat' });
    await r.join(fay, two);
    const invitedOnly = await r.create(bob);
    await r.invite(bob, invitedOnly, fay.userId);
    const path = `${ADMIN}/v1/users/${enc(fay.userId)}/joined_rooms`;
    const res = await s.request('GET', path, { token: admin.accessToken });
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(2);
    expect([...res.body.joined_rooms].sort()).toEqual([one, two].sort());
    await s.request('POST', `${V3}/rooms/${enc(two)}/leave`, { token: fay.accessToken, body: {} });
    expect((await s.request('GET', path, { token: admin.accessToken })).body).toEqual({ joined_rooms: [one], total: 1 });
    // Like Synapse: unknown, remote and malformed IDs are simply in no room.
    for (const u of ['@nobody:localhost', '@someone:other.example', 'not-a-user']) {
      expect((await s.request('GET', `${ADMIN}/v1/users/${enc(u)}/joined_rooms`, { token: admin.accessToken })).body).toEqual({ joined_rooms: [], total: 0 });
    }
    const notAdmin = await s.request('GET', path, { token: fay.accessToken });
    expect(notAdmin.status).toBe(403);
    expect(notAdmin.body.errcode).toBe('M_FORBIDDEN');
    expect((await s.request('GET', path)).status).toBe(401);
  });
});

describe('rc_message limits sends, with the admin override', () => {
  let s: TestServer;
  let admin: TestUser;
  let user: TestUser;
  const r = roomClient(() => s);

  beforeAll(async () => {
    s = await startServer({ ...NO_RATE_LIMITS, rc_message: { per_second: 0.1, burst_count: 3 } });
    admin = await s.registerUser('admin', { admin: true });
    user = await s.registerUser('sender');
  });
  afterAll(async () => s?.close());

  it('the burst passes, the next send is 429 M_LIMIT_EXCEEDED with retry_after_ms and writes nothing', async () => {
    const roomId = await r.create(user); // one action
    expect((await r.send(user, roomId)).status).toBe(200);
    const state = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.topic/`, { token: user.accessToken, body: { topic: 't' } });
    expect(state.status).toBe(200);
    const before = await r.eventCount();
    for (const attempt of [
      () => r.send(user, roomId),
      () => s.request('PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.name/`, { token: user.accessToken, body: { name: 'n' } }),
      () => s.request('PUT', `${V3}/rooms/${enc(roomId)}/redact/${enc(state.body.event_id)}/r1`, { token: user.accessToken, body: {} }),
      () => s.request('POST', `${V3}/createRoom`, { token: user.accessToken, body: {} }),
    ]) {
      const res = await attempt();
      expect(res.status, JSON.stringify(res.body)).toBe(429);
      expect(res.body.errcode).toBe('M_LIMIT_EXCEEDED');
      expect(res.body.retry_after_ms).toBeGreaterThan(0);
      expect(res.body.retry_after_ms).toBeLessThanOrEqual(10_000);
    }
    expect(await r.eventCount()).toBe(before);
  });

  it('admins are limited like anyone (as in Synapse); the override_ratelimit admin API lifts the limit', async () => {
    const roomId = await r.create(admin);
    await r.send(admin, roomId);
    await r.send(admin, roomId);
    expect((await r.send(admin, roomId)).status).toBe(429);

    const limited = await s.registerUser('limited');
    const set = await s.request('POST', `${ADMIN}/v1/users/${enc(limited.userId)}/override_ratelimit`, { token: admin.accessToken, body: { messages_per_second: 0, burst_count: 0 } });
    expect(set.status).toBe(200);
    const own = await r.create(limited);
    for (let i = 0; i < 8; i++) expect((await r.send(limited, own, { msgtype: 'm.text', body: `m${i}` })).status).toBe(200);
    // A custom rate replaces rc_message: burst 1 lets one action (the createRoom) through, then 429.
    const slow = await s.registerUser('slow');
    const custom = await s.request('POST', `${ADMIN}/v1/users/${enc(slow.userId)}/override_ratelimit`, { token: admin.accessToken, body: { messages_per_second: 1, burst_count: 1 } });
    expect(custom.status).toBe(200);
    const res = await s.request('POST', `${V3}/createRoom`, { token: slow.accessToken, body: {} });
    expect(res.status).toBe(200);
    const next = await r.send(slow, res.body.room_id);
    expect(next.status).toBe(429);
    // rc_message would have allowed three; the override's rate (1/s) sets the wait.
    expect(next.body.retry_after_ms).toBeLessThanOrEqual(1000);
  });

  it('events the server sends for the user (profile updates, leaving on deactivation) are not limited', async () => {
    const busy = await s.registerUser('busy');
    const rooms = [await r.create(busy)];
    for (let i = 0; i < 2; i++) rooms.push(await r.create(busy));
    // The burst is spent; profile updates still reach all three rooms.
    expect((await s.request('POST', `${V3}/createRoom`, { token: busy.accessToken, body: {} })).status).toBe(429);
    await s.request('PUT', `${V3}/profile/${enc(busy.userId)}/displayname`, { token: busy.accessToken, body: { displayname: 'Busy Bee' } });
    for (const roomId of rooms) expect((await r.member(busy, roomId, busy.userId)).body.displayname).toBe('Busy Bee');
    await s.request('POST', `${ADMIN}/v1/deactivate/${enc(busy.userId)}`, { token: admin.accessToken, body: {} });
    expect((await r.membershipRows(busy.userId)).map((x) => x.membership)).toEqual(['leave', 'leave', 'leave']);
  });
});
