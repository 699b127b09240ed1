import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';

// GET /_synapse/admin/v2/users and /v3/users (catalogue §3.1; Synapse 1.94 responses 07*).

const V2 = '/_synapse/admin/v2/users';
const V3 = '/_synapse/admin/v3/users';

/** A user as stored, for the test's own model of filters and orders. */
interface Model {
  lp: string;
  ct: number | null;
  admin: 0 | 1;
  guest: 0 | 1;
  deact: 0 | 1;
  locked: boolean;
  shadow: boolean | null;
  type: string | null;
  /** undefined: no profile row at all. */
  dn?: string | null;
  avatar?: string | null;
  approved: boolean | null;
  dev: number | null;
  ips: number | null;
  erased: boolean;
}

const mxid = (lp: string) => `@${lp}:localhost`;
const lit = (v: string | number | boolean | null | undefined) =>
  v === null || v === undefined ? 'NULL' : typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : typeof v === 'boolean' ? (v ? 'TRUE' : 'FALSE') : String(v);

function insertSql(users: Model[]): string {
  const out: string[] = [];
  for (const u of users) {
    out.push(
      'INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, locked, shadow_banned, user_type, approved) VALUES ' +
        `(${lit(mxid(u.lp))}, NULL, ${lit(u.ct)}, ${u.admin}, ${u.guest}, ${u.deact}, ${lit(u.locked)}, ${lit(u.shadow)}, ${lit(u.type)}, ${lit(u.approved)});`,
    );
    if (u.dn !== undefined) {
      out.push(`INSERT INTO profiles (user_id, full_user_id, displayname, avatar_url) VALUES (${lit(u.lp)}, ${lit(mxid(u.lp))}, ${lit(u.dn)}, ${lit(u.avatar)});`);
    }
    if (u.dev !== null) out.push(`INSERT INTO devices (user_id, device_id, last_seen) VALUES (${lit(mxid(u.lp))}, 'DEV', ${u.dev});`);
    if (u.ips !== null) {
      out.push(
        `INSERT INTO user_ips (user_id, access_token, device_id, ip, user_agent, last_seen) VALUES (${lit(mxid(u.lp))}, 'tok', 'DEV', '10.0.0.1', 'ua', ${u.ips});`,
      );
    }
    if (u.erased) out.push(`INSERT INTO erased_users (user_id) VALUES (${lit(mxid(u.lp))});`);
  }
  return out.join('\n');
}

type Key = 'name' | 'displayname' | 'is_guest' | 'admin' | 'deactivated' | 'user_type' | 'avatar_url' | 'shadow_banned' | 'creation_ts' | 'last_seen_ts' | 'locked';
const KEYS: Key[] = ['name', 'displayname', 'is_guest', 'admin', 'deactivated', 'user_type', 'avatar_url', 'shadow_banned', 'creation_ts', 'last_seen_ts', 'locked'];

function keyOf(u: Model, k: Key): string | number | null {
  switch (k) {
    case 'name':
      return mxid(u.lp);
    case 'displayname':
      return u.dn ?? null;
    case 'is_guest':
      return u.guest;
    case 'admin':
      return u.admin;
    case 'deactivated':
      return u.deact;
    case 'user_type':
      return u.type;
    case 'avatar_url':
      return u.avatar ?? null;
    case 'shadow_banned':
      return u.shadow === null ? null : Number(u.shadow);
    case 'creation_ts':
      return u.ct;
    case 'last_seen_ts':
      return u.dev ?? u.ips;
    case 'locked':
      return Number(u.locked);
  }
}

/**
 * Synapse's `ORDER BY key dir, name ASC` with each engine's native NULL placement: SQLite sorts
 * NULL lowest, PostgreSQL highest. Strings compare by code point (SQLite BINARY, PostgreSQL C).
 */
