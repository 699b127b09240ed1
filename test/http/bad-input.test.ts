import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';

/**
 * Input that the engines would store differently (PostgreSQL refuses U+0000 in text, each engine
 * mangles unpaired surrogates its own way) or that no client sends in good faith is refused with
 * a 400 before it reaches storage, the same on SQLite and PostgreSQL.
 */

let s: TestServer;
let admin: TestUser;
let alice: TestUser;

beforeAll(async () => {
  s = await startServer();
  admin = await s.registerUser('admin', { admin: true });
  alice = await s.registerUser('alice');
});
afterAll(async () => s?.close());

const send = (method: string, path: string, body: string | Uint8Array, token?: string) =>
  fetch(s.url + path, { method, body, headers: token ? { authorization: `Bearer ${token}` } : {} }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

const expectError = (res: { status: number; body: any }, errcode: string) => {
  expect({ status: res.status, errcode: res.body?.errcode }).toEqual({ status: 400, errcode });
};

const displayname = async (userId: string) =>
  (await querySql<{ displayname: string | null }>(s, `SELECT displayname FROM profiles WHERE full_user_id = '${userId}'`))[0]?.displayname;

describe('NUL and unpaired surrogates in tokens, query and path parameters: 400 M_INVALID_PARAM', () => {
  it('an access token in the query with a NUL or an encoded surrogate', async () => {
    for (const t of ['%00', 'syt_%00', '%ED%A0%80', '%F0%9F%98%80%FF']) {
      const res = await s.request('GET', `/_matrix/client/v3/account/whoami?access_token=${t}`);
      expectError(res, 'M_INVALID_PARAM');
    }
    // A real token still works, and a bad escape-like '%' stays literal (an unknown token).
    expect((await s.request('GET', `/_matrix/client/v3/account/whoami?access_token=${alice.accessToken}`)).status).toBe(200);
    expect((await s.request('GET', '/_matrix/client/v3/account/whoami?access_token=100%zz')).body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('unknown paths stay 404 and pre-flights 204 whatever their parameters', async () => {
    const res = await s.request('GET', '/_matrix/client/v3/nothing/here?x=%00');
    expect([res.status, res.body.errcode]).toEqual([404, 'M_UNRECOGNIZED']);
    expect((await s.request('OPTIONS', '/_synapse/admin/v2/users/%00?access_token=%00')).status).toBe(204);
  });

  it('query parameters of the users list and look-ups', async () => {
    const get = (q: string) => s.request('GET', `/_synapse/admin/v2/users?${q}`, { token: admin.accessToken });
    for (const q of ['name=%00', 'user_id=a%00', 'not_user_type=%00', 'name=%ED%A0%80', 'na%00me=x', 'name=%ED%A0%80%ED%B0%80']) expectError(await get(q), 'M_INVALID_PARAM');
    expect((await get('name=100%25')).status).toBe(200);
    expect((await get(`name=${encodeURIComponent('😀')}`)).status).toBe(200);
    expectError(await s.request('GET', '/_matrix/client/v3/register/available?username=a%00'), 'M_INVALID_PARAM');
    expectError(await s.request('GET', '/_synapse/admin/v1/username_available?username=%00', { token: admin.accessToken }), 'M_INVALID_PARAM');
  });

  it('path parameters of admin look-ups, profiles and account data', async () => {
    const t = { token: admin.accessToken };
    for (const path of [
      '/_synapse/admin/v2/users/%40a%00b%3Alocalhost',
      '/_synapse/admin/v1/threepid/email/users/a%00b',
      '/_synapse/admin/v1/auth_providers/oidc/users/%00',
      '/_synapse/admin/v1/registration_tokens/%00',
      '/_synapse/admin/v1/users/%40a%00%3Alocalhost/accountdata',
      '/_synapse/admin/v2/users/%40admin%3Alocalhost/devices/%00',
      '/_synapse/admin/v1/threepid/email/users/%ED%A0%80',
    ]) {
      expectError(await s.request('GET', path, t), 'M_INVALID_PARAM');
    }
    expectError(await s.request('GET', '/_matrix/client/v3/profile/%40a%00%3Alocalhost'), 'M_INVALID_PARAM');
    const ad = await s.request('PUT', `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/a%00b`, { token: alice.accessToken, body: { x: 1 } });
    expectError(ad, 'M_INVALID_PARAM');
    expect(await querySql(s, `SELECT account_data_type FROM account_data WHERE user_id = '${alice.userId}'`)).toEqual([]);
  });
});

describe('NUL and unpaired surrogates in JSON bodies: 400 M_BAD_JSON, nothing stored', () => {
  it('display names (client and admin API)', async () => {
    const path = `/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`;
    for (const raw of ['{"displayname":"a\\u0000b"}', '{"displayname":"a\\ud800b"}', '{"displayname":"\\udc00"}', '{"displayname":"x","k\\u0000":1}']) {
      expectError(await send('PUT', path, raw, alice.accessToken), 'M_BAD_JSON');
    }
    expect(await displayname(alice.userId)).toBe('alice');
    const adminPut = await send('PUT', `/_synapse/admin/v2/users/${encodeURIComponent(alice.userId)}`, '{"displayname":"\\ud800"}', admin.accessToken);
    expectError(adminPut, 'M_BAD_JSON');
    expect(await displayname(alice.userId)).toBe('alice');
    // A surrogate pair is one character, stored and read back unchanged on both engines.
    expect((await send('PUT', path, '{"displayname":"a\\ud83d\\ude00b"}', alice.accessToken)).status).toBe(200);
    expect(await displayname(alice.userId)).toBe('a😀b');
    expect((await s.request('GET', path)).body).toEqual({ displayname: 'a😀b' });
  });

  it('device names, logins and account-data content', async () => {
    const dev = `/_matrix/client/v3/devices/${alice.deviceId}`;
    expectError(await send('PUT', dev, '{"display_name":"d\\u0000"}', alice.accessToken), 'M_BAD_JSON');
    const login = (user: string) => `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"${user}"},"password":"x"}`;
    expectError(await send('POST', '/_matrix/client/v3/login', login('alice\\u0000')), 'M_BAD_JSON');
    expectError(await send('POST', '/_matrix/client/v3/login', login('\\ud800')), 'M_BAD_JSON');
    const ad = `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.test`;
    expectError(await send('PUT', ad, '{"a":{"b":["\\u0000"]}}', alice.accessToken), 'M_BAD_JSON');
    expectError(await send('PUT', ad, '{"a":{"\\udfff":1}}', alice.accessToken), 'M_BAD_JSON');
    expect(await querySql(s, `SELECT account_data_type FROM account_data WHERE user_id = '${alice.userId}'`)).toEqual([]);
    const names = await querySql<{ display_name: string | null }>(s, `SELECT display_name FROM devices WHERE user_id = '${alice.userId}'`);
    expect(names.some((d) => (d.display_name ?? '').includes('\u0000'))).toBe(false);
  });
});

describe('not UTF-8, too deep, out of range', () => {
  it('invalid UTF-8 in a register body is 400 M_NOT_JSON "Content not JSON."', async () => {
    const bytes = Buffer.concat([Buffer.from('{"username":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","password":"pw-123456789"}')]);
    const res = await send('POST', '/_matrix/client/v3/register', bytes);
    expect(res).toEqual({ status: 400, body: { errcode: 'M_NOT_JSON', error: 'Content not JSON.' } });
    // An encoded surrogate (CESU-8) is not UTF-8 either.
    const cesu = Buffer.concat([Buffer.from('{"displayname":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]);
    const path = `/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`;
    expect((await send('PUT', path, cesu, alice.accessToken)).body.errcode).toBe('M_NOT_JSON');
  });

  it('nesting: 100 levels accepted, 101 and 10,000 refused with M_BAD_JSON', async () => {
    const ad = (t: string) => `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/${t}`;
    const deep = (n: number) => '{"a":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1);
    expect((await send('PUT', ad('m.deep100'), deep(100), alice.accessToken)).status).toBe(200);
    expectError(await send('PUT', ad('m.deep101'), deep(101), alice.accessToken), 'M_BAD_JSON');
    expectError(await send('PUT', ad('m.deep10k'), deep(10_000), alice.accessToken), 'M_BAD_JSON');
    expectError(await send('PUT', ad('m.deeparr'), '{"a":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}', alice.accessToken), 'M_BAD_JSON');
    const types = await querySql<{ account_data_type: string }>(s, `SELECT account_data_type FROM account_data WHERE user_id = '${alice.userId}'`);
    expect(types.map((r) => r.account_data_type)).toEqual(['m.deep100']);
  });

  it('a number JSON.parse can only read as Infinity is M_BAD_JSON', async () => {
    const ad = `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.big`;
    expectError(await send('PUT', ad, '{"n":1e400}', alice.accessToken), 'M_BAD_JSON');
    expectError(await send('PUT', ad, '{"n":-1e400}', alice.accessToken), 'M_BAD_JSON');
  });
});
