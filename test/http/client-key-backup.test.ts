import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const ALG = 'm.megolm_backup.v1.curve25519-aes-sha2';
const ROOM = '!room:localhost';
const key = (first_message_index: number, forwarded_count: number, is_verified: boolean, tag = 'data') => ({
  first_message_index,
  forwarded_count,
  is_verified,
  session_data: { ciphertext: tag, ephemeral: 'e', mac: 'm' },
});

describe('Server-side key backups', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const req = (method: string, path: string, body?: unknown, u: TestUser = alice) => s.request(method, `${V3}${path}`, { token: u.accessToken, body });

  beforeAll(async () => {
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
  });
  afterAll(async () => s?.close());

  it('versions: create, read, update auth_data, delete; errors as the spec says', async () => {
    const none = await req('GET', '/room_keys/version');
    expect(none.status).toBe(404);
    expect(none.body.errcode).toBe('M_NOT_FOUND');
    const created = await req('POST', '/room_keys/version', { algorithm: ALG, auth_data: { public_key: 'pk' } });
    expect(created.status).toBe(200);
    expect(specErrors('client-server', '/room_keys/version', 'post', 200, created.body)).toEqual([]);
    expect(created.body).toEqual({ version: '1' });
    const got = await req('GET', '/room_keys/version');
    expect(specErrors('client-server', '/room_keys/version', 'get', 200, got.body)).toEqual([]);
    expect(got.body).toEqual({ algorithm: ALG, auth_data: { public_key: 'pk' }, version: '1', etag: '0', count: 0 });
    expect((await req('GET', '/room_keys/version/1')).body.version).toBe('1');
    // Another user's versions are their own.
    expect((await req('GET', '/room_keys/version/1', undefined, bob)).status).toBe(404);
    // Update: auth_data only; algorithm and version must match.
    const upd = await req('PUT', '/room_keys/version/1', { algorithm: ALG, auth_data: { public_key: 'pk2' }, version: '1' });
    expect(upd.status).toBe(200);
    expect((await req('GET', '/room_keys/version/1')).body.auth_data).toEqual({ public_key: 'pk2' });
    const badAlg = await req('PUT', '/room_keys/version/1', { algorithm: 'other', auth_data: {} });
    expect(badAlg.status).toBe(400);
    expect(badAlg.body.errcode).toBe('M_INVALID_PARAM');
    expect((await req('PUT', '/room_keys/version/1', { algorithm: ALG, auth_data: {}, version: '2' })).body.errcode).toBe('M_INVALID_PARAM');
    expect((await req('PUT', '/room_keys/version/9', { algorithm: ALG, auth_data: {} })).status).toBe(404);
    for (const body of [{}, { algorithm: ALG }, { algorithm: 5, auth_data: {} }, { algorithm: ALG, auth_data: 'x' }]) {
      expect((await req('POST', '/room_keys/version', body)).status, JSON.stringify(body)).toBe(400);
    }
    for (const v of ['9', 'abc', '-1']) expect((await req('GET', `/room_keys/version/${v}`)).status).toBe(404);
    // A second version becomes current; deleting it leaves version 1 current; deleting again is fine.
    expect((await req('POST', '/room_keys/version', { algorithm: ALG, auth_data: {} })).body.version).toBe('2');
    expect((await req('GET', '/room_keys/version')).body.version).toBe('2');
    expect((await req('DELETE', '/room_keys/version/2')).status).toBe(200);
    expect((await req('DELETE', '/room_keys/version/2')).status).toBe(200);
    expect((await req('GET', '/room_keys/version/2')).status).toBe(404);
    expect((await req('GET', '/room_keys/version')).body.version).toBe('1');
    expect((await req('DELETE', '/room_keys/version/77')).status).toBe(404);
    // Versions are never reused.
    expect((await req('POST', '/room_keys/version', { algorithm: ALG, auth_data: {} }, alice)).body.version).toBe('3');
    await req('DELETE', '/room_keys/version/3');
    const rows = await querySql(s, `SELECT version, deleted FROM e2e_room_keys_versions WHERE user_id = '${alice.userId}' ORDER BY version`);
    expect(rows.map((r) => [Number(r.version), Number(r.deleted)])).toEqual([[1, 0], [2, 1], [3, 1]]);
  });

  it('keys: store, replace by the spec\'s rules, read at three levels, etag and count', async () => {
    const put1 = await req('PUT', `/room_keys/keys/${encodeURIComponent(ROOM)}/s1?version=1`, key(5, 1, false, 'first'));
    expect(put1.status, put1.text).toBe(200);
    expect(specErrors('client-server', '/room_keys/keys/{roomId}/{sessionId}', 'put', 200, put1.body)).toEqual([]);
    expect(put1.body).toEqual({ etag: '1', count: 1 });
    const put = (k: unknown) => req('PUT', `/room_keys/keys/${encodeURIComponent(ROOM)}/s1?version=1`, k);
    const current = async () => (await req('GET', `/room_keys/keys/${encodeURIComponent(ROOM)}/s1?version=1`)).body.session_data.ciphertext;
    // Worse keys do not replace: higher index, same index with more forwards, unverified over verified.
    expect((await put(key(6, 0, false, 'higher-index'))).body).toEqual({ etag: '1', count: 1 });
    expect((await put(key(5, 2, false, 'more-forwards'))).body.etag).toBe('1');
    expect(await current()).toBe('first');
    // Better ones do: fewer forwards, lower index, then verified beats a lower index.
    await put(key(5, 0, false, 'fewer-forwards'));
    expect(await current()).toBe('fewer-forwards');
    await put(key(2, 3, false, 'lower-index'));
    expect(await current()).toBe('lower-index');
    const v = await put(key(9, 9, true, 'verified'));
    expect(v.body).toEqual({ etag: '4', count: 1 });
    expect(await current()).toBe('verified');
    expect((await put(key(0, 0, false, 'unverified'))).body.etag).toBe('4');
    // Bulk forms.
    const bulk = await req('PUT', '/room_keys/keys?version=1', { rooms: { [ROOM]: { sessions: { s2: key(0, 0, false) } }, '!other:localhost': { sessions: { s3: key(0, 0, true) } } } });
    expect(bulk.body).toEqual({ etag: '5', count: 3 });
    expect(specErrors('client-server', '/room_keys/keys', 'put', 200, bulk.body)).toEqual([]);
    const roomPut = await req('PUT', `/room_keys/keys/${encodeURIComponent(ROOM)}?version=1`, { sessions: { s4: key(0, 0, false) } });
    expect(roomPut.body.count).toBe(4);
    const all = await req('GET', '/room_keys/keys?version=1');
    expect(specErrors('client-server', '/room_keys/keys', 'get', 200, all.body)).toEqual([]);
    expect(Object.keys(all.body.rooms).sort()).toEqual(['!other:localhost', ROOM]);
    expect(Object.keys(all.body.rooms[ROOM].sessions).sort()).toEqual(['s1', 's2', 's4']);
    const room = await req('GET', `/room_keys/keys/${encodeURIComponent(ROOM)}?version=1`);
    expect(specErrors('client-server', '/room_keys/keys/{roomId}', 'get', 200, room.body)).toEqual([]);
    expect((await req('GET', `/room_keys/keys/${encodeURIComponent('!empty:localhost')}?version=1`)).body).toEqual({ sessions: {} });
    const one = await req('GET', `/room_keys/keys/${encodeURIComponent(ROOM)}/s1?version=1`);
    expect(specErrors('client-server', '/room_keys/keys/{roomId}/{sessionId}', 'get', 200, one.body)).toEqual([]);
    expect((await req('GET', `/room_keys/keys/${encodeURIComponent(ROOM)}/nope?version=1`)).status).toBe(404);
    expect((await req('GET', '/room_keys/version/1')).body).toMatchObject({ count: 4, etag: String(roomPut.body.etag) });
    const rows = await querySql(s, `SELECT session_id, first_message_index, forwarded_count FROM e2e_room_keys WHERE user_id = '${alice.userId}' AND session_id = 's1'`);
    expect(rows.map((r) => [r.session_id, Number(r.first_message_index), Number(r.forwarded_count)])).toEqual([['s1', 9, 9]]);
    // Deletes: a session, a room, everything; each moves the etag.
    const d1 = await req('DELETE', `/room_keys/keys/${encodeURIComponent(ROOM)}/s1?version=1`);
    expect(d1.body.count).toBe(3);
    expect(Number(d1.body.etag)).toBeGreaterThan(Number(roomPut.body.etag));
    expect((await req('DELETE', `/room_keys/keys/${encodeURIComponent(ROOM)}?version=1`)).body.count).toBe(1);
    expect((await req('DELETE', '/room_keys/keys?version=1')).body.count).toBe(0);
    expect((await req('GET', '/room_keys/keys?version=1')).body).toEqual({ rooms: {} });
  });

  it('a stale version is 403 M_WRONG_ROOM_KEYS_VERSION with current_version; unknown ones 404; bad bodies 400', async () => {
    const v = (await req('POST', '/room_keys/version', { algorithm: ALG, auth_data: {} })).body.version as string;
    expect(v).toBe('4');
    const stale = await req('PUT', `/room_keys/keys/${encodeURIComponent(ROOM)}/s1?version=1`, key(0, 0, false));
    expect(stale.status).toBe(403);
    expect(stale.body).toMatchObject({ errcode: 'M_WRONG_ROOM_KEYS_VERSION', current_version: '4' });
    expect((await req('PUT', `/room_keys/keys/${encodeURIComponent(ROOM)}/s1?version=99`, key(0, 0, false))).status).toBe(404);
    expect((await req('PUT', `/room_keys/keys/${encodeURIComponent(ROOM)}/s1?version=1`, key(0, 0, false), bob)).status).toBe(404);
    expect((await req('GET', '/room_keys/keys?version=99')).status).toBe(404);
    expect((await req('DELETE', '/room_keys/keys?version=99')).status).toBe(404);
    const missing = await req('GET', '/room_keys/keys');
    expect(missing.status).toBe(400);
    expect(missing.body.errcode).toBe('M_MISSING_PARAM');
    expect((await req('PUT', `/room_keys/keys/${encodeURIComponent(ROOM)}/s1`, key(0, 0, false))).body.errcode).toBe('M_MISSING_PARAM');
    for (const body of [{}, { ...key(0, 0, false), is_verified: 'yes' }, { ...key(0, 0, false), first_message_index: -1 }, { ...key(0, 0, false), session_data: 'x' }]) {
      const r = await req('PUT', `/room_keys/keys/${encodeURIComponent(ROOM)}/s1?version=4`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    for (const body of [{ rooms: [] }, { rooms: { [ROOM]: { sessions: 'x' } } }, {}]) {
      expect((await req('PUT', '/room_keys/keys?version=4', body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await req('GET', '/room_keys/version/4')).body.count).toBe(0);
  });
});