function sorted(users: Model[], k: Key, desc: boolean, dialect: 'sqlite' | 'postgres'): string[] {
  const nullsFirst = dialect === 'sqlite' ? !desc : desc;
  const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
  return [...users]
    .sort((x, y) => {
      const a = keyOf(x, k);
      const b = keyOf(y, k);
      let c = 0;
      if (a === null && b !== null) c = nullsFirst ? -1 : 1;
      else if (a !== null && b === null) c = nullsFirst ? 1 : -1;
      else if (a !== null && b !== null) c = desc ? -cmp(a, b) : cmp(a, b);
      return c !== 0 ? c : cmp(mxid(x.lp), mxid(y.lp));
    })
    .map((u) => mxid(u.lp));
}

interface Filter {
  guests?: boolean;
  admins?: boolean;
  deactivated?: 'hide' | 'only' | 'any';
  locked?: boolean;
  notTypes?: string[];
}

function filtered(users: Model[], f: Filter = {}): Model[] {
  return users.filter((u) => {
    if (f.guests === false && u.guest) return false;
    if (f.admins !== undefined && Boolean(u.admin) !== f.admins) return false;
    const d = f.deactivated ?? 'hide';
    if (d === 'hide' && u.deact) return false;
    if (d === 'only' && !u.deact) return false;
    if (!f.locked && u.locked) return false;
    if (f.notTypes && f.notTypes.length > 0) {
      const types = f.notTypes.filter((t) => t !== '');
      if (types.length < f.notTypes.length && u.type === null) return false;
      if (u.type !== null && types.includes(u.type)) return false;
    }
    return true;
  });
}

// The static data set: every sort key has ties and NULLs; '_' and '%' test LIKE escaping.
const ADMIN: Model = { lp: 'admin', ct: 500, admin: 1, guest: 0, deact: 0, locked: false, shadow: null, type: null, dn: 'admin', avatar: null, approved: null, dev: null, ips: null, erased: false };
const base = { admin: 0, guest: 0, deact: 0, locked: false, shadow: null, type: null, approved: null, dev: null, ips: null, erased: false } as const;
const DATA: Model[] = [
  { ...base, lp: 'u01', ct: 1000, dn: 'delta', avatar: 'mxc://localhost/b', dev: 5000 },
  { ...base, lp: 'u02', ct: 2000, guest: 1, shadow: true, ips: 7000 },
  { ...base, lp: 'u03', ct: null, dn: 'alpha', avatar: null, admin: 1, type: 'bot', shadow: false, dev: 3000, ips: 9000 },
  { ...base, lp: 'u04', ct: 1000, dn: 'charlie', avatar: null, deact: 1, type: 'support', erased: true },
  { ...base, lp: 'u05', ct: 3000, dn: 'bravo', avatar: 'mxc://localhost/a', locked: true, dev: 5000 },
  { ...base, lp: 'u06', ct: 2000, dn: 'alpha', avatar: 'mxc://localhost/a', type: 'bot', approved: false },
  { ...base, lp: 'u07', ct: null, dn: 'echo', avatar: null, guest: 1, deact: 1, locked: true, shadow: true },
  { ...base, lp: 'u08', ct: 4000, dn: '100% real', avatar: null, admin: 1, ips: 100 },
  { ...base, lp: 'u09', ct: 3000, dn: null, avatar: 'mxc://localhost/c', shadow: false },
  { ...base, lp: 'u_9', ct: 2500, dn: 'golf', avatar: null, type: 'support' },
];

