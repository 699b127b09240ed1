import { existsSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, freePort, loadConfigFiles, runBin, startProcess, tempDir, type RunningProcess } from '../harness/cli.js';

// The `axon` command: Synapse's --generate-config flow, start-up, config validation and layering.
describe('axon command', () => {
  let root: string;
  let n = 0;
  const running: RunningProcess[] = [];
  const fresh = () => {
    const d = join(root, `case${n++}`);
    mkdirSync(d);
    return d;
  };
  const generate = async (dir: string, serverName = 'example.org') => {
    const path = join(dir, 'homeserver.yaml');
    const r = await runBin(BIN.axon, ['--generate-config', '-H', serverName, '-c', path, '--report-stats', 'no'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return { path, result: r };
  };
  /** Points the generated listener at a free port (the generated one is Synapse's 8008). */
  const usePort = (path: string, port: number) => writeFileSync(path, readFileSync(path, 'utf8').replace('port: 8008', `port: ${port}`));
  const start = (args: string[], cwd: string) => {
    const p = startProcess(process.execPath, [BIN.axon, ...args], { cwd, env: { AXON_LOG_LEVEL: 'info' } });
    running.push(p);
    return p;
  };
  const logLines = (p: RunningProcess) =>
    p.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string });

  beforeAll(() => {
    ensureBuilt();
    root = tempDir('axon-cmd');
  });
  afterAll(async () => {
    for (const p of running) await p.stop('SIGKILL');
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('--generate-config writes a config (and signing key) that loads as Synapse would generate it', async () => {
    const dir = fresh();
    const { path, result } = await generate(dir);
    expect(result.stdout).toContain(`A config file has been generated in '${path}' for server name 'example.org'. Please review this file and customise it to your needs.`);
    expect(statSync(path).mode & 0o777).toBe(0o600); // it holds secrets

    const { config, ignoredKeys } = loadConfigFiles([path]);
    expect(ignoredKeys).toEqual([]);
    expect(config.serverName).toBe('example.org');
    expect(config.database).toEqual({ kind: 'sqlite', path: join(dir, 'data', 'homeserver.db') });
    expect(config.mediaStorePath).toBe(join(dir, 'data', 'media_store'));
    expect(config.registrationSharedSecret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(config.listeners).toEqual([
      { port: 8008, bindAddresses: ['::1', '127.0.0.1'], type: 'http', tls: false, xForwarded: true, resources: ['client', 'federation'] },
    ]);
    expect(config.signingKeyPath).toBe(join(dir, 'example.org.signing.key'));
    expect(readFileSync(config.signingKeyPath, 'utf8')).toMatch(/^ed25519 a_[A-Za-z0-9]+ [A-Za-z0-9+/]{43}\n$/);
    expect(statSync(config.signingKeyPath).mode & 0o777).toBe(0o600);

    // Every generated secret is random.
    const other = loadConfigFiles([(await generate(fresh())).path]).config;
    expect(other.registrationSharedSecret).not.toBe(config.registrationSharedSecret);
    expect(readFileSync(other.signingKeyPath, 'utf8')).not.toBe(readFileSync(config.signingKeyPath, 'utf8'));
  });

  it('never overwrites an existing config, but recreates a missing signing key', async () => {
    const dir = fresh();
    const { path } = await generate(dir);
    const before = readFileSync(path, 'utf8');
    const keyPath = join(dir, 'example.org.signing.key');
    unlinkSync(keyPath);
    const again = await runBin(BIN.axon, ['--generate-config', '-H', 'other.example', '-c', path, '--report-stats', 'yes']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Config file '${path}' already exists. Generating any missing config files.`);
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(readFileSync(keyPath, 'utf8')).toMatch(/^ed25519 /);
  });

  it('--generate-config without -H, --report-stats or -c fails as Synapse does, writing nothing', async () => {
    const dir = fresh();
    const path = join(dir, 'homeserver.yaml');
    const noName = await runBin(BIN.axon, ['--generate-config', '-c', path, '--report-stats', 'no']);
    expect(noName.code).toBe(1);
    expect(noName.stderr.trim()).toBe('Must specify a server_name to a generate config for.');

    const noStats = await runBin(BIN.axon, ['--generate-config', '-H', 'example.org', '-c', path]);
    expect(noStats.code).toBe(2);
    expect(noStats.stderr).toContain('Please specify either --report-stats=yes or --report-stats=no');

    const badStats = await runBin(BIN.axon, ['--generate-config', '-H', 'example.org', '-c', path, '--report-stats', 'maybe']);
    expect(badStats.code).toBe(2);
    expect(badStats.stderr).toContain("argument --report-stats: invalid choice: 'maybe' (choose from 'yes', 'no')");

    const noPath = await runBin(BIN.axon, ['--generate-config', '-H', 'example.org', '--report-stats', 'no'], { cwd: dir });
    expect(noPath.code).toBe(1);
    expect(noPath.stderr).toContain('Must supply a config file.');
    expect(existsSync(path)).toBe(false);
  });

  it('starts from a generated config, serves the Admin API, and its admin hint works as printed', async () => {
    const dir = fresh();
    const { path } = await generate(dir);
    const port = await freePort();
    usePort(path, port);
    const axon = start(['-c', path], dir);
    await axon.waitFor(/started for example\.org/);

    const res = await fetch(`http://127.0.0.1:${port}/_synapse/admin/v1/server_version`);
    expect(res.status).toBe(200);
    expect(typeof ((await res.json()) as { server_version: unknown }).server_version).toBe('string');

    // The first log lines tell the operator how to make an admin, with commands that work verbatim.
    const lines = logLines(axon).map((l) => l.msg);
    const hint = lines.find((l) => l.startsWith('To create an admin, run: '));
    expect(hint).toBe(`To create an admin, run: ${BIN.registerNewMatrixUser} -c ${path} -u <name> -a`);
    expect(lines.indexOf(hint!)).toBeLessThan(6);
    expect(lines).toContain(
      `Or make an existing user an admin in the database (sqlite3 ${join(dir, 'data', 'homeserver.db')}): UPDATE users SET admin = 1 WHERE name = '@<name>:example.org';`,
    );
    const [cmd, ...args] = hint!.slice('To create an admin, run: '.length).replace('<name>', 'opadmin').split(' ');
    const reg = await runBin(cmd!, [...args, '-p', 'op-pw'], { cwd: root });
    expect(reg.stdout).toBe('Sending registration request...\nSuccess!\n');
    expect(reg.code).toBe(0);

    const login = await fetch(`http://127.0.0.1:${port}/_matrix/client/v3/login`, {
      method: 'POST',
      body: JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'opadmin' }, password: 'op-pw' }),
    });
    const token = ((await login.json()) as { access_token: string }).access_token;
    const me = await fetch(`http://127.0.0.1:${port}/_synapse/admin/v2/users/@opadmin:example.org`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { admin: boolean }).admin).toBe(true);

    const ended = await axon.stop('SIGTERM');
    expect(ended.code).toBe(0);
  });

  it('a bad value fails start-up with a message naming the key', async () => {
    const dir = fresh();
    const cases: Array<[string, string]> = [
      ['listeners: [{port: "x"}]', "'listeners/0/port'"],
      ['listeners: [{port: 70000}]', "'listeners/0/port'"],
      ['enable_registration: maybe', "'enable_registration'"],
      ['database: {name: mysql}', "'database/name'"],
    ];
    for (const [yaml, key] of cases) {
      const path = join(dir, 'bad.yaml');
      writeFileSync(path, `server_name: example.org\n${yaml}\n`);
      const r = await runBin(BIN.axon, ['-c', path], { cwd: dir });
      expect(r.code, yaml).toBe(1);
      expect(r.stderr).toContain(key);
      expect(r.stdout).not.toContain('started for');
    }
    const missing = await runBin(BIN.axon, ['-c', join(dir, 'absent.yaml')], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('absent.yaml');
  });

  it('-c a.yaml -c b.yaml: later top-level keys win; unknown keys are logged, not fatal', async () => {
    const dir = fresh();
    const { path: a } = await generate(dir);
    const port = await freePort();
    const b = join(dir, 'b.yaml');
    writeFileSync(
      b,
      `server_name: b.example
listeners:
  - port: ${port}
    bind_addresses: ['127.0.0.1']
    type: http
    resources: [{names: [client]}]
frobnicate: yes
experimental_features: {msc9999_enabled: true}
`,
    );
    const axon = start(['-c', a, '-c', b], dir);
    await axon.waitFor(/started for b\.example/);
    const res = await fetch(`http://127.0.0.1:${port}/_synapse/admin/v1/server_version`);
    expect(res.status).toBe(200);
    const warn = logLines(axon).find((l) => l.msg.startsWith('Ignoring config keys'));
    expect(warn).toEqual(expect.objectContaining({ level: 40, msg: 'Ignoring config keys Axon does not use: frobnicate, experimental_features' }));
    expect((await axon.stop()).code).toBe(0);
  });

  it('-c DIRECTORY reads its *.yaml files in name order, skipping dot-files', async () => {
    const dir = fresh();
    const conf = join(dir, 'conf.d');
    mkdirSync(conf);
    writeFileSync(join(conf, '00-base.yaml'), 'server_name: example.org\nlisteners: [{port: 1, type: http}]\n');
    writeFileSync(join(conf, '10-override.yaml'), 'bcrypt_rounds: 99\n');
    writeFileSync(join(conf, '.hidden.yaml'), 'bcrypt_rounds: "hidden"\n');
    writeFileSync(join(conf, 'notes.txt'), 'bcrypt_rounds: "txt"\n');
    const r = await runBin(BIN.axon, ['-c', conf], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("'bcrypt_rounds'"); // 99 > 31, from 10-override.yaml
    expect(r.stderr).not.toContain('hidden');
  });
});
