import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const ADMIN = '/_synapse/admin/v1';
const enc = encodeURIComponent;

describe('Reports: filing them (client API) and reading them (admin API, catalogue §9)', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let roomId: string;
  let otherRoom: string;
  let aliceMsg: string;
  let bobMsg: string;
  let otherMsg: string;
  let txn = 0;

  const send = async (u: TestUser, room: string, body: string) => {
    const res = await s.request('PUT', `${V3}/rooms/${enc(room)}/send/m.room.message/t${++txn}`, { token: u.accessToken, body: { msgtype: 'm.text', body } });
    expect(res.status, res.text).toBe(200);
    return res.body.event_id as string;
  };
  const report = (u: TestUser, room: string, eventId: string, body: unknown) =>
    s.request('POST', `${V3}/rooms/${enc(room)}/report/${enc(eventId)}`, { token: u.accessToken, body });
  const list = (query = '', token = admin.accessToken) => s.request('GET', `${ADMIN}/event_reports${query}`, { token });

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    carol = await s.registerUser('carol');
    let res = await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { name: 'Reported room', invite: [bob.userId] } });
    roomId = res.body.room_id;
    expect((await s.request('POST', `${V3}/join/${enc(roomId)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
    aliceMsg = await send(alice, roomId, 'something rude');
    bobMsg = await send(bob, roomId, 'a reply');
    res = await s.request('POST', `${V3}/createRoom`, { token: carol.accessToken, body: {} });
    otherRoom = res.body.room_id;
    otherMsg = await send(carol, otherRoom, 'elsewhere');
  });
  afterAll(async () => s?.close());

  describe('POST /rooms/{roomId}/report/{eventId}', () => {
    it('stores the report with the whole body in Synapse\'s event_reports table', async () => {
      const res = await report(bob, roomId, aliceMsg, { reason: 'rude', score: -100 });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({});
      expect(specErrors('client-server', '/rooms/{roomId}/report/{eventId}', 'post', 200, res.body)).toEqual([]);
      const rows = await querySql<Record<string, unknown>>(s, `SELECT room_id, event_id, user_id, reason, content, received_ts FROM event_reports`);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ room_id: roomId, event_id: aliceMsg, user_id: bob.userId, reason: 'rude' });
      expect(JSON.parse(rows[0]!.content as string)).toEqual({ reason: 'rude', score: -100 });
      expect(Math.abs(Number(rows[0]!.received_ts) - Date.now())).toBeLessThan(60_000);
    });

    it('answers 404 for an event the reporter cannot see, an unknown event, or an event of another room', async () => {
      const msg = "Unable to report event: it does not exist or you aren't able to see it.";
      for (const [u, room, ev] of [
        [carol, roomId, aliceMsg],
        [bob, roomId, '$nonexistent'],
        [bob, roomId, otherMsg],
        [bob, '!unknown:localhost', aliceMsg],
      ] as const) {
        const res = await report(u, room, ev, { reason: 'x' });
        expect(res.status, `${u.userId} ${room} ${ev}`).toBe(404);
        expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: msg });
      }
      expect(await querySql(s, 'SELECT id FROM event_reports')).toHaveLength(1);
    });

    it('refuses a reason that is not a string and a score that is not an integer, and needs a token', async () => {
      let res = await report(bob, roomId, aliceMsg, { reason: 5 });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_BAD_JSON', error: "Param 'reason' must be a string" });
      res = await report(bob, roomId, aliceMsg, { score: 'bad' });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
      res = await report(bob, roomId, aliceMsg, { score: 1.5 });
      expect(res.status).toBe(400);
      res = await s.request('POST', `${V3}/rooms/${enc(roomId)}/report/${enc(aliceMsg)}`, { body: {} });
      expect(res.status).toBe(401);
      // An empty body is not JSON (the spec makes the body required).
      res = await s.request('POST', `${V3}/rooms/${enc(roomId)}/report/${enc(aliceMsg)}`, { token: bob.accessToken });
      expect(res.body.errcode).toBe('M_NOT_JSON');
      expect(await querySql(s, 'SELECT id FROM event_reports')).toHaveLength(1);
    });
  });

  describe('GET /_synapse/admin/v1/event_reports', () => {
    beforeAll(async () => {
      // Three more: alice reports bob's reply (no score), bob reports it too, carol her own room's event.
      expect((await report(alice, roomId, bobMsg, { reason: 'spam' })).status).toBe(200);
      expect((await report(bob, roomId, bobMsg, {})).status).toBe(200);
      expect((await report(carol, otherRoom, otherMsg, { reason: 'test', score: 0 })).status).toBe(200);
    });

    it('lists every report newest first with Synapse\'s fields', async () => {
      const res = await list();
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(4);
      expect(res.body).not.toHaveProperty('next_token');
      const reports = res.body.event_reports as Array<Record<string, unknown>>;
      expect(reports.map((r) => r.user_id)).toEqual([carol.userId, bob.userId, alice.userId, bob.userId]);
      const first = reports[3]!;
      expect(Object.keys(first).sort()).toEqual(['canonical_alias', 'event_id', 'id', 'name', 'reason', 'received_ts', 'room_id', 'score', 'sender', 'user_id']);
      expect(first).toMatchObject({ room_id: roomId, name: 'Reported room', canonical_alias: null, event_id: aliceMsg, user_id: bob.userId, reason: 'rude', score: -100, sender: alice.userId });
      expect(typeof first.id).toBe('number');
      expect(typeof first.received_ts).toBe('number');
      // A report without reason or score shows nulls.
      expect(reports[1]).toMatchObject({ reason: null, score: null, sender: bob.userId });
      // dir=f: oldest first.
      const fwd = await list('?dir=f');
      expect((fwd.body.event_reports as Array<{ id: number }>).map((r) => r.id)).toEqual(reports.map((r) => r.id).reverse());
    });

    it('paginates with from/limit and an integer next_token while from + limit < total', async () => {
      const p1 = await list('?limit=3');
      expect(p1.body.event_reports).toHaveLength(3);
      expect(p1.body.next_token).toBe(3);
      expect(p1.body.total).toBe(4);
      const p2 = await list('?limit=3&from=3');
      expect(p2.body.event_reports).toHaveLength(1);
      expect(p2.body).not.toHaveProperty('next_token');
      expect((await list('?limit=4')).body).not.toHaveProperty('next_token');
    });

    it('filters by reporter and room as substrings, by the event sender exactly', async () => {
      let res = await list(`?user_id=${enc('bo')}`);
      expect(res.body.total).toBe(2);
      expect(new Set(res.body.event_reports.map((r: { user_id: string }) => r.user_id))).toEqual(new Set([bob.userId]));
      res = await list(`?room_id=${enc(otherRoom.slice(1, 8))}`);
      expect(res.body.event_reports.map((r: { room_id: string }) => r.room_id)).toEqual([otherRoom]);
      res = await list(`?event_sender_user_id=${enc(bob.userId)}`);
      expect(res.body.total).toBe(2);
      expect(res.body.event_reports.every((r: { sender: string }) => r.sender === bob.userId)).toBe(true);
      res = await list(`?event_sender_user_id=${enc('bob')}`);
      expect(res.body.total).toBe(0);
      expect(res.body.event_reports).toEqual([]);
    });

    it('checks its parameters and the caller as Synapse', async () => {
      let res = await list('?from=-1');
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
      res = await list('?dir=x');
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
      res = await list('', alice.accessToken);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You are not a server admin' });
    });
  });

  describe('GET/DELETE /_synapse/admin/v1/event_reports/<report_id>', () => {
    it('answers one report with the reported event in federation format', async () => {
      const id = (await list('?dir=f')).body.event_reports[0].id as number;
      const res = await s.request('GET', `${ADMIN}/event_reports/${id}`, { token: admin.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id, room_id: roomId, event_id: aliceMsg, user_id: bob.userId, reason: 'rude', score: -100, sender: alice.userId, name: 'Reported room' });
      const ev = res.body.event_json;
      expect(ev).toMatchObject({ type: 'm.room.message', room_id: roomId, sender: alice.userId, content: { body: 'something rude' } });
      for (const k of ['auth_events', 'prev_events', 'depth', 'hashes', 'signatures', 'origin_server_ts']) expect(ev).toHaveProperty(k);
    });

    it('validates the ID and answers 404 for unknown reports', async () => {
      for (const bad of ['abc', '-1', '1.5']) {
        const res = await s.request('GET', `${ADMIN}/event_reports/${bad}`, { token: admin.accessToken });
        expect(res.status, bad).toBe(400);
        expect(res.body).toEqual({ errcode: 'M_INVALID_PARAM', error: 'The report_id parameter must be a string representing a positive integer.' });
      }
      for (const id of ['9999', '99999999999999999999999']) {
        const res = await s.request('GET', `${ADMIN}/event_reports/${id}`, { token: admin.accessToken });
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Event report not found' });
      }
    });

    it('DELETE removes the report (then 404)', async () => {
      const id = (await list()).body.event_reports[0].id as number;
      let res = await s.request('DELETE', `${ADMIN}/event_reports/${id}`, { token: admin.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      expect(await querySql(s, `SELECT id FROM event_reports WHERE id = ${id}`)).toEqual([]);
      res = await s.request('DELETE', `${ADMIN}/event_reports/${id}`, { token: admin.accessToken });
      expect(res.status).toBe(404);
      expect(res.body.error).toBe('Event report not found');
      expect((await list()).body.total).toBe(3);
    });
  });

  describe('room reports (spec v1.13)', () => {
    it('POST /rooms/{roomId}/report stores the report; the reporter need not be in the room', async () => {
      const res = await s.request('POST', `${V3}/rooms/${enc(roomId)}/report`, { token: carol.accessToken, body: { reason: 'bad room' } });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({});
      expect(specErrors('client-server', '/rooms/{roomId}/report', 'post', 200, res.body)).toEqual([]);
      const rows = await querySql(s, 'SELECT room_id, user_id, reason FROM room_reports');
      expect(rows).toEqual([{ room_id: roomId, user_id: carol.userId, reason: 'bad room' }]);
    });

    it('404 for an unknown room; reason is required and must be a string', async () => {
      let res = await s.request('POST', `${V3}/rooms/${enc('!nope:localhost')}/report`, { token: carol.accessToken, body: { reason: 'x' } });
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
      res = await s.request('POST', `${V3}/rooms/${enc(roomId)}/report`, { token: carol.accessToken, body: {} });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_MISSING_PARAM');
      res = await s.request('POST', `${V3}/rooms/${enc(roomId)}/report`, { token: carol.accessToken, body: { reason: [] } });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
      expect(await querySql(s, 'SELECT id FROM room_reports')).toHaveLength(1);
    });
  });

  describe('user reports (spec v1.14; admin API Synapse 1.152)', () => {
    it('POST /users/{userId}/report stores a report of a local user', async () => {
      const res = await s.request('POST', `${V3}/users/${enc(carol.userId)}/report`, { token: bob.accessToken, body: { reason: 'harassment' } });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({});
      expect(specErrors('client-server', '/users/{userId}/report', 'post', 200, res.body)).toEqual([]);
      expect(await querySql(s, 'SELECT target_user_id, user_id, reason FROM user_reports')).toEqual([{ target_user_id: carol.userId, user_id: bob.userId, reason: 'harassment' }]);
    });

    it('answers unknown and remote users like known ones without storing anything; refuses malformed IDs', async () => {
      for (const u of ['@ghost:localhost', '@someone:elsewhere.example']) {
        const res = await s.request('POST', `${V3}/users/${enc(u)}/report`, { token: bob.accessToken, body: { reason: 'x' } });
        expect(res.status, u).toBe(200);
      }
      let res = await s.request('POST', `${V3}/users/${enc('not-a-user')}/report`, { token: bob.accessToken, body: { reason: 'x' } });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
      res = await s.request('POST', `${V3}/users/${enc(carol.userId)}/report`, { token: bob.accessToken, body: {} });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_MISSING_PARAM');
      expect(await querySql(s, 'SELECT id FROM user_reports')).toHaveLength(1);
    });

    it('GET /_synapse/admin/v1/user_reports lists, filters and pages; one report; DELETE', async () => {
      expect((await s.request('POST', `${V3}/users/${enc(alice.userId)}/report`, { token: carol.accessToken, body: { reason: 'spam' } })).status).toBe(200);
      let res = await s.request('GET', `${ADMIN}/user_reports`, { token: admin.accessToken });
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(2);
      const [newest, oldest] = res.body.user_reports as Array<Record<string, unknown>>;
      expect(Object.keys(newest!).sort()).toEqual(['id', 'reason', 'received_ts', 'target_user_id', 'user_id']);
      expect(newest).toMatchObject({ target_user_id: alice.userId, user_id: carol.userId, reason: 'spam' });
      expect(oldest).toMatchObject({ target_user_id: carol.userId, user_id: bob.userId });
      res = await s.request('GET', `${ADMIN}/user_reports?limit=1`, { token: admin.accessToken });
      expect(res.body.next_token).toBe(1);
      res = await s.request('GET', `${ADMIN}/user_reports?target_user_id=${enc('caro')}`, { token: admin.accessToken });
      expect(res.body.user_reports.map((r: { target_user_id: string }) => r.target_user_id)).toEqual([carol.userId]);
      res = await s.request('GET', `${ADMIN}/user_reports?user_id=${enc(carol.userId)}&dir=f`, { token: admin.accessToken });
      expect(res.body.total).toBe(1);

      res = await s.request('GET', `${ADMIN}/user_reports/${newest!.id}`, { token: admin.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(newest);
      res = await s.request('GET', `${ADMIN}/user_reports/x`, { token: admin.accessToken });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
      res = await s.request('DELETE', `${ADMIN}/user_reports/${newest!.id}`, { token: admin.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      res = await s.request('GET', `${ADMIN}/user_reports/${newest!.id}`, { token: admin.accessToken });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'User report not found' });
    });
  });
});
