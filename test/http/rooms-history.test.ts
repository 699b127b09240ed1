import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const V1 = '/_matrix/client/v1';
const enc = encodeURIComponent;
const ONLY_MESSAGES = enc(JSON.stringify({ types: ['m.room.message'] }));

describe('Room history reads: messages, context, event, members, relations, threads, hierarchy', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let txn = 0;

  const put = (u: TestUser, roomId: string, type: string, content: unknown) =>
    s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/${type}/h${++txn}`, { token: u.accessToken, body: content });
  const say = async (u: TestUser, roomId: string, body: string, extra: Record<string, unknown> = {}) => {
    const res = await put(u, roomId, 'm.room.message', { msgtype: 'm.text', body, ...extra });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.event_id as string;
  };
  const state = async (u: TestUser, roomId: string, type: string, key: string, content: unknown) => {
    const res = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/state/${type}/${enc(key)}`, { token: u.accessToken, body: content });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.event_id as string;
  };
  const create = async (u: TestUser, body: unknown = {}) => {
    const res = await s.request('POST', `${V3}/createRoom`, { token: u.accessToken, body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.room_id as string;
  };
  const member = async (u: TestUser, roomId: string, action: 'join' | 'leave' | 'invite', target?: TestUser) => {
    const res = await s.request('POST', `${V3}/rooms/${enc(roomId)}/${action}`, { token: u.accessToken, body: target ? { user_id: target.userId } : {} });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };
  const get = (u: TestUser, path: string) => s.request('GET', path, { token: u.accessToken });
  const messages = (u: TestUser, roomId: string, query: string) => get(u, `${V3}/rooms/${enc(roomId)}/messages?${query}`);
  const bodies = (chunk: Array<{ content: { body?: string } }>) => chunk.map((e) => e.content.body);
  const orderings = async (eventId: string) => {
    const [row] = await querySql<{ topological_ordering: number | string; stream_ordering: number | string }>(
      s,
      `SELECT topological_ordering, stream_ordering FROM events WHERE event_id = '${eventId}'`,
    );
    return { topo: Number(row!.topological_ordering), stream: Number(row!.stream_ordering) };
  };
  const okMessages = (body: unknown) => expect(specErrors('client-server', '/rooms/{roomId}/messages', 'get', 200, body)).toEqual([]);

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    carol = await s.registerUser('carol');
  });
  afterAll(async () => s?.close());

  it('paginates backwards and forwards across pages with exact bodies and round-tripping tokens', async () => {
    const roomId = await create(alice);
    const ids: string[] = [];
    for (const b of ['m1', 'm2', 'm3', 'm4', 'm5']) ids.push(await say(alice, roomId, b));
    const o = await Promise.all(ids.map(orderings));

    const p1 = await messages(alice, roomId, `dir=b&limit=2&filter=${ONLY_MESSAGES}`);
    expect(p1.status).toBe(200);
    okMessages(p1.body);
    expect(p1.body.start).toMatch(/^s\d+$/);
    expect(Number(p1.body.start.slice(1))).toBeGreaterThanOrEqual(o[4]!.stream);
    expect(p1.body.end).toBe(`t${o[3]!.topo}-${o[3]!.stream - 1}`);
    expect(p1.body.chunk).toEqual(
      [4, 3].map((i) => ({
        content: { msgtype: 'm.text', body: `m${i + 1}` },
        event_id: ids[i],
        origin_server_ts: expect.any(Number),
        room_id: roomId,
        sender: alice.userId,
        type: 'm.room.message',
        unsigned: { age: expect.any(Number), transaction_id: expect.stringMatching(/^h\d+$/) },
      })),
    );
    expect(p1.body).not.toHaveProperty('state');

    const p2 = await messages(alice, roomId, `dir=b&limit=2&from=${p1.body.end}&filter=${ONLY_MESSAGES}`);
    expect(p2.body.start).toBe(p1.body.end);
    expect(bodies(p2.body.chunk)).toEqual(['m3', 'm2']);
    expect(p2.body.end).toBe(`t${o[1]!.topo}-${o[1]!.stream - 1}`);
    const p3 = await messages(alice, roomId, `dir=b&limit=2&from=${p2.body.end}&filter=${ONLY_MESSAGES}`);
    expect(bodies(p3.body.chunk)).toEqual(['m1']);
    expect(p3.body).not.toHaveProperty('end'); // nothing more
    okMessages(p3.body);

    // Forwards from the start, then from a backwards token: the same events the other way round.
    const f1 = await messages(alice, roomId, `dir=f&limit=2&filter=${ONLY_MESSAGES}`);
    expect(f1.body.start).toBe('t0-0');
    expect(bodies(f1.body.chunk)).toEqual(['m1', 'm2']);
    expect(f1.body.end).toBe(`t${o[1]!.topo}-${o[1]!.stream}`);
    const f2 = await messages(alice, roomId, `dir=f&limit=2&from=${f1.body.end}&filter=${ONLY_MESSAGES}`);
    expect(bodies(f2.body.chunk)).toEqual(['m3', 'm4']);
    const f3 = await messages(alice, roomId, `dir=f&limit=2&from=${f2.body.end}&filter=${ONLY_MESSAGES}`);
    expect(bodies(f3.body.chunk)).toEqual(['m5']);
    expect(f3.body).not.toHaveProperty('end');
    const back = await messages(alice, roomId, `dir=f&limit=10&from=${p1.body.end}`);
    expect(bodies(back.body.chunk)).toEqual(['m4', 'm5']);
    // `to` stops the page; a stream token works as `from`.
    const bounded = await messages(alice, roomId, `dir=b&from=${p1.body.start}&to=${p2.body.end}&filter=${ONLY_MESSAGES}`);
    expect(bodies(bounded.body.chunk)).toEqual(['m5', 'm4', 'm3', 'm2']);
    expect(bounded.body).not.toHaveProperty('end');
    const fromStream = await messages(alice, roomId, `dir=b&limit=1&from=s${o[2]!.stream}`);
    expect(bodies(fromStream.body.chunk)).toEqual(['m3']);
    // Synapse-style sync tokens (more streams after `_`) are read by their room part.
    const syncStyle = await messages(alice, roomId, `dir=b&limit=1&from=s${o[2]!.stream}_12_0_3`);
    expect(bodies(syncStyle.body.chunk)).toEqual(['m3']);

    // Unfiltered from the end: the whole room, newest first, down to the create event.
    const all = await messages(alice, roomId, 'dir=b&limit=100');
    okMessages(all.body);
    expect(all.body.chunk[0].event_id).toBe(ids[4]);
    expect(all.body.chunk.at(-1).type).toBe('m.room.create');
    expect(all.body).not.toHaveProperty('end');
    // Synapse reads a missing `dir` as forwards.
    const noDir = await messages(alice, roomId, 'limit=1');
    expect(noDir.body.chunk[0].type).toBe('m.room.create');
    // r0 alias.
    const r0 = await get(alice, `/_matrix/client/r0/rooms/${enc(roomId)}/messages?dir=b&limit=1`);
    expect(r0.body.chunk[0].event_id).toBe(ids[4]);
  });

  it('applies the filter (types with globs, senders, not_types, contains_url) and lazy-loads members', async () => {
    const roomId = await create(alice, { preset: 'public_chat' });
    await member(bob, roomId, 'join');
    await say(alice, roomId, 'a1');
    await say(bob, roomId, 'b1', { url: 'mxc://localhost/abc' });
    await put(bob, roomId, 'org.example.custom', { x: 1 });
    await say(alice, roomId, 'a2');
    const f = (filter: unknown, extra = '') => messages(alice, roomId, `dir=b&limit=20&filter=${enc(JSON.stringify(filter))}${extra}`);
    expect(bodies((await f({ senders: [bob.userId], types: ['m.room.message'] })).body.chunk)).toEqual(['b1']);
    expect(bodies((await f({ not_senders: [bob.userId], types: ['m.room.message'] })).body.chunk)).toEqual(['a2', 'a1']);
    expect((await f({ types: ['org.example.*'] })).body.chunk.map((e: { type: string }) => e.type)).toEqual(['org.example.custom']);
    const notTypes = await f({ not_types: ['m.room.*'] });
    expect(notTypes.body.chunk.map((e: { type: string }) => e.type)).toEqual(['org.example.custom']);
    expect(bodies((await f({ contains_url: true })).body.chunk)).toEqual(['b1']);
    expect(bodies((await f({ contains_url: false, types: ['m.room.message'] })).body.chunk)).toEqual(['a2', 'a1']);
    // The filter's limit applies when the query gives none.
    expect((await messages(alice, roomId, `dir=b&filter=${enc(JSON.stringify({ limit: 1 }))}`)).body.chunk).toHaveLength(1);

    const lazy = await messages(alice, roomId, `dir=b&limit=2&filter=${enc(JSON.stringify({ lazy_load_members: true, types: ['m.room.message'] }))}`);
    okMessages(lazy.body);
    expect(bodies(lazy.body.chunk)).toEqual(['a2', 'b1']);
    expect(lazy.body.state.map((e: { type: string; state_key: string }) => `${e.type}|${e.state_key}`).sort()).toEqual(
      [`m.room.member|${alice.userId}`, `m.room.member|${bob.userId}`].sort(),
    );
  });

  it('refuses bad parameters with 400 and caps huge limits as Synapse does', async () => {
    const roomId = await create(alice);
    await say(alice, roomId, 'x');
    const bad = async (query: string, errcode: string) => {
      const res = await messages(alice, roomId, query);
      expect(res.status, query).toBe(400);
      expect(res.body.errcode, query).toBe(errcode);
    };
    await bad('dir=b&limit=-1', 'M_INVALID_PARAM');
    await bad('dir=b&limit=abc', 'M_INVALID_PARAM');
    await bad('dir=b&limit=1.5', 'M_INVALID_PARAM');
    await bad('dir=x', 'M_INVALID_PARAM');
    // Synapse: 400 "'from' parameter is invalid" with its default errcode.
    await bad('dir=b&from=garbage', 'M_UNKNOWN');
    await bad('dir=b&from=t1', 'M_UNKNOWN');
    await bad('dir=b&from=s99999999999999999999', 'M_UNKNOWN');
    await bad('dir=b&to=nope', 'M_UNKNOWN');
    await bad('dir=b&filter=%7Bnot%20json', 'M_NOT_JSON');
    await bad(`dir=b&filter=${enc('{"types":"m.room.message"}')}`, 'M_INVALID_PARAM');
    await bad(`dir=b&filter=${enc('[1]')}`, 'M_INVALID_PARAM');
    const huge = await messages(alice, roomId, 'dir=b&limit=99999999999999999999999');
    expect(huge.status).toBe(200);
    expect(huge.body.chunk.length).toBeGreaterThan(1);
    const zero = await messages(alice, roomId, 'dir=b&limit=0');
    expect(zero.status).toBe(200);
    expect(zero.body.chunk).toEqual([]);
    expect(zero.body).not.toHaveProperty('end');
    const badRoom = await messages(alice, 'not-a-room', 'dir=b');
    expect(badRoom.status).toBe(400);
    expect(badRoom.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('history visibility: shared history for late joiners, 403 for outsiders and invitees, world_readable for all', async () => {
    const roomId = await create(alice, { preset: 'public_chat' });
    const early = await say(alice, roomId, 'before bob');
    await member(bob, roomId, 'join');
    await say(alice, roomId, 'after bob');
    const seen = await messages(bob, roomId, `dir=b&filter=${ONLY_MESSAGES}`);
    expect(bodies(seen.body.chunk)).toEqual(['after bob', 'before bob']); // shared: joined later, sees it all
    const outsider = await messages(carol, roomId, 'dir=b');
    expect(outsider.status).toBe(403);
    expect(outsider.body).toEqual({ errcode: 'M_FORBIDDEN', error: `User ${carol.userId} not in room ${roomId}, and room previews are disabled` });
    const ev = await get(carol, `${V3}/rooms/${enc(roomId)}/event/${enc(early)}`);
    expect(ev.status).toBe(404);
    expect(ev.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Event not found.' });
    // Invited but not joined: Synapse refuses /messages.
    await member(alice, roomId, 'invite', carol);
    expect((await messages(carol, roomId, 'dir=b')).status).toBe(403);
    // Unknown rooms answer like rooms one may not see.
    expect((await messages(carol, '!nope:localhost', 'dir=b')).status).toBe(403);

    await state(alice, roomId, 'm.room.history_visibility', '', { history_visibility: 'world_readable' });
    const wr = await messages(carol, roomId, `dir=b&filter=${ONLY_MESSAGES}`);
    expect(wr.status).toBe(200);
    // Before the change the room was `shared` and carol never joined: those stay hidden.
    expect(bodies(wr.body.chunk)).toEqual([]);
    const open = await say(alice, roomId, 'public now');
    const outsiderEvent = await get(carol, `${V3}/rooms/${enc(roomId)}/event/${enc(open)}`);
    expect(outsiderEvent.status).toBe(200);
    expect(specErrors('client-server', '/rooms/{roomId}/event/{eventId}', 'get', 200, outsiderEvent.body)).toEqual([]);
    expect(outsiderEvent.body.content.body).toBe('public now');
    expect(bodies((await messages(carol, roomId, `dir=b&filter=${ONLY_MESSAGES}`)).body.chunk)).toEqual(['public now']);
  });

  it('history visibility: joined and invited rooms hide what came before', async () => {
    const joined = await create(alice, { preset: 'private_chat', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }] });
    const secret = await say(alice, joined, 'secret');
    await member(alice, joined, 'invite', bob);
    await say(alice, joined, 'while invited');
    await member(bob, joined, 'join');
    await say(alice, joined, 'after join');
    expect(bodies((await messages(bob, joined, `dir=b&filter=${ONLY_MESSAGES}`)).body.chunk)).toEqual(['after join']);
    expect((await get(bob, `${V3}/rooms/${enc(joined)}/event/${enc(secret)}`)).status).toBe(404);

    const invited = await create(alice, { preset: 'private_chat', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'invited' } }] });
    await say(alice, invited, 'secret');
    await member(alice, invited, 'invite', bob);
    await say(alice, invited, 'while invited');
    await member(bob, invited, 'join');
    await say(alice, invited, 'after join');
    expect(bodies((await messages(bob, invited, `dir=b&filter=${ONLY_MESSAGES}`)).body.chunk)).toEqual(['after join', 'while invited']);
    // Pagination skips invisible events without ending early: a page of 1 still finds the next visible one.
    const p1 = await messages(bob, invited, `dir=b&limit=1&filter=${ONLY_MESSAGES}`);
    const p2 = await messages(bob, invited, `dir=b&limit=1&from=${p1.body.end}&filter=${ONLY_MESSAGES}`);
    expect(bodies(p2.body.chunk)).toEqual(['while invited']);
  });

  it('members who left see history, members and events up to their leave only', async () => {
    const roomId = await create(alice, { preset: 'public_chat' });
    await member(bob, roomId, 'join');
    await say(alice, roomId, 'while bob was here');
    await member(bob, roomId, 'leave');
    const after = await say(alice, roomId, 'after bob left');
    await member(carol, roomId, 'join');

    const hist = await messages(bob, roomId, `dir=b&filter=${ONLY_MESSAGES}`);
    expect(hist.status).toBe(200);
    expect(bodies(hist.body.chunk)).toEqual(['while bob was here']);
    const fwd = await messages(bob, roomId, `dir=f&limit=50`);
    expect(fwd.body.chunk.map((e: { content: { body?: string } }) => e.content.body).filter(Boolean)).toEqual(['while bob was here']);
    expect((await get(bob, `${V3}/rooms/${enc(roomId)}/event/${enc(after)}`)).status).toBe(404);

    const members = await get(bob, `${V3}/rooms/${enc(roomId)}/members`);
    expect(members.status).toBe(200);
    expect(specErrors('client-server', '/rooms/{roomId}/members', 'get', 200, members.body)).toEqual([]);
    const byUser = Object.fromEntries(members.body.chunk.map((e: { state_key: string; content: { membership: string } }) => [e.state_key, e.content.membership]));
    expect(byUser).toEqual({ [alice.userId]: 'join', [bob.userId]: 'leave' }); // carol joined later
    // joined_members is for current members only (Synapse).
    const jm = await get(bob, `${V3}/rooms/${enc(roomId)}/joined_members`);
    expect(jm.status).toBe(403);
    expect(jm.body.errcode).toBe('M_FORBIDDEN');
  });

  it('members and joined_members: filters, `at`, profiles, outsiders refused', async () => {
    await s.request('PUT', `${V3}/profile/${enc(alice.userId)}/displayname`, { token: alice.accessToken, body: { displayname: 'Alice A' } });
    const roomId = await create(alice, { preset: 'public_chat' });
    await member(bob, roomId, 'join');
    const beforeCarol = await say(alice, roomId, 'mark');
    await member(alice, roomId, 'invite', carol);

    const all = await get(alice, `${V3}/rooms/${enc(roomId)}/members`);
    expect(all.body.chunk.map((e: { state_key: string }) => e.state_key)).toEqual([alice.userId, bob.userId, carol.userId]);
    const joinedOnly = await get(alice, `${V3}/rooms/${enc(roomId)}/members?membership=join`);
    expect(joinedOnly.body.chunk.map((e: { state_key: string }) => e.state_key)).toEqual([alice.userId, bob.userId]);
    const notJoined = await get(alice, `${V3}/rooms/${enc(roomId)}/members?not_membership=join`);
    expect(notJoined.body.chunk.map((e: { state_key: string }) => e.state_key)).toEqual([carol.userId]);
    const o = await orderings(beforeCarol);
    const at = await get(alice, `${V3}/rooms/${enc(roomId)}/members?at=t${o.topo}-${o.stream}`);
    expect(at.body.chunk.map((e: { state_key: string }) => e.state_key)).toEqual([alice.userId, bob.userId]);
    expect((await get(alice, `${V3}/rooms/${enc(roomId)}/members?membership=joined`)).body.errcode).toBe('M_INVALID_PARAM');
    expect((await get(alice, `${V3}/rooms/${enc(roomId)}/members?at=zzz`)).status).toBe(400);
    // Invited, not joined: refused as Synapse does.
    expect((await get(carol, `${V3}/rooms/${enc(roomId)}/members`)).status).toBe(403);

    const jm = await get(bob, `${V3}/rooms/${enc(roomId)}/joined_members`);
    expect(jm.status).toBe(200);
    expect(specErrors('client-server', '/rooms/{roomId}/joined_members', 'get', 200, jm.body)).toEqual([]);
    expect(jm.body).toEqual({ joined: { [alice.userId]: { display_name: 'Alice A' }, [bob.userId]: { display_name: 'bob' } } });
    const outsider = await s.registerUser('dave');
    expect((await get(outsider, `${V3}/rooms/${enc(roomId)}/joined_members`)).status).toBe(403);
  });

  it('context: the event with events before and after, tokens that paginate on, and the state', async () => {
    const roomId = await create(alice, { name: 'Ctx' });
    const ids: string[] = [];
    for (let i = 1; i <= 7; i++) ids.push(await say(alice, roomId, `c${i}`));
    const res = await get(alice, `${V3}/rooms/${enc(roomId)}/context/${enc(ids[3]!)}?limit=4&filter=${ONLY_MESSAGES}`);
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/rooms/{roomId}/context/{eventId}', 'get', 200, res.body)).toEqual([]);
    expect(res.body.event.content.body).toBe('c4');
    expect(bodies(res.body.events_before)).toEqual(['c3', 'c2']);
    expect(bodies(res.body.events_after)).toEqual(['c5', 'c6']);
    const o2 = await orderings(ids[1]!);
    const o6 = await orderings(ids[5]!);
    expect(res.body.start).toBe(`t${o2.topo}-${o2.stream - 1}`);
    expect(res.body.end).toBe(`t${o6.topo}-${o6.stream}`);
    expect(res.body.state.map((e: { type: string }) => e.type)).toContain('m.room.name');
    const on = await messages(alice, roomId, `dir=f&from=${res.body.end}&filter=${ONLY_MESSAGES}`);
    expect(bodies(on.body.chunk)).toEqual(['c7']);
    const earlier = await messages(alice, roomId, `dir=b&from=${res.body.start}&filter=${ONLY_MESSAGES}`);
    expect(bodies(earlier.body.chunk)).toEqual(['c1']);

    const lazy = await get(alice, `${V3}/rooms/${enc(roomId)}/context/${enc(ids[3]!)}?limit=2&filter=${enc(JSON.stringify({ lazy_load_members: true }))}`);
    expect(lazy.body.state.map((e: { type: string; state_key: string }) => `${e.type}|${e.state_key}`)).toEqual([`m.room.member|${alice.userId}`]);

    const other = await create(alice);
    const elsewhere = await say(alice, other, 'elsewhere');
    for (const eventId of ['$unknown', elsewhere]) {
      const r = await get(alice, `${V3}/rooms/${enc(roomId)}/context/${enc(eventId)}`);
      expect(r.status).toBe(404);
      expect(r.body.errcode).toBe('M_NOT_FOUND');
      const e = await get(alice, `${V3}/rooms/${enc(roomId)}/event/${enc(eventId)}`);
      expect(e.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Event not found.' });
    }
    expect((await get(bob, `${V3}/rooms/${enc(roomId)}/context/${enc(ids[3]!)}`)).status).toBe(403);
  });

  it('relations, threads and the bundled aggregations Element reads', async () => {
    const roomId = await create(alice, { preset: 'public_chat' });
    await member(bob, roomId, 'join');
    const root = await say(alice, roomId, 'root');
    const thread = (u: TestUser, body: string) => say(u, roomId, body, { 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
    const r1 = await thread(alice, 'reply 1');
    const r2 = await thread(bob, 'reply 2');
    const reaction = await put(bob, roomId, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: root, key: '👍' } });
    const deep = await put(alice, roomId, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: r1, key: '🎉' } });
    const edited = await say(alice, roomId, 'tpyo');
    const edit = await say(alice, roomId, '* typo', { 'm.new_content': { msgtype: 'm.text', body: 'typo' }, 'm.relates_to': { rel_type: 'm.replace', event_id: edited } });
    await say(bob, roomId, '* hijack', { 'm.new_content': { msgtype: 'm.text', body: 'hijack' }, 'm.relates_to': { rel_type: 'm.replace', event_id: edited } });

    const rel = (path: string) => get(alice, `${V1}/rooms/${enc(roomId)}/relations/${enc(root)}${path}`);
    const all = await rel('');
    expect(all.status).toBe(200);
    expect(specErrors('client-server', '/rooms/{roomId}/relations/{eventId}', 'get', 200, all.body)).toEqual([]);
    expect(all.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([reaction.body.event_id, r2, r1]);
    expect(all.body).not.toHaveProperty('next_batch');
    const threadOnly = await rel('/m.thread');
    expect(specErrors('client-server', '/rooms/{roomId}/relations/{eventId}/{relType}', 'get', 200, threadOnly.body)).toEqual([]);
    expect(threadOnly.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([r2, r1]);
    const typed = await rel('/m.annotation/m.reaction');
    expect(specErrors('client-server', '/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}', 'get', 200, typed.body)).toEqual([]);
    expect(typed.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([reaction.body.event_id]);
    const page1 = await rel('?limit=1&dir=f');
    expect(page1.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([r1]);
    const page2 = await rel(`?limit=5&dir=f&from=${page1.body.next_batch}`);
    expect(page2.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([r2, reaction.body.event_id]);
    expect(page2.body.prev_batch).toBe(page1.body.next_batch);
    const recursed = await rel('/m.annotation?recurse=true');
    expect(recursed.body.recursion_depth).toBe(3);
    expect(recursed.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([deep.body.event_id, reaction.body.event_id]);
    expect((await get(alice, `${V1}/rooms/${enc(roomId)}/relations/${enc('$nope')}`)).status).toBe(404);
    expect((await get(carol, `${V1}/rooms/${enc(roomId)}/relations/${enc(root)}`)).status).toBe(403);

    // The root carries its thread summary; the edited message its latest edit by its own sender.
    const rootEv = await get(bob, `${V3}/rooms/${enc(roomId)}/event/${enc(root)}`);
    const summary = rootEv.body.unsigned['m.relations']['m.thread'];
    expect(summary.count).toBe(2);
    expect(summary.latest_event.event_id).toBe(r2);
    expect(summary.current_user_participated).toBe(true);
    const editedEv = await get(alice, `${V3}/rooms/${enc(roomId)}/event/${enc(edited)}`);
    expect(editedEv.body.unsigned['m.relations']['m.replace'].event_id).toBe(edit);
    const page = await messages(alice, roomId, 'dir=b&limit=20');
    const rootInPage = page.body.chunk.find((e: { event_id: string }) => e.event_id === root);
    expect(rootInPage.unsigned['m.relations']['m.thread'].count).toBe(2);
    okMessages(page.body);

    const threads = await get(alice, `${V1}/rooms/${enc(roomId)}/threads`);
    expect(threads.status).toBe(200);
    expect(specErrors('client-server', '/rooms/{roomId}/threads', 'get', 200, threads.body)).toEqual([]);
    expect(threads.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([root]);
    expect(threads.body).not.toHaveProperty('next_batch');
    const root2 = await say(bob, roomId, 'bob root');
    await say(bob, roomId, 'bob reply', { 'm.relates_to': { rel_type: 'm.thread', event_id: root2 } });
    const t1 = await get(alice, `${V1}/rooms/${enc(roomId)}/threads?limit=1`);
    expect(t1.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([root2]);
    const t2 = await get(alice, `${V1}/rooms/${enc(roomId)}/threads?limit=1&from=${t1.body.next_batch}`);
    expect(t2.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([root]);
    expect(t2.body).not.toHaveProperty('next_batch');
    const mine = await get(alice, `${V1}/rooms/${enc(roomId)}/threads?include=participated`);
    expect(mine.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([root]);
    expect((await get(alice, `${V1}/rooms/${enc(roomId)}/threads?include=some`)).body.errcode).toBe('M_INVALID_PARAM');
    expect((await get(alice, `${V1}/rooms/${enc(roomId)}/threads?from=xyz`)).status).toBe(400);
  });

  it('timestamp_to_event finds the nearest visible event either way, 404 when none', async () => {
    const roomId = await create(alice);
    const last = await say(alice, roomId, 'last');
    const first = await get(alice, `${V1}/rooms/${enc(roomId)}/timestamp_to_event?ts=0&dir=f`);
    expect(first.status).toBe(200);
    expect(specErrors('client-server', '/rooms/{roomId}/timestamp_to_event', 'get', 200, first.body)).toEqual([]);
    const [create0] = await querySql<{ event_id: string }>(s, `SELECT event_id FROM events WHERE room_id = '${roomId}' AND type = 'm.room.create'`);
    expect(first.body.event_id).toBe(create0!.event_id);
    const future = Date.now() + 3_600_000;
    const back = await get(alice, `${V1}/rooms/${enc(roomId)}/timestamp_to_event?ts=${future}&dir=b`);
    expect(back.body.event_id).toBe(last);
    expect(typeof back.body.origin_server_ts).toBe('number');
    const none = await get(alice, `${V1}/rooms/${enc(roomId)}/timestamp_to_event?ts=${future}&dir=f`);
    expect(none.status).toBe(404);
    expect(none.body.errcode).toBe('M_NOT_FOUND');
    expect((await get(alice, `${V1}/rooms/${enc(roomId)}/timestamp_to_event?dir=f`)).body.errcode).toBe('M_MISSING_PARAM');
    expect((await get(alice, `${V1}/rooms/${enc(roomId)}/timestamp_to_event?ts=1`)).body.errcode).toBe('M_MISSING_PARAM');
    expect((await get(alice, `${V1}/rooms/${enc(roomId)}/timestamp_to_event?ts=-5&dir=f`)).body.errcode).toBe('M_INVALID_PARAM');
    expect((await get(bob, `${V1}/rooms/${enc(roomId)}/timestamp_to_event?ts=0&dir=f`)).status).toBe(403);
  });

  it('hierarchy: the space and the children the requester may see, paginated', async () => {
    const space = await create(alice, { preset: 'public_chat', name: 'Space', topic: 'top', creation_content: { type: 'm.space' } });
    const pub = await create(alice, { preset: 'public_chat', name: 'Public child' });
    const priv = await create(alice, { preset: 'private_chat', name: 'Private child' });
    const sub = await create(alice, { preset: 'public_chat', name: 'Subspace', creation_content: { type: 'm.space' } });
    const deep = await create(alice, { preset: 'public_chat', name: 'Deep' });
    await state(alice, space, 'm.space.child', pub, { via: ['localhost'], order: 'b' });
    await state(alice, space, 'm.space.child', priv, { via: ['localhost'], suggested: true });
    await state(alice, space, 'm.space.child', sub, { via: ['localhost'], order: 'a' });
    await state(alice, space, 'm.space.child', '!gone:localhost', { via: [] }); // no via: not a child
    await state(alice, sub, 'm.space.child', deep, { via: ['localhost'] });
    await member(bob, space, 'join');

    const h = (u: TestUser, q = '') => get(u, `${V1}/rooms/${enc(space)}/hierarchy${q}`);
    const res = await h(bob);
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/rooms/{roomId}/hierarchy', 'get', 200, res.body)).toEqual([]);
    // Breadth first, children by `order`, then the unordered; the private child is left out for bob.
    expect(res.body.rooms.map((r: { room_id: string }) => r.room_id)).toEqual([space, sub, pub, deep]);
    const top = res.body.rooms[0];
    expect(top).toMatchObject({ room_id: space, name: 'Space', topic: 'top', num_joined_members: 2, join_rule: 'public', world_readable: false, guest_can_join: false, room_type: 'm.space' });
    expect(top.children_state.map((c: { state_key: string }) => c.state_key)).toEqual([sub, pub, priv]);
    expect(top.children_state[0]).toEqual({ type: 'm.space.child', state_key: sub, content: { via: ['localhost'], order: 'a' }, sender: alice.userId, origin_server_ts: expect.any(Number) });
    expect(res.body).not.toHaveProperty('next_batch');
    // alice sees the private child too.
    expect((await h(alice)).body.rooms.map((r: { room_id: string }) => r.room_id)).toEqual([space, sub, pub, priv, deep]);
    expect((await h(alice, '?max_depth=1')).body.rooms.map((r: { room_id: string }) => r.room_id)).toEqual([space, sub, pub, priv]);
    expect((await h(alice, '?suggested_only=true')).body.rooms.map((r: { room_id: string }) => r.room_id)).toEqual([space, priv]);
    const p1 = await h(alice, '?limit=2');
    expect(p1.body.rooms.map((r: { room_id: string }) => r.room_id)).toEqual([space, sub]);
    const p2 = await h(alice, `?limit=2&from=${p1.body.next_batch}`);
    expect(p2.body.rooms.map((r: { room_id: string }) => r.room_id)).toEqual([pub, priv]);
    const p3 = await h(alice, `?limit=2&from=${p2.body.next_batch}`);
    expect(p3.body.rooms.map((r: { room_id: string }) => r.room_id)).toEqual([deep]);
    expect(p3.body).not.toHaveProperty('next_batch');
    expect((await h(alice, '?from=bogus')).body.errcode).toBe('M_INVALID_PARAM');
    expect((await h(alice, '?limit=-1')).body.errcode).toBe('M_INVALID_PARAM');
    expect((await h(alice, '?max_depth=x')).body.errcode).toBe('M_INVALID_PARAM');
    // A private room one is not in cannot be the root.
    const root = await get(bob, `${V1}/rooms/${enc(priv)}/hierarchy`);
    expect(root.status).toBe(403);
    expect(root.body.errcode).toBe('M_FORBIDDEN');
  });
});
