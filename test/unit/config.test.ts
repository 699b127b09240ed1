import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, normalizeConfig, parseSize, parseYaml, readConfigFiles, unknownKeys } from '../../src/config/load.js';
import { parseYaml11 } from '../../src/config/yaml.js';

const dir = mkdtempSync(join(tmpdir(), 'axon-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const errorOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
};

describe('YAML as PyYAML reads homeserver.yaml', () => {
  it('YAML 1.1 booleans: yes/no/on/off in every case PyYAML knows', () => {
    expect(parseYaml11('a: yes\nb: No\nc: ON\nd: off\ne: True\nf: FALSE\ng: [Yes, NO]')).toEqual({
      a: true,
      b: false,
      c: true,
      d: false,
      e: true,
      f: false,
      g: [true, false],
    });
  });

  it('y and n stay strings (PyYAML does not resolve them), and 1.1 octals are numbers', () => {
    expect(parseYaml11('a: y\nb: n\nc: Y\nd: 0755\ne: "yes"')).toEqual({ a: 'y', b: 'n', c: 'Y', d: 493, e: 'yes' });
  });

  it('boolean keys in a config accept yes/no', () => {
    const raw = parseYaml('server_name: example.org\nenable_registration: yes\nenable_registration_without_verification: on\nserve_server_wellknown: no\n', 'x');
    const c = normalizeConfig(raw);
    expect(c.enableRegistration).toBe(true);
    expect(c.enableRegistrationWithoutVerification).toBe(true);
    expect(c.serveServerWellknown).toBe(false);
  });

  it('an empty file is an empty mapping; a non-mapping or bad syntax is a ConfigError naming the file', () => {
    expect(parseYaml('', 'empty.yaml')).toEqual({});
    const list = errorOf(() => parseYaml('- a\n- b\n', 'list.yaml'));
    expect(list).toBeInstanceOf(ConfigError);
    expect(list.message).toContain('list.yaml');
    const bad = errorOf(() => parseYaml('a: [1, 2\n', 'broken.yaml'));
    expect(bad).toBeInstanceOf(ConfigError);
    expect(bad.message).toContain('broken.yaml: not valid YAML');
  });
});

describe('size strings (max_upload_size)', () => {
  it("parses Synapse's K and M suffixes and plain numbers", () => {
    expect(parseSize('50M', 'k')).toBe(50 * 1024 * 1024);
    expect(parseSize('512K', 'k')).toBe(512 * 1024);
    expect(parseSize('1024', 'k')).toBe(1024);
    expect(parseSize(2048, 'k')).toBe(2048);
    expect(parseSize('1G', 'k')).toBe(1024 ** 3);
  });

  it('rejects anything else, naming the key', () => {
    const e = errorOf(() => parseSize('lots', 'max_upload_size'));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toContain("'max_upload_size'");
    expect(errorOf(() => normalizeConfig({ server_name: 'x', max_upload_size: '1.5M' })).message).toContain('max_upload_size');
  });

  it('applies to max_upload_size, default 50M', () => {
    expect(normalizeConfig({ server_name: 'x', max_upload_size: '10M' }).maxUploadSize).toBe(10 * 1024 * 1024);
    expect(normalizeConfig({ server_name: 'x' }).maxUploadSize).toBe(50 * 1024 * 1024);
  });
});

describe("defaults (Synapse's)", () => {
  const c = normalizeConfig({ server_name: 'example.org' }, [join(dir, 'homeserver.yaml')]);

  it('listener, database and paths', () => {
    expect(c.listeners).toEqual([
      { port: 8008, bindAddresses: ['::1', '127.0.0.1'], type: 'http', tls: false, xForwarded: false, resources: ['client', 'federation'] },
    ]);
    // Relative paths resolve against the (first) config file's folder.
    expect(c.database).toEqual({ kind: 'sqlite', path: join(dir, 'homeserver.db') });
    expect(c.signingKeyPath).toBe(join(dir, 'example.org.signing.key'));
    expect(c.mediaStorePath).toBe(join(dir, 'media_store'));
    expect(c.publicBaseUrl).toBe('https://example.org/');
  });

  it('registration, passwords and rate limits', () => {
    expect(c.registrationSharedSecret).toBeNull();
    expect(c.enableRegistration).toBe(false);
    expect(c.bcryptRounds).toBe(12);
    expect(c.password).toMatchObject({ enabled: true, localdbEnabled: true, pepper: '' });
    expect(c.password.policy).toMatchObject({ enabled: false, minimumLength: 0 });
    expect(c.rateLimits.message).toEqual({ per_second: 0.2, burst_count: 10 });
    expect(c.rateLimits.loginFailedAttempts).toEqual({ per_second: 0.17, burst_count: 3 });
  });

  it('a listener without bind_addresses binds all interfaces; public_baseurl gets a trailing /', () => {
    const d = normalizeConfig({ server_name: 'x', public_baseurl: 'https://m.x', listeners: [{ port: 8448, resources: [{ names: ['federation'] }] }] });
    expect(d.listeners[0]).toMatchObject({ port: 8448, bindAddresses: ['::', '0.0.0.0'], type: 'http', tls: false });
    expect(d.publicBaseUrl).toBe('https://m.x/');
  });
});

describe('validation names the bad key', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ server_name: 'x', listeners: [{ port: 'x' }] }, "'listeners/0/port'"],
    [{ server_name: 'x', listeners: [{ port: 8008 }, { port: 99999 }] }, "'listeners/1/port'"],
    [{ listeners: [] }, "'server_name'"],
    [{ server_name: 'x', bcrypt_rounds: 'many' }, "'bcrypt_rounds'"],
    [{ server_name: 'x', database: { name: 'mysql' } }, "'database/name'"],
  ];
  for (const [raw, key] of cases) {
    it(`${JSON.stringify(raw)} → ${key}`, () => {
      const e = errorOf(() => normalizeConfig(raw));
      expect(e).toBeInstanceOf(ConfigError);
      expect(e.message).toContain(key);
    });
  }
});

