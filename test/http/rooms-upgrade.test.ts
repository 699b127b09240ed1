import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const R0 = '/_matrix/client/r0';
const enc = encodeURIComponent;

describe('Room upgrades (POST /rooms/{roomId}/upgrade)', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let txn = 0;
  const create = async (u: TestUser, body: unknown = {}) => {
    const res = await s.request('POST', `${V3}/createRoom`, { token: u.accessToken, body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.room_id as string;
  };
  const upgrade = (u: TestUser | null, roomId: string, body: unknown, prefix = V3) =>
    s.request('POST', `${prefix}/rooms/${enc(roomId)}/upgrade`, { token: u?.accessToken, body });
  const getState = async (u: TestUser, roomId: string, type: string, stateKey = '') => {
    const res = await s.request('GET', `${V3}/rooms/${enc(roomId)}/state/${type}/${enc(stateKey)}`, { token: u.accessToken });
    return res.status === 200 ? res.body : undefined;
  };
  const send = (u: TestUser, roomId: string) =>
    s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/u${++txn}`, { token: u.accessToken, body: { msgtype: 'm.text', body: 'hi' } });
  const roomCount = async () => Number((await querySql(s, 'SELECT count(*) AS n FROM rooms'))[0]!.n);

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    carol = await s.registerUser('carol');
  });
  afterAll(async () => s?.close());

  it('tombstones the old room, creates the successor with its state, bans, aliases and directory entry', async () => {
    const oldRoom = await create(alice, {
      preset: 'public_chat',
      visibility: 'public',
      room_version: '9',
      name: 'Old name',
      topic: 'Old topic',
      room_alias_name: `up${Date.now().toString(36)}`,
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    const alias = (await getState(alice, oldRoom, 'm.room.canonical_alias')).alias as string;
    const alt = `#alt${Date.now().toString(36)}:localhost`;
    expect((await s.request('PUT', `${V3}/directory/room/${enc(alt)}`, { token: alice.accessToken, body: { room_id: oldRoom } })).status).toBe(200);
    const canon = await s.request('PUT', `${V3}/rooms/${enc(oldRoom)}/state/m.room.canonical_alias`, {
      token: alice.accessToken,
      body: { alias, alt_aliases: [alt] },
    });
    expect(canon.status, canon.text).toBe(200);
    expect((await s.request('POST', `${V3}/join/${enc(oldRoom)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
    expect((await s.request('POST', `${V3}/rooms/${enc(oldRoom)}/ban`, { token: alice.accessToken, body: { user_id: carol.userId, reason: 'spam' } })).status).toBe(200);
    const oldPl = await getState(alice, oldRoom, 'm.room.power_levels');
    const lastBefore = (await querySql<{ event_id: string }>(s, `SELECT event_id FROM events WHERE room_id = '${oldRoom}' ORDER BY stream_ordering DESC LIMIT 1`))[0]!;

    const res = await upgrade(alice, oldRoom, { new_version: '10' });
    expect(res.status, res.text).toBe(200);
    expect(specErrors('client-server', '/rooms/{roomId}/upgrade', 'post', 200, res.body)).toEqual([]);
    const newRoom = res.body.replacement_room as string;
    expect(newRoom).toMatch(/^![A-Za-z]{18}:localhost$/);

    // The old room: a tombstone naming the new room, right after what was there.
    const tomb = await querySql<{ event_id: string; sender: string }>(s, `SELECT event_id, sender FROM events WHERE room_id = '${oldRoom}' AND type = 'm.room.tombstone'`);
    expect(tomb).toHaveLength(1);
    expect(tomb[0]!.sender).toBe(alice.userId);
    expect(await getState(alice, oldRoom, 'm.room.tombstone')).toEqual({ body: 'This room has been replaced', replacement_room: newRoom });
    const edge = await querySql(s, `SELECT prev_event_id FROM event_edges WHERE event_id = '${tomb[0]!.event_id}'`);
    expect(edge).toEqual([{ prev_event_id: lastBefore.event_id }]);

    // The new room: version 10, create event pointing back at the tombstone.
    const [room] = await querySql(s, `SELECT room_version, creator FROM rooms WHERE room_id = '${newRoom}'`);
    expect(room).toEqual({ room_version: '10', creator: alice.userId });
    const create10 = await getState(alice, newRoom, 'm.room.create');
    expect(create10).toMatchObject({ room_version: '10', creator: alice.userId, predecessor: { room_id: oldRoom, event_id: tomb[0]!.event_id } });
    expect(await getState(alice, newRoom, 'm.room.name')).toEqual({ name: 'Old name' });
    expect(await getState(alice, newRoom, 'm.room.topic')).toEqual({ topic: 'Old topic' });
    expect(await getState(alice, newRoom, 'm.room.join_rules')).toEqual({ join_rule: 'public' });
    expect(await getState(alice, newRoom, 'm.room.history_visibility')).toEqual({ history_visibility: 'shared' });
    expect(await getState(alice, newRoom, 'm.room.encryption')).toEqual({ algorithm: 'm.megolm.v1.aes-sha2' });
    expect(await getState(alice, newRoom, 'm.room.power_levels')).toEqual(oldPl);
    expect(await getState(alice, newRoom, 'm.room.member', carol.userId)).toEqual({ membership: 'ban', reason: 'spam' });
    // Only the upgrader is in the new room; the other members follow the tombstone themselves.
    const members = await querySql(s, `SELECT user_id, membership FROM local_current_membership WHERE room_id = '${newRoom}' ORDER BY user_id`);
    expect(members).toEqual([
      { user_id: alice.userId, membership: 'join' },
      { user_id: carol.userId, membership: 'ban' },
    ]);

    // Aliases point at the new room; the canonical alias event moved with them.
    const aliasRows = await querySql(s, `SELECT room_alias, room_id FROM room_aliases WHERE room_alias IN ('${alias}', '${alt}') ORDER BY room_alias`);
    expect(aliasRows.every((r) => r.room_id === newRoom)).toBe(true);
    expect(aliasRows).toHaveLength(2);
    expect((await s.request('GET', `${V3}/directory/room/${enc(alias)}`)).body.room_id).toBe(newRoom);
    expect(await getState(alice, newRoom, 'm.room.canonical_alias')).toEqual({ alias, alt_aliases: [alt] });
    expect(await getState(alice, oldRoom, 'm.room.canonical_alias')).toEqual({});
    const [stats] = await querySql(s, `SELECT canonical_alias FROM room_stats_state WHERE room_id = '${newRoom}'`);
    expect(stats!.canonical_alias).toBe(alias);

    // The directory entry moved.
    expect((await s.request('GET', `${V3}/directory/list/room/${enc(oldRoom)}`)).body).toEqual({ visibility: 'private' });
    expect((await s.request('GET', `${V3}/directory/list/room/${enc(newRoom)}`)).body).toEqual({ visibility: 'public' });

    // The old room is muted for ordinary members: events and invites need moderator.
    const restricted = await getState(alice, oldRoom, 'm.room.power_levels');
    expect(restricted).toMatchObject({ events_default: 50, invite: 50 });
    const refused = await send(bob, oldRoom);
    expect(refused.status).toBe(403);
    // ...and bob can follow the tombstone.
    expect((await s.request('POST', `${V3}/join/${enc(newRoom)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
    expect((await send(bob, newRoom)).status).toBe(200);
  });

  it('refusals: missing or unknown version, unknown room, outsiders and members without the tombstone level', async () => {
    const roomId = await create(alice, { preset: 'public_chat' });
    expect((await s.request('POST', `${V3}/join/${enc(roomId)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
    const before = await roomCount();

    const missing = await upgrade(alice, roomId, {});
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ errcode: 'M_MISSING_PARAM', error: "Missing params: ['new_version']" });
    for (const v of ['99', 5, null]) {
      const unknown = await upgrade(alice, roomId, { new_version: v });
      expect(unknown.status).toBe(400);
      expect(unknown.body).toEqual({ errcode: 'M_UNSUPPORTED_ROOM_VERSION', error: 'Your homeserver does not support this room version' });
    }
    const noRoom = await upgrade(alice, '!missing:localhost', { new_version: '10' });
    expect(noRoom.status).toBe(404);
    expect(noRoom.body.errcode).toBe('M_NOT_FOUND');
    const badId = await upgrade(alice, 'not-a-room', { new_version: '10' });
    expect(badId.status).toBe(400);
    const member = await upgrade(bob, roomId, { new_version: '10' });
    expect(member.status).toBe(403);
    expect(member.body.errcode).toBe('M_FORBIDDEN');
    const outsider = await upgrade(carol, roomId, { new_version: '10' });
    expect(outsider.status).toBe(403);
    const anon = await upgrade(null, roomId, { new_version: '10' });
    expect(anon.status).toBe(401);
    const notJson = await s.request('POST', `${V3}/rooms/${enc(roomId)}/upgrade`, { token: alice.accessToken, rawBody: 'nope' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.errcode).toBe('M_NOT_JSON');

    // Nothing changed: no new room, no tombstone.
    expect(await roomCount()).toBe(before);
    expect(await querySql(s, `SELECT event_id FROM events WHERE room_id = '${roomId}' AND type = 'm.room.tombstone'`)).toEqual([]);
  });

  it('a moderator allowed to tombstone gets the level needed to copy the state, then the old levels back; spaces keep their children', async () => {
    const child = await create(alice);
    const space = await create(alice, {
      preset: 'public_chat',
      creation_content: { type: 'm.space' },
      power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 50 }, events: { 'm.room.tombstone': 50, 'm.room.power_levels': 100 } },
      initial_state: [
        { type: 'm.space.child', state_key: child, content: { via: ['localhost'] } },
        { type: 'm.space.child', state_key: '!removed:localhost', content: {} },
      ],
    });
    expect((await s.request('POST', `${V3}/join/${enc(space)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
    const oldPl = await getState(alice, space, 'm.room.power_levels');

    const res = await upgrade(bob, space, { new_version: '10' }, R0);
    expect(res.status, res.text).toBe(200);
    const newRoom = res.body.replacement_room as string;
    expect(await getState(bob, newRoom, 'm.room.create')).toMatchObject({ type: 'm.space', predecessor: { room_id: space } });
    expect(await getState(bob, newRoom, 'm.space.child', child)).toEqual({ via: ['localhost'] });
    expect(await getState(bob, newRoom, 'm.space.child', '!removed:localhost')).toBeUndefined();
    // Two power-levels events in the new room: bob raised to 100 for the copy, then the old ones.
    const pls = await querySql<{ event_id: string }>(s, `SELECT event_id FROM events WHERE room_id = '${newRoom}' AND type = 'm.room.power_levels' ORDER BY stream_ordering`);
    expect(pls).toHaveLength(2);
    const first = await querySql<{ json: string }>(s, `SELECT json FROM event_json WHERE event_id = '${pls[0]!.event_id}'`);
    expect(JSON.parse(first[0]!.json).content.users[bob.userId]).toBe(100);
    expect(await getState(bob, newRoom, 'm.room.power_levels')).toEqual(oldPl);
  });

  it('concurrent upgrades of one room by the same user answer one replacement room', async () => {
    const roomId = await create(alice);
    const [a, b] = await Promise.all([upgrade(alice, roomId, { new_version: '10' }), upgrade(alice, roomId, { new_version: '10' })]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.body.replacement_room).toBe(a.body.replacement_room);
    const tombs = await querySql(s, `SELECT event_id FROM events WHERE room_id = '${roomId}' AND type = 'm.room.tombstone'`);
    expect(tombs).toHaveLength(1);
  });
});
