import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';

const V3 = '/_matrix/client/v3';
const ADMIN = '/_synapse/admin';
const enc = encodeURIComponent;

/**
 * Redact all of a user's events (catalogue §3.21, Synapse 1.116): a task that redacts the user's
 * messages and joins, newest first up to `limit` per room, by the user themselves (a local user)
 * or by the admin with `use_admin`; a status with failed_redactions once complete.
 */
describe('Admin API: redact all events of a user', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;
  let spammer: TestUser;
  let txn = 0;
  const send = (u: TestUser, roomId: string, body: unknown, type = 'm.room.message') =>
    s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/${type}/t${++txn}`, { token: u.accessToken, body });
  const ok = <T extends { status: number; body: any }>(r: T) => {
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  const waitFor = async (redactId: string) => {
    let st: any;
    for (let i = 0; i < 300; i++) {
      st = ok(await s.request('GET', `${ADMIN}/v1/user/redact_status/${redactId}`, { token: admin.accessToken }));
      if (st.status !== 'active' && st.status !== 'scheduled') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    return st;
  };
  /** Redaction rows of the room, by redacted event: who redacted it and why. */
  const redactionsIn = async (roomId: string) => {
    const rows = await querySql<{ redacts: string; sender: string; json: string }>(
      s,
      `SELECT r.redacts, e.sender, j.json FROM redactions r JOIN events e ON e.event_id = r.event_id JOIN event_json j ON j.event_id = r.event_id WHERE e.room_id = '${roomId}'`,
    );
    return new Map(rows.map((r) => [r.redacts, { sender: r.sender, reason: (JSON.parse(r.json).content as any).reason }]));
  };
  const room = async () => {
    const roomId = ok(await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat' } })).room_id as string;
    ok(await s.request('POST', `${V3}/rooms/${enc(roomId)}/join`, { token: spammer.accessToken, body: {} }));
    const spam: string[] = [];
    for (let i = 0; i < 5; i++) spam.push(ok(await send(spammer, roomId, { msgtype: 'm.text', body: `spam ${i}` })).event_id);
    const fine = ok(await send(alice, roomId, { msgtype: 'm.text', body: 'hello' })).event_id as string;
    return { roomId, spam, fine };
  };

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
    spammer = await s.registerUser('spammer');
  });
  afterAll(async () => s?.close());

  it('redacts the user\'s messages and join in every room they are in (rooms: []), as themselves, with the reason', async () => {
    const a = await room();
    const b = await room();
    const join = (await querySql<{ event_id: string }>(s, `SELECT event_id FROM room_memberships WHERE room_id = '${a.roomId}' AND user_id = '${spammer.userId}' AND membership = 'join'`))[0]!.event_id;
    const res = ok(await s.request('POST', `${ADMIN}/v1/user/${enc(spammer.userId)}/redact`, { token: admin.accessToken, body: { rooms: [], reason: 'spam' } }));
    expect(Object.keys(res)).toEqual(['redact_id']);
    const st = await waitFor(res.redact_id);
    expect(st).toEqual({ status: 'complete', failed_redactions: {} });
    for (const r of [a, b]) {
      const red = await redactionsIn(r.roomId);
      for (const id of r.spam) expect(red.get(id)).toEqual({ sender: spammer.userId, reason: 'spam' });
      expect(red.has(r.fine)).toBe(false);
    }
    expect((await redactionsIn(a.roomId)).has(join)).toBe(true);
    // Clients see them redacted.
    const ev = ok(await s.request('GET', `${V3}/rooms/${enc(a.roomId)}/event/${enc(a.spam[0]!)}`, { token: alice.accessToken }));
    expect(ev.content).toEqual({});
    expect(ev.unsigned.redacted_because.type).toBe('m.room.redaction');
  });

  it('limit counts per room, newest first; use_admin sends them as the admin; already redacted events are skipped', async () => {
    const r = await room();
    ok(await s.request('POST', `${V3}/rooms/${enc(r.roomId)}/join`, { token: admin.accessToken, body: {} }));
    // Give the admin the power to redact others' events.
    const pl = ok(await s.request('GET', `${V3}/rooms/${enc(r.roomId)}/state/m.room.power_levels`, { token: alice.accessToken }));
    ok(await s.request('PUT', `${V3}/rooms/${enc(r.roomId)}/state/m.room.power_levels`, { token: alice.accessToken, body: { ...pl, users: { ...pl.users, [admin.userId]: 100 } } }));
    const first = ok(await s.request('POST', `${ADMIN}/v1/user/${enc(spammer.userId)}/redact`, { token: admin.accessToken, body: { rooms: [r.roomId], limit: 2, use_admin: true } }));
    expect((await waitFor(first.redact_id)).status).toBe('complete');
    let red = await redactionsIn(r.roomId);
    expect(red.size).toBe(2);
    expect(red.get(r.spam[4]!)).toEqual({ sender: admin.userId, reason: undefined });
    expect(red.has(r.spam[3]!)).toBe(true);
    const second = ok(await s.request('POST', `${ADMIN}/v1/user/${enc(spammer.userId)}/redact`, { token: admin.accessToken, body: { rooms: [r.roomId], limit: 2, use_admin: true } }));
    expect((await waitFor(second.redact_id)).status).toBe('complete');
    red = await redactionsIn(r.roomId);
    expect(red.size).toBe(4);
    expect(red.has(r.spam[2]!)).toBe(true);
    expect(red.has(r.spam[1]!)).toBe(true);
  });

  it('records events it could not redact in failed_redactions', async () => {
    const r = await room();
    // The admin is not in the room: each redaction by the admin is refused.
    const res = ok(await s.request('POST', `${ADMIN}/v1/user/${enc(spammer.userId)}/redact`, { token: admin.accessToken, body: { rooms: [r.roomId], use_admin: true } }));
    const st = await waitFor(res.redact_id);
    expect(st.status).toBe('complete');
    expect(Object.keys(st.failed_redactions).sort()).toEqual(expect.arrayContaining([...r.spam].sort()));
    for (const text of Object.values(st.failed_redactions)) expect(typeof text).toBe('string');
  });

  it('refuses bad requests with Synapse\'s errors', async () => {
    const post = (user: string, body: unknown, token = admin.accessToken) => s.request('POST', `${ADMIN}/v1/user/${enc(user)}/redact`, { token, body });
    const missing = await post(spammer.userId, {});
    expect(missing.status).toBe(400);
    expect(missing.body.errcode).toBe('M_MISSING_PARAM');
    expect((await post(spammer.userId, { rooms: 'all' })).body.errcode).toBe('M_BAD_JSON');
    expect((await post(spammer.userId, { rooms: [], use_admin: 'yes' })).body.errcode).toBe('M_BAD_JSON');
    const zero = await post(spammer.userId, { rooms: [], limit: 0 });
    expect(zero.status).toBe(400);
    expect(zero.body.error).toBe('If limit is provided it must be a non-negative integer greater than 0.');
    const badUser = await post('spammer', { rooms: [] });
    expect(badUser.status).toBe(400);
    expect(badUser.body.errcode).toBe('M_INVALID_PARAM');
    expect((await s.request('POST', `${ADMIN}/v1/user/${enc(spammer.userId)}/redact`, { token: admin.accessToken, rawBody: '' })).body.errcode).toBe('M_NOT_JSON');
    expect((await post(spammer.userId, { rooms: [] }, alice.accessToken)).status).toBe(403);
    const unknown = await s.request('GET', `${ADMIN}/v1/user/redact_status/nope`, { token: admin.accessToken });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ errcode: 'M_NOT_FOUND', error: "redact id 'nope' not found" });
  });

  it('is listed in /scheduled_tasks as redact_all_events, by user', async () => {
    const tasks = ok(await s.request('GET', `${ADMIN}/v1/scheduled_tasks?action_name=redact_all_events&resource_id=${enc(spammer.userId)}`, { token: admin.accessToken })).scheduled_tasks as any[];
    expect(tasks.length).toBeGreaterThanOrEqual(4);
    expect(tasks.every((t) => t.resource_id === spammer.userId)).toBe(true);
  });
});
