import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const A = '/_synapse/admin/v1';
const enc = encodeURIComponent;

// The room views and actions of the Admin API (catalogue §6.1-6.9, 6.13-6.15, §16) and a user's
// rooms (§3.9-3.10), against Synapse 1.94's recorded answers (../shared/spec/synapse-1.94-responses).
describe('Admin API: rooms', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let txn = 0;
  let ref: string; // like 1.94's "Ref Room": name, topic, alias, public join rule, admin + alice joined
  let priv: string; // alice's private room, encrypted, unpublished
  const get = (path: string, token = admin.accessToken) => s.request('GET', path, { token });
  const send = (u: TestUser, roomId: string, body: unknown) => s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`, { token: u.accessToken, body });
  const create = async (u: TestUser, body: unknown) => {
    const res = await s.request('POST', `${V3}/createRoom`, { token: u.accessToken, body });
    expect(res.status, res.text).toBe(200);
    return res.body.room_id as string;
  };
  const join = async (u: TestUser, roomId: string) => expect((await s.request('POST', `${V3}/join/${enc(roomId)}`, { token: u.accessToken, body: {} })).status).toBe(200);

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    // An empty list first (1.94: 13_v1_rooms_list_empty).
    const empty = await get(`${A}/rooms`);
    expect(empty.body).toEqual({ offset: 0, rooms: [], total_rooms: 0 });
    ref = await create(admin, { name: 'Ref Room', topic: 'reference', room_alias_name: 'refroom', preset: 'public_chat' });
    await join(alice, ref);
    priv = await create(alice, { name: 'alpha private', preset: 'private_chat', initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }] });
  });
  afterAll(async () => s?.close());

  it('lists rooms with every field of Synapse\'s summary, typed as current Synapse', async () => {
    const res = await get(`${A}/rooms`);
    expect(res.status).toBe(200);
    expect(res.body.total_rooms).toBe(2);
    expect(res.body.offset).toBe(0);
    expect(res.body).not.toHaveProperty('next_batch');
    expect(res.body).not.toHaveProperty('prev_batch');
    // Default order: name ascending.
    expect(res.body.rooms.map((r: any) => r.name)).toEqual(['Ref Room', 'alpha private'].sort());
    const r = res.body.rooms.find((x: any) => x.room_id === ref);
    // Field order and values as 15_v1_rooms_list (public_chat: shared visibility, no guest access row).
    expect(Object.keys(r)).toEqual([
      'room_id', 'name', 'canonical_alias', 'joined_members', 'joined_local_members', 'version', 'creator', 'encryption',
      'federatable', 'public', 'join_rules', 'guest_access', 'history_visibility', 'state_events', 'room_type',
    ]);
    expect(r).toMatchObject({
      name: 'Ref Room',
      canonical_alias: '#refroom:localhost',
      joined_members: 2,
      joined_local_members: 2,
      version: '10',
      creator: admin.userId,
      encryption: null,
      federatable: true,
      public: false,
      join_rules: 'public',
      history_visibility: 'shared',
      room_type: null,
    });
    expect(typeof r.state_events).toBe('number');
    const p = res.body.rooms.find((x: any) => x.room_id === priv);
    expect(p).toMatchObject({ encryption: 'm.megolm.v1.aes-sha2', join_rules: 'invite', joined_members: 1, public: false });
  });

  it('orders by every key Synapse accepts, pages with next_batch/prev_batch, filters', async () => {
    const order = async (q: string) => (await get(`${A}/rooms?${q}`)).body.rooms.map((r: any) => r.room_id);
    expect(await order('order_by=joined_members')).toEqual([ref, priv]); // descending by nature
    expect(await order('order_by=joined_members&dir=b')).toEqual([priv, ref]);
    expect(await order('order_by=size')).toEqual([ref, priv]);
    expect(await order('order_by=encryption')).toEqual([priv, ref]); // NULLs last
    expect(await order('order_by=encryption&dir=b')).toEqual([ref, priv]);
    for (const key of ['name', 'alphabetical', 'canonical_alias', 'joined_local_members', 'version', 'creator', 'federatable', 'public', 'join_rules', 'guest_access', 'history_visibility', 'state_events']) {
      const res = await get(`${A}/rooms?order_by=${key}`);
      expect(res.status, key).toBe(200);
      expect(res.body.rooms).toHaveLength(2);
    }
    const bad = await get(`${A}/rooms?order_by=nope`);
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
    expect((await get(`${A}/rooms?dir=x`)).body.errcode).toBe('M_INVALID_PARAM');
    expect((await get(`${A}/rooms?limit=-1`)).body.errcode).toBe('M_INVALID_PARAM');
    expect(await get(`${A}/rooms?search_term=`)).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM', error: 'search_term cannot be an empty string' } });

    const page1 = await get(`${A}/rooms?limit=1&order_by=joined_members`);
    expect(page1.body).toMatchObject({ offset: 0, total_rooms: 2, next_batch: 1 });
    expect(page1.body).not.toHaveProperty('prev_batch');
    const page2 = await get(`${A}/rooms?limit=1&from=1&order_by=joined_members`);
    expect(page2.body).toMatchObject({ offset: 1, total_rooms: 2, prev_batch: 0 });
    expect(page2.body).not.toHaveProperty('next_batch');
    expect(page2.body.rooms.map((r: any) => r.room_id)).toEqual([priv]);

    // search_term: name (case-insensitive), alias localpart, exact room ID.
    expect(await order('search_term=REF')).toEqual([ref]);
    expect(await order('search_term=refroom')).toEqual([ref]);
    expect(await order('search_term=localhost')).toEqual([]); // the alias' server is not searched
    expect(await order(`search_term=${enc(priv)}`)).toEqual([priv]);
    expect(await order(`search_term=${enc(priv.toLowerCase())}`)).toEqual([]);
    expect((await get(`${A}/rooms?search_term=REF`)).body.total_rooms).toBe(1);
    expect(await order('empty_rooms=true')).toEqual([]);
    expect(await order('empty_rooms=false&order_by=joined_members')).toEqual([ref, priv]);
    expect(await order('public_rooms=true')).toEqual([]);
  });

  it('sees a new room, a publication and a name change at once (the cached pages are dropped)', async () => {
    const before = (await get(`${A}/rooms?order_by=joined_members`)).body.total_rooms;
    const extra = await create(bob, { name: 'zzz extra' });
    const after = await get(`${A}/rooms?order_by=joined_members`);
    expect(after.body.total_rooms).toBe(before + 1);
    expect(after.body.rooms.map((r: any) => r.room_id)).toContain(extra);
    await s.request('PUT', `${V3}/directory/list/room/${enc(extra)}`, { token: bob.accessToken, body: { visibility: 'public' } });
    expect((await get(`${A}/rooms?public_rooms=true`)).body.rooms.map((r: any) => r.room_id)).toEqual([extra]);
    expect((await get(`${A}/rooms?public_rooms=false`)).body.total_rooms).toBe(2);
    await s.request('PUT', `${V3}/rooms/${enc(extra)}/state/m.room.name/`, { token: bob.accessToken, body: { name: 'renamed' } });
    expect((await get(`${A}/rooms?search_term=renamed`)).body.rooms.map((r: any) => r.room_id)).toEqual([extra]);
    // An operator's SQL is seen too.
    await runSql(s, `UPDATE room_stats_state SET name = 'by sql' WHERE room_id = '${extra}'`);
    expect((await get(`${A}/rooms?search_term=by%20sql`)).body.rooms.map((r: any) => r.room_id)).toEqual([extra]);
  });

  it('room details: every field of 16_v1_room_details plus current Synapse\'s and the extremity count', async () => {
    const res = await get(`${A}/rooms/${enc(ref)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      room_id: ref,
      name: 'Ref Room',
      canonical_alias: '#refroom:localhost',
      joined_members: 2,
      joined_local_members: 2,
      version: '10',
      creator: admin.userId,
      encryption: null,
      federatable: true,
      public: false,
      join_rules: 'public',
      guest_access: null,
      history_visibility: 'shared',
      state_events: expect.any(Number),
      avatar: null,
      topic: 'reference',
      room_type: null,
      joined_local_devices: 2,
      forgotten: false,
      tombstoned: false,
      replacement_room: null,
      forward_extremities: 1,
    });
    const [n] = await querySql(s, `SELECT count(*) AS n FROM current_state_events WHERE room_id = '${ref}'`);
    expect(res.body.state_events).toBe(Number(n!.n));
    // 18b / 18c: unknown and malformed IDs are 404 "Room not found".
    for (const id of ['!doesnotexist:localhost', 'notaroom']) {
      for (const sub of ['', '/members', '/state']) {
        expect(await get(`${A}/rooms/${enc(id)}${sub}`)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Room not found' } });
      }
    }
    expect((await get(`${A}/rooms/${enc(ref)}`, alice.accessToken)).status).toBe(403);
  });

  it('members and state as 17/18: joined users; client events with the legacy top-level fields', async () => {
    expect((await get(`${A}/rooms/${enc(ref)}/members`)).body).toEqual({ members: [admin.userId, alice.userId].sort(), total: 2 });
    const res = await get(`${A}/rooms/${enc(ref)}/state`);
    expect(res.status).toBe(200);
    const types = res.body.state.map((e: any) => `${e.type}|${e.state_key}`);
    expect(types).toEqual([...types].sort());
    expect(types).toContain(`m.room.member|${alice.userId}`);
    for (const e of res.body.state) {
      expect(e).toMatchObject({ room_id: ref, user_id: e.sender, age: expect.any(Number), unsigned: { age: expect.any(Number) } });
      expect(e.event_id).toMatch(/^\$/);
    }
    const pl = res.body.state.find((e: any) => e.type === 'm.room.power_levels');
    expect(pl.content.users[admin.userId]).toBe(100);
    const typed = await get(`${A}/rooms/${enc(ref)}/state?type=m.room.member`);
    expect(typed.body.state.map((e: any) => e.state_key).sort()).toEqual([admin.userId, alice.userId].sort());
  });

  it('messages: every event whatever the admin\'s membership, forwards by default, with Synapse\'s token errors', async () => {
    for (let i = 0; i < 3; i++) expect((await send(alice, priv, { msgtype: 'm.text', body: `secret ${i}` })).status).toBe(200);
    const res = await get(`${A}/rooms/${enc(priv)}/messages?limit=100`);
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/rooms/{roomId}/messages', 'get', 200, res.body)).toEqual([]);
    const bodies = res.body.chunk.filter((e: any) => e.type === 'm.room.message').map((e: any) => e.content.body);
    expect(bodies).toEqual(['secret 0', 'secret 1', 'secret 2']);
    expect(res.body.chunk[0].type).toBe('m.room.create');
    // The client API refuses the admin (not in the room).
    expect((await s.request('GET', `${V3}/rooms/${enc(priv)}/messages?dir=b`, { token: admin.accessToken })).status).toBe(403);
    const back = await get(`${A}/rooms/${enc(priv)}/messages?dir=b&limit=2`);
    expect(back.body.chunk.map((e: any) => e.content.body)).toEqual(['secret 2', 'secret 1']);
    const more = await get(`${A}/rooms/${enc(priv)}/messages?dir=b&limit=2&from=${enc(back.body.end)}`);
    expect(more.body.chunk[0].content.body).toBe('secret 0');
    const filtered = await get(`${A}/rooms/${enc(priv)}/messages?filter=${enc(JSON.stringify({ types: ['m.room.encryption'] }))}`);
    expect(filtered.body.chunk.map((e: any) => e.type)).toEqual(['m.room.encryption']);
    expect(await get(`${A}/rooms/${enc(priv)}/messages?from=garbage`)).toMatchObject({ status: 400, body: { error: "'from' parameter is invalid" } });
    expect((await get(`${A}/rooms/${enc(priv)}/messages?dir=x`)).body.errcode).toBe('M_INVALID_PARAM');
    // Synapse pages a room it does not know like an empty one.
    const unknown = await get(`${A}/rooms/${enc('!nope:localhost')}/messages`);
    expect(unknown.status).toBe(200);
    expect(unknown.body.chunk).toEqual([]);
  });

  it('context, timestamp_to_event and fetch_event read any event', async () => {
    const msgs = (await get(`${A}/rooms/${enc(priv)}/messages?dir=b&limit=1`)).body.chunk;
    const last = msgs[0];
    const ctx = await get(`${A}/rooms/${enc(priv)}/context/${enc(last.event_id)}?limit=4`);
    expect(ctx.status).toBe(200);
    expect(specErrors('client-server', '/rooms/{roomId}/context/{eventId}', 'get', 200, ctx.body)).toEqual([]);
    expect(ctx.body.event.event_id).toBe(last.event_id);
    expect(ctx.body.events_before.map((e: any) => e.content.body)).toEqual(['secret 1', 'secret 0']);
    expect(ctx.body.state.length).toBeGreaterThan(3);
    expect(await get(`${A}/rooms/${enc(priv)}/context/${enc('$nope')}`)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Event not found.' } });
    expect((await get(`${A}/rooms/${enc(ref)}/context/${enc(last.event_id)}`)).status).toBe(404);

    const ts = await get(`${A}/rooms/${enc(priv)}/timestamp_to_event?ts=${last.origin_server_ts}&dir=b`);
    expect(ts.status).toBe(200);
    expect(ts.body).toEqual({ event_id: last.event_id, origin_server_ts: last.origin_server_ts });
    expect((await get(`${A}/rooms/${enc(priv)}/timestamp_to_event?ts=0`)).body.event_id).toMatch(/^\$/); // dir defaults to f
    expect(await get(`${A}/rooms/${enc(priv)}/timestamp_to_event`)).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    expect(await get(`${A}/rooms/${enc(priv)}/timestamp_to_event?ts=${Date.now() + 1e9}`)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });

    const fetched = await get(`${A}/fetch_event/${enc(last.event_id)}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.event).toMatchObject({ event_id: last.event_id, room_id: priv, sender: alice.userId, type: 'm.room.message', content: { body: 'secret 2' } });
    for (const k of ['auth_events', 'prev_events', 'depth', 'hashes', 'signatures', 'origin_server_ts', 'unsigned']) expect(fetched.body.event).toHaveProperty(k);
    // Redacted later: the original content is still returned.
    await s.request('PUT', `${V3}/rooms/${enc(priv)}/redact/${enc(last.event_id)}/r${++txn}`, { token: alice.accessToken, body: {} });
    expect((await get(`${A}/fetch_event/${enc(last.event_id)}`)).body.event.content.body).toBe('secret 2');
    expect(await get(`${A}/fetch_event/${enc('$missing')}`)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Event not found' } });
  });

  it('hierarchy of a space without any membership check', async () => {
    const space = await create(alice, { name: 'space', preset: 'private_chat', creation_content: { type: 'm.space' } });
    await s.request('PUT', `${V3}/rooms/${enc(space)}/state/m.space.child/${enc(priv)}`, { token: alice.accessToken, body: { via: ['localhost'] } });
    const res = await get(`${A}/rooms/${enc(space)}/hierarchy`);
    expect(res.status).toBe(200);
    expect(res.body.rooms.map((r: any) => r.room_id)).toEqual([space, priv]);
    expect(res.body.rooms[0]).toMatchObject({ room_type: 'm.space', children_state: [expect.objectContaining({ state_key: priv })] });
    expect((await get(`${A}/rooms/${enc(space)}/hierarchy?max_depth=0`)).body.rooms).toHaveLength(1);
    expect((await get(`${A}/rooms/${enc('!unknown:localhost')}/hierarchy`)).body).toEqual({ rooms: [] });
  });

  it('block: GET/PUT, rooms never seen, joins and invites refused, listable with blocked=true', async () => {
    expect((await get(`${A}/rooms/${enc(priv)}/block`)).body).toEqual({ block: false });
    const put = (roomId: string, body: unknown) => s.request('PUT', `${A}/rooms/${enc(roomId)}/block`, { token: admin.accessToken, body });
    expect(await put(priv, { block: true })).toMatchObject({ status: 200, body: { block: true } });
    expect((await get(`${A}/rooms/${enc(priv)}/block`)).body).toEqual({ block: true, user_id: admin.userId });
    const [row] = await querySql(s, `SELECT user_id FROM blocked_rooms WHERE room_id = '${priv}'`);
    expect(row).toEqual({ user_id: admin.userId });
    // Invites and joins refused.
    const invite = await s.request('POST', `${V3}/rooms/${enc(priv)}/invite`, { token: alice.accessToken, body: { user_id: bob.userId } });
    expect(invite).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN', error: 'This room has been blocked on this server' } });
    // A room the server never saw.
    const ghost = '!ghost:elsewhere.example';
    expect((await put(ghost, { block: true })).status).toBe(200);
    expect((await get(`${A}/rooms/${enc(ghost)}/block`)).body).toEqual({ block: true, user_id: admin.userId });
    // Beyond Synapse: list the blocked rooms (known or not); the documented answers do not change.
    const blocked = await get(`${A}/rooms?blocked=true`);
    expect(blocked.body.total_rooms).toBe(2);
    expect(blocked.body.rooms.map((r: any) => r.room_id).sort()).toEqual([priv, ghost].sort());
    expect(blocked.body.rooms.find((r: any) => r.room_id === ghost)).toMatchObject({ name: null, joined_members: 0, version: null });
    expect((await get(`${A}/rooms?blocked=false`)).body.rooms.map((r: any) => r.room_id)).not.toContain(priv);
    expect((await get(`${A}/rooms`)).body.rooms.map((r: any) => r.room_id)).toContain(priv);
    // Errors in Synapse's order: room ID, then `block`.
    expect(await put('notaroom', { block: true })).toMatchObject({ status: 400, body: { errcode: 'M_UNKNOWN', error: 'notaroom is not a legal room ID' } });
    expect(await get(`${A}/rooms/notaroom/block`)).toMatchObject({ status: 400, body: { error: 'notaroom is not a legal room ID' } });
    expect(await put(priv, {})).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    expect(await put(priv, { block: 'yes' })).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON', error: "Param 'block' must be a boolean." } });
    expect((await s.request('PUT', `${A}/rooms/${enc(priv)}/block`, { token: admin.accessToken, rawBody: 'nope' })).body.errcode).toBe('M_NOT_JSON');
    // Unblock.
    expect(await put(priv, { block: false })).toMatchObject({ status: 200, body: { block: false } });
    expect(await put(ghost, { block: false })).toMatchObject({ status: 200 });
    expect((await get(`${A}/rooms/${enc(priv)}/block`)).body).toEqual({ block: false });
    expect((await get(`${A}/rooms?blocked=true`)).body.total_rooms).toBe(0);
  });

  it('forward extremities: GET shape, DELETE keeps the newest and the room goes on from it', async () => {
    const get1 = await get(`${A}/rooms/${enc(ref)}/forward_extremities`);
    expect(get1.status).toBe(200);
    expect(get1.body.count).toBe(1);
    expect(get1.body.results[0]).toEqual({ event_id: expect.stringMatching(/^\$/), state_group: expect.any(Number), depth: expect.any(Number), received_ts: expect.any(Number) });
    // By alias too.
    expect((await get(`${A}/rooms/${enc('#refroom:localhost')}/forward_extremities`)).body).toEqual(get1.body);
    // An operator's stray rows (older events of the room) make several extremities.
    const older = await querySql<{ event_id: string }>(s, `SELECT event_id FROM events WHERE room_id = '${ref}' ORDER BY stream_ordering LIMIT 2`);
    for (const o of older) await runSql(s, `INSERT INTO event_forward_extremities (event_id, room_id) VALUES ('${o.event_id}', '${ref}')`);
    expect((await get(`${A}/rooms/${enc(ref)}/forward_extremities`)).body.count).toBe(3);
    expect((await get(`${A}/rooms/${enc(ref)}`)).body.forward_extremities).toBe(3);
    const del = await s.request('DELETE', `${A}/rooms/${enc(ref)}/forward_extremities`, { token: admin.accessToken });
    expect(del).toMatchObject({ status: 200, body: { deleted: 2 } });
    const after = await get(`${A}/rooms/${enc(ref)}/forward_extremities`);
    expect(after.body.results.map((r: any) => r.event_id)).toEqual([get1.body.results[0].event_id]);
    // The next event builds on the kept extremity only.
    const sent = await send(alice, ref, { msgtype: 'm.text', body: 'after repair' });
    const [edge] = await querySql<{ n: number }>(s, `SELECT count(*) AS n FROM event_edges WHERE event_id = '${sent.body.event_id}'`);
    expect(Number(edge!.n)).toBe(1);
    expect(await get(`${A}/rooms/${enc('bad')}/forward_extremities`)).toMatchObject({ status: 400, body: { error: 'bad was not legal room ID or room alias' } });
    expect(await get(`${A}/rooms/${enc('#nope:localhost')}/forward_extremities`)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    expect(await s.request('DELETE', `${A}/rooms/${enc('!none:localhost')}/forward_extremities`, { token: admin.accessToken })).toMatchObject({
      status: 400,
      body: { error: 'No forward extremity event found for room !none:localhost' },
    });
  });

  it('make_room_admin: the highest local member grants the same level and invites to a private room', async () => {
    // The admin is not in alice's private room; alice (100) raises the admin and invites them.
    const res = await s.request('POST', `${A}/rooms/${enc(priv)}/make_room_admin`, { token: admin.accessToken });
    expect(res).toMatchObject({ status: 200, body: {} });
    const pl = (await s.request('GET', `${V3}/rooms/${enc(priv)}/state/m.room.power_levels/`, { token: alice.accessToken })).body;
    expect(pl.users[admin.userId]).toBe(100);
    const m = (await s.request('GET', `${V3}/rooms/${enc(priv)}/state/m.room.member/${enc(admin.userId)}`, { token: alice.accessToken })).body;
    expect(m.membership).toBe('invite');
    // Another user by alias in a public room: level granted, no invite (public join rule).
    const other = await s.request('POST', `${A}/rooms/${enc('#refroom:localhost')}/make_room_admin`, { token: admin.accessToken, body: { user_id: bob.userId } });
    expect(other.status).toBe(200);
    const refPl = (await get(`${A}/rooms/${enc(ref)}/state?type=m.room.power_levels`)).body.state[0].content;
    expect(refPl.users[bob.userId]).toBe(100);
    expect((await get(`${A}/rooms/${enc(ref)}/members`)).body.members).not.toContain(bob.userId);
    // Errors.
    expect(await s.request('POST', `${A}/rooms/${enc('!nope:localhost')}/make_room_admin`, { token: admin.accessToken })).toMatchObject({ status: 400, body: { error: 'Server not in room' } });
    expect(await s.request('POST', `${A}/rooms/${enc('#nope:localhost')}/make_room_admin`, { token: admin.accessToken })).toMatchObject({ status: 404 });
    expect(await s.request('POST', `${A}/rooms/x/make_room_admin`, { token: admin.accessToken })).toMatchObject({ status: 400, body: { error: 'x was not legal room ID or room alias' } });
    // A room whose only local admin left.
    const lonely = await create(bob, { preset: 'public_chat' });
    await s.request('POST', `${V3}/rooms/${enc(lonely)}/leave`, { token: bob.accessToken, body: {} });
    expect(await s.request('POST', `${A}/rooms/${enc(lonely)}/make_room_admin`, { token: admin.accessToken })).toMatchObject({ status: 400, body: { error: 'No local admin user in room' } });
  });

  it('join: a local user joins a public room directly, an invite-only one through the admin\'s invite', async () => {
    const j = (roomId: string, body: unknown) => s.request('POST', `${A}/join/${enc(roomId)}`, { token: admin.accessToken, body });
    expect(await j('#refroom:localhost', { user_id: bob.userId })).toMatchObject({ status: 200, body: { room_id: ref } });
    expect((await get(`${A}/rooms/${enc(ref)}/members`)).body.members).toContain(bob.userId);
    // Invite-only room where the admin is not a member: the admin's invite is refused by the auth rules.
    const closed = await create(alice, { preset: 'private_chat' });
    expect((await j(closed, { user_id: bob.userId })).status).toBe(403);
    // The admin was invited to `priv` by make_room_admin; once joined, the admin can invite bob in.
    expect(await j(priv, { user_id: admin.userId })).toMatchObject({ status: 200 });
    expect(await j(priv, { user_id: bob.userId })).toMatchObject({ status: 200, body: { room_id: priv } });
    expect((await get(`${A}/rooms/${enc(priv)}/members`)).body.members).toContain(bob.userId);
    // Errors in Synapse's order.
    expect(await j(ref, {})).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    expect(await j(ref, { user_id: '@x:elsewhere' })).toMatchObject({ status: 400, body: { error: 'This endpoint can only be used with local users' } });
    expect(await j(ref, { user_id: '@ghost:localhost' })).toMatchObject({ status: 404, body: { error: 'User not found' } });
    expect(await j('junk', { user_id: bob.userId })).toMatchObject({ status: 400, body: { error: 'junk was not legal room ID or room alias' } });
    expect(await j('#missing:localhost', { user_id: bob.userId })).toMatchObject({ status: 404 });
    // A blocked room refuses the join.
    await s.request('PUT', `${A}/rooms/${enc(closed)}/block`, { token: admin.accessToken, body: { block: true } });
    const carol = await s.registerUser('carol');
    expect(await j(ref, { user_id: carol.userId })).toMatchObject({ status: 200 });
    await s.request('PUT', `${A}/rooms/${enc(ref)}/block`, { token: admin.accessToken, body: { block: true } });
    expect(await s.request('POST', `${V3}/rooms/${enc(ref)}/leave`, { token: carol.accessToken, body: {} })).toMatchObject({ status: 200 });
    expect(await j(ref, { user_id: carol.userId })).toMatchObject({ status: 403, body: { error: 'This room has been blocked on this server' } });
    await s.request('PUT', `${A}/rooms/${enc(ref)}/block`, { token: admin.accessToken, body: { block: false } });
  });

  it('a user\'s rooms: memberships, sent_invite_count, cumulative_joined_room_count', async () => {
    const m = await get(`${A}/users/${enc(bob.userId)}/memberships`);
    expect(m.status).toBe(200);
    expect(m.body.memberships[ref]).toBe('join');
    expect(m.body.memberships[priv]).toBe('join');
    const carolM = (await get(`${A}/users/${enc('@carol:localhost')}/memberships`)).body.memberships;
    expect(carolM[ref]).toBe('leave');
    expect((await get(`${A}/users/${enc('@nobody:elsewhere')}/memberships`)).body).toEqual({ memberships: {} });

    // alice invited the admin to priv (make_room_admin) and the admin invited bob (join).
    expect((await get(`${A}/users/${enc(alice.userId)}/sent_invite_count?from_ts=0`)).body).toEqual({ invite_count: 1 });
    expect((await get(`${A}/users/${enc(admin.userId)}/sent_invite_count?from_ts=0`)).body).toEqual({ invite_count: 1 });
    expect((await get(`${A}/users/${enc(alice.userId)}/sent_invite_count?from_ts=${Date.now() + 60_000}`)).body).toEqual({ invite_count: 0 });
    expect(await get(`${A}/users/${enc(alice.userId)}/sent_invite_count`)).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });

    // carol joined ref and left: still counted.
    expect((await get(`${A}/users/${enc('@carol:localhost')}/cumulative_joined_room_count?from_ts=0`)).body).toEqual({ cumulative_joined_room_count: 1 });
    expect((await get(`${A}/users/${enc(bob.userId)}/cumulative_joined_room_count?from_ts=0`)).body.cumulative_joined_room_count).toBeGreaterThanOrEqual(3);
    expect(await get(`${A}/users/${enc(bob.userId)}/cumulative_joined_room_count?from_ts=x`)).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
  });

  it('every endpoint is for admins only', async () => {
    const paths = [
      ['GET', `${A}/rooms`],
      ['GET', `${A}/rooms/${enc(ref)}/messages`],
      ['GET', `${A}/rooms/${enc(ref)}/block`],
      ['PUT', `${A}/rooms/${enc(ref)}/block`],
      ['POST', `${A}/rooms/${enc(ref)}/make_room_admin`],
      ['DELETE', `${A}/rooms/${enc(ref)}/forward_extremities`],
      ['POST', `${A}/join/${enc(ref)}`],
      ['GET', `${A}/fetch_event/x`],
      ['GET', `${A}/users/${enc(bob.userId)}/memberships`],
    ];
    for (const [method, path] of paths) {
      const body = method === 'GET' ? undefined : {};
      expect(await s.request(method!, path!, { token: alice.accessToken, body })).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN', error: 'You are not a server admin' } });
      expect((await s.request(method!, path!)).status).toBe(401);
    }
  });
});
