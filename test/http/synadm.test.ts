import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer, type TestUser } from '../harness/server.js';
import { synadmRunner, type SynadmResult } from '../harness/synadm.js';

// Debian's synadm, the command-line admin client operators use, driven against a real Axon
// (issue 3). It must be installed (.ci/run installs it); a missing synadm fails, it does not skip.
describe('synadm against Axon', () => {
  let s: TestServer;
  let admin: TestUser;
  let synadm: (...args: string[]) => Promise<SynadmResult>;
  const ok = (r: SynadmResult) => {
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    return r;
  };

  beforeAll(async () => {
    s = await startServer();
    admin = await s.registerUser('admin', { admin: true });
    await s.registerUser('alice', { password: 'alicepw' });
    await s.registerUser('bob');
    synadm = synadmRunner(s, admin);
  });
  afterAll(async () => s?.close());

  it('user list prints the users with total', async () => {
    const r = ok(await synadm('user', 'list'));
    expect(r.json.total).toBe(3);
    expect(r.json.users.map((u: any) => u.name).sort()).toEqual(['@admin:localhost', '@alice:localhost', '@bob:localhost']);
    const paged = ok(await synadm('user', 'list', '-l', '1', '-f', '1'));
    expect(paged.json.users).toHaveLength(1);
    expect(paged.json.next_token).toBe('2');
    const named = ok(await synadm('user', 'list', '-n', 'ali'));
    expect(named.json.users.map((u: any) => u.name)).toEqual(['@alice:localhost']);
  });

  it('user details shows one user', async () => {
    const r = ok(await synadm('user', 'details', '@alice:localhost'));
    expect(r.json).toMatchObject({ name: '@alice:localhost', admin: false, deactivated: false, displayname: 'alice' });
  });

  it('user modify changes display name, threepid and admin flag', async () => {
    const r = ok(await synadm('user', 'modify', '@bob:localhost', '-n', 'Bob B', '-t', 'email', 'bob@example.org', '-a'));
    expect(r.stdout).toContain('Bob B');
    const d = (await s.request('GET', '/_synapse/admin/v2/users/@bob:localhost', { token: admin.accessToken })).body;
    expect(d).toMatchObject({ displayname: 'Bob B', admin: true });
    expect(d.threepids.map((t: any) => t.address)).toEqual(['bob@example.org']);
  });

  it('user password resets the password', async () => {
    ok(await synadm('user', 'password', '@alice:localhost', '-p', 'newalicepw'));
    await expect(s.login('alice', 'alicepw')).rejects.toThrow(/403/);
    const session = await s.login('alice', 'newalicepw');
    expect(session.userId).toBe('@alice:localhost');
  });

  it('user whois shows the connections of a user', async () => {
    const alice = await s.login('alice', 'newalicepw');
    await s.request('GET', '/_matrix/client/v3/account/whoami', { token: alice.accessToken, headers: { 'user-agent': 'synadm-test-agent' } });
    const r = ok(await synadm('user', 'whois', '@alice:localhost'));
    expect(r.json.user_id).toBe('@alice:localhost');
    const connections = Object.values(r.json.devices as Record<string, any>).flatMap((d: any) => d.sessions.flatMap((x: any) => x.connections));
    expect(connections.some((c: any) => c.user_agent === 'synadm-test-agent' && c.ip === '127.0.0.1')).toBe(true);
  });

  it('user login mints a token that acts as the user', async () => {
    const r = ok(await synadm('user', 'login', '@alice:localhost', '--expire-never'));
    const token = r.json.access_token as string;
    expect(token).toMatch(/^syt_YWxpY2U_/);
    const who = await s.request('GET', '/_matrix/client/v3/account/whoami', { token });
    expect(who.body.user_id).toBe('@alice:localhost');
  });

  it('user shadow-ban and unban', async () => {
    ok(await synadm('user', 'shadow-ban', '@alice:localhost'));
    expect((await s.request('GET', '/_synapse/admin/v2/users/@alice:localhost', { token: admin.accessToken })).body.shadow_banned).toBe(true);
    ok(await synadm('user', 'shadow-ban', '@alice:localhost', '--unban'));
    expect((await s.request('GET', '/_synapse/admin/v2/users/@alice:localhost', { token: admin.accessToken })).body.shadow_banned).toBe(false);
  });

  it('user deactivate (with GDPR erase)', async () => {
    await s.registerUser('carol');
    ok(await synadm('user', 'deactivate', '@carol:localhost', '--gdpr-erase'));
    const d = (await s.request('GET', '/_synapse/admin/v2/users/@carol:localhost', { token: admin.accessToken })).body;
    expect(d).toMatchObject({ deactivated: true, erased: true, displayname: null });
    const all = ok(await synadm('user', 'list', '-d'));
    expect(all.json.users.map((u: any) => u.name)).toContain('@carol:localhost');
    const active = ok(await synadm('user', 'list'));
    expect(active.json.users.map((u: any) => u.name)).not.toContain('@carol:localhost');
  });

  it('regtok new, list, update, details, delete', async () => {
    const created = ok(await synadm('regtok', 'new', '-n', 'synadmtok', '-u', '5'));
    expect(created.json).toMatchObject({ token: 'synadmtok', uses_allowed: 5, pending: 0, completed: 0 });
    const list = ok(await synadm('regtok', 'list'));
    expect(list.json.registration_tokens.map((t: any) => t.token)).toContain('synadmtok');
    const updated = ok(await synadm('regtok', 'update', 'synadmtok', '-u', '7'));
    expect(updated.json.uses_allowed).toBe(7);
    const details = ok(await synadm('regtok', 'details', 'synadmtok'));
    expect(details.json.uses_allowed).toBe(7);
    ok(await synadm('regtok', 'delete', 'synadmtok'));
    const after = await s.request('GET', '/_synapse/admin/v1/registration_tokens/synadmtok', { token: admin.accessToken });
    expect(after.status).toBe(404);
  });

  it('version prints the server version', async () => {
    const r = ok(await synadm('version'));
    expect(r.stdout).toContain('1.94.0');
  });
});