describe('registration_shared_secret[_path]', () => {
  it('reads the path, stripped, relative to the config folder', () => {
    file('secret.txt', '\n  s3cret \n');
    expect(normalizeConfig({ server_name: 'x', registration_shared_secret_path: 'secret.txt' }, [join(dir, 'hs.yaml')]).registrationSharedSecret).toBe('s3cret');
  });

  it('both at once, or an unreadable file, is an error naming the key', () => {
    expect(errorOf(() => normalizeConfig({ server_name: 'x', registration_shared_secret: 'a', registration_shared_secret_path: 'secret.txt' })).message).toContain(
      'registration_shared_secret_path',
    );
    expect(errorOf(() => normalizeConfig({ server_name: 'x', registration_shared_secret_path: join(dir, 'nope') })).message).toContain('registration_shared_secret_path');
  });
});

describe('several config files', () => {
  it('later files replace whole top-level keys (shallow merge)', () => {
    const a = file('a.yaml', 'server_name: a.example\ndatabase:\n  name: psycopg2\n  args: {user: synapse, database: synapse}\nbcrypt_rounds: 10\n');
    const b = file('b.yaml', 'server_name: b.example\ndatabase:\n  name: sqlite3\n  args: {database: b.db}\n');
    const merged = readConfigFiles([a, b]);
    expect(merged).toEqual({ server_name: 'b.example', database: { name: 'sqlite3', args: { database: 'b.db' } }, bcrypt_rounds: 10 });
    const { config } = loadConfig([a, b]);
    expect(config.serverName).toBe('b.example');
    expect(config.database).toEqual({ kind: 'sqlite', path: join(dir, 'b.db') });
    expect(config.bcryptRounds).toBe(10);
  });

  it('unknown keys are reported, not fatal', () => {
    const p = file('extra.yaml', 'server_name: x\nfrobnicate: 1\nexperimental_features: {}\n');
    const { config, ignoredKeys } = loadConfig([p]);
    expect(config.serverName).toBe('x');
    expect(ignoredKeys).toEqual(['frobnicate', 'experimental_features']);
    expect(unknownKeys({ server_name: 'x', listeners: [] })).toEqual([]);
  });

  it('a missing file is a ConfigError naming it', () => {
    const e = errorOf(() => readConfigFiles([join(dir, 'missing.yaml')]));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toContain('missing.yaml');
  });
});
