import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer, type TestUser } from '../harness/server.js';
import { synadmRunner, type SynadmResult } from '../harness/synadm.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

// Debian's synadm (0.38) against the room endpoints of the Admin API (issue 9). That version has
// no `room block` and no `user memberships`; `user membership` reads joined_rooms. It puts room
// arguments into the URL as given, so an alias must be passed percent-encoded (`%23lobby:…`):
// a bare `#` starts the URL's fragment (with Synapse too).
describe('synadm: rooms', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let pub: string;
  let priv: string;
  let synadm: (...args: string[]) => Promise<SynadmResult>;
  const ok = (r: SynadmResult) => {
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    return r;
  };
  const create = async (u: TestUser, body: unknown) => (await s.request('POST', `${V3}/createRoom`, { token: u.accessToken, body })).body.room_id as string;

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    pub = await create(alice, { name: 'Lobby', preset: 'public_chat', room_alias_name: 'lobby' });
    priv = await create(alice, { name: 'Back office', preset: 'private_chat' });
    await s.request('POST', `${V3}/join/${enc(pub)}`, { token: bob.accessToken, body: {} });
    synadm = synadmRunner(s, admin);
  });
  afterAll(async () => s?.close());

  it('room list: all rooms, sorted, searched, paged', async () => {
    const r = ok(await synadm('room', 'list'));
    expect(r.json.total_rooms).toBe(2);
    expect(r.json.rooms.map((x: any) => x.name)).toEqual(['Back office', 'Lobby']);
    const bySize = ok(await synadm('room', 'list', '-s', 'joined_members'));
    expect(bySize.json.rooms.map((x: any) => x.room_id)).toEqual([pub, priv]);
    const reversed = ok(await synadm('room', 'list', '-s', 'joined_members', '-r'));
    expect(reversed.json.rooms.map((x: any) => x.room_id)).toEqual([priv, pub]);
    const named = ok(await synadm('room', 'list', '-n', 'lob'));
    expect(named.json.rooms.map((x: any) => x.room_id)).toEqual([pub]);
    const paged = ok(await synadm('room', 'list', '-l', '1', '-f', '1'));
    expect(paged.json).toMatchObject({ offset: 1, total_rooms: 2, prev_batch: 0 });
    expect(paged.json.rooms).toHaveLength(1);
  });

  it('room details, members and state', async () => {
    const d = ok(await synadm('room', 'details', pub));
    expect(d.json).toMatchObject({ room_id: pub, name: 'Lobby', canonical_alias: '#lobby:localhost', joined_members: 2, public: false, join_rules: 'public' });
    const m = ok(await synadm('room', 'members', pub));
    expect(m.json).toEqual({ members: [alice.userId, bob.userId], total: 2 });
    const st = ok(await synadm('room', 'state', pub));
    expect(st.json.state.map((e: any) => e.type)).toContain('m.room.name');
    expect(st.json.state.find((e: any) => e.type === 'm.room.name').content).toEqual({ name: 'Lobby' });
  });

  it('room make-admin raises the admin in a private room and invites them', async () => {
    ok(await synadm('room', 'make-admin', priv));
    const pl = (await s.request('GET', `${V3}/rooms/${enc(priv)}/state/m.room.power_levels/`, { token: alice.accessToken })).body;
    expect(pl.users[admin.userId]).toBe(100);
    const member = (await s.request('GET', `${V3}/rooms/${enc(priv)}/state/m.room.member/${enc(admin.userId)}`, { token: alice.accessToken })).body;
    expect(member.membership).toBe('invite');
    ok(await synadm('room', 'make-admin', '%23lobby:localhost', '-u', bob.userId));
    const pubPl = (await s.request('GET', `${V3}/rooms/${enc(pub)}/state/m.room.power_levels/`, { token: alice.accessToken })).body;
    expect(pubPl.users[bob.userId]).toBe(100);
  });

  it('room join puts a local user in a room; user membership lists it', async () => {
    const carol = await s.registerUser('carol');
    const r = ok(await synadm('room', 'join', '%23lobby:localhost', carol.userId));
    expect(r.json).toEqual({ room_id: pub });
    const members = (await s.request('GET', `/_synapse/admin/v1/rooms/${enc(pub)}/members`, { token: admin.accessToken })).body.members;
    expect(members).toContain(carol.userId);
    const m = ok(await synadm('user', 'membership', carol.userId));
    // synadm shows a room's canonical alias in place of its ID where it has one.
    expect(m.json).toEqual({ joined_rooms: ['#lobby:localhost'], total: 1 });
  });
});
