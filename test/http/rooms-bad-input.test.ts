import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

/**
 * Bad input on every room write: each refusal answers Synapse's status and errcode (and text,
 * where clients show it) and writes nothing — the events table has the same rows before and after.
 */
describe('Rooms: bad input on every write is refused with Synapse\'s 4xx and changes nothing', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  let v5: string;
  let txn = 0;

  const countEvents = async () => Number((await querySql<{ n: number | string }>(s, 'SELECT count(*) AS n FROM events'))[0]!.n);
  const countRooms = async () => Number((await querySql<{ n: number | string }>(s, 'SELECT count(*) AS n FROM rooms'))[0]!.n);
  /** Runs `fn` and checks that it wrote no event. */
  const refusedWithoutWrites = async (fn: () => Promise<{ status: number; body: any }>, status: number, errcode: string, error?: string | RegExp) => {
    const before = await countEvents();
    const res = await fn();
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body.errcode).toBe(errcode);
    if (typeof error === 'string') expect(res.body.error).toBe(error);
    else if (error) expect(res.body.error).toMatch(error);
    expect(await countEvents()).toBe(before);
    return res;
  };
  const send = (room: string, type: string, body: unknown, opts: { raw?: string; txnId?: string; user?: TestUser } = {}) =>
    s.request('PUT', `${V3}/rooms/${enc(room)}/send/${type}/${opts.txnId ?? `t${++txn}`}`, {
      token: (opts.user ?? alice).accessToken,
      ...(opts.raw !== undefined ? { rawBody: opts.raw, headers: { 'content-type': 'application/json' } } : { body }),
    });
  const putState = (room: string, type: string, stateKey: string, body: unknown, raw?: string) =>
    s.request('PUT', `${V3}/rooms/${enc(room)}/state/${type}/${stateKey}`, {
      token: alice.accessToken,
      ...(raw !== undefined ? { rawBody: raw, headers: { 'content-type': 'application/json' } } : { body }),
    });
  const createRoom = (body: unknown) => s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body });

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    roomId = (await createRoom({ preset: 'public_chat' })).body.room_id;
    v5 = (await createRoom({ room_version: '5' })).body.room_id;
    expect(roomId).toBeTruthy();
    expect(v5).toBeTruthy();
  });
  afterAll(async () => s?.close());

  it('a body that is not a JSON object, or not JSON, is refused on send, state and redact', async () => {
    for (const raw of ['[]', '"text"', '42', 'null']) {
      await refusedWithoutWrites(() => send(roomId, 'm.room.message', undefined, { raw }), 400, 'M_BAD_JSON', 'Content must be a JSON object.');
      await refusedWithoutWrites(() => putState(roomId, 'm.room.topic', '', undefined, raw), 400, 'M_BAD_JSON', 'Content must be a JSON object.');
    }
    await refusedWithoutWrites(() => send(roomId, 'm.room.message', undefined, { raw: '{"body": ' }), 400, 'M_NOT_JSON');
    await refusedWithoutWrites(() => putState(roomId, 'm.room.topic', '', undefined, '{'), 400, 'M_NOT_JSON');
    await refusedWithoutWrites(() => createRoom([]), 400, 'M_BAD_JSON');
    const target = (await send(roomId, 'm.room.message', { msgtype: 'm.text', body: 'to redact' })).body.event_id as string;
    await refusedWithoutWrites(
      () => s.request('PUT', `${V3}/rooms/${enc(roomId)}/redact/${enc(target)}/r${++txn}`, { token: alice.accessToken, rawBody: '[1]', headers: { 'content-type': 'application/json' } }),
      400,
      'M_BAD_JSON',
    );
  });

  it('floats and out-of-range integers: refused in v6+ rooms (strict canonical JSON), accepted in v5', async () => {
    await refusedWithoutWrites(() => send(roomId, 'm.room.message', { msgtype: 'm.text', body: 'x', n: 1.5 }), 400, 'M_BAD_JSON', 'Bad JSON value: float');
    await refusedWithoutWrites(() => send(roomId, 'm.test', { deep: { list: [1, 2, 0.25] } }), 400, 'M_BAD_JSON', 'Bad JSON value: float');
    await refusedWithoutWrites(() => send(roomId, 'm.test', { big: 2 ** 53 }), 400, 'M_BAD_JSON', 'JSON integer out of range');
    await refusedWithoutWrites(() => putState(roomId, 'm.test.state', '', { n: -0.5 }), 400, 'M_BAD_JSON', 'Bad JSON value: float');
    const old = await send(v5, 'm.test', { n: 1.5 });
    expect(old.status, JSON.stringify(old.body)).toBe(200);
  });

  it('oversized type, state key and whole event: 413 M_TOO_LARGE', async () => {
    const long = 'x'.repeat(256);
    await refusedWithoutWrites(() => send(roomId, long, {}), 413, 'M_TOO_LARGE', "'type' too large");
    await refusedWithoutWrites(() => putState(roomId, long, '', {}), 413, 'M_TOO_LARGE', "'type' too large");
    await refusedWithoutWrites(() => putState(roomId, 'm.test', long, {}), 413, 'M_TOO_LARGE', "'state_key' too large");
    // 255 bytes is allowed; 128 two-byte characters are 256 bytes and are not.
    expect((await putState(roomId, 'm.test', 'y'.repeat(255), {})).status).toBe(200);
    await refusedWithoutWrites(() => putState(roomId, 'm.test', enc('é'.repeat(128)), {}), 413, 'M_TOO_LARGE', "'state_key' too large");
    await refusedWithoutWrites(() => send(roomId, 'm.room.message', { msgtype: 'm.text', body: 'x'.repeat(70_000) }), 413, 'M_TOO_LARGE');
    await refusedWithoutWrites(() => putState(roomId, 'm.room.topic', '', { topic: 'x'.repeat(70_000) }), 413, 'M_TOO_LARGE');
  });

  it('per-type content rules: message fields, state-only types, membership, power levels, canonical alias', async () => {
    await refusedWithoutWrites(() => send(roomId, 'm.room.message', { body: 'no msgtype' }), 400, 'M_UNKNOWN', "'msgtype' not in content");
    await refusedWithoutWrites(() => send(roomId, 'm.room.message', { msgtype: 'm.text', body: 5 }), 400, 'M_UNKNOWN', "'body' not a string type");
    await refusedWithoutWrites(() => send(roomId, 'm.room.name', { name: 'as a message' }), 400, 'M_UNKNOWN', "'m.room.name' must be state events");
    await refusedWithoutWrites(() => putState(roomId, 'm.room.name', '', { name: 7 }), 400, 'M_UNKNOWN', "'name' not a string type");
    await refusedWithoutWrites(() => putState(roomId, 'm.room.topic', '', {}), 400, 'M_UNKNOWN', "'topic' not in content");
    await refusedWithoutWrites(() => putState(roomId, 'm.room.member', enc(bob.userId), { membership: 'friend' }), 400, 'M_UNKNOWN', 'Invalid membership key');
    await refusedWithoutWrites(() => putState(roomId, 'm.room.power_levels', '', { users: { [alice.userId]: 100 }, ban: '50' }), 400, 'M_BAD_JSON', `"ban": '50' is not of type 'integer'`);
    await refusedWithoutWrites(() => putState(roomId, 'm.room.power_levels', '', { users: { notauser: 100, [alice.userId]: 100 } }), 400, 'M_UNKNOWN', 'Not a valid user_id: notauser');
    await refusedWithoutWrites(() => putState(roomId, 'm.room.canonical_alias', '', { alias: 'no-hash:localhost' }), 400, 'M_INVALID_PARAM');
    await refusedWithoutWrites(() => putState(roomId, 'm.room.canonical_alias', '', { alt_aliases: '#a:localhost' }), 400, 'M_INVALID_PARAM', 'The alt_aliases property must be a list.');
    await refusedWithoutWrites(() => send(roomId, 'm.test', { 'm.mentions': { user_ids: 'everyone' } }), 400, 'M_BAD_JSON');
    // A create event after creation is refused too.
    await refusedWithoutWrites(() => putState(roomId, 'm.room.create', '', { room_version: '10' }), 400, 'M_BAD_JSON');
  });

  it('bad path parameters: room IDs, empty event types; unknown rooms are 404 for members and non-members alike', async () => {
    await refusedWithoutWrites(() => send('not-a-room', 'm.test', {}), 400, 'M_INVALID_PARAM');
    await refusedWithoutWrites(() => putState('not-a-room', 'm.test', '', {}), 400, 'M_INVALID_PARAM');
    await refusedWithoutWrites(() => send('!unknown:localhost', 'm.test', {}), 404, 'M_NOT_FOUND');
    // An empty event type is refused (Synapse would store an event of type ""), on send and state.
    for (const path of [`/rooms/${enc(roomId)}/send//t${++txn}`, `/rooms/${enc(roomId)}/state//x`, `/rooms/${enc(roomId)}/state/`]) {
      const before = await countEvents();
      const res = await s.request('PUT', V3 + path, { token: alice.accessToken, body: {} });
      expect(res.status, `${path}: ${res.text}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(typeof res.body.errcode).toBe('string');
      expect(await countEvents()).toBe(before);
    }
    // A non-member is refused before their content is looked at (Synapse's order).
    await refusedWithoutWrites(() => send(v5, 'm.room.message', { body: 'no msgtype' }, { user: bob }), 403, 'M_FORBIDDEN', `User ${bob.userId} not in room ${v5}`);
    // An empty or long transaction ID is fine (it is only a key, as in Synapse), and idempotent.
    const e1 = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/m.test/`, { token: alice.accessToken, body: {} });
    const e2 = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/m.test/`, { token: alice.accessToken, body: {} });
    expect(e1.status).toBe(200);
    expect(e2.body.event_id).toBe(e1.body.event_id);
    const longTxn = 'z'.repeat(2000);
    const a = await send(roomId, 'm.test', {}, { txnId: longTxn });
    const b = await send(roomId, 'm.test', {}, { txnId: longTxn });
    expect(a.status).toBe(200);
    expect(b.body.event_id).toBe(a.body.event_id);
  });

  it('createRoom: a bad initial_state event or power levels that lock the creator out leave no room behind', async () => {
    const rooms = await countRooms();
    await refusedWithoutWrites(() => createRoom({ initial_state: [{ type: 'm.test', state_key: '', content: { n: 0.5 } }] }), 400, 'M_BAD_JSON', 'Bad JSON value: float');
    await refusedWithoutWrites(() => createRoom({ initial_state: [{ type: 'm.room.topic', state_key: '', content: { topic: 3 } }] }), 400, 'M_UNKNOWN');
    await refusedWithoutWrites(() => createRoom({ initial_state: [{ type: 'm.test', state_key: 'k'.repeat(300), content: {} }] }), 413, 'M_TOO_LARGE');
    await refusedWithoutWrites(() => createRoom({ initial_state: [{ type: 'm.room.canonical_alias', state_key: '', content: { alias: 'bad' } }] }), 400, 'M_INVALID_PARAM');
    await refusedWithoutWrites(() => createRoom({ power_level_content_override: { ban: 'fifty' } }), 400, 'M_BAD_JSON');
    await refusedWithoutWrites(() => createRoom({ power_level_content_override: { users: { [bob.userId]: 100 } } }), 400, 'M_UNKNOWN');
    await refusedWithoutWrites(() => createRoom({ creation_content: { big: 'x'.repeat(70_000) } }), 413, 'M_TOO_LARGE');
    // The power levels are accepted, then the creator may not send the join rules: nothing stays.
    await refusedWithoutWrites(
      () => createRoom({ initial_state: [{ type: 'm.room.power_levels', state_key: '', content: { users: {}, state_default: 50 } }] }),
      403,
      'M_FORBIDDEN',
    );
    await refusedWithoutWrites(() => createRoom({ room_version: 'nope' }), 400, 'M_UNSUPPORTED_ROOM_VERSION');
    expect(await countRooms()).toBe(rooms);
    const counts = await querySql<{ n: number | string }>(s, 'SELECT count(*) AS n FROM state_groups_state sgs LEFT JOIN events e ON e.event_id = sgs.event_id WHERE e.event_id IS NULL');
    expect(Number(counts[0]!.n)).toBe(0);
    // The server still creates rooms and sends after all that.
    const ok = await createRoom({ name: 'after' });
    expect(ok.status).toBe(200);
    expect((await send(ok.body.room_id, 'm.room.message', { msgtype: 'm.text', body: 'fine' })).status).toBe(200);
  });
});
