import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestServer } from './server.js';

export interface SynadmResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON, when it is JSON. */
  json: any;
}

/**
 * Runs Debian's synadm (a real Synapse admin client) against a test server, non-interactively,
 * with a config file naming the server, the admin's token and JSON output.
 */
export function synadmRunner(server: TestServer, admin: { userId: string; accessToken: string }) {
  const dir = mkdtempSync(join(tmpdir(), 'axon-synadm-'));
  const config = join(dir, 'synadm.yaml');
  writeFileSync(
    config,
    [
      `user: "${admin.userId}"`,
      `token: "${admin.accessToken}"`,
      `base_url: "${server.url}"`,
      'admin_path: "/_synapse/admin"',
      'matrix_path: "/_matrix"',
      'timeout: 30',
      'server_discovery: "well-known"',
      'homeserver: "localhost"',
      'format: "json"',
      '',
    ].join('\n'),
  );
  return (...args: string[]): Promise<SynadmResult> =>
    new Promise((resolve, reject) => {
      const child = spawn('synadm', ['--batch', '-c', config, '-o', 'json', ...args], {
        env: { ...process.env, HOME: dir, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => {
        let json: unknown;
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
        resolve({ code: code ?? -1, stdout, stderr, json });
      });
    });
}
