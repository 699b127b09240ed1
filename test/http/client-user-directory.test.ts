import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

interface Helpers {
  s: TestServer;
  search(u: TestUser, body: unknown): Promise<{ status: number; body: any }>;
  ids(u: TestUser, term: string, limit?: number): Promise<string[]>;
  create(u: TestUser, body?: unknown): Promise<string>;
  join(u: TestUser, roomId: string): Promise<void>;
  displayName(u: TestUser, name: string): Promise<void>;
}

function helpers(get: () => TestServer): Helpers {
  const h: Helpers = {
    get s() {
      return get();
    },
    search: (u, body) => get().request('POST', `${V3}/user_directory/search`, { token: u.accessToken, body }),
    async ids(u, term, limit) {
      const res = await h.search(u, limit === undefined ? { search_term: term } : { search_term: term, limit });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(specErrors('client-server', '/user_directory/search', 'post', 200, res.body)).toEqual([]);
      return (res.body.results as Array<{ user_id: string }>).map((r) => r.user_id);
    },
    async create(u, body = {}) {
      const res = await get().request('POST', `${V3}/createRoom`, { token: u.accessToken, body });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.room_id as string;
    },
    async join(u, roomId) {
      const res = await get().request('POST', `${V3}/join/${enc(roomId)}`, { token: u.accessToken, body: {} });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    },
    async displayName(u, name) {
      const res = await get().request('PUT', `${V3}/profile/${enc(u.userId)}/displayname`, { token: u.accessToken, body: { displayname: name } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    },
  };
  return h;
}

describe('User directory: Synapse visibility (shared rooms and public rooms)', () => {
  let s: TestServer;
  const h = helpers(() => s);
  let alice: TestUser; // the searcher
  let bob: TestUser; // shares a private room with alice
  let carol: TestUser; // in a public room alice is not in
  let dave: TestUser; // a stranger
  let erin: TestUser; // in an invite-only but world_readable room
  let frank: TestUser; // only invited to alice's private room
  let private1: string;

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    [alice, bob, carol, dave, erin, frank] = await Promise.all(['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map((n) => s.registerUser(n)));
    private1 = await h.create(alice, { preset: 'private_chat', invite: [bob.userId, frank.userId] });
    await h.join(bob, private1);
    await h.create(carol, { preset: 'public_chat' });
    await h.create(erin, { preset: 'private_chat', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }] });
    await h.create(dave, { preset: 'private_chat' });
  });
  afterAll(async () => s?.close());

  it('finds users who share a room or sit in a public or world_readable room, never strangers or mere invitees', async () => {
    expect(await h.ids(alice, 'bob')).toEqual([bob.userId]);
    expect(await h.ids(alice, 'carol')).toEqual([carol.userId]);
    expect(await h.ids(alice, 'erin')).toEqual([erin.userId]);
    expect(await h.ids(alice, 'dave')).toEqual([]);
    expect(await h.ids(alice, 'frank')).toEqual([]);
    // The visibility is the searcher's: dave sees public-room users but not bob.
    expect(await h.ids(dave, 'carol')).toEqual([carol.userId]);
    expect(await h.ids(dave, 'bob')).toEqual([]);
  });

  it('the searcher finds themself only through a public room (Synapse keeps no private pair with oneself)', async () => {
    expect(await h.ids(alice, 'alice')).toEqual([]);
    expect(await h.ids(carol, 'carol')).toEqual([carol.userId]);
  });

  it('matches word prefixes of the localpart and display name, case-insensitively; every word must match', async () => {
    await h.displayName(bob, 'Robert Paulson');
    const res = await h.search(alice, { search_term: 'PAUL' });
    expect(res.body).toEqual({ limited: false, results: [{ user_id: bob.userId, display_name: 'Robert Paulson' }] });
    expect(await h.ids(alice, 'rob pau')).toEqual([bob.userId]);
    expect(await h.ids(alice, 'robert xyz')).toEqual([]);
    // A word inside another word does not match (full-text word prefixes, not substrings).
    expect(await h.ids(alice, 'bert')).toEqual([]);
    expect(await h.ids(alice, 'ob')).toEqual([]);
    // A full user ID, as clients send when one is typed.
    expect(await h.ids(alice, bob.userId)).toEqual([bob.userId]);
  });

  it('reflects display-name changes at once', async () => {
    await h.displayName(bob, 'Tyler Durden');
    expect(await h.ids(alice, 'paulson')).toEqual([]);
    expect(await h.ids(alice, 'durd')).toEqual([bob.userId]);
  });

  it('follows membership: leaving the shared room hides, joining a public room shows', async () => {
    const leave = await s.request('POST', `${V3}/rooms/${enc(private1)}/leave`, { token: bob.accessToken, body: {} });
    expect(leave.status).toBe(200);
    expect(await h.ids(alice, 'tyler')).toEqual([]);
    const pub = await h.create(alice, { preset: 'public_chat' });
    await h.join(dave, pub);
    expect(await h.ids(alice, 'dave')).toEqual([dave.userId]);
    // alice is in a public room now: she finds herself.
    expect(await h.ids(alice, 'alice')).toEqual([alice.userId]);
  });

  it('ranks exact words first, limits to `limit` with `limited`, and caps limit at 50', async () => {
    const pub = await h.create(carol, { preset: 'public_chat' });
    const users = await Promise.all(['zed1', 'zed2', 'zed3', 'zedd'].map((n) => s.registerUser(n)));
    for (const u of users) await h.join(u, pub);
    await h.displayName(users[3]!, 'zed');
    const all = await h.ids(alice, 'zed');
    expect(all[0]).toBe(users[3]!.userId);
    expect(all.slice().sort()).toEqual(users.map((u) => u.userId).sort());
    const limited = await h.search(alice, { search_term: 'zed', limit: 2 });
    expect(limited.body.limited).toBe(true);
    expect(limited.body.results).toHaveLength(2);
    expect((await h.search(alice, { search_term: 'zed', limit: 4 })).body.limited).toBe(false);
    const big = await h.search(alice, { search_term: 'zed', limit: 1000 });
    expect(big.status).toBe(200);
    expect(big.body.results).toHaveLength(4);
    expect((await h.search(alice, { search_term: 'zed', limit: 0 })).body).toEqual({ limited: true, results: [] });
  });

  it('excludes deactivated and locked users (show_locked_users defaults to false)', async () => {
    const admin = await s.registerUser('root', { admin: true });
    const grace = await s.registerUser('grace');
    const heidi = await s.registerUser('heidi');
    const pub = await h.create(carol, { preset: 'public_chat' });
    await h.join(grace, pub);
    await h.join(heidi, pub);
    expect(await h.ids(alice, 'grace')).toEqual([grace.userId]);
    expect(await h.ids(alice, 'heidi')).toEqual([heidi.userId]);
    const deact = await s.request('POST', `/_synapse/admin/v1/deactivate/${enc(grace.userId)}`, { token: admin.accessToken, body: {} });
    expect(deact.status).toBe(200);
    expect(await h.ids(alice, 'grace')).toEqual([]);
    const lock = await s.request('PUT', `/_synapse/admin/v2/users/${enc(heidi.userId)}`, { token: admin.accessToken, body: { locked: true } });
    expect(lock.status).toBe(200);
    expect(await h.ids(alice, 'heidi')).toEqual([]);
  });

  it('an empty or wordless term finds nobody', async () => {
    expect(await h.ids(alice, '')).toEqual([]);
    expect(await h.ids(alice, ' @:. ')).toEqual([]);
  });

  it('bad input is a 4xx with Synapse\'s errors, never a 500', async () => {
    const missing = await h.search(alice, {});
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ errcode: 'M_UNKNOWN', error: '`search_term` is required field' });
    for (const body of [{ search_term: 5 }, { search_term: null }, { search_term: 'x', limit: 'many' }, { search_term: 'x', limit: {} }, { search_term: 'x', limit: [] }]) {
      const r = await h.search(alice, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.errcode).toBeTypeOf('string');
    }
    // Synapse applies int(): digit strings and floats pass.
    expect((await h.search(alice, { search_term: 'carol', limit: '3' })).status).toBe(200);
    expect((await h.search(alice, { search_term: 'carol', limit: 2.5 })).status).toBe(200);
    const notJson = await s.request('POST', `${V3}/user_directory/search`, { token: alice.accessToken, rawBody: '{nope' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.errcode).toBe('M_NOT_JSON');
    const noAuth = await s.request('POST', `${V3}/user_directory/search`, { body: { search_term: 'x' } });
    expect(noAuth.status).toBe(401);
    // The r0 path too.
    const r0 = await s.request('POST', '/_matrix/client/r0/user_directory/search', { token: alice.accessToken, body: { search_term: 'carol' } });
    expect(r0.body.results.map((r: { user_id: string }) => r.user_id)).toEqual([carol.userId]);
  });
});

