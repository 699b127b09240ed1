import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { secondInstance } from '../harness/second-instance.js';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';

const V3 = '/_matrix/client/v3';
const ADMIN = '/_synapse/admin';
const enc = encodeURIComponent;
const STATUSES = ['shutting_down', 'purging', 'complete', 'failed'];

/** Tables whose rows outlive a purged room: reports and blocks (Synapse), users' key backups. */
const KEPT = new Set(['event_reports', 'room_reports', 'blocked_rooms', 'admin_audit_log', 'scheduled_tasks', 'e2e_room_keys']);

/**
 * Room deletion (catalogue §6.10–6.12): v1 and v2, the status values Synapse documents, members
 * moved to a replacement room, aliases moved, block, every room-keyed row gone while a bystander
 * room keeps all of its own, and a deletion interrupted by a restart that completes afterwards.
 */
describe('Admin API: delete a room (v1, v2, status)', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let txn = 0;
  const send = (u: TestUser, roomId: string, body: unknown, type = 'm.room.message') =>
    s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/${type}/t${++txn}`, { token: u.accessToken, body });
  const ok = <T extends { status: number; body: any }>(r: T) => {
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  const join = async (u: TestUser, roomId: string) => ok(await s.request('POST', `${V3}/rooms/${enc(roomId)}/join`, { token: u.accessToken, body: {} }));

  /** Every table with a room_id column (whatever migrations exist by now). */
  let roomKeyed: string[] = [];
  const count = async (sql: string) => Number((await querySql<{ n: number | string }>(s, sql))[0]!.n);

  /**
   * Rows that belong to a room: every room_id-keyed table, plus the tables keyed by its events,
   * state groups and aliases (IDs collected before the deletion).
   */
  const footprint = async (roomId: string, ids?: { events: string[]; groups: number[]; aliases: string[] }) => {
    const list = (xs: readonly (string | number)[]) => (xs.length ? xs.map((x) => (typeof x === 'number' ? String(x) : `'${x}'`)).join(',') : "'-none-'");
    const the = ids ?? {
      events: (await querySql<{ event_id: string }>(s, `SELECT event_id FROM events WHERE room_id = '${roomId}'`)).map((r) => r.event_id),
      groups: (await querySql<{ id: number | string }>(s, `SELECT id FROM state_groups WHERE room_id = '${roomId}'`)).map((r) => Number(r.id)),
      aliases: (await querySql<{ room_alias: string }>(s, `SELECT room_alias FROM room_aliases WHERE room_id = '${roomId}'`)).map((r) => r.room_alias),
    };
    const counts: Record<string, number> = {};
    for (const t of roomKeyed) counts[t] = await count(`SELECT count(*) AS n FROM ${t} WHERE room_id = '${roomId}'`);
    const ev = list(the.events);
    counts['event_to_state_groups*'] = await count(`SELECT count(*) AS n FROM event_to_state_groups WHERE event_id IN (${ev})`);
    counts['redactions*'] = await count(`SELECT count(*) AS n FROM redactions WHERE event_id IN (${ev}) OR redacts IN (${ev})`);
    counts['event_relations*'] = await count(`SELECT count(*) AS n FROM event_relations WHERE event_id IN (${ev})`);
    counts['rejections*'] = await count(`SELECT count(*) AS n FROM rejections WHERE event_id IN (${ev})`);
    counts['state_group_edges*'] = await count(`SELECT count(*) AS n FROM state_group_edges WHERE state_group IN (${list(the.groups)}) OR prev_state_group IN (${list(the.groups)})`);
    counts['room_alias_servers*'] = await count(`SELECT count(*) AS n FROM room_alias_servers WHERE room_alias IN (${list(the.aliases)})`);
    return { counts, ids: the };
  };

  /** A room with a bit of everything: members of each kind, messages with txn IDs, a thread, a reaction, a redaction, an alias, tags. */
  const busyRoom = async (name: string, alias?: string) => {
    const roomId = ok(await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { name, preset: 'public_chat', visibility: 'public', ...(alias ? { room_alias_name: alias } : {}) } })).room_id as string;
    await join(bob, roomId);
    ok(await s.request('POST', `${V3}/rooms/${enc(roomId)}/invite`, { token: alice.accessToken, body: { user_id: carol.userId } }));
    const root = ok(await send(alice, roomId, { msgtype: 'm.text', body: 'root' })).event_id as string;
    ok(await send(bob, roomId, { msgtype: 'm.text', body: 'reply', 'm.relates_to': { rel_type: 'm.thread', event_id: root } }));
    ok(await send(bob, roomId, { 'm.relates_to': { rel_type: 'm.annotation', event_id: root, key: '👍' } }, 'm.reaction'));
    const oops = ok(await send(bob, roomId, { msgtype: 'm.text', body: 'oops' })).event_id as string;
    ok(await s.request('PUT', `${V3}/rooms/${enc(roomId)}/redact/${enc(oops)}/r${++txn}`, { token: bob.accessToken, body: { reason: 'typo' } }));
    ok(await s.request('PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.topic`, { token: alice.accessToken, body: { topic: 'a topic' } }));
    ok(await s.request('PUT', `${V3}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/m.tag`, { token: alice.accessToken, body: { tags: { u: {} } } }));
    return roomId;
  };
  const expectGone = (counts: Record<string, number>) => {
    for (const [t, n] of Object.entries(counts)) expect(n, `${t} still holds rows of the deleted room`).toBe(0);
  };

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    carol = await s.registerUser('carol');
    const cols =
      s.dialect === 'postgres'
        ? await querySql<{ t: string }>(s, "SELECT table_name AS t FROM information_schema.columns WHERE column_name = 'room_id' AND table_schema = 'public'")
        : await querySql<{ t: string }>(s, "SELECT m.name AS t FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'room_id'");
    roomKeyed = [...new Set(cols.map((c) => c.t))].filter((t) => !KEPT.has(t)).sort();
  });
  afterAll(async () => s?.close());

  it('knows the room-keyed tables of the schema', () => {
    for (const t of ['events', 'event_json', 'state_groups_state', 'current_state_events', 'room_memberships', 'rooms', 'room_account_data', 'threads', 'room_stats_current']) {
      expect(roomKeyed).toContain(t);
    }
  });

  it('v1 moves the local members to a new room, moves the aliases, blocks, and leaves no row of the room behind; a bystander room keeps every row', async () => {
    const doomed = await busyRoom('doomed', 'doomed');
    const bystander = await busyRoom('bystander', 'stays');
    const before = await footprint(doomed);
    expect(before.counts.events).toBeGreaterThan(10);
    expect(before.counts.room_account_data).toBe(1);
    const bystanderBefore = await footprint(bystander);

    const res = await s.request('DELETE', `${ADMIN}/v1/rooms/${enc(doomed)}`, {
      token: admin.accessToken,
      body: { new_room_user_id: '@moderator:localhost', room_name: 'Moved here', message: 'That room is gone.', block: true },
    });
    const body = ok(res);
    expect(Object.keys(body).sort()).toEqual(['failed_to_kick_users', 'kicked_users', 'local_aliases', 'new_room_id']);
    expect([...body.kicked_users].sort()).toEqual([alice.userId, bob.userId, carol.userId].sort());
    expect(body.failed_to_kick_users).toEqual([]);
    expect(body.local_aliases).toEqual(['#doomed:localhost']);
    const newRoom = body.new_room_id as string;
    expect(newRoom).toMatch(/^!.+:localhost$/);

    // Every row of the room is gone; the bystander's are all there.
    // (The alias moved with its servers row: it belongs to the new room now.)
    expectGone((await footprint(doomed, { ...before.ids, aliases: [] })).counts);
    expect(await count("SELECT count(*) AS n FROM room_alias_servers WHERE room_alias = '#doomed:localhost'")).toBe(1);
    expect((await footprint(bystander, bystanderBefore.ids)).counts).toEqual(bystanderBefore.counts);
    expect(await count(`SELECT count(*) AS n FROM blocked_rooms WHERE room_id = '${doomed}' AND user_id = '${admin.userId}'`)).toBe(1);

    // The joined members are in the new room (the invitee is not), which the moderator made.
    const joined = async (u: TestUser) => ok(await s.request('GET', `${V3}/joined_rooms`, { token: u.accessToken })).joined_rooms as string[];
    expect(await joined(alice)).toContain(newRoom);
    expect(await joined(bob)).toContain(newRoom);
    expect(await joined(carol)).not.toContain(newRoom);
    expect(await joined(alice)).not.toContain(doomed);
    const name = ok(await s.request('GET', `${V3}/rooms/${enc(newRoom)}/state/m.room.name`, { token: alice.accessToken }));
    expect(name).toEqual({ name: 'Moved here' });
    const create = ok(await s.request('GET', `${V3}/rooms/${enc(newRoom)}/state/m.room.create`, { token: alice.accessToken }));
    expect(create.creator ?? '@moderator:localhost').toBe('@moderator:localhost');
    const pl = ok(await s.request('GET', `${V3}/rooms/${enc(newRoom)}/state/m.room.power_levels`, { token: alice.accessToken }));
    expect(pl.users_default).toBe(-10);
    const msgs = ok(await s.request('GET', `${V3}/rooms/${enc(newRoom)}/messages?dir=b&limit=50`, { token: alice.accessToken }));
    const notice = (msgs.chunk as any[]).find((e) => e.type === 'm.room.message');
    expect(notice).toMatchObject({ sender: '@moderator:localhost', content: { msgtype: 'm.text', body: 'That room is gone.' } });
    // The alias now leads to the new room; the old room is out of the directory and unknown.
    const dir = ok(await s.request('GET', `${V3}/directory/room/${enc('#doomed:localhost')}`, { token: alice.accessToken }));
    expect(dir.room_id).toBe(newRoom);
    expect(ok(await s.request('GET', `${V3}/directory/room/${enc('#stays:localhost')}`, { token: alice.accessToken })).room_id).toBe(bystander);
    const sendOld = await send(alice, doomed, { msgtype: 'm.text', body: 'anyone?' });
    expect(sendOld.status).toBeGreaterThanOrEqual(400);
    expect(sendOld.status).toBeLessThan(500);
    expect(await count(`SELECT count(*) AS n FROM events WHERE room_id = '${doomed}'`)).toBe(0);
    // The bystander still works.
    ok(await send(bob, bystander, { msgtype: 'm.text', body: 'still here' }));
  });

  it('v1 of an unknown room answers an empty result (and blocks it when asked)', async () => {
    const res = await s.request('DELETE', `${ADMIN}/v1/rooms/${enc('!unknown:localhost')}`, { token: admin.accessToken, body: { block: true } });
    expect(ok(res)).toEqual({ kicked_users: [], failed_to_kick_users: [], local_aliases: [], new_room_id: null });
    expect(await count("SELECT count(*) AS n FROM blocked_rooms WHERE room_id = '!unknown:localhost'")).toBe(1);
  });

  it('refuses bad requests with Synapse\'s errors and changes nothing', async () => {
    const roomId = await busyRoom('kept');
    const before = (await footprint(roomId)).counts;
    const del = (path: string, body?: unknown, rawBody?: string) => s.request('DELETE', path, { token: admin.accessToken, body, rawBody });
    for (const v of ['v1', 'v2']) {
      const p = `${ADMIN}/${v}/rooms/${enc(roomId)}`;
      expect((await del(p, undefined, '')).body.errcode).toBe('M_NOT_JSON');
      const notBool = await del(p, { block: 'yes' });
      expect(notBool.status).toBe(400);
      expect(notBool.body).toEqual({ errcode: 'M_BAD_JSON', error: "Param 'block' must be a boolean, if given" });
      expect((await del(p, { purge: 1 })).body.errcode).toBe('M_BAD_JSON');
      const remote = await del(p, { new_room_user_id: '@mod:elsewhere.example' });
      expect(remote.status).toBe(400);
      expect(remote.body.error).toBe('User must be our own: @mod:elsewhere.example');
      const badId = await del(`${ADMIN}/${v}/rooms/not-a-room`, {});
      expect(badId.status).toBe(400);
      expect(badId.body.error).toBe('not-a-room is not a legal room ID');
      const notAdmin = await s.request('DELETE', p, { token: alice.accessToken, body: {} });
      expect(notAdmin.status).toBe(403);
    }
    expect((await footprint(roomId)).counts).toEqual(before);
  });

  it('purge: false shuts the room down (members out, directory left) and keeps its history', async () => {
    const roomId = await busyRoom('shut');
    const events = await count(`SELECT count(*) AS n FROM events WHERE room_id = '${roomId}'`);
    const body = ok(await s.request('DELETE', `${ADMIN}/v1/rooms/${enc(roomId)}`, { token: admin.accessToken, body: { purge: false } }));
    expect([...body.kicked_users].sort()).toEqual([alice.userId, bob.userId, carol.userId].sort());
    expect(body.new_room_id).toBeNull();
    // Three leaves were added; nothing went.
    expect(await count(`SELECT count(*) AS n FROM events WHERE room_id = '${roomId}'`)).toBe(events + 3);
    expect(await count(`SELECT count(*) AS n FROM local_current_membership WHERE room_id = '${roomId}' AND membership = 'join'`)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM rooms WHERE room_id = '${roomId}' AND is_public = TRUE`)).toBe(0);
    // Each member forgot it.
    expect(await count(`SELECT count(*) AS n FROM room_memberships WHERE room_id = '${roomId}' AND user_id = '${bob.userId}' AND forgotten = 0`)).toBe(0);
    // The room is still a room: a member who comes back can talk again.
    await join(bob, roomId);
    ok(await send(bob, roomId, { msgtype: 'm.text', body: 'back' }));
  });

  it('v2 answers a delete_id; the status goes through the documented values only, by ID and by room', async () => {
    const roomId = await busyRoom('async');
    const before = await footprint(roomId);
    s.ctx.services.tasks.stepDelayMs = 40;
    try {
      const started = ok(await s.request('DELETE', `${ADMIN}/v2/rooms/${enc(roomId)}`, { token: admin.accessToken, body: {} }));
      expect(Object.keys(started)).toEqual(['delete_id']);
      expect(started.delete_id).toMatch(/^[A-Za-z]{16}$/);
      const again = await s.request('DELETE', `${ADMIN}/v2/rooms/${enc(roomId)}`, { token: admin.accessToken, body: {} });
      expect(again.status).toBe(400);
      expect(again.body.error).toBe(`Purge already in progress for ${roomId}`);
      // Sends are refused at once, and nothing half-deleted is readable.
      const during = await send(alice, roomId, { msgtype: 'm.text', body: 'during' });
      expect(during.status).toBeGreaterThanOrEqual(400);
      expect(during.status).toBeLessThan(500);
      const seen = new Set<string>();
      let last: any;
      for (let i = 0; i < 400; i++) {
        last = ok(await s.request('GET', `${ADMIN}/v2/rooms/delete_status/${started.delete_id}`, { token: admin.accessToken }));
        seen.add(last.status);
        if (last.status === 'complete' || last.status === 'failed') break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(last.status).toBe('complete');
      for (const st of seen) expect(STATUSES).toContain(st);
      expect(seen.has('shutting_down') || seen.has('purging')).toBe(true);
      expect(last).toMatchObject({ delete_id: started.delete_id, room_id: roomId, status: 'complete' });
      expect(Object.keys(last.shutdown_room).sort()).toEqual(['failed_to_kick_users', 'kicked_users', 'local_aliases', 'new_room_id']);
      expect([...last.shutdown_room.kicked_users].sort()).toEqual([alice.userId, bob.userId, carol.userId].sort());
      expect(last.purged_events).toBe(before.counts.events! + 3);

      const byRoom = ok(await s.request('GET', `${ADMIN}/v2/rooms/${enc(roomId)}/delete_status`, { token: admin.accessToken }));
      expect(byRoom.results).toEqual([last]);
      expectGone((await footprint(roomId, before.ids)).counts);

      const tasks = ok(await s.request('GET', `${ADMIN}/v1/scheduled_tasks?action_name=shutdown_and_purge_room&resource_id=${enc(roomId)}`, { token: admin.accessToken }));
      expect(tasks.scheduled_tasks).toHaveLength(1);
      expect(tasks.scheduled_tasks[0]).toMatchObject({ id: started.delete_id, action: 'shutdown_and_purge_room', status: 'complete', resource_id: roomId, error: null });
      expect(typeof tasks.scheduled_tasks[0].timestamp_ms).toBe('number');
    } finally {
      s.ctx.services.tasks.stepDelayMs = 0;
    }
  });

  it('status look-ups of unknown deletions answer 404; a bad room ID 400', async () => {
    const unknownRoom = await s.request('GET', `${ADMIN}/v2/rooms/${enc('!nothing:localhost')}/delete_status`, { token: admin.accessToken });
    expect(unknownRoom.status).toBe(404);
    expect(unknownRoom.body).toEqual({ errcode: 'M_NOT_FOUND', error: "No delete task for room_id '!nothing:localhost' found" });
    const unknownId = await s.request('GET', `${ADMIN}/v2/rooms/delete_status/nosuchid`, { token: admin.accessToken });
    expect(unknownId.status).toBe(404);
    expect(unknownId.body).toEqual({ errcode: 'M_NOT_FOUND', error: "delete id 'nosuchid' not found" });
    expect((await s.request('GET', `${ADMIN}/v2/rooms/nope/delete_status`, { token: admin.accessToken })).status).toBe(400);
  });

  it('v2 of an unknown room completes with an empty result', async () => {
    const started = ok(await s.request('DELETE', `${ADMIN}/v2/rooms/${enc('!ghost:localhost')}`, { token: admin.accessToken, body: { block: false } }));
    let st: any;
    for (let i = 0; i < 100; i++) {
      st = ok(await s.request('GET', `${ADMIN}/v2/rooms/delete_status/${started.delete_id}`, { token: admin.accessToken }));
      if (st.status === 'complete') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(st).toMatchObject({ status: 'complete', shutdown_room: { kicked_users: [], failed_to_kick_users: [], local_aliases: [], new_room_id: null } });
  });

  it('GET /scheduled_tasks filters by action, resource, status and time, oldest first', async () => {
    const all = ok(await s.request('GET', `${ADMIN}/v1/scheduled_tasks`, { token: admin.accessToken })).scheduled_tasks as any[];
    expect(all.length).toBeGreaterThanOrEqual(2);
    const times = all.map((t) => t.timestamp_ms);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const complete = ok(await s.request('GET', `${ADMIN}/v1/scheduled_tasks?job_status=complete`, { token: admin.accessToken })).scheduled_tasks as any[];
    expect(complete.every((t) => t.status === 'complete')).toBe(true);
    expect(ok(await s.request('GET', `${ADMIN}/v1/scheduled_tasks?job_status=active`, { token: admin.accessToken })).scheduled_tasks).toEqual([]);
    expect(ok(await s.request('GET', `${ADMIN}/v1/scheduled_tasks?action_name=purge_history`, { token: admin.accessToken })).scheduled_tasks).toEqual([]);
    expect(ok(await s.request('GET', `${ADMIN}/v1/scheduled_tasks?max_timestamp=1`, { token: admin.accessToken })).scheduled_tasks).toEqual([]);
    const ghost = ok(await s.request('GET', `${ADMIN}/v1/scheduled_tasks?resource_id=${enc('!ghost:localhost')}`, { token: admin.accessToken })).scheduled_tasks;
    expect(ghost).toHaveLength(1);
    const bad = await s.request('GET', `${ADMIN}/v1/scheduled_tasks?job_status=running`, { token: admin.accessToken });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
    expect((await s.request('GET', `${ADMIN}/v1/scheduled_tasks`, { token: alice.accessToken })).status).toBe(403);
  });

  it('a deletion interrupted by a shutdown resumes on the next start and completes', async () => {
    // Its own server: this one is stopped half-way.
    const s1 = await startServer(NO_RATE_LIMITS);
    let s2: Awaited<ReturnType<typeof secondInstance>> | undefined;
    try {
      const boss = await s1.registerUser('boss', { admin: true });
      const users: TestUser[] = [];
      for (let i = 0; i < 3; i++) users.push(await s1.registerUser(`member${i}`));
      const roomId = (await s1.request('POST', `${V3}/createRoom`, { token: users[0]!.accessToken, body: { preset: 'public_chat' } })).body.room_id as string;
      for (const u of users.slice(1)) await s1.request('POST', `${V3}/rooms/${enc(roomId)}/join`, { token: u.accessToken, body: {} });
      // Enough events for several purge steps.
      for (let batch = 0; batch < 12; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            s1.request('PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/b${batch}-${i}`, { token: users[i % 3]!.accessToken, body: { msgtype: 'm.text', body: `m${batch}-${i}` } }),
          ),
        );
      }
      const total = Number((await querySql<{ n: number | string }>(s1, `SELECT count(*) AS n FROM events WHERE room_id = '${roomId}'`))[0]!.n);
      expect(total).toBeGreaterThan(1200);

      s1.ctx.services.tasks.stepDelayMs = 400;
      const { delete_id: deleteId } = (await s1.request('DELETE', `${ADMIN}/v2/rooms/${enc(roomId)}`, { token: boss.accessToken, body: {} })).body;
      // Wait until the purge is under way, then stop the server.
      let st: any;
      for (let i = 0; i < 300; i++) {
        st = (await s1.request('GET', `${ADMIN}/v2/rooms/delete_status/${deleteId}`, { token: boss.accessToken })).body;
        if (st.status === 'purging' && st.purged_events > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(st.status).toBe('purging');
      await s1.stop();
      const left = Number((await querySql<{ n: number | string }>(s1, `SELECT count(*) AS n FROM events WHERE room_id = '${roomId}'`))[0]!.n);
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThan(total + 3);
      const [row] = await querySql<{ status: string }>(s1, `SELECT status FROM scheduled_tasks WHERE id = '${deleteId}'`);
      expect(row!.status).toBe('active');

      // A new process on the same database picks the task up.
      s2 = await secondInstance(s1);
      let done: any;
      for (let i = 0; i < 500; i++) {
        done = (await s2.request('GET', `${ADMIN}/v2/rooms/delete_status/${deleteId}`, { token: boss.accessToken })).body;
        if (done.status === 'complete' || done.status === 'failed') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(done.status).toBe('complete');
      expect([...done.shutdown_room.kicked_users].sort()).toEqual(users.map((u) => u.userId).sort());
      expect(done.purged_events).toBe(total + 3);
      for (const t of ['events', 'event_json', 'state_groups', 'current_state_events', 'room_memberships', 'rooms', 'room_stats_current']) {
        expect(Number((await querySql<{ n: number | string }>(s1, `SELECT count(*) AS n FROM ${t} WHERE room_id = '${roomId}'`))[0]!.n), t).toBe(0);
      }
    } finally {
      await s2?.close();
      await s1.close();
    }
  });
});
