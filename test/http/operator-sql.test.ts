import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, runCommand } from '../harness/cli.js';
import { runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';

// Synapse's documented recipe, typed into the real database shells while the server runs
// (catalogue §19; Synapse 1.94 response 30_bob_sqlite_promotion: effective on the next request).
const PROMOTE = "UPDATE users SET admin = 1 WHERE name = '@foo:localhost';";
const DEMOTE = "UPDATE users SET admin = 0 WHERE name = '@foo:localhost';";

describe('operator SQL through sqlite3 / psql', () => {
  let s: TestServer;
  let foo: TestUser;
  /** Feeds statements to the engine's own shell on stdin, as an operator types them. */
  const shell = (sql: string) =>
    s.dialect === 'sqlite'
      ? runCommand('sqlite3', ['-bail', s.database], { input: `${sql}\n` })
      : runCommand('psql', ['-X', '-v', 'ON_ERROR_STOP=1', s.databaseUrl!], { input: `${sql}\n` });
  const adminCall = () => s.request('GET', '/_synapse/admin/v2/users/@foo:localhost', { token: foo.accessToken });

  beforeAll(async () => {
    s = await startServer();
    requireTool(s.dialect === 'sqlite' ? 'sqlite3' : 'psql');
    foo = await s.registerUser('foo', { password: 'foo-pw' });
  });
  afterAll(async () => s?.close());

  it('promotion by SQL works on the very next request, demotion likewise', async () => {
    const before = await adminCall();
    expect(before.status).toBe(403);
    expect(before.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You are not a server admin' });

    const up = await shell(PROMOTE);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    if (s.dialect === 'postgres') expect(up.stdout.trim()).toBe('UPDATE 1');

    const after = await adminCall();
    expect(after.status).toBe(200);
    expect(after.body.name).toBe('@foo:localhost');
    expect(after.body.admin).toBe(true);
    expect((await adminCall()).status).toBe(200);

    const down = await shell(DEMOTE);
    expect(down.code).toBe(0);
    expect(down.stderr).toBe('');
    const demoted = await adminCall();
    expect(demoted.status).toBe(403);
    expect(demoted.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You are not a server admin' });
  });

  it('the users table holds what the recipe assumes: full MXID, integer flags, seconds', async () => {
    const query =
      s.dialect === 'sqlite'
        ? "SELECT name, admin, typeof(admin), is_guest, deactivated, typeof(creation_ts), creation_ts FROM users WHERE name = '@foo:localhost';"
        : "\\pset format unaligned\n\\pset tuples_only on\nSELECT name, admin, pg_typeof(admin), is_guest, deactivated, pg_typeof(creation_ts), creation_ts FROM users WHERE name = '@foo:localhost';";
    const r = await shell(query);
    expect(r.code).toBe(0);
    const row = r.stdout.trim().split('\n').pop()!.split('|');
    expect(row.slice(0, 6)).toEqual(
      s.dialect === 'sqlite'
        ? ['@foo:localhost', '0', 'integer', '0', '0', 'integer']
        : ['@foo:localhost', '0', 'smallint', '0', '0', 'bigint'],
    );
    const creationTs = Number(row[6]);
    const nowSeconds = Date.now() / 1000;
    expect(creationTs).toBeGreaterThan(nowSeconds - 600); // seconds, not milliseconds
    expect(creationTs).toBeLessThanOrEqual(nowSeconds + 1);
  });

  it('a user promoted by SQL can use the Admin API on other users at once', async () => {
    await s.registerUser('bar');
    expect((await shell(PROMOTE)).code).toBe(0);
    const res = await s.request('GET', '/_synapse/admin/v2/users/@bar:localhost', { token: foo.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: '@bar:localhost', admin: false, deactivated: false });
    expect((await shell(DEMOTE)).code).toBe(0);
  });

  it('in a loop, with lookups cached in between: each change is seen by the very next request', async () => {
    // Warm every cache (token, user view, list) before each change, then change the flag from
    // the shell and from another connection in turn, 30 times.
    for (let i = 0; i < 30; i++) {
      const promote = i % 2 === 0;
      for (let j = 0; j < 3; j++) expect((await adminCall()).status).toBe(promote ? 403 : 200);
      const statement = promote ? PROMOTE : DEMOTE;
      if (i % 3 === 0) expect((await shell(statement)).code).toBe(0);
      else await runSql(s, statement);
      const next = await adminCall();
      expect({ i, status: next.status }).toEqual({ i, status: promote ? 200 : 403 });
      if (promote) expect(next.body.admin).toBe(true);
    }
  }, 60_000);
});
