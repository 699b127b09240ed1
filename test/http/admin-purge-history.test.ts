import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';

const V3 = '/_matrix/client/v3';
const ADMIN = '/_synapse/admin';
const enc = encodeURIComponent;

/**
 * Purge history (catalogue §6.16): events before the point go with their rows; state events, the
 * point and what follows, and the latest event stay; local users' events only with
 * delete_local_events; no state group is left that nothing refers to; a status per purge.
 */
describe('Admin API: purge room history', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let txn = 0;
  const send = (u: TestUser, roomId: string, body: unknown, type = 'm.room.message') =>
    s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/${type}/t${++txn}`, { token: u.accessToken, body });
  const ok = <T extends { status: number; body: any }>(r: T) => {
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  const count = async (sql: string) => Number((await querySql<{ n: number | string }>(s, sql))[0]!.n);
  const waitFor = async (purgeId: string) => {
    let st: any;
    for (let i = 0; i < 300; i++) {
      st = ok(await s.request('GET', `${ADMIN}/v1/purge_history_status/${purgeId}`, { token: admin.accessToken }));
      if (st.status !== 'active') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    return st;
  };
  const room = async () => {
    const roomId = ok(await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat', name: 'history' } })).room_id as string;
    ok(await s.request('POST', `${V3}/rooms/${enc(roomId)}/join`, { token: bob.accessToken, body: {} }));
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(ok(await send(i % 2 ? bob : alice, roomId, { msgtype: 'm.text', body: `m${i}` })).event_id);
    // A state change in the middle of the messages, a thread and a reaction early on.
    ok(await send(bob, roomId, { msgtype: 'm.text', body: 'reply', 'm.relates_to': { rel_type: 'm.thread', event_id: ids[1] } }));
    ok(await send(alice, roomId, { 'm.relates_to': { rel_type: 'm.annotation', event_id: ids[2], key: 'x' } }, 'm.reaction'));
    ok(await s.request('PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.topic`, { token: alice.accessToken, body: { topic: 'mid' } }));
    for (let i = 0; i < 10; i++) ids.push(ok(await send(alice, roomId, { msgtype: 'm.text', body: `late${i}` })).event_id);
    return { roomId, ids };
  };
  /** Events of the room whose rows in an event-keyed table are missing (a purge must take all or none). */
  const orphans = async (roomId: string) => {
    const tables = ['event_json', 'event_to_state_groups'];
    const out: Record<string, number> = {};
    for (const t of tables) out[t] = await count(`SELECT count(*) AS n FROM events e WHERE e.room_id = '${roomId}' AND NOT EXISTS (SELECT 1 FROM ${t} x WHERE x.event_id = e.event_id)`);
    out.json_without_event = await count(`SELECT count(*) AS n FROM event_json j WHERE j.room_id = '${roomId}' AND NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = j.event_id)`);
    out.unreferenced_groups = await count(
      `SELECT count(*) AS n FROM state_groups g WHERE g.room_id = '${roomId}' AND NOT EXISTS (SELECT 1 FROM event_to_state_groups x WHERE x.state_group = g.id) AND NOT EXISTS (SELECT 1 FROM state_group_edges d WHERE d.prev_state_group = g.id)`,
    );
    return out;
  };

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
  });
  afterAll(async () => s?.close());

  it('purges the messages before an event (path form) with delete_local_events; state, the point and later events stay', async () => {
    const { roomId, ids } = await room();
    const point = ids[20]!;
    const stateBefore = await count(`SELECT count(*) AS n FROM events WHERE room_id = '${roomId}' AND state_key IS NOT NULL`);
    const depth = Number((await querySql<{ d: number | string }>(s, `SELECT topological_ordering AS d FROM events WHERE event_id = '${point}'`))[0]!.d);
    const doomed = (
      await querySql<{ event_id: string }>(s, `SELECT event_id FROM events WHERE room_id = '${roomId}' AND state_key IS NULL AND topological_ordering < ${depth}`)
    ).map((r) => r.event_id);
    expect(doomed.length).toBe(20);
    const laterBefore = await count(`SELECT count(*) AS n FROM events WHERE room_id = '${roomId}' AND topological_ordering >= ${depth}`);

    const res = ok(await s.request('POST', `${ADMIN}/v1/purge_history/${enc(roomId)}/${enc(point)}`, { token: admin.accessToken, body: { delete_local_events: true } }));
    expect(Object.keys(res)).toEqual(['purge_id']);
    const st = await waitFor(res.purge_id);
    expect(st).toMatchObject({ status: 'complete' });

    const list = doomed.map((e) => `'${e}'`).join(',');
    for (const t of ['events', 'event_json', 'event_edges', 'event_auth', 'event_to_state_groups', 'event_relations', 'event_txn_id_device_id', 'redactions']) {
      expect(await count(`SELECT count(*) AS n FROM ${t} WHERE event_id IN (${list})`), t).toBe(0);
    }
    expect(await count(`SELECT count(*) AS n FROM events WHERE room_id = '${roomId}' AND state_key IS NOT NULL`)).toBe(stateBefore);
    expect(await count(`SELECT count(*) AS n FROM events WHERE room_id = '${roomId}' AND topological_ordering >= ${depth}`)).toBe(laterBefore);
    expect(await count(`SELECT count(*) AS n FROM events WHERE event_id = '${point}'`)).toBe(1);
    expect(await orphans(roomId)).toEqual({ event_json: 0, event_to_state_groups: 0, json_without_event: 0, unreferenced_groups: 0 });
    // The room goes on: state reads and new messages work; history reads skip what went.
    expect(ok(await s.request('GET', `${V3}/rooms/${enc(roomId)}/state/m.room.topic`, { token: bob.accessToken }))).toEqual({ topic: 'mid' });
    ok(await send(bob, roomId, { msgtype: 'm.text', body: 'after the purge' }));
    const page = ok(await s.request('GET', `${V3}/rooms/${enc(roomId)}/messages?dir=b&limit=100`, { token: bob.accessToken }));
    const bodies = (page.chunk as any[]).filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
    expect(bodies).toContain('after the purge');
    expect(bodies).not.toContain('m0');
    expect(bodies).toContain('m20');
  });

  it('by default keeps local users\' events (Synapse); purge_up_to_ts picks the last event before the time', async () => {
    const { roomId } = await room();
    const events = await count(`SELECT count(*) AS n FROM events WHERE room_id = '${roomId}'`);
    const res = ok(await s.request('POST', `${ADMIN}/v1/purge_history/${enc(roomId)}`, { token: admin.accessToken, body: { purge_up_to_ts: Date.now() + 60_000 } }));
    expect((await waitFor(res.purge_id)).status).toBe('complete');
    expect(await count(`SELECT count(*) AS n FROM events WHERE room_id = '${roomId}'`)).toBe(events);

    const all = ok(await s.request('POST', `${ADMIN}/v1/purge_history/${enc(roomId)}`, { token: admin.accessToken, body: { purge_up_to_ts: Date.now() + 60_000, delete_local_events: true } }));
    expect((await waitFor(all.purge_id)).status).toBe('complete');
    // Everything but state and the latest event went (the point itself is the latest).
    const left = await querySql<{ type: string; state_key: string | null }>(s, `SELECT type, state_key FROM events WHERE room_id = '${roomId}' AND state_key IS NULL`);
    expect(left).toHaveLength(1);
    const ext = await querySql<{ event_id: string }>(s, `SELECT event_id FROM event_forward_extremities WHERE room_id = '${roomId}'`);
    expect(await count(`SELECT count(*) AS n FROM events WHERE event_id = '${ext[0]!.event_id}'`)).toBe(1);
    expect(await orphans(roomId)).toEqual({ event_json: 0, event_to_state_groups: 0, json_without_event: 0, unreferenced_groups: 0 });
  });

  it('refuses what Synapse refuses', async () => {
    const { roomId, ids } = await room();
    const other = ok(await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: {} })).room_id as string;
    const post = (path: string, body?: unknown) => s.request('POST', `${ADMIN}/v1/purge_history/${path}`, { token: admin.accessToken, body });
    const noPoint = await post(enc(roomId), {});
    expect(noPoint.status).toBe(400);
    expect(noPoint.body).toEqual({ errcode: 'M_BAD_JSON', error: 'must specify purge_up_to_event_id or purge_up_to_ts' });
    expect((await s.request('POST', `${ADMIN}/v1/purge_history/${enc(roomId)}`, { token: admin.accessToken })).status).toBe(400);
    const badTs = await post(enc(roomId), { purge_up_to_ts: 'yesterday' });
    expect(badTs.body).toEqual({ errcode: 'M_BAD_JSON', error: 'purge_up_to_ts must be an int' });
    const wrongRoom = await post(`${enc(other)}/${enc(ids[3]!)}`, {});
    expect(wrongRoom.status).toBe(400);
    expect(wrongRoom.body.error).toBe('Event is for wrong room.');
    expect((await post(`${enc(roomId)}/${enc('$nope')}`, {})).status).toBe(404);
    const early = await post(enc(roomId), { purge_up_to_ts: 1000 });
    expect(early.status).toBe(404);
    expect(early.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'there is no event to be purged' });
    const viaBody = ok(await post(enc(roomId), { purge_up_to_event_id: ids[5] }));
    expect((await waitFor(viaBody.purge_id)).status).toBe('complete');
    expect((await s.request('POST', `${ADMIN}/v1/purge_history/${enc(roomId)}`, { token: alice.accessToken, body: {} })).status).toBe(403);
    const unknown = await s.request('GET', `${ADMIN}/v1/purge_history_status/nope`, { token: admin.accessToken });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ errcode: 'M_NOT_FOUND', error: "purge id 'nope' not found" });
  });

  it('is listed in /scheduled_tasks as purge_history', async () => {
    const tasks = ok(await s.request('GET', `${ADMIN}/v1/scheduled_tasks?action_name=purge_history`, { token: admin.accessToken })).scheduled_tasks as any[];
    expect(tasks.length).toBeGreaterThanOrEqual(3);
    expect(tasks.every((t) => t.action === 'purge_history' && t.status === 'complete')).toBe(true);
  });
});
