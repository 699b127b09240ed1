import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, freePort, requireTool, runBin, tempDir } from '../harness/cli.js';
import { SHARED_SECRET, startServer, type TestServer, type TestUser } from '../harness/server.js';

// bin/register_new_matrix_user (catalogue §18) run as a real process against a running server.
describe('register_new_matrix_user', () => {
  let s: TestServer;
  let boss: TestUser;
  let dir: string;
  let port: string;
  const rnmu = (args: string[], input?: string) => runBin(BIN.registerNewMatrixUser, args, { input });
  const user = (id: string) => s.request('GET', `/_synapse/admin/v2/users/${encodeURIComponent(id)}`, { token: boss.accessToken });
  const canLogin = async (localpart: string, password: string) =>
    (
      await s.request('POST', '/_matrix/client/v3/login', {
        body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: localpart }, password },
      })
    ).status === 200;
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const clientListener = () => `listeners:\n  - port: ${port}\n    type: http\n    resources:\n      - names: [client]\n`;

  beforeAll(async () => {
    ensureBuilt();
    s = await startServer();
    port = new URL(s.url).port;
    boss = await s.registerUser('boss', { admin: true });
    dir = tempDir('rnmu');
  });
  afterAll(async () => {
    await s?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('-k with -a registers an admin over HTTP and prints what Synapse prints', async () => {
    const r = await rnmu(['-k', SHARED_SECRET, '-u', 'root1', '-p', 'pw-root1', '-a', s.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Sending registration request...\nSuccess!\n');
    expect(r.stderr).toBe('');
    const u = await user('@root1:localhost');
    expect(u.status).toBe(200);
    expect(u.body.admin).toBe(true);
    expect(u.body.user_type).toBeNull();
    expect(await canLogin('root1', 'pw-root1')).toBe(true);
  });

  it('--no-admin registers a normal user; a trailing / on the URL is fine', async () => {
    const r = await rnmu(['-k', SHARED_SECRET, '-u', 'plain1', '-p', 'pw', '--no-admin', `${s.url}/`]);
    expect(r.code).toBe(0);
    expect((await user('@plain1:localhost')).body.admin).toBe(false);
  });

  it('-t bot sends user_type and signs it into the MAC', async () => {
    const r = await rnmu(['-k', SHARED_SECRET, '-u', 'robot', '-p', 'pw', '--no-admin', '-t', 'bot', s.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Success!');
    const u = await user('@robot:localhost');
    expect(u.body.user_type).toBe('bot');
    expect(u.body.admin).toBe(false);
  });

  it('an unknown user type is reported with the server error text', async () => {
    const r = await rnmu(['-k', SHARED_SECRET, '-u', 'wiz', '-p', 'pw', '--no-admin', '-t', 'wizard', s.url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('Sending registration request...\nERROR! Received 400 Bad Request\nInvalid user type\n');
    expect((await user('@wiz:localhost')).status).toBe(404);
  });

  it('signs the username as typed; the server lower-cases it', async () => {
    const r = await rnmu(['-k', SHARED_SECRET, '-u', 'MixedCase', '-p', 'pw', '--no-admin', s.url]);
    expect(r.code).toBe(0);
    expect((await user('@mixedcase:localhost')).status).toBe(200);
  });

  it('-c reads the secret and finds the first plain-HTTP client listener (no URL given)', async () => {
    const cfg = file(
      'listeners.yaml',
      `server_name: localhost
registration_shared_secret: "${SHARED_SECRET}"
listeners:
  - port: 1
    type: metrics
  - port: 2
    type: http
    tls: true
    resources: [{names: [client]}]
  - port: 3
    type: http
    resources: [{names: [federation]}]
  - port: ${port}
    type: http
    bind_addresses: ['0.0.0.0']
    resources: [{names: [federation]}, {names: [client]}]
`,
    );
    const r = await rnmu(['-c', cfg, '-u', 'viaconfig', '-p', 'pw', '-a']);
    expect(r.stderr).toBe(''); // no "last resort" warning: the listener was found
    expect(r.code).toBe(0);
    expect((await user('@viaconfig:localhost')).body.admin).toBe(true);
  });

  it('repeated -c: later files replace earlier top-level keys', async () => {
    const a = file('a.yaml', `registration_shared_secret: wrong-secret\nlisteners: []\n`);
    const b = file('b.yaml', `registration_shared_secret: ${SHARED_SECRET}\n${clientListener()}`);
    const ok = await rnmu(['-c', a, '-c', b, '-u', 'layered', '-p', 'pw', '--no-admin']);
    expect(ok.code).toBe(0);
    expect((await user('@layered:localhost')).status).toBe(200);
    // Reversed, the wrong secret wins and no listener is left: the server refuses the MAC.
    const bad = await rnmu(['-c', b, '-c', a, '-u', 'layered2', '-p', 'pw', '--no-admin', s.url]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('ERROR! Received 403 Forbidden\nHMAC incorrect\n');
  });

  it('-c with registration_shared_secret_path reads the file, stripped', async () => {
    const secretFile = file('secret.txt', `\n  ${SHARED_SECRET}  \n`);
    const cfg = file('path.yaml', `registration_shared_secret_path: ${secretFile}\n${clientListener()}`);
    const r = await rnmu(['-c', cfg, '-u', 'frompath', '-p', 'pw', '--no-admin']);
    expect(r.code).toBe(0);
    expect((await user('@frompath:localhost')).status).toBe(200);
  });

  it('secret errors in the config: none, both, empty file, unreadable file', async () => {
    const none = await rnmu(['-c', file('none.yaml', clientListener()), '-u', 'x', '-p', 'pw', '-a']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("No 'registration_shared_secret' or 'registration_shared_secret_path' defined in config.");
    expect(none.stdout).toBe('');

    const secretFile = file('s2.txt', 'abc');
    const both = await rnmu(['-c', file('both.yaml', `registration_shared_secret: abc\nregistration_shared_secret_path: ${secretFile}\n`), '-u', 'x', '-p', 'pw', '-a']);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain("Conflicting options 'registration_shared_secret' and 'registration_shared_secret_path'");

    const empty = await rnmu(['-c', file('empty.yaml', `registration_shared_secret_path: ${file('blank.txt', ' \n')}\n`), '-u', 'x', '-p', 'pw', '-a']);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain("No 'registration_shared_secret' or 'registration_shared_secret_path' defined in config.");

    const missing = await rnmu(['-c', file('missing.yaml', `registration_shared_secret_path: ${join(dir, 'nope.txt')}\n`), '-u', 'x', '-p', 'pw', '-a']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`Error accessing file ${join(dir, 'nope.txt')}: [Errno 2] No such file or directory`);

    const notString = await rnmu(['-c', file('num.yaml', 'registration_shared_secret: [1, 2]\n'), '-u', 'x', '-p', 'pw', '-a']);
    expect(notString.code).toBe(1);
    expect(notString.stderr).toContain('registration_shared_secret setting is not a string');
  });

  it('--password-file reads the password with surrounding whitespace stripped', async () => {
    const pw = file('pw.txt', '  file-pass-1 \n\n');
    const r = await rnmu(['-k', SHARED_SECRET, '-u', 'filepw', '--password-file', pw, '--no-admin', s.url]);
    expect(r.code).toBe(0);
    expect(await canLogin('filepw', 'file-pass-1')).toBe(true);
    expect(await canLogin('filepw', '  file-pass-1 \n\n')).toBe(false);

    const gone = await rnmu(['-k', SHARED_SECRET, '-u', 'filepw2', '--password-file', join(dir, 'absent.txt'), '--no-admin', s.url]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`Error accessing file ${join(dir, 'absent.txt')}`);
  });

  it('an existing user fails with M_USER_IN_USE text, or is skipped with --exists-ok', async () => {
    expect((await rnmu(['-k', SHARED_SECRET, '-u', 'twice', '-p', 'first-pw', '--no-admin', s.url])).code).toBe(0);

    const again = await rnmu(['-k', SHARED_SECRET, '-u', 'twice', '-p', 'second-pw', '-a', s.url]);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('Sending registration request...\nERROR! Received 400 Bad Request\nUser ID already taken.\n');

    const ok = await rnmu(['-k', SHARED_SECRET, '-u', 'twice', '-p', 'second-pw', '-a', '--exists-ok', s.url]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('Sending registration request...\nUser already exists. Skipping.\n');
    // The existing account is left alone.
    expect(await canLogin('twice', 'first-pw')).toBe(true);
    expect(await canLogin('twice', 'second-pw')).toBe(false);
    expect((await user('@twice:localhost')).body.admin).toBe(false);

    // --exists-ok does not hide other failures.
    const wrong = await rnmu(['-k', 'not-the-secret', '-u', 'twice', '-p', 'x', '-a', '--exists-ok', s.url]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('HMAC incorrect');
  });

  it('a wrong shared secret: exit 1, the server error printed, no account', async () => {
    const r = await rnmu(['-k', 'not-the-secret', '-u', 'intruder', '-p', 'pw', '-a', s.url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('Sending registration request...\nERROR! Received 403 Forbidden\nHMAC incorrect\n');
    expect((await user('@intruder:localhost')).status).toBe(404);
  });

  it('an unreachable server: exit 1 with a one-line error', async () => {
    const closed = await freePort();
    const r = await rnmu(['-k', SHARED_SECRET, '-u', 'nobody', '-p', 'pw', '-a', `http://127.0.0.1:${closed}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ERROR! Could not connect to http://127.0.0.1:${closed}/_synapse/admin/v1/register: ECONNREFUSED\n`);
  });

  it('conflicting or missing flags are usage errors (exit 2) and send nothing', async () => {
    const cases: Array<[string[], string]> = [
      [['-k', SHARED_SECRET, '-u', 'c1', '-p', 'pw', '-a', '--no-admin', s.url], 'argument --no-admin: not allowed with argument -a/--admin'],
      [['-k', SHARED_SECRET, '-u', 'c1', '--password-file', '/dev/null', '-p', 'pw', '-a', s.url], 'argument -p/--password: not allowed with argument --password-file'],
      [['-c', '/dev/null', '-k', SHARED_SECRET, '-u', 'c1', '-p', 'pw', '-a', s.url], 'argument -k/--shared-secret: not allowed with argument -c/--config'],
      [['-u', 'c1', '-p', 'pw', '-a', s.url], 'one of the arguments -c/--config -k/--shared-secret is required'],
      [['-k', SHARED_SECRET, '-u', 'c1', '-p', 'pw', '-a', s.url, 'extra'], 'unrecognized arguments: extra'],
      [['-k', SHARED_SECRET, '--bogus', s.url], "Unknown option '--bogus'"],
    ];
    for (const [args, message] of cases) {
      const r = await rnmu(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^usage: register_new_matrix_user /);
      expect(r.stderr).toContain(`register_new_matrix_user: error: ${message}`);
      expect(r.stdout).toBe('');
    }
    expect((await user('@c1:localhost')).status).toBe(404);
  });

  it('without a terminal, a missing password/user/admin flag fails in one line (exit 1)', async () => {
    const noPw = await rnmu(['-k', SHARED_SECRET, '-u', 'nopw', '-a', s.url], 'typed-ahead\ntyped-ahead\n');
    expect(noPw.code).toBe(1);
    expect(noPw.stderr).toBe('register_new_matrix_user: stdin is not a terminal, cannot prompt for: password (-p/--password or --password-file)\n');
    expect(noPw.stdout).toBe('');

    const all = await rnmu(['-k', SHARED_SECRET, s.url]);
    expect(all.code).toBe(1);
    expect(all.stderr.trim().split('\n')).toEqual([
      'register_new_matrix_user: stdin is not a terminal, cannot prompt for: user localpart (-u/--user), password (-p/--password or --password-file), admin flag (-a/--admin or --no-admin)',
    ]);
    // An empty -p counts as missing, as in Synapse.
    const emptyPw = await rnmu(['-k', SHARED_SECRET, '-u', 'nopw', '-p', '', '--no-admin', s.url]);
    expect(emptyPw.code).toBe(1);
    expect(emptyPw.stderr).toContain('cannot prompt for: password');
    expect((await user('@nopw:localhost')).status).toBe(404);
  });

  it('sends exactly the body Synapse sends (user_type null, boolean admin, no display name)', async () => {
    const seen: Array<{ method: string; url: string; body: string }> = [];
    let postStatus = 200;
    const fake = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, body });
        res.setHeader('content-type', 'application/json');
        if (req.method === 'GET') return res.end(JSON.stringify({ nonce: 'abc123' }));
        res.statusCode = postStatus;
        res.end(postStatus === 200 ? '{}' : JSON.stringify({ errcode: 'M_UNKNOWN', error: 'kaboom' }));
      });
    });
    await new Promise<void>((ok) => fake.listen(0, '127.0.0.1', () => ok()));
    const base = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    try {
      const r = await rnmu(['-k', 'k3y', '-u', 'Fred', '-p', 'pä55', '--no-admin', `${base}//`]);
      expect(r.code).toBe(0);
      expect(seen.map((x) => [x.method, x.url])).toEqual([
        ['GET', '/_synapse/admin/v1/register'],
        ['POST', '/_synapse/admin/v1/register'],
      ]);
      const mac = createHmac('sha1', 'k3y').update('abc123\0Fred\0pä55\0notadmin').digest('hex');
      expect(JSON.parse(seen[1]!.body)).toEqual({ nonce: 'abc123', username: 'Fred', password: 'pä55', mac, admin: false, user_type: null });

      // A 5xx prints the status line only (the error text is shown for 4xx, as in Synapse).
      postStatus = 500;
      const fail = await rnmu(['-k', 'k3y', '-u', 'fred', '-p', 'pw', '-a', '-t', 'support', base]);
      expect(fail.code).toBe(1);
      expect(fail.stdout).toBe('Sending registration request...\nERROR! Received 500 Internal Server Error\n');
      const last = JSON.parse(seen[seen.length - 1]!.body);
      expect(last).toMatchObject({ admin: true, user_type: 'support' });
      expect(last.mac).toBe(createHmac('sha1', 'k3y').update('abc123\0fred\0pw\0admin\0support').digest('hex'));
    } finally {
      await new Promise((ok) => fake.close(ok));
    }
  });

  it('an unreadable -c file is a usage error, as argparse reports it', async () => {
    const r = await rnmu(['-c', join(dir, 'nowhere.yaml'), '-u', 'x', '-p', 'pw', '-a']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`register_new_matrix_user: error: argument -c/--config: can't open '${join(dir, 'nowhere.yaml')}': [Errno 2] No such file or directory`);
  });

  it('-h prints the usage and exits 0', async () => {
    const r = await rnmu(['-h']);
    expect(r.code).toBe(0);
    for (const flag of ['--user', '--password-file', '--user_type', '--no-admin', '--config', '--shared-secret', '--exists-ok', 'server_url']) expect(r.stdout).toContain(flag);
  });

  describe('interactive prompts on a terminal (through script(1))', () => {
    /** Runs the command in a pseudo-terminal, answering each prompt as it appears. */
    const interact = (args: string[], answers: Array<[string, string]>) =>
      new Promise<{ code: number | null; transcript: string }>((ok, ko) => {
        const cmd = [process.execPath, BIN.registerNewMatrixUser, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
        const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
        let transcript = '';
        let consumed = 0;
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.stdout.on('data', (d) => {
          transcript += d;
          while (answers.length > 0) {
            const at = transcript.indexOf(answers[0]![0], consumed);
            if (at < 0) break;
            consumed = at + answers[0]![0].length;
            const reply = answers.shift()![1];
            setTimeout(() => child.stdin.write(`${reply}\r`), 30);
          }
        });
        child.on('error', ko);
        child.on('close', (code) => {
          clearTimeout(timer);
          ok({ code, transcript });
        });
      });

    // What Python's getpass.getuser() (and so the prompt's default) yields.
    const env = process.env;
    const loginName = env.LOGNAME || env.USER || env.LNAME || env.USERNAME || userInfo().username;

    beforeAll(() => requireTool('script'));

    it('prompts for user (OS login name as default), hidden password twice, and admin', async () => {
      const r = await interact(['-k', SHARED_SECRET, s.url], [
        [`New user localpart [${loginName}]: `, 'prompted'],
        ['Password: ', 'sekrit-typed'],
        ['Confirm password: ', 'sekrit-typed'],
        ['Make admin [no]: ', 'yes'],
      ]);
      expect(r.code).toBe(0);
      expect(r.transcript).toContain('Success!');
      expect(r.transcript).not.toContain('sekrit-typed'); // never echoed
      expect((await user('@prompted:localhost')).body.admin).toBe(true);
      expect(await canLogin('prompted', 'sekrit-typed')).toBe(true);
    });

    it('refuses mismatching passwords, and "Make admin" defaults to no', async () => {
      const bad = await interact(['-k', SHARED_SECRET, '-u', 'mismatch', s.url], [
        ['Password: ', 'one'],
        ['Confirm password: ', 'two'],
      ]);
      expect(bad.code).toBe(1);
      expect(bad.transcript).toContain('Passwords do not match');
      expect((await user('@mismatch:localhost')).status).toBe(404);

      const blank = await interact(['-k', SHARED_SECRET, '-u', 'blank', s.url], [['Password: ', '']]);
      expect(blank.code).toBe(1);
      expect(blank.transcript).toContain('Password cannot be blank.');

      const normal = await interact(['-k', SHARED_SECRET, '-u', 'defaultno', '-p', 'pw', s.url], [['Make admin [no]: ', '']]);
      expect(normal.code).toBe(0);
      expect((await user('@defaultno:localhost')).body.admin).toBe(false);
    });
  });
});