describe('User directory: search_all_users, show_locked_users and enabled', () => {
  let s: TestServer;
  const h = helpers(() => s);

  afterAll(async () => s?.close());

  it('search_all_users: every local user but the searcher; show_locked_users lists locked ones', async () => {
    s = await startServer({ ...NO_RATE_LIMITS, user_directory: { search_all_users: true, show_locked_users: true } });
    const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => s.registerUser(n)));
    const admin = await s.registerUser('root', { admin: true });
    expect(await h.ids(alice!, 'bob')).toEqual([bob!.userId]);
    expect(await h.ids(alice!, 'alice')).toEqual([]);
    const lock = await s.request('PUT', `/_synapse/admin/v2/users/${enc(carol!.userId)}`, { token: admin.accessToken, body: { locked: true } });
    expect(lock.status).toBe(200);
    expect(await h.ids(alice!, 'carol')).toEqual([carol!.userId]);
    await s.request('POST', `/_synapse/admin/v1/deactivate/${enc(bob!.userId)}`, { token: admin.accessToken, body: {} });
    expect(await h.ids(alice!, 'bob')).toEqual([]);
    // Support users are never listed.
    await s.registerUser('helpdesk', { userType: 'support' });
    expect(await h.ids(alice!, 'helpdesk')).toEqual([]);
    await s.close();

    s = await startServer({ ...NO_RATE_LIMITS, user_directory: { enabled: false } });
    const [x, y] = await Promise.all(['xavier', 'yolanda'].map((n) => s.registerUser(n)));
    const room = await h.create(x!, { preset: 'public_chat' });
    await h.join(y!, room);
    expect((await h.search(x!, { search_term: 'yolanda' })).body).toEqual({ limited: false, results: [] });
    // Disabled answers before the body is read, as Synapse.
    expect((await h.search(x!, {})).body).toEqual({ limited: false, results: [] });
  });
});
