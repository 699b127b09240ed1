import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { secondInstance } from '../harness/second-instance.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

/**
 * The persistence pipeline under failure and restart: a write that fails leaves nothing behind
 * and does not fork the room; events queued behind it fail with it; the room goes on from what
 * committed; a restarted server resumes depth, extremities, stream orderings and state groups.
 */
describe('Rooms: the persistence pipeline', () => {
  let s: TestServer;
  let alice: TestUser;
  let txn = 0;
  const send = (roomId: string, body: Record<string, unknown>, type = 'm.room.message') =>
    s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/${type}/p${++txn}`, { token: alice.accessToken, body: { msgtype: 'm.text', ...body } });
  const chain = async (roomId: string) => {
    const events = await querySql<{ event_id: string; depth: number | string; stream_ordering: number | string }>(
      s,
      `SELECT event_id, depth, stream_ordering FROM events WHERE room_id = '${roomId}' ORDER BY stream_ordering`,
    );
    const edges = await querySql<{ event_id: string; prev_event_id: string }>(s, `SELECT event_id, prev_event_id FROM event_edges WHERE room_id = '${roomId}'`);
    const extremities = await querySql<{ event_id: string }>(s, `SELECT event_id FROM event_forward_extremities WHERE room_id = '${roomId}'`);
    return { events, edges, extremities };
  };
  /** Every event but the first points at the one before it; depth rises by one; one extremity, the last. */
  const expectLinear = async (roomId: string) => {
    const { events, edges, extremities } = await chain(roomId);
    const prev = new Map(edges.map((e) => [e.event_id, e.prev_event_id]));
    expect(edges).toHaveLength(events.length - 1);
    events.forEach((e, i) => {
      expect(Number(e.depth)).toBe(i + 1);
      if (i > 0) expect(prev.get(e.event_id)).toBe(events[i - 1]!.event_id);
    });
    expect(extremities.map((x) => x.event_id)).toEqual([events.at(-1)!.event_id]);
    return events;
  };

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    alice = await s.registerUser('alice');
    // A trigger makes the database refuse one kind of event, as a failing disk or constraint would.
    if (s.dialect === 'sqlite') {
      await runSql(s, "CREATE TRIGGER refuse_poison BEFORE INSERT ON events WHEN NEW.type = 'test.poison' BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END");
    } else {
      await runSql(
        s,
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.type = 'test.poison' THEN RAISE EXCEPTION 'refused by test trigger'; END IF; RETURN NEW; END $$",
      );
      await runSql(s, 'CREATE TRIGGER refuse_poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_poison()');
    }
  });
  afterAll(async () => s?.close());

  it('a write that fails answers 500 and leaves no row in any table; the next send builds on what committed', async () => {
    const roomId = (await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: {} })).body.room_id as string;
    await send(roomId, { body: 'before' });
    const counts = async () =>
      Promise.all(
        ['events', 'event_json', 'event_edges', 'event_auth', 'event_to_state_groups', 'event_txn_id_device_id'].map(
          async (t) => Number((await querySql(s, `SELECT count(*) AS n FROM ${t}`))[0]!.n),
        ),
      );
    const before = await counts();
    const failed = await send(roomId, { body: 'poison' }, 'test.poison');
    expect(failed.status).toBe(500);
    expect(failed.body.errcode).toBe('M_UNKNOWN');
    expect(await counts()).toEqual(before);
    const after = await send(roomId, { body: 'after' });
    expect(after.status).toBe(200);
    await expectLinear(roomId);
  });

  it('events queued behind a failing one in the same room fail with it; the room never forks', async () => {
    const roomId = (await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: {} })).body.room_id as string;
    const initial = (await chain(roomId)).events.length;
    const results = await Promise.all([
      ...Array.from({ length: 5 }, (_, i) => send(roomId, { body: `a${i}` })),
      send(roomId, { body: 'poison' }, 'test.poison'),
      ...Array.from({ length: 5 }, (_, i) => send(roomId, { body: `b${i}` })),
    ]);
    const statuses = results.map((r) => r.status);
    expect(statuses[5]).toBe(500);
    expect(statuses.every((c) => c === 200 || c === 500)).toBe(true);
    const events = await expectLinear(roomId);
    // Exactly the events that answered 200 are stored.
    const ok = results.filter((r) => r.status === 200).map((r) => r.body.event_id as string);
    const stored = new Set(events.map((e) => e.event_id));
    for (const id of ok) expect(stored.has(id)).toBe(true);
    expect(events.length).toBe(initial + ok.length);
    // And the room goes on.
    expect((await send(roomId, { body: 'later' })).status).toBe(200);
    await expectLinear(roomId);
  });

  it('stream orderings are unique and increase in commit order across rooms sent to at once', async () => {
    const rooms = await Promise.all(
      Array.from({ length: 4 }, async () => (await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: {} })).body.room_id as string),
    );
    await Promise.all(rooms.flatMap((r) => Array.from({ length: 25 }, (_, i) => send(r, { body: `${i}` }))));
    for (const r of rooms) await expectLinear(r);
    const rows = await querySql(s, 'SELECT count(*) AS n, count(DISTINCT stream_ordering) AS d FROM events');
    expect(Number(rows[0]!.n)).toBe(Number(rows[0]!.d));
  });

  it('room actors beyond the limit are evicted when idle; an evicted room reloads as committed and goes on', async () => {
    const actors = s.ctx.services.rooms.creator.actors;
    const before = actors.maxActors;
    actors.maxActors = 3;
    try {
      const rooms: string[] = [];
      for (let i = 0; i < 6; i++) rooms.push((await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: {} })).body.room_id as string);
      // Busy actors are never evicted, so all six may live while their sends run.
      await Promise.all(rooms.flatMap((r) => Array.from({ length: 10 }, (_, i) => send(r, { body: `e${i}` }))));
      // One at a time now: each touch evicts idle ones, so the earlier rooms reload from the
      // database and must continue their chains exactly where they committed.
      for (const r of [...rooms, ...rooms]) {
        expect((await send(r, { body: 'after eviction' })).status).toBe(200);
        await expectLinear(r);
      }
      expect(actors.size).toBeLessThanOrEqual(3);
    } finally {
      actors.maxActors = before;
    }
  });

  // Last: the second instance allocates stream positions this server does not know of.
  it('after a restart the room resumes: depth, prev event, extremity, stream ordering and state group continue', async () => {
    const roomId = (await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { name: 'before restart' } })).body.room_id as string;
    await send(roomId, { body: 'one' });
    const [max] = await querySql(s, 'SELECT max(stream_ordering) AS m FROM events');
    const restarted = await secondInstance(s);
    try {
      const msg = await restarted.request('PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/after-restart`, {
        token: alice.accessToken,
        body: { msgtype: 'm.text', body: 'two' },
      });
      expect(msg.status).toBe(200);
      const topic = await restarted.request('PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.topic`, { token: alice.accessToken, body: { topic: 'after' } });
      expect(topic.status).toBe(200);
      const name = await restarted.request('GET', `${V3}/rooms/${enc(roomId)}/state/m.room.name`, { token: alice.accessToken });
      expect(name.body).toEqual({ name: 'before restart' });
      const [ev] = await querySql(s, `SELECT stream_ordering FROM events WHERE event_id = '${msg.body.event_id}'`);
      expect(Number(ev!.stream_ordering)).toBeGreaterThan(Number(max!.m));
      await expectLinear(roomId);
      // The topic's state group holds the whole state (a snapshot after a restart), name included.
      const [g] = await querySql(s, `SELECT state_group FROM event_to_state_groups WHERE event_id = '${topic.body.event_id}'`);
      const rows = await querySql<{ type: string }>(s, `SELECT type FROM state_groups_state WHERE state_group = ${g!.state_group}`);
      expect(rows.map((r) => r.type)).toContain('m.room.name');
      expect(rows.map((r) => r.type)).toContain('m.room.topic');
    } finally {
      await restarted.close();
    }
  });
});