describe('GET /_synapse/admin/v2/users', () => {
  let s: TestServer;
  let admin: TestUser;
  let all: Model[];
  const get = (query: string, version = V2) => s.request('GET', `${version}?${query}`, { token: admin.accessToken });
  const names = async (query: string, version = V2) => {
    const res = await get(query, version);
    expect(res.status).toBe(200);
    return (res.body.users as Array<{ name: string }>).map((u) => u.name);
  };

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
    await runSql(s, `UPDATE users SET creation_ts = 500 WHERE name = '@admin:localhost'; UPDATE profiles SET displayname = 'admin' WHERE full_user_id = '@admin:localhost';`);
    await runSql(s, insertSql(DATA));
    all = [ADMIN, ...DATA];
  });
  afterAll(async () => s?.close());

  /** The requesting admin's own activity is recorded by the server: the model takes it from the response. */
  const withAdminActivity = (users: Array<{ name: string; last_seen_ts: number | null }>): Model[] => {
    const seen = users.find((u) => u.name === '@admin:localhost')!.last_seen_ts;
    return all.map((u) => (u.lp === 'admin' ? { ...u, dev: seen, ips: null } : u));
  };

  it('returns Synapse 1.94 entries: 0/1 flags, boolean erased, creation_ts in ms, field order', async () => {
    const res = await get('from=0&limit=10');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-store, must-revalidate');
    const u01 = res.body.users.find((u: { name: string }) => u.name === '@u01:localhost');
    expect(Object.keys(u01)).toEqual([
      'name',
      'user_type',
      'is_guest',
      'admin',
      'deactivated',
      'shadow_banned',
      'displayname',
      'avatar_url',
      'creation_ts',
      'approved',
      'erased',
      'last_seen_ts',
      'locked',
    ]);
    expect(u01).toEqual({
      name: '@u01:localhost',
      user_type: null,
      is_guest: false,
      admin: false,
      deactivated: false,
      shadow_banned: false,
      displayname: 'delta',
      avatar_url: 'mxc://localhost/b',
      creation_ts: 1_000_000,
      approved: true,
      erased: false,
      last_seen_ts: 5000,
      locked: false,
    });
    expect(res.body.total).toBe(filtered(all).length);
    expect(res.body).not.toHaveProperty('next_token');
  });

  it('maps each column: guest, shadow-ban, no profile, user_ips fallback, devices first, approved false, erased, locked', async () => {
    const res = await get('limit=100&deactivated=true&locked=true');
    const by = Object.fromEntries((res.body.users as Array<Record<string, unknown>>).map((u) => [u.name, u]));
    // Every flag is a JSON boolean on both engines (Synapse 1.94 sent 0/1; current Synapse, its docs
    // and Ketesa's Locked column expect booleans).
    expect(by['@u02:localhost']).toMatchObject({ is_guest: true, shadow_banned: true, displayname: null, avatar_url: null, last_seen_ts: 7000 });
    expect(by['@u03:localhost']).toMatchObject({ admin: true, user_type: 'bot', creation_ts: null, shadow_banned: false, last_seen_ts: 3000 });
    expect(by['@u04:localhost']).toMatchObject({ deactivated: true, erased: true, user_type: 'support' });
    expect(by['@u05:localhost']).toMatchObject({ locked: true, creation_ts: 3_000_000 });
    for (const u of Object.values(by)) {
      for (const k of ['is_guest', 'admin', 'deactivated', 'shadow_banned', 'erased', 'locked', 'approved']) expect(typeof u[k], `${String(u.name)} ${k}`).toBe('boolean');
    }
    expect(by['@u06:localhost']).toMatchObject({ approved: false });
    expect(by['@u08:localhost']).toMatchObject({ last_seen_ts: 100, displayname: '100% real' });
    expect(res.body.total).toBe(all.length);
  });

  it('paginates by offset: next_token is a string, only while from + limit < total', async () => {
    const visible = sorted(filtered(all), 'name', false, s.dialect);
    expect(visible.length).toBe(8);
    const p1 = await get('limit=3');
    expect(p1.body.users.map((u: { name: string }) => u.name)).toEqual(visible.slice(0, 3));
    expect(p1.body.next_token).toBe('3');
    const p2 = await get('limit=3&from=3');
    expect(p2.body.users.map((u: { name: string }) => u.name)).toEqual(visible.slice(3, 6));
    expect(p2.body.next_token).toBe('6');
    const p3 = await get('limit=3&from=6');
    expect(p3.body.users.map((u: { name: string }) => u.name)).toEqual(visible.slice(6));
    expect(p3.body).not.toHaveProperty('next_token');
    expect(p3.body.total).toBe(8);
    // from + limit == total: no next_token.
    expect((await get('limit=1&from=7')).body).not.toHaveProperty('next_token');
    // limit=0 counts without paging: Synapse 1.94 answered next_token "2" here, the same offset, so
    // a tool that follows next_token until it is absent looped forever. No rows, no next_token.
    for (const q of ['limit=0', 'limit=0&from=2']) {
      const zero = await get(q);
      expect(zero.status).toBe(200);
      expect(zero.body).toEqual({ users: [], total: 8 });
      const v3 = await get(q, V3);
      expect(v3.body).not.toHaveProperty('next_token');
    }
    const past = await get('from=50');
    expect(past.body).toEqual({ users: [], total: 8 });
  });

  it('defaults to limit 100 and from 0', async () => {
    const res = await get('');
    expect(res.body.users).toHaveLength(8);
  });

  it('filters: guests, admins, deactivated (v2), locked, not_user_type', async () => {
    const expectNames = async (query: string, f: Filter) => expect(await names(`limit=100&${query}`)).toEqual(sorted(filtered(all, f), 'name', false, s.dialect));
    await expectNames('guests=false', { guests: false });
    await expectNames('guests=true', {});
    await expectNames('admins=true', { admins: true });
    await expectNames('admins=false', { admins: false });
    await expectNames('deactivated=false', {});
    await expectNames('deactivated=true', { deactivated: 'any' });
    await expectNames('locked=true', { locked: true });
    await expectNames('locked=false', {});
    await expectNames('deactivated=true&locked=true&guests=false', { deactivated: 'any', locked: true, guests: false });
    await expectNames('not_user_type=bot', { notTypes: ['bot'] });
    await expectNames('not_user_type=bot&not_user_type=support', { notTypes: ['bot', 'support'] });
    await expectNames('not_user_type=', { notTypes: [''] });
    await expectNames('not_user_type=&not_user_type=bot', { notTypes: ['', 'bot'] });
    await expectNames('deactivated=true&not_user_type=support', { deactivated: 'any', notTypes: ['support'] });
    // Sanity of the model on a few hand-checked cases.
    expect(await names('limit=100&not_user_type=')).toEqual(['@u03:localhost', '@u06:localhost', '@u_9:localhost']);
    expect(await names('limit=100&admins=true&deactivated=true&locked=true')).toEqual(['@admin:localhost', '@u03:localhost', '@u08:localhost']);
  });

  it('v3: deactivated is a tri-state filter; the rest is as v2', async () => {
    const expectNames = async (query: string, f: Filter) =>
      expect(await names(`limit=100&${query}`, V3)).toEqual(sorted(filtered(all, f), 'name', false, s.dialect));
    await expectNames('', { deactivated: 'any' });
    await expectNames('deactivated=true', { deactivated: 'only' });
    await expectNames('deactivated=false', { deactivated: 'hide' });
    await expectNames('deactivated=true&locked=true', { deactivated: 'only', locked: true });
    expect(await names('deactivated=true&locked=true', V3)).toEqual(['@u04:localhost', '@u07:localhost']);
    const res = await get('limit=2', V3);
    expect(res.body.next_token).toBe('2');
    expect(res.body.users[0]).toHaveProperty('creation_ts', 500_000);
  });

  it('name: localpart or display name substring, case-insensitive, LIKE wildcards literal', async () => {
    const q = (term: string, extra = '') => names(`limit=100&deactivated=true&locked=true&name=${encodeURIComponent(term)}${extra}`);
    // Display name, long (indexed) and short (scanned) terms.
    expect(await q('lph')).toEqual(['@u03:localhost', '@u06:localhost']);
    expect(await q('lp')).toEqual(['@u03:localhost', '@u06:localhost']);
    expect(await q('ALPHA')).toEqual(['@u03:localhost', '@u06:localhost']);
    // Localpart.
    expect(await q('u0')).toHaveLength(9);
    expect(await q('U05')).toEqual(['@u05:localhost']);
    // The server name is not part of the localpart.
    expect(await q('localhost')).toEqual([]);
    expect(await q(':')).toEqual([]);
    // '_' and '%' are literal, not wildcards.
    expect(await q('_9')).toEqual(['@u_9:localhost']);
    expect(await q('u_9')).toEqual(['@u_9:localhost']);
    expect(await q('0%')).toEqual(['@u08:localhost']);
    expect(await q('0% r')).toEqual(['@u08:localhost']);
    expect(await q('%')).toEqual(['@u08:localhost']);
    // FTS syntax in the term is just text.
    expect(await q('a"b')).toEqual([]);
    expect(await q('al*')).toEqual([]);
    expect(await q('{name} : u0')).toEqual([]);
    // A NUL is refused by the input gate on both engines (no server error on PostgreSQL).
    for (const query of ['name=a%00b', 'name=%00', 'user_id=%00', 'not_user_type=%00']) {
      const res = await get(`limit=100&${query}`);
      expect([res.status, res.body.errcode]).toEqual([400, 'M_INVALID_PARAM']);
    }
    // Filters still apply on top.
    expect(await names('limit=100&name=alpha')).toEqual(['@u03:localhost', '@u06:localhost']);
    expect(await names('limit=100&name=echo')).toEqual([]);
    const res = await get('limit=1&name=alpha');
    expect(res.body.total).toBe(2);
    expect(res.body.next_token).toBe('1');
  });

  it('user_id: substring of the full user ID, case-insensitive, ignored when name is given', async () => {
    const q = (query: string) => names(`limit=100&deactivated=true&locked=true&${query}`);
    expect(await q('user_id=u01')).toEqual(['@u01:localhost']);
    expect(await q('user_id=U0')).toHaveLength(9);
    expect(await q('user_id=%40u_9%3Alocal')).toEqual(['@u_9:localhost']);
    expect(await q('user_id=:localhost')).toHaveLength(all.length);
    expect(await q('user_id=alpha')).toEqual([]);
    expect(await q('name=u01&user_id=u02')).toEqual(['@u01:localhost']);
    // An empty name counts as absent.
    expect(await q('name=&user_id=u02')).toEqual(['@u02:localhost']);
  });

  for (const key of KEYS) {
    for (const dir of ['f', 'b'] as const) {
      it(`order_by=${key}&dir=${dir}: key ${dir === 'b' ? 'descending' : 'ascending'}, then name ascending`, async () => {
        const res = await get(`limit=100&deactivated=true&locked=true&order_by=${key}&dir=${dir}`);
        expect(res.status).toBe(200);
        expect(res.body.users.map((u: { name: string }) => u.name)).toEqual(sorted(withAdminActivity(res.body.users), key, dir === 'b', s.dialect));
      });
    }
  }

  it('defaults to order_by=name, dir=f', async () => {
    expect(await names('limit=100&deactivated=true&locked=true')).toEqual(sorted(all, 'name', false, s.dialect));
    expect(await names('limit=100&deactivated=true&locked=true&dir=b')).toEqual(sorted(all, 'name', true, s.dialect));
  });

  it('rejects bad parameters with Synapse 1.94 texts', async () => {
    const cases: Array<[string, string]> = [
      ['limit=-1', 'Query parameter limit must be a string representing a positive integer.'],
      ['from=-1', 'Query parameter from must be a string representing a positive integer.'],
      ['limit=ten', 'Query parameter limit must be a string representing a positive integer.'],
      [
        'order_by=nope',
        "Query parameter 'order_by' must be one of ['name', 'displayname', 'is_guest', 'admin', 'deactivated', 'user_type', 'avatar_url', 'shadow_banned', 'creation_ts', 'last_seen_ts', 'locked']",
      ],
      ['dir=x', "Query parameter 'dir' must be one of ['f', 'b']"],
      ['deactivated=maybe', "Boolean query parameter 'deactivated' must be one of ['true', 'false']"],
      ['guests=1', "Boolean query parameter 'guests' must be one of ['true', 'false']"],
      ['locked=yes', "Boolean query parameter 'locked' must be one of ['true', 'false']"],
      ['admins=TRUE', "Boolean query parameter 'admins' must be one of ['true', 'false']"],
    ];
    for (const [query, error] of cases) {
      for (const version of [V2, V3]) {
        const res = await get(query, version);
        expect(res.status, `${version}?${query}`).toBe(400);
        expect(res.body).toEqual({ errcode: 'M_INVALID_PARAM', error });
      }
    }
  });

  it('ignores approved (MSC3866 is off) and takes the first of repeated parameters', async () => {
    expect(await names('limit=100&approved=false')).toEqual(await names('limit=100'));
    expect(await names('limit=100&approved=nonsense')).toEqual(await names('limit=100'));
    expect(await names('limit=2&limit=100')).toHaveLength(2);
  });
});

