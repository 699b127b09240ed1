import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { synadmRunner } from '../harness/synadm.js';

const V3 = '/_matrix/client/v3';
const PATH = '/_synapse/admin/v1/send_server_notice';
const enc = encodeURIComponent;
const SYSTEM = '@notices:localhost';
const notice = (body: string) => ({ msgtype: 'm.text', body });

describe('Server notices (catalogue §10)', () => {
  describe('without a server_notices section', () => {
    let s: TestServer;
    let admin: TestUser;
    let alice: TestUser;
    beforeAll(async () => {
      s = await startServer(NO_RATE_LIMITS);
      admin = await s.registerUser('admin', { admin: true });
      alice = await s.registerUser('alice');
    });
    afterAll(async () => s?.close());

    it('answers 400 "not enabled" once the required params are there, and sends nothing', async () => {
      let res = await s.request('POST', PATH, { token: admin.accessToken, body: { user_id: alice.userId } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_MISSING_PARAM', error: "Missing params: ['content']" });
      res = await s.request('POST', PATH, { token: admin.accessToken, body: { user_id: alice.userId, content: notice('hi') } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Server notices are not enabled on this server' });
      res = await s.request('PUT', `${PATH}/t1`, { token: admin.accessToken, body: { user_id: alice.userId, content: notice('hi') } });
      expect(res.status).toBe(400);
      expect(await querySql(s, 'SELECT room_id FROM rooms')).toEqual([]);
      res = await s.request('POST', PATH, { token: alice.accessToken, body: { user_id: alice.userId, content: notice('hi') } });
      expect(res.status).toBe(403);
    });
  });

  describe('with server_notices configured', () => {
    let s: TestServer;
    let admin: TestUser;
    let alice: TestUser;
    let bob: TestUser;
    let roomId: string;
    const post = (body: unknown) => s.request('POST', PATH, { token: admin.accessToken, body });
    const roomsOf = (userId: string) =>
      querySql<{ room_id: string; membership: string }>(s, `SELECT room_id, membership FROM local_current_membership WHERE user_id = '${userId}' ORDER BY room_id`);

    beforeAll(async () => {
      s = await startServer({
        ...NO_RATE_LIMITS,
        server_notices: { system_mxid_localpart: 'notices', system_mxid_display_name: 'Server Notices', system_mxid_avatar_url: 'mxc://localhost/notices', room_name: 'Notices', room_topic: 'From the admins' },
      });
      admin = await s.registerUser('admin', { admin: true });
      alice = await s.registerUser('alice');
      bob = await s.registerUser('bob');
    });
    afterAll(async () => s?.close());

    it('creates the system user and a private notices room, invites the user, tags the room and sends the notice', async () => {
      const res = await post({ user_id: alice.userId, content: notice('Welcome') });
      expect(res.status, res.text).toBe(200);
      expect(Object.keys(res.body)).toEqual(['event_id']);
      const eventId = res.body.event_id as string;
      expect(eventId).toMatch(/^\$/);

      // The system user exists (no password: nobody can log in as it) with the configured profile.
      const [u] = await querySql<{ password_hash: string | null }>(s, `SELECT password_hash FROM users WHERE name = '${SYSTEM}'`);
      expect(u).toEqual({ password_hash: null });
      const [p] = await querySql(s, `SELECT displayname, avatar_url FROM profiles WHERE full_user_id = '${SYSTEM}'`);
      expect(p).toEqual({ displayname: 'Server Notices', avatar_url: 'mxc://localhost/notices' });

      const aliceRooms = await roomsOf(alice.userId);
      expect(aliceRooms).toHaveLength(1);
      roomId = aliceRooms[0]!.room_id;
      expect(aliceRooms[0]!.membership).toBe('invite');
      expect(await roomsOf(SYSTEM)).toEqual([{ room_id: roomId, membership: 'join' }]);
      const [room] = await querySql(s, `SELECT creator FROM rooms WHERE room_id = '${roomId}'`);
      expect(room).toEqual({ creator: SYSTEM });
      const [stats] = await querySql(s, `SELECT name, topic, join_rules FROM room_stats_state WHERE room_id = '${roomId}'`);
      expect(stats).toEqual({ name: 'Notices', topic: 'From the admins', join_rules: 'invite' });

      // The notice itself, from the system user; members other than it cannot speak.
      const [ev] = await querySql<{ sender: string; type: string; room_id: string }>(s, `SELECT sender, type, room_id FROM events WHERE event_id = '${eventId}'`);
      expect(ev).toEqual({ sender: SYSTEM, type: 'm.room.message', room_id: roomId });
      const [pl] = await querySql<{ json: string }>(
        s,
        `SELECT j.json FROM current_state_events c JOIN event_json j ON j.event_id = c.event_id WHERE c.room_id = '${roomId}' AND c.type = 'm.room.power_levels'`,
      );
      const levels = JSON.parse(pl!.json).content;
      expect(levels.users_default).toBe(-10);
      expect(levels.users[SYSTEM]).toBe(100);
      const [member] = await querySql<{ json: string }>(
        s,
        `SELECT j.json FROM current_state_events c JOIN event_json j ON j.event_id = c.event_id WHERE c.room_id = '${roomId}' AND c.type = 'm.room.member' AND c.state_key = '${SYSTEM}'`,
      );
      expect(JSON.parse(member!.json).content).toMatchObject({ membership: 'join', displayname: 'Server Notices', avatar_url: 'mxc://localhost/notices' });

      // Tagged m.server_notice in the user's room tags (Synapse's room_tags), as the tags API shows.
      const [tag] = await querySql<{ content: string }>(s, `SELECT content FROM room_tags WHERE user_id = '${alice.userId}' AND room_id = '${roomId}' AND tag = 'm.server_notice'`);
      expect(JSON.parse(tag!.content)).toEqual({});

      // Alice joins and reads it.
      expect((await s.request('POST', `${V3}/join/${enc(roomId)}`, { token: alice.accessToken, body: {} })).status).toBe(200);
      const msg = await s.request('GET', `${V3}/rooms/${enc(roomId)}/event/${enc(eventId)}`, { token: alice.accessToken });
      expect(msg.status).toBe(200);
      expect(msg.body).toMatchObject({ sender: SYSTEM, content: { msgtype: 'm.text', body: 'Welcome' } });
      // She cannot answer there.
      const reply = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/r1`, { token: alice.accessToken, body: notice('thanks') });
      expect(reply.status).toBe(403);
    });

    it('reuses the room for the next notices, including state events (type and state_key)', async () => {
      let res = await post({ user_id: alice.userId, content: notice('Second') });
      expect(res.status).toBe(200);
      res = await post({ user_id: alice.userId, type: 'm.example.notice_state', state_key: '', content: { level: 1 } });
      expect(res.status).toBe(200);
      const [st] = await querySql(s, `SELECT event_id FROM current_state_events WHERE room_id = '${roomId}' AND type = 'm.example.notice_state' AND state_key = ''`);
      expect(st).toEqual({ event_id: res.body.event_id });
      expect(await roomsOf(alice.userId)).toEqual([{ room_id: roomId, membership: 'join' }]);
      const [n] = await querySql(s, `SELECT count(*) AS n FROM events WHERE room_id = '${roomId}' AND sender = '${SYSTEM}' AND type IN ('m.room.message', 'm.example.notice_state')`);
      expect(Number(n!.n)).toBe(3);
    });

    it('a user who left gets a new room on the next notice', async () => {
      expect((await s.request('POST', `${V3}/rooms/${enc(roomId)}/leave`, { token: alice.accessToken, body: {} })).status).toBe(200);
      const res = await post({ user_id: alice.userId, content: notice('Third') });
      expect(res.status).toBe(200);
      const rooms = (await roomsOf(alice.userId)).filter((r) => r.membership === 'invite');
      expect(rooms).toHaveLength(1);
      expect(rooms[0]!.room_id).not.toBe(roomId);
    });

    it('PUT with a transaction ID is idempotent per access token', async () => {
      const body = { user_id: bob.userId, content: notice('Once') };
      const [a, b] = await Promise.all([
        s.request('PUT', `${PATH}/txn-1`, { token: admin.accessToken, body }),
        s.request('PUT', `${PATH}/txn-1`, { token: admin.accessToken, body }),
      ]);
      expect(a.status, a.text).toBe(200);
      expect(b.body).toEqual(a.body);
      const again = await s.request('PUT', `${PATH}/txn-1`, { token: admin.accessToken, body });
      expect(again.body).toEqual(a.body);
      const other = await s.request('PUT', `${PATH}/txn-2`, { token: admin.accessToken, body });
      expect(other.body.event_id).not.toBe(a.body.event_id);
      // Two sends, one room (concurrent first notices did not make two).
      expect(await roomsOf(bob.userId)).toHaveLength(1);
      const [n] = await querySql(s, `SELECT count(*) AS n FROM events e JOIN event_json j ON j.event_id = e.event_id WHERE e.sender = '${SYSTEM}' AND e.type = 'm.room.message' AND j.json LIKE '%Once%'`);
      expect(Number(n!.n)).toBe(2);
    });

    it('refuses remote, unknown and malformed recipients, and bad bodies, with Synapse\'s answers', async () => {
      const cases: Array<[unknown, number, Record<string, unknown>]> = [
        [{ user_id: '@x:elsewhere.example', content: notice('x') }, 400, { errcode: 'M_UNKNOWN', error: 'Server notices can only be sent to local users' }],
        [{ user_id: '@ghost:localhost', content: notice('x') }, 404, { errcode: 'M_NOT_FOUND', error: 'User not found' }],
        [{ user_id: 'alice', content: notice('x') }, 400, { errcode: 'M_INVALID_PARAM' }],
        [{ content: notice('x') }, 400, { errcode: 'M_MISSING_PARAM', error: "Missing params: ['user_id']" }],
        [{ user_id: alice.userId, content: 'text' }, 400, { errcode: 'M_BAD_JSON' }],
      ];
      for (const [body, status, expected] of cases) {
        const res = await post(body);
        expect(res.status, JSON.stringify(body)).toBe(status);
        expect(res.body).toMatchObject(expected);
      }
      expect((await s.request('POST', PATH, { token: admin.accessToken, rawBody: 'nope' })).body.errcode).toBe('M_NOT_JSON');
    });

    it('synadm notice send delivers a notice', async () => {
      const synadm = synadmRunner(s, admin);
      const carol = await s.registerUser('carol');
      const out = await synadm('notice', 'send', 'carol', 'Hello from synadm');
      expect(out.code, out.stderr + out.stdout).toBe(0);
      expect(out.stdout).toContain('event_id');
      const [ev] = await querySql<{ json: string }>(
        s,
        `SELECT j.json FROM events e JOIN event_json j ON j.event_id = e.event_id JOIN local_current_membership m ON m.room_id = e.room_id WHERE m.user_id = '${carol.userId}' AND e.sender = '${SYSTEM}' AND e.type = 'm.room.message'`,
      );
      expect(JSON.parse(ev!.json).content).toMatchObject({ msgtype: 'm.text', body: 'Hello from synadm' });
    });
  });

  describe('with auto_join', () => {
    let s: TestServer;
    afterAll(async () => s?.close());

    it('joins the user to the new room', async () => {
      s = await startServer({ ...NO_RATE_LIMITS, server_notices: { system_mxid_localpart: 'notices', auto_join: true } });
      const admin = await s.registerUser('admin', { admin: true });
      const alice = await s.registerUser('alice');
      const res = await s.request('POST', PATH, { token: admin.accessToken, body: { user_id: alice.userId, content: notice('hi') } });
      expect(res.status, res.text).toBe(200);
      const rows = await querySql(s, `SELECT membership FROM local_current_membership WHERE user_id = '${alice.userId}'`);
      expect(rows).toEqual([{ membership: 'join' }]);
      const [stats] = await querySql(s, `SELECT name FROM room_stats_state`);
      expect(stats).toEqual({ name: 'Server Notices' });
    });
  });
});
