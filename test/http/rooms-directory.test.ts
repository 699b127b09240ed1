import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const R0 = '/_matrix/client/r0';
const enc = encodeURIComponent;

describe('Room aliases, the public room directory, forget and knock', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let admin: TestUser;
  let n = 0;
  const uniq = (p: string) => `${p}${++n}${Date.now().toString(36)}`;
  const create = async (u: TestUser, body: unknown = {}) => {
    const res = await s.request('POST', `${V3}/createRoom`, { token: u.accessToken, body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.room_id as string;
  };
  const join = async (u: TestUser, roomId: string) => {
    const res = await s.request('POST', `${V3}/join/${enc(roomId)}`, { token: u.accessToken, body: {} });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };
  const putAlias = (u: TestUser | null, alias: string, body: unknown) =>
    s.request('PUT', `${V3}/directory/room/${enc(alias)}`, { token: u?.accessToken, body });
  const state = (u: TestUser, roomId: string, type: string, body: unknown) =>
    s.request('PUT', `${V3}/rooms/${enc(roomId)}/state/${type}`, { token: u.accessToken, body });

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    carol = await s.registerUser('carol');
    admin = await s.registerUser('root', { admin: true });
  });
  afterAll(async () => s?.close());

  describe('aliases', () => {
    it('PUT stores the alias with its server, GET resolves it without a token, the room lists it', async () => {
      const roomId = await create(alice);
      const alias = `#${uniq('room')}:localhost`;
      const put = await putAlias(alice, alias, { room_id: roomId });
      expect(put.status, put.text).toBe(200);
      expect(put.body).toEqual({});
      const rows = await querySql(s, `SELECT room_id, creator FROM room_aliases WHERE room_alias = '${alias}'`);
      expect(rows).toEqual([{ room_id: roomId, creator: alice.userId }]);
      const servers = await querySql(s, `SELECT server FROM room_alias_servers WHERE room_alias = '${alias}'`);
      expect(servers).toEqual([{ server: 'localhost' }]);

      const get = await s.request('GET', `${V3}/directory/room/${enc(alias)}`);
      expect(get.status).toBe(200);
      expect(get.body).toEqual({ room_id: roomId, servers: ['localhost'] });
      expect(specErrors('client-server', '/directory/room/{roomAlias}', 'get', 200, get.body)).toEqual([]);
      const r0 = await s.request('GET', `${R0}/directory/room/${enc(alias)}`);
      expect(r0.body.room_id).toBe(roomId);

      const list = await s.request('GET', `${V3}/rooms/${enc(roomId)}/aliases`, { token: alice.accessToken });
      expect(list.status).toBe(200);
      expect(list.body).toEqual({ aliases: [alias] });
      expect(specErrors('client-server', '/rooms/{roomId}/aliases', 'get', 200, list.body)).toEqual([]);
      // Joining through the alias works.
      await state(alice, roomId, 'm.room.join_rules', { join_rule: 'public' });
      const viaAlias = await s.request('POST', `${V3}/join/${enc(alias)}`, { token: bob.accessToken, body: {} });
      expect(viaAlias.body).toEqual({ room_id: roomId });
    });

    it('PUT refusals: malformed alias, bad body, unknown room, non-member, remote alias, whitespace, taken alias, no token', async () => {
      const roomId = await create(alice);
      const bad = await putAlias(alice, 'nohash:localhost', { room_id: roomId });
      expect(bad.status).toBe(400);
      expect(bad.body).toEqual({ errcode: 'M_INVALID_PARAM', error: 'Room alias invalid' });
      const badDomain = await putAlias(alice, '#x:bad domain!', { room_id: roomId });
      expect(badDomain.body.errcode).toBe('M_INVALID_PARAM');
      const noRoom = await putAlias(alice, `#${uniq('a')}:localhost`, {});
      expect(noRoom.status).toBe(400);
      expect(noRoom.body.errcode).toBe('M_BAD_JSON');
      const wrongType = await putAlias(alice, `#${uniq('a')}:localhost`, { room_id: 5 });
      expect(wrongType.body.errcode).toBe('M_BAD_JSON');
      const unknown = await putAlias(alice, `#${uniq('a')}:localhost`, { room_id: '!nope:localhost' });
      expect(unknown.status).toBe(400);
      expect(unknown.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Room does not exist' });
      const outsider = await putAlias(bob, `#${uniq('a')}:localhost`, { room_id: roomId });
      expect(outsider.status).toBe(403);
      expect(outsider.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You must be in the room to create an alias for it' });
      const remote = await putAlias(alice, `#${uniq('a')}:elsewhere.org`, { room_id: roomId });
      expect(remote.status).toBe(400);
      expect(remote.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Room alias must be local' });
      const spaced = await putAlias(alice, '#a b:localhost', { room_id: roomId });
      expect(spaced.status).toBe(400);
      expect(spaced.body.error).toBe('Invalid characters in room alias');
      const long = await putAlias(alice, `#${'x'.repeat(250)}:localhost`, { room_id: roomId });
      expect(long.status).toBe(400);
      expect(long.body.errcode).toBe('M_INVALID_PARAM');
      const alias = `#${uniq('taken')}:localhost`;
      expect((await putAlias(alice, alias, { room_id: roomId })).status).toBe(200);
      const other = await create(alice);
      const taken = await putAlias(alice, alias, { room_id: other });
      expect(taken.status).toBe(409);
      expect(taken.body).toEqual({ errcode: 'M_UNKNOWN', error: `Room alias ${alias} already exists` });
      const anon = await putAlias(null, `#${uniq('a')}:localhost`, { room_id: roomId });
      expect(anon.status).toBe(401);
      expect(anon.body.errcode).toBe('M_MISSING_TOKEN');
      // A server admin need not be in the room.
      const byAdmin = await putAlias(admin, `#${uniq('adm')}:localhost`, { room_id: roomId });
      expect(byAdmin.status).toBe(200);
      const count = await querySql(s, `SELECT count(*) AS n FROM room_aliases WHERE room_id = '${roomId}'`);
      expect(Number(count[0]!.n)).toBe(2);
    });

    it('GET answers 404 for unknown aliases and 400 for malformed ones; room aliases are for members and admins', async () => {
      const missing = await s.request('GET', `${V3}/directory/room/${enc('#nothere:localhost')}`);
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Room alias #nothere:localhost not found' });
      const malformed = await s.request('GET', `${V3}/directory/room/${enc('nothere')}`);
      expect(malformed.status).toBe(400);
      expect(malformed.body.errcode).toBe('M_INVALID_PARAM');
      const roomId = await create(alice);
      const outsider = await s.request('GET', `${V3}/rooms/${enc(roomId)}/aliases`, { token: carol.accessToken });
      expect(outsider.status).toBe(403);
      expect(outsider.body.errcode).toBe('M_FORBIDDEN');
      const unknownRoom = await s.request('GET', `${V3}/rooms/${enc('!nope:localhost')}/aliases`, { token: carol.accessToken });
      expect(unknownRoom.status).toBe(403);
      const byAdmin = await s.request('GET', `${V3}/rooms/${enc(roomId)}/aliases`, { token: admin.accessToken });
      expect(byAdmin.status).toBe(200);
      expect(byAdmin.body).toEqual({ aliases: [] });
      // World-readable rooms show their aliases to anyone.
      await state(alice, roomId, 'm.room.history_visibility', { history_visibility: 'world_readable' });
      const readable = await s.request('GET', `${V3}/rooms/${enc(roomId)}/aliases`, { token: carol.accessToken });
      expect(readable.status).toBe(200);
    });

    it('DELETE: the creator, a moderator or an admin; others 403; unknown 404; the canonical alias drops it', async () => {
      const roomId = await create(alice, { preset: 'public_chat' });
      await join(bob, roomId);
      await join(carol, roomId);
      const a1 = `#${uniq('del')}:localhost`;
      const a2 = `#${uniq('alt')}:localhost`;
      expect((await putAlias(bob, a1, { room_id: roomId })).status).toBe(200);
      expect((await putAlias(alice, a2, { room_id: roomId })).status).toBe(200);
      const canon = await state(alice, roomId, 'm.room.canonical_alias', { alias: a1, alt_aliases: [a2] });
      expect(canon.status, canon.text).toBe(200);

      // carol: a member without the canonical-alias power level, not the creator.
      const refused = await s.request('DELETE', `${V3}/directory/room/${enc(a1)}`, { token: carol.accessToken });
      expect(refused.status).toBe(403);
      expect(refused.body).toEqual({ errcode: 'M_FORBIDDEN', error: "You don't have permission to delete the alias." });
      const unknown = await s.request('DELETE', `${V3}/directory/room/${enc('#gone:localhost')}`, { token: alice.accessToken });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Unknown room alias' });
      const malformed = await s.request('DELETE', `${V3}/directory/room/nohash`, { token: alice.accessToken });
      expect(malformed.status).toBe(400);

      // bob created a1 and may delete it; the canonical alias event loses its `alias`, sent by bob
      // (he lacks the power level, so Synapse skips the update: the alias event stays).
      const byCreator = await s.request('DELETE', `${V3}/directory/room/${enc(a1)}`, { token: bob.accessToken });
      expect(byCreator.status).toBe(200);
      expect(await querySql(s, `SELECT room_alias FROM room_aliases WHERE room_alias = '${a1}'`)).toEqual([]);
      expect(await querySql(s, `SELECT server FROM room_alias_servers WHERE room_alias = '${a1}'`)).toEqual([]);
      const afterBob = await s.request('GET', `${V3}/rooms/${enc(roomId)}/state/m.room.canonical_alias`, { token: alice.accessToken });
      expect(afterBob.body).toEqual({ alias: a1, alt_aliases: [a2] });

      // alice (a moderator) deletes a2 which she created; the update goes through this time.
      const byMod = await s.request('DELETE', `${V3}/directory/room/${enc(a2)}`, { token: alice.accessToken });
      expect(byMod.status).toBe(200);
      const after = await s.request('GET', `${V3}/rooms/${enc(roomId)}/state/m.room.canonical_alias`, { token: alice.accessToken });
      expect(after.body).toEqual({ alias: a1 });

      // A moderator who did not create the alias, and a server admin outside the room.
      const a3 = `#${uniq('mod')}:localhost`;
      const a4 = `#${uniq('adm')}:localhost`;
      expect((await putAlias(bob, a3, { room_id: roomId })).status).toBe(200);
      expect((await putAlias(bob, a4, { room_id: roomId })).status).toBe(200);
      expect((await s.request('DELETE', `${V3}/directory/room/${enc(a3)}`, { token: alice.accessToken })).status).toBe(200);
      expect((await s.request('DELETE', `${V3}/directory/room/${enc(a4)}`, { token: admin.accessToken })).status).toBe(200);
      // An outsider is refused as not in the room.
      const a5 = `#${uniq('out')}:localhost`;
      expect((await putAlias(alice, a5, { room_id: roomId })).status).toBe(200);
      const outsider = await s.request('DELETE', `${V3}/directory/room/${enc(a5)}`, { token: (await s.registerUser(uniq('dave'))).accessToken });
      expect(outsider.status).toBe(403);
    });

    it('m.room.canonical_alias: aliases must exist and point at the room (M_BAD_ALIAS); malformed ones are M_INVALID_PARAM', async () => {
      const roomId = await create(alice);
      const other = await create(alice);
      const mine = `#${uniq('mine')}:localhost`;
      const theirs = `#${uniq('theirs')}:localhost`;
      expect((await putAlias(alice, mine, { room_id: roomId })).status).toBe(200);
      expect((await putAlias(alice, theirs, { room_id: other })).status).toBe(200);
      const missing = await state(alice, roomId, 'm.room.canonical_alias', { alias: '#nowhere:localhost' });
      expect(missing.status).toBe(400);
      expect(missing.body.errcode).toBe('M_BAD_ALIAS');
      const wrongRoom = await state(alice, roomId, 'm.room.canonical_alias', { alias: mine, alt_aliases: [theirs] });
      expect(wrongRoom.status).toBe(400);
      expect(wrongRoom.body).toEqual({ errcode: 'M_BAD_ALIAS', error: `Room alias ${theirs} does not point to the room` });
      const malformed = await state(alice, roomId, 'm.room.canonical_alias', { alias: 'not-an-alias' });
      expect(malformed.status).toBe(400);
      expect(malformed.body.errcode).toBe('M_INVALID_PARAM');
      const notList = await state(alice, roomId, 'm.room.canonical_alias', { alias: mine, alt_aliases: 'x' });
      expect(notList.body).toEqual({ errcode: 'M_INVALID_PARAM', error: 'The alt_aliases property must be a list.' });
      const none = await querySql(s, `SELECT count(*) AS n FROM events WHERE room_id = '${roomId}' AND type = 'm.room.canonical_alias'`);
      expect(Number(none[0]!.n)).toBe(0);
      const ok = await state(alice, roomId, 'm.room.canonical_alias', { alias: mine });
      expect(ok.status).toBe(200);
      const [stats] = await querySql(s, `SELECT canonical_alias FROM room_stats_state WHERE room_id = '${roomId}'`);
      expect(stats!.canonical_alias).toBe(mine);
      // An empty content clears it.
      expect((await state(alice, roomId, 'm.room.canonical_alias', {})).status).toBe(200);
    });
  });

  describe('public room directory', () => {
    it('visibility: GET answers it (404 unknown); PUT needs a moderator or an admin; rooms.is_public follows', async () => {
      const roomId = await create(alice, { preset: 'public_chat' });
      await join(bob, roomId);
      const get = await s.request('GET', `${V3}/directory/list/room/${enc(roomId)}`);
      expect(get.status).toBe(200);
      expect(get.body).toEqual({ visibility: 'private' });
      expect(specErrors('client-server', '/directory/list/room/{roomId}', 'get', 200, get.body)).toEqual([]);
      const unknown = await s.request('GET', `${V3}/directory/list/room/${enc('!nope:localhost')}`);
      expect(unknown.status).toBe(404);
      expect(unknown.body.errcode).toBe('M_NOT_FOUND');

      const byMember = await s.request('PUT', `${V3}/directory/list/room/${enc(roomId)}`, { token: bob.accessToken, body: { visibility: 'public' } });
      expect(byMember.status).toBe(403);
      expect(byMember.body.error).toBe('This server requires you to be a moderator in the room to edit its room list entry');
      const byOutsider = await s.request('PUT', `${V3}/directory/list/room/${enc(roomId)}`, { token: carol.accessToken, body: { visibility: 'public' } });
      expect(byOutsider.status).toBe(403);
      expect(byOutsider.body).toEqual({ errcode: 'M_FORBIDDEN', error: `User ${carol.userId} not in room ${roomId}` });
      const badVis = await s.request('PUT', `${V3}/directory/list/room/${enc(roomId)}`, { token: alice.accessToken, body: { visibility: 'secret' } });
      expect(badVis.status).toBe(400);
      expect(badVis.body.errcode).toBe('M_BAD_JSON');
      const unknownPut = await s.request('PUT', `${V3}/directory/list/room/${enc('!nope:localhost')}`, { token: alice.accessToken, body: { visibility: 'public' } });
      expect(unknownPut.status).toBe(400);
      const anon = await s.request('PUT', `${V3}/directory/list/room/${enc(roomId)}`, { body: { visibility: 'public' } });
      expect(anon.status).toBe(401);
      expect(await querySql(s, `SELECT room_id FROM rooms WHERE room_id = '${roomId}' AND is_public = TRUE`)).toEqual([]);

      const put = await s.request('PUT', `${V3}/directory/list/room/${enc(roomId)}`, { token: alice.accessToken, body: { visibility: 'public' } });
      expect(put.status).toBe(200);
      expect(put.body).toEqual({});
      expect(await querySql(s, `SELECT room_id FROM rooms WHERE room_id = '${roomId}' AND is_public = TRUE`)).toEqual([{ room_id: roomId }]);
      expect((await s.request('GET', `${V3}/directory/list/room/${enc(roomId)}`)).body).toEqual({ visibility: 'public' });
      const byAdmin = await s.request('PUT', `${V3}/directory/list/room/${enc(roomId)}`, { token: admin.accessToken, body: { visibility: 'private' } });
      expect(byAdmin.status).toBe(200);
      expect((await s.request('GET', `${V3}/directory/list/room/${enc(roomId)}`)).body).toEqual({ visibility: 'private' });
      // No body: Synapse's default is public.
      const dflt = await s.request('PUT', `${R0}/directory/list/room/${enc(roomId)}`, { token: alice.accessToken, body: {} });
      expect(dflt.status).toBe(200);
      expect((await s.request('GET', `${V3}/directory/list/room/${enc(roomId)}`)).body).toEqual({ visibility: 'public' });
    });

    it('publicRooms lists published joinable rooms by members, pages with tokens both ways, and filters', async () => {
      const tag = uniq('dir');
      // Three published public rooms with 3, 2 and 1 members; one published but invite-only; one unpublished.
      const big = await create(alice, { preset: 'public_chat', visibility: 'public', name: `${tag} Big`, topic: 'lots of people' });
      await join(bob, big);
      await join(carol, big);
      const mid = await create(alice, { preset: 'public_chat', visibility: 'public', name: `${tag} Mid` });
      await join(bob, mid);
      const small = await create(alice, { preset: 'public_chat', visibility: 'public', topic: `${tag} small one`, creation_content: { type: 'm.space' } });
      const hidden = await create(alice, { preset: 'private_chat', visibility: 'public', name: `${tag} Hidden` });
      const unlisted = await create(alice, { preset: 'public_chat', name: `${tag} Unlisted` });
      const alias = `#${uniq('small')}:localhost`;
      expect((await putAlias(alice, alias, { room_id: small })).status).toBe(200);
      expect((await state(alice, small, 'm.room.canonical_alias', { alias })).status).toBe(200);

      const search = (body: Record<string, unknown>) =>
        s.request('POST', `${V3}/publicRooms`, { token: bob.accessToken, body: { ...body, filter: { generic_search_term: tag.toUpperCase(), ...((body.filter as object) ?? {}) } } });
      const all = await search({});
      expect(all.status).toBe(200);
      expect(specErrors('client-server', '/publicRooms', 'post', 200, all.body)).toEqual([]);
      expect(all.body.chunk.map((r: { room_id: string }) => r.room_id)).toEqual([big, mid, small]);
      expect(all.body.total_room_count_estimate).toBe(3);
      expect(all.body.chunk[0]).toEqual({
        room_id: big,
        name: `${tag} Big`,
        topic: 'lots of people',
        num_joined_members: 3,
        world_readable: false,
        guest_can_join: false,
        join_rule: 'public',
      });
      expect(all.body.chunk[2]).toMatchObject({ canonical_alias: alias, room_type: 'm.space', num_joined_members: 1 });
      expect(all.body).not.toHaveProperty('next_batch');
      const ids = JSON.stringify(all.body.chunk);
      expect(ids).not.toContain(hidden);
      expect(ids).not.toContain(unlisted);

      // Pages of one: forwards to the end, then back.
      const p1 = await search({ limit: 1 });
      expect(p1.body.chunk.map((r: { room_id: string }) => r.room_id)).toEqual([big]);
      expect(p1.body).not.toHaveProperty('prev_batch');
      const p2 = await search({ limit: 1, since: p1.body.next_batch });
      expect(p2.body.chunk.map((r: { room_id: string }) => r.room_id)).toEqual([mid]);
      const p3 = await search({ limit: 1, since: p2.body.next_batch });
      expect(p3.body.chunk.map((r: { room_id: string }) => r.room_id)).toEqual([small]);
      expect(p3.body).not.toHaveProperty('next_batch');
      const back = await search({ limit: 1, since: p3.body.prev_batch });
      expect(back.body.chunk.map((r: { room_id: string }) => r.room_id)).toEqual([mid]);
      const back2 = await search({ limit: 1, since: back.body.prev_batch });
      expect(back2.body.chunk.map((r: { room_id: string }) => r.room_id)).toEqual([big]);
      expect(back2.body).not.toHaveProperty('prev_batch');

      // room_types: spaces only, or rooms without a type.
      const spaces = await search({ filter: { room_types: ['m.space'] } });
      expect(spaces.body.chunk.map((r: { room_id: string }) => r.room_id)).toEqual([small]);
      const plain = await search({ filter: { room_types: [null] } });
      expect(plain.body.chunk.map((r: { room_id: string }) => r.room_id)).toEqual([big, mid]);
      // Search matches topic and canonical alias too.
      const byTopic = await s.request('POST', `${V3}/publicRooms`, { token: bob.accessToken, body: { filter: { generic_search_term: 'LOTS OF' } } });
      expect(byTopic.body.chunk.map((r: { room_id: string }) => r.room_id)).toEqual([big]);

      // GET lists the same rooms (no filter): ours among them, in order.
      const get = await s.request('GET', `${V3}/publicRooms?limit=100`, { token: bob.accessToken });
      expect(get.status).toBe(200);
      expect(specErrors('client-server', '/publicRooms', 'get', 200, get.body)).toEqual([]);
      const got = get.body.chunk.map((r: { room_id: string }) => r.room_id).filter((id: string) => [big, mid, small].includes(id));
      expect(got).toEqual([big, mid, small]);
      const local = await s.request('GET', `${V3}/publicRooms?server=localhost`, { token: bob.accessToken });
      expect(local.status).toBe(200);

      // A room whose last member left drops out.
      await s.request('POST', `${V3}/rooms/${enc(small)}/leave`, { token: alice.accessToken, body: {} });
      const afterLeave = await search({});
      expect(afterLeave.body.chunk.map((r: { room_id: string }) => r.room_id)).toEqual([big, mid]);
    });

    it('publicRooms refusals: no token (Synapse default), bad limit/since/server, bad body types, networks', async () => {
      const anon = await s.request('GET', `${V3}/publicRooms`);
      expect(anon.status).toBe(401);
      expect(anon.body.errcode).toBe('M_MISSING_TOKEN');
      const anonPost = await s.request('POST', `${V3}/publicRooms`, { body: {} });
      expect(anonPost.status).toBe(401);
      const neg = await s.request('GET', `${V3}/publicRooms?limit=-1`, { token: bob.accessToken });
      expect(neg.status).toBe(400);
      expect(neg.body.errcode).toBe('M_INVALID_PARAM');
      const since = await s.request('GET', `${V3}/publicRooms?since=garbage`, { token: bob.accessToken });
      expect(since.status).toBe(400);
      expect(since.body.errcode).toBe('M_INVALID_PARAM');
      const server = await s.request('GET', `${V3}/publicRooms?server=${enc('bad server!')}`, { token: bob.accessToken });
      expect(server.status).toBe(400);
      expect(server.body).toEqual({ errcode: 'M_INVALID_PARAM', error: 'Invalid server name: bad server!' });
      // Other servers' lists need federation, which Axon does not speak yet.
      const remote = await s.request('GET', `${V3}/publicRooms?server=elsewhere.org`, { token: bob.accessToken });
      expect(remote.status).toBe(404);
      expect(remote.body.errcode).toBe('M_NOT_FOUND');
      for (const body of [{ limit: -5 }, { limit: 'ten' }, { limit: 1.5 }]) {
        const res = await s.request('POST', `${V3}/publicRooms`, { token: bob.accessToken, body });
        expect(res.status, JSON.stringify(body)).toBe(400);
      }
      for (const body of [{ filter: 'x' }, { filter: { generic_search_term: 5 } }, { filter: { room_types: 'm.space' } }, { since: 5 }, { include_all_networks: 'yes' }]) {
        const res = await s.request('POST', `${V3}/publicRooms`, { token: bob.accessToken, body });
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.errcode).toBe('M_BAD_JSON');
      }
      const both = await s.request('POST', `${V3}/publicRooms`, { token: bob.accessToken, body: { include_all_networks: true, third_party_instance_id: 'irc|freenode' } });
      expect(both.status).toBe(400);
      const network = await s.request('POST', `${V3}/publicRooms`, { token: bob.accessToken, body: { third_party_instance_id: 'irc|freenode' } });
      expect(network.body).toEqual({ chunk: [], total_room_count_estimate: 0 });
      const huge = await s.request('GET', `${V3}/publicRooms?limit=99999999999`, { token: bob.accessToken });
      expect(huge.status).toBe(200);
    });

    it('allow_public_rooms_without_auth lets GET /publicRooms through without a token', async () => {
      const open = await startServer({ ...NO_RATE_LIMITS, allow_public_rooms_without_auth: true });
      try {
        const res = await open.request('GET', `${V3}/publicRooms`);
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ chunk: [], total_room_count_estimate: 0 });
        const post = await open.request('POST', `${V3}/publicRooms`, { body: {} });
        expect(post.status).toBe(401);
      } finally {
        await open.close();
      }
    });
  });

  describe('forget and knock', () => {
    it('forget: refused while joined or invited; after leaving it marks every membership row forgotten', async () => {
      const roomId = await create(alice);
      const joined = await s.request('POST', `${V3}/rooms/${enc(roomId)}/forget`, { token: alice.accessToken, body: {} });
      expect(joined.status).toBe(400);
      expect(joined.body).toEqual({ errcode: 'M_UNKNOWN', error: `User ${alice.userId} in room ${roomId}` });
      await s.request('POST', `${V3}/rooms/${enc(roomId)}/invite`, { token: alice.accessToken, body: { user_id: bob.userId } });
      const invited = await s.request('POST', `${V3}/rooms/${enc(roomId)}/forget`, { token: bob.accessToken, body: {} });
      expect(invited.status).toBe(400);
      await join(bob, roomId);
      await s.request('POST', `${V3}/rooms/${enc(roomId)}/leave`, { token: bob.accessToken, body: {} });
      const ok = await s.request('POST', `${V3}/rooms/${enc(roomId)}/forget`, { token: bob.accessToken, body: {} });
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({});
      expect(specErrors('client-server', '/rooms/{roomId}/forget', 'post', 200, ok.body)).toEqual([]);
      const rows = await querySql<{ membership: string; forgotten: number | string }>(
        s,
        `SELECT membership, forgotten FROM room_memberships WHERE room_id = '${roomId}' AND user_id = '${bob.userId}'`,
      );
      expect(rows.map((r) => r.membership).sort()).toEqual(['invite', 'join', 'leave']);
      expect(rows.every((r) => Number(r.forgotten) === 1)).toBe(true);
      const aliceRows = await querySql(s, `SELECT forgotten FROM room_memberships WHERE room_id = '${roomId}' AND user_id = '${alice.userId}'`);
      expect(aliceRows.every((r) => Number(r.forgotten) === 0)).toBe(true);
      // Never a member, or no such room: nothing to forget, as Synapse answers.
      expect((await s.request('POST', `${V3}/rooms/${enc(roomId)}/forget`, { token: carol.accessToken, body: {} })).status).toBe(200);
      expect((await s.request('POST', `${V3}/rooms/${enc('!nope:localhost')}/forget`, { token: carol.accessToken })).status).toBe(200);
      expect((await s.request('POST', `${V3}/rooms/not-a-room/forget`, { token: carol.accessToken })).status).toBe(400);
      expect((await s.request('POST', `${V3}/rooms/${enc(roomId)}/forget`, {})).status).toBe(401);
    });

    it('knock: allowed where the join rule is knock, refused elsewhere; an invite after a knock lets the user in', async () => {
      const roomId = await create(alice, { initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
      const alias = `#${uniq('knock')}:localhost`;
      expect((await putAlias(alice, alias, { room_id: roomId })).status).toBe(200);
      const knock = await s.request('POST', `${V3}/knock/${enc(alias)}`, { token: bob.accessToken, body: { reason: 'let me in' } });
      expect(knock.status, knock.text).toBe(200);
      expect(knock.body).toEqual({ room_id: roomId });
      expect(specErrors('client-server', '/knock/{roomIdOrAlias}', 'post', 200, knock.body)).toEqual([]);
      const [row] = await querySql(s, `SELECT membership FROM local_current_membership WHERE room_id = '${roomId}' AND user_id = '${bob.userId}'`);
      expect(row).toEqual({ membership: 'knock' });
      const ev = await s.request('GET', `${V3}/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.userId)}`, { token: alice.accessToken });
      expect(ev.body).toMatchObject({ membership: 'knock', reason: 'let me in' });
      // A knocking user cannot join by themselves...
      const selfJoin = await s.request('POST', `${V3}/join/${enc(roomId)}`, { token: bob.accessToken, body: {} });
      expect(selfJoin.status).toBe(403);
      // ...but an invite lets them in.
      expect((await s.request('POST', `${V3}/rooms/${enc(roomId)}/invite`, { token: alice.accessToken, body: { user_id: bob.userId } })).status).toBe(200);
      await join(bob, roomId);

      const inviteOnly = await create(alice);
      const refused = await s.request('POST', `${V3}/knock/${enc(inviteOnly)}`, { token: carol.accessToken, body: {} });
      expect(refused.status).toBe(403);
      expect(refused.body.errcode).toBe('M_FORBIDDEN');
      // Room version 6 has no knocking, even with the knock join rule.
      const v6 = await create(alice, { room_version: '6', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
      const old = await s.request('POST', `${V3}/knock/${enc(v6)}`, { token: carol.accessToken, body: {} });
      expect(old.status).toBe(403);
      const unknown = await s.request('POST', `${V3}/knock/${enc('#nowhere:localhost')}`, { token: carol.accessToken, body: {} });
      expect(unknown.status).toBe(404);
      const none = await querySql(s, `SELECT count(*) AS n FROM room_memberships WHERE user_id = '${carol.userId}' AND membership = 'knock'`);
      expect(Number(none[0]!.n)).toBe(0);
    });
  });
});