describe('GET /_synapse/admin/v2/users: pagination, anchors and cache invalidation', () => {
  let s: TestServer;
  let admin: TestUser;
  let plain: TestUser;
  const get = (query: string) => s.request('GET', `${V2}?${query}`, { token: admin.accessToken });
  const names = async (query: string) => {
    const res = await get(query);
    expect(res.status, res.text).toBe(200);
    return (res.body.users as Array<{ name: string }>).map((u) => u.name);
  };
  /** Follows next_token from `from=0` and returns the concatenation. */
  async function walk(query: string, limit: number): Promise<string[]> {
    const out: string[] = [];
    let from: string | undefined = '0';
    let pages = 0;
    while (from !== undefined) {
      const res = await get(`${query}&limit=${limit}&from=${from}`);
      expect(res.status).toBe(200);
      expect(typeof (res.body.next_token ?? '')).toBe('string');
      out.push(...res.body.users.map((u: { name: string }) => u.name));
      from = res.body.next_token;
      if (++pages > 100) throw new Error('next_token never ends');
    }
    return out;
  }

  // 300 users: creation_ts, display names and avatars with ties and NULLs, shadow_banned NULL/false/true.
  const N = 300;
  const big: Model[] = Array.from({ length: N }, (_, i) => ({
    lp: `b${String(i).padStart(3, '0')}`,
    ct: i % 7 === 0 ? null : 1000 + ((i * 37) % 50),
    admin: (i % 11 === 0 ? 1 : 0) as 0 | 1,
    guest: (i % 17 === 0 ? 1 : 0) as 0 | 1,
    deact: (i % 19 === 0 ? 1 : 0) as 0 | 1,
    locked: i % 23 === 0,
    shadow: i % 3 === 0 ? null : i % 3 === 1,
    type: i % 13 === 0 ? 'bot' : null,
    dn: i % 5 === 0 ? undefined : i % 9 === 0 ? null : `dn${String((i * 53) % 100).padStart(2, '0')}`,
    avatar: i % 4 === 0 ? null : `mxc://localhost/${(i * 17) % 30}`,
    approved: null,
    dev: i % 6 === 0 ? 10_000 + ((i * 7) % 40) : null,
    ips: i % 10 === 1 ? 20_000 + i : null,
    erased: false,
  }));

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
    plain = await s.registerUser('plain');
    // Typed 'support' so that not_user_type=support leaves them out where their live activity would sort them in.
    await runSql(s, "UPDATE users SET creation_ts = 1, user_type = 'support' WHERE name IN ('@admin:localhost', '@plain:localhost');");
    await runSql(s, insertSql(big));
  });
  afterAll(async () => s?.close());

  it('403 for a non-admin, 401 without a token', async () => {
    const res = await s.request('GET', `${V2}?limit=1`, { token: plain.accessToken });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You are not a server admin' });
    const v3 = await s.request('GET', V3, { token: plain.accessToken });
    expect(v3.status).toBe(403);
    const anon = await s.request('GET', V2);
    expect(anon.status).toBe(401);
    expect(anon.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('the unpaginated order matches the model (NULL blocks included)', async () => {
    for (const key of ['creation_ts', 'displayname', 'shadow_banned'] as const) {
      for (const desc of [false, true]) {
        const got = await names(`limit=1000&deactivated=true&locked=true&admins=false&not_user_type=support&order_by=${key}&dir=${desc ? 'b' : 'f'}`);
        const model = filtered(big, { deactivated: 'any', locked: true, admins: false });
        expect(got, `${key} ${desc}`).toEqual(sorted(model, key, desc, s.dialect));
      }
    }
  });

  for (const key of KEYS) {
    it(`order_by=${key}: pages (next_token, deep offsets) equal the unpaginated list in both directions`, async () => {
      for (const dir of ['f', 'b']) {
        // last_seen_ts follows live activity: leave the two registered users out for it.
        const query = `order_by=${key}&dir=${dir}${key === 'last_seen_ts' ? '&not_user_type=support' : ''}`;
        const full = await names(`${query}&limit=1000`);
        expect(full.length).toBeGreaterThan(200);
        expect(await walk(query, 47)).toEqual(full);
        // Offsets around the anchor stride, reached without following next_token.
        for (const from of [63, 64, 65, 127, 128, 130, 191, 200, full.length - 3]) {
          const res = await get(`${query}&limit=5&from=${from}`);
          expect(res.body.users.map((u: { name: string }) => u.name), `${query} from=${from}`).toEqual(full.slice(from, from + 5));
          expect(res.body.total).toBe(full.length);
          if (from + 5 < full.length) expect(res.body.next_token).toBe(String(from + 5));
          else expect(res.body).not.toHaveProperty('next_token');
        }
      }
    });
  }

  it('sees writes through the Admin API at once (total, search, order)', async () => {
    const before = (await get('limit=1')).body.total as number;
    await names('limit=5&from=130');
    await names('limit=5&name=quirk');
    const put = await s.request('PUT', '/_synapse/admin/v2/users/@a000:localhost', { token: admin.accessToken, body: { displayname: 'Quirky Newcomer' } });
    expect(put.status).toBe(201);
    expect((await get('limit=1')).body.total).toBe(before + 1);
    expect(await names('limit=5&name=quirk')).toEqual(['@a000:localhost']);
    expect(await names('limit=5&name=QU')).toEqual(['@a000:localhost']);
    expect(await names('limit=1')).toEqual(['@a000:localhost']);
    // Anchors built before the insert must not be reused: every row moved down by one.
    const full = await names('limit=1000');
    expect(await names('limit=5&from=130')).toEqual(full.slice(130, 135));

    const rename = await s.request('PUT', '/_synapse/admin/v2/users/@a000:localhost', { token: admin.accessToken, body: { displayname: 'Zany' } });
    expect(rename.status).toBe(200);
    expect(await names('limit=5&name=quirk')).toEqual([]);
    expect(await names('limit=5&name=zany')).toEqual(['@a000:localhost']);

    const deactivate = await s.request('POST', '/_synapse/admin/v1/deactivate/@a000:localhost', { token: admin.accessToken, body: {} });
    if (deactivate.status === 200) {
      expect((await get('limit=1')).body.total).toBe(before);
      expect(await names('limit=5&name=zany')).toEqual([]);
    }
  });

  it("sees an operator's SQL at once: inserts, updates, deletes, activity and erasure", async () => {
    const total = async (q = '') => (await get(`limit=1${q}`)).body.total as number;
    const before = await total();
    const everyone = await total('&deactivated=true&locked=true');
    const deep = await names('limit=5&from=200');
    expect(await names('limit=5&name=sqlonly')).toEqual([]);

    await runSql(s, "INSERT INTO users (name, creation_ts) VALUES ('@aa0:localhost', 5); INSERT INTO profiles (user_id, full_user_id, displayname) VALUES ('aa0', '@aa0:localhost', 'SQLonly');");
    expect(await total()).toBe(before + 1);
    expect(await names('limit=5&name=sqlonly')).toEqual(['@aa0:localhost']);
    expect(await names('limit=5&name=aa0')).toEqual(['@aa0:localhost']);
    const full = await names('limit=1000');
    expect(await names('limit=5&from=200')).toEqual(full.slice(200, 205));
    expect(await names('limit=5&from=200')).not.toEqual(deep);

    // Warm the caches that read profiles: a search total and display-name anchors.
    expect((await get('limit=5&name=sqlonly')).body.total).toBe(1);
    const dnQuery = 'order_by=displayname&dir=b&limit=5&from=150';
    await names(dnQuery);
    await runSql(s, "UPDATE profiles SET displayname = 'renamed by sql' WHERE full_user_id = '@aa0:localhost';");
    expect(await names('limit=5&name=sqlonly')).toEqual([]);
    expect((await get('limit=5&name=sqlonly')).body.total).toBe(0);
    // '@aa0' moved from the NULL-or-low end to the top: every row past it shifted.
    const dnFull = await names('order_by=displayname&dir=b&limit=1000');
    expect(await names(dnQuery)).toEqual(dnFull.slice(150, 155));
    expect(await names('limit=5&name=by sql')).toEqual(['@aa0:localhost']);
    // The highest display name (NULLs sort first here on PostgreSQL, last on SQLite).
    const byName = (await get('limit=1000&order_by=displayname&dir=b&deactivated=true&locked=true')).body.users as Array<{ name: string; displayname: string | null }>;
    expect(byName.find((u) => u.displayname !== null)?.name).toBe('@aa0:localhost');

    await runSql(s, "UPDATE users SET admin = 1 WHERE name = '@aa0:localhost';");
    expect(await names('limit=100&admins=true&name=aa0')).toEqual(['@aa0:localhost']);

    // Activity and erasure show on pages served before (cached pages must not hide them).
    const row = async () => (await get('limit=1&name=aa0')).body.users[0];
    expect(await row()).toMatchObject({ last_seen_ts: null, erased: false });
    await runSql(s, "INSERT INTO user_ips (user_id, access_token, ip, user_agent, last_seen) VALUES ('@aa0:localhost', 't', '10.0.0.2', 'ua', 4242);");
    expect(await row()).toMatchObject({ last_seen_ts: 4242 });
    await runSql(s, "INSERT INTO devices (user_id, device_id, last_seen) VALUES ('@aa0:localhost', 'D', 4343);");
    expect(await row()).toMatchObject({ last_seen_ts: 4343 });
    await runSql(s, "UPDATE devices SET last_seen = 4444 WHERE user_id = '@aa0:localhost';");
    expect(await row()).toMatchObject({ last_seen_ts: 4444 });
    await runSql(s, "INSERT INTO erased_users (user_id) VALUES ('@aa0:localhost');");
    expect(await row()).toMatchObject({ erased: true });
    await runSql(s, "UPDATE users SET approved = FALSE WHERE name = '@aa0:localhost';");
    expect(await row()).toMatchObject({ approved: false });

    await runSql(s, "UPDATE users SET deactivated = 1 WHERE name = '@aa0:localhost';");
    expect(await total()).toBe(before);
    expect(await total('&deactivated=true&name=aa0')).toBe(1);

    await runSql(s, "DELETE FROM profiles WHERE full_user_id = '@aa0:localhost'; DELETE FROM users WHERE name = '@aa0:localhost';");
    expect(await total('&deactivated=true&locked=true')).toBe(everyone);
    expect(await names('limit=5&deactivated=true&name=aa0')).toEqual([]);
    expect(await names('limit=5&deactivated=true&name=by sql')).toEqual([]);
  });

  it('keeps the search index right when a user is renamed or replaced by SQL', async () => {
    await runSql(s, "INSERT INTO users (name, creation_ts) VALUES ('@zz1:localhost', 5);");
    expect(await names('limit=5&name=zz1')).toEqual(['@zz1:localhost']);
    await runSql(s, "UPDATE users SET name = '@yy1:localhost' WHERE name = '@zz1:localhost';");
    expect(await names('limit=5&name=zz1')).toEqual([]);
    expect(await names('limit=5&name=yy1')).toEqual(['@yy1:localhost']);
    expect(await names('limit=5&user_id=yy1:loc')).toEqual(['@yy1:localhost']);
  });
});
