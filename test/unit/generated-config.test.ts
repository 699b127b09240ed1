// A generated homeserver.yaml leaves public_baseurl unset (explained in a comment), so the server
// does not advertise a guessed https://<server_name>/ that clients and Ketesa would follow.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateConfig } from '../../src/config/generate.js';
import { normalizeConfig, readConfigFiles } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'axon-gen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generated config and public_baseurl', () => {
  const { configPath } = generateConfig({ configPath: join(dir, 'homeserver.yaml'), serverName: 'localhost', reportStats: false });
  const text = readFileSync(configPath, 'utf8');

  it('leaves public_baseurl commented out, with the reason beside it', () => {
    expect(text).toMatch(/^#public_baseurl: /m);
    expect(text).not.toMatch(/^public_baseurl:/m);
    expect(text).toContain('/.well-known/matrix/client answers 404');
    const config = normalizeConfig(readConfigFiles([configPath]), [configPath]);
    expect(config.serveClientWellknown).toBe(false);
  });

  it('uncommenting it turns the client well-known on, with a trailing slash', () => {
    const set = join(dir, 'with-baseurl.yaml');
    writeFileSync(set, text.replace(/^#public_baseurl: .*$/m, 'public_baseurl: "https://matrix.example.org"'));
    const config = normalizeConfig(readConfigFiles([set]), [set]);
    expect(config.serveClientWellknown).toBe(true);
    expect(config.publicBaseUrl).toBe('https://matrix.example.org/');
  });
});
