import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../harness/cli.js';
import { runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';

/**
 * Errors you can see: a real 500 is logged with everything needed to find it, every request gets
 * one access line, and no access token reaches a log. Logging is configured the way a Synapse
 * operator does it, with a Python logging YAML named by `log_config`.
 */

const dir = tempDir('logging');
const jsonLog = join(dir, 'logs', 'homeserver.json');
const textLog = join(dir, 'homeserver.log');
const logConfig = join(dir, 'log.config');
writeFileSync(
  logConfig,
  `version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
  structured:
    class: synapse.logging.TerseJsonFormatter
handlers:
  json:
    class: logging.FileHandler
    formatter: structured
    filename: logs/homeserver.json
  file:
    class: logging.handlers.TimedRotatingFileHandler
    formatter: precise
    filename: ${textLog}
    when: midnight
    backupCount: 3
  buffer:
    class: synapse.logging.handlers.PeriodicallyFlushingMemoryHandler
    target: file
    capacity: 10
    flushLevel: 30
    period: 5
  errors_only:
    class: logging.FileHandler
    filename: errors.log
    level: ERROR
  sentry:
    class: sentry_sdk.integrations.logging.EventHandler
loggers:
  synapse.storage.SQL:
    level: INFO
root:
  level: INFO
  handlers: [json, buffer, errors_only, sentry]
disable_existing_loggers: false
`,
);

let server: TestServer;
let admin: TestUser;
let user: TestUser;

/** The file's lines once `pred` matches one of them (the logger writes asynchronously). */
async function waitForLine(path: string, pred: (line: string) => boolean, timeoutMs = 5000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
    if (lines.some(pred)) return lines;
    if (Date.now() > deadline) throw new Error(`no matching line in ${path} after ${timeoutMs} ms:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const parse = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, any>);

beforeAll(async () => {
  server = await startServer({ log_config: logConfig });
  admin = await server.registerUser('logadmin', { admin: true });
  user = await server.registerUser('loguser');
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('log_config and logging', () => {
  it('a 500 is logged with request id, method, route, requester, errcode and stack, and no token', async () => {
    await runSql(server, 'DROP TABLE pushers');
    const path = `/_synapse/admin/v1/users/${encodeURIComponent(user.userId)}/pushers`;
    const res = await server.request('GET', `${path}?access_token=${admin.accessToken}`);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Internal server error' });

    const lines = await waitForLine(jsonLog, (l) => l.includes('Request failed'));
    const failure = parse(lines).find((o) => o.msg === 'Request failed')!;
    expect(failure.level).toBe(50);
    expect(failure.name).toBe('axon');
    expect(failure.reqId).toMatch(/^GET-\d+$/);
    expect(failure.method).toBe('GET');
    expect(failure.route).toBe('/_synapse/admin/v1/users/:userId/pushers');
    expect(failure.requester).toBe(admin.userId);
    expect(failure.errcode).toBe('M_UNKNOWN');
    expect(failure.status).toBe(500);
    expect(failure.err.stack).toMatch(/pushers/);
    expect(failure.err.stack).toMatch(/\n\s+at /);
    expect(failure.path).toBe(`${path}?access_token=<redacted>`);

    // The access line of the same request: one line, status, time, redacted URL.
    const access = parse(await waitForLine(jsonLog, (l) => l.includes(failure.reqId) && l.includes('Processed request'))).filter(
      (o) => o.reqId === failure.reqId && o.msg === 'Processed request',
    );
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ name: 'synapse.access.http', method: 'GET', status: 500, requester: admin.userId, path: `${path}?access_token=<redacted>` });
    expect(typeof access[0]!.ms).toBe('number');

    // The text file (through the memory buffer) has the same error with its stack; the
    // ERROR-level file has the error and no access lines.
    const text = (await waitForLine(textLog, (l) => l.includes(failure.reqId) && l.includes('Request failed'))).join('\n');
    expect(text).toMatch(new RegExp(`- axon - ERROR - ${failure.reqId} - Request failed .*errcode=M_UNKNOWN`));
    expect(text).toMatch(/\n\s+at /);
    const errorsOnly = await waitForLine(join(dir, 'errors.log'), (l) => l.includes('Request failed'));
    expect(errorsOnly.join('\n')).not.toContain('Processed request');

    for (const file of [jsonLog, textLog, join(dir, 'errors.log')]) expect(readFileSync(file, 'utf8')).not.toContain(admin.accessToken);
  });

  it('every request gets one access line; a token in the query is redacted however its name is encoded', async () => {
    const whoami = '/_matrix/client/v3/account/whoami';
    // `access%5Ftoken` is decoded by the query parser and authenticates, so it must be redacted too.
    for (const q of [`access_token=${user.accessToken}`, `a=1&access%5Ftoken=${user.accessToken}&b=2`]) {
      const res = await server.request('GET', `${whoami}?${q}`);
      expect(res.status).toBe(200);
    }
    const bad = await server.request('GET', '/_matrix/client/v3/account/whoami', { token: 'nonsense' });
    expect(bad.status).toBe(401);
    // The 401 is the last of the three requests: once its line is written, all are.
    const lines = parse(await waitForLine(jsonLog, (l) => l.includes(`"path":"${whoami}"`) && l.includes('"status":401')));
    const mine = lines.filter((o) => o.msg === 'Processed request' && typeof o.path === 'string' && o.path.startsWith(whoami));
    expect(mine.map((o) => [o.path, o.status, o.requester])).toEqual([
      [`${whoami}?access_token=<redacted>`, 200, user.userId],
      [`${whoami}?a=1&access%5Ftoken=<redacted>&b=2`, 200, user.userId],
      [whoami, 401, null],
    ]);
    expect(readFileSync(jsonLog, 'utf8')).not.toContain(user.accessToken);
    expect(readFileSync(jsonLog, 'utf8')).not.toContain('nonsense');
    expect(readFileSync(textLog, 'utf8')).not.toContain(user.accessToken);
  });

  it('passwords in request bodies never reach a log', async () => {
    const res = await server.request('POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'loguser' }, password: 'Secret-Body-Pw-42' },
    });
    expect(res.status).toBe(403);
    await waitForLine(jsonLog, (l) => l.includes('/_matrix/client/v3/login') && l.includes('"status":403'));
    expect(readFileSync(jsonLog, 'utf8')).not.toContain('Secret-Body-Pw-42');
  });

  it('an unsupported handler class is ignored with a warning, the others still write', async () => {
    const lines = parse(await waitForLine(jsonLog, (l) => l.includes('sentry_sdk')));
    const warning = lines.find((o) => typeof o.msg === 'string' && o.msg.includes('sentry_sdk'))!;
    expect(warning.level).toBe(40);
    expect(warning.msg).toContain("handler 'sentry'");
  });
});
