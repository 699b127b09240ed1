import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';

const ADMIN = '/_synapse/admin';
const enc = encodeURIComponent;

describe('Admin audit log (Axon, beyond Synapse)', () => {
  let s: TestServer;
  let admin: TestUser;
  let admin2: TestUser;
  let alice: TestUser;
  const log = (query = '', token = admin.accessToken) => s.request('GET', `${ADMIN}/v1/audit_log${query}`, { token });

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    admin = await s.registerUser('admin', { admin: true });
    admin2 = await s.registerUser('admin2', { admin: true });
    alice = await s.registerUser('alice');
  });
  afterAll(async () => s?.close());

  it('records each state-changing admin call: who, method, path, target, status and request id; no bodies', async () => {
    // Shared-secret registrations (three in beforeAll) are recorded, without a caller.
    const before = await log('?dir=f');
    expect(before.status).toBe(200);
    expect(before.body.entries.map((e: { method: string; path: string; user_id: string | null; status: number }) => [e.method, e.path, e.user_id, e.status])).toEqual([
      ['POST', '/_synapse/admin/v1/register', null, 200],
      ['POST', '/_synapse/admin/v1/register', null, 200],
      ['POST', '/_synapse/admin/v1/register', null, 200],
    ]);

    const reset = await s.request('POST', `${ADMIN}/v1/reset_password/${enc(alice.userId)}`, { token: admin.accessToken, body: { new_password: 'SuperSecret-123', logout_devices: false } });
    expect(reset.status).toBe(200);
    const failed = await s.request('PUT', `${ADMIN}/v1/users/${enc('@ghost:elsewhere.example')}/admin`, { token: admin2.accessToken, body: { admin: true } });
    expect(failed.status).toBe(400);
    const shadow = await s.request('POST', `${ADMIN}/v1/users/${enc(alice.userId)}/shadow_ban?access_token=${admin.accessToken}`);
    expect(shadow.status).toBe(200);

    const res = await log();
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(6);
    const [e3, e2, e1] = res.body.entries as Array<Record<string, unknown>>;
    expect(e1).toMatchObject({ user_id: admin.userId, method: 'POST', path: `/_synapse/admin/v1/reset_password/${enc(alice.userId)}`, target: alice.userId, status: 200 });
    expect(Object.keys(e1!).sort()).toEqual(['id', 'method', 'path', 'request_id', 'status', 'target', 'ts', 'user_id']);
    expect(e1!.request_id).toMatch(/^POST-\d+$/);
    expect(Math.abs((e1!.ts as number) - Date.now())).toBeLessThan(60_000);
    // Failures are recorded with their status.
    expect(e2).toMatchObject({ user_id: admin2.userId, method: 'PUT', target: '@ghost:elsewhere.example', status: 400 });
    // The access token in the query string is never stored.
    expect(e3!.path).toBe(`/_synapse/admin/v1/users/${enc(alice.userId)}/shadow_ban?access_token=<redacted>`);
    const dump = JSON.stringify(await querySql(s, 'SELECT * FROM admin_audit_log'));
    expect(dump).not.toContain(admin.accessToken);
    expect(dump).not.toContain('SuperSecret-123');
  });

  it('does not record reads, unknown routes, or calls by non-admins and anonymous callers', async () => {
    const total = (await log()).body.total as number;
    await s.request('GET', `${ADMIN}/v2/users/${enc(alice.userId)}`, { token: admin.accessToken });
    await s.request('POST', `${ADMIN}/v1/users/${enc(alice.userId)}/shadow_ban`, { token: alice.accessToken });
    await s.request('POST', `${ADMIN}/v1/users/${enc(alice.userId)}/shadow_ban`);
    await s.request('POST', `${ADMIN}/v1/no_such_endpoint`, { token: admin.accessToken });
    await s.request('POST', '/_matrix/client/v3/logout/all', { token: admin2.accessToken, body: {} }).catch(() => undefined);
    expect((await log()).body.total).toBe(total);
  });

  it('filters by admin and target (exactly), pages with an integer next_token, and is for admins only', async () => {
    admin2 = await s.login('admin2', admin2.password);
    let res = await log(`?user_id=${enc(admin.userId)}`);
    expect(res.body.total).toBe(2);
    expect(res.body.entries.every((e: { user_id: string }) => e.user_id === admin.userId)).toBe(true);
    res = await log(`?target=${enc(alice.userId)}`);
    expect(res.body.total).toBe(2);
    res = await log(`?target=${enc('alice')}`);
    expect(res.body.total).toBe(0);
    res = await log('?limit=2');
    expect(res.body.entries).toHaveLength(2);
    expect(res.body.next_token).toBe(2);
    const ids = res.body.entries.map((e: { id: number }) => e.id);
    expect(ids[0]).toBeGreaterThan(ids[1]);
    res = await log(`?from=${res.body.total - 1}&limit=2`);
    expect(res.body.entries).toHaveLength(1);
    expect(res.body).not.toHaveProperty('next_token');
    expect((await log('?dir=sideways')).status).toBe(400);
    res = await log('', alice.accessToken);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });
});
