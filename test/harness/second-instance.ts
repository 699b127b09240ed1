import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { normalizeConfig } from '../../src/config/load.js';
import { createContext, generateSigningKeyText } from '../../src/context.js';
import { buildApp } from '../../src/http/build-app.js';
import { NO_RATE_LIMITS } from './ratelimits.js';
import { SERVER_NAME, SHARED_SECRET, type TestServer } from './server.js';

/** Another Axon on the same database, sharing nothing in memory with the first (a restarted or second process). */
export async function secondInstance(s: TestServer, overrides: Record<string, unknown> = {}) {
  const database =
    s.dialect === 'postgres'
      ? (() => {
          const u = new URL(s.databaseUrl!);
          return { name: 'psycopg2', args: { user: decodeURIComponent(u.username) || 'postgres', host: u.hostname, port: Number(u.port || 5432), database: s.database } };
        })()
      : { name: 'sqlite3', args: { database: s.database } };
  const config = normalizeConfig({
    server_name: SERVER_NAME,
    registration_shared_secret: SHARED_SECRET,
    bcrypt_rounds: 4,
    enable_registration: true,
    enable_registration_without_verification: true,
    database,
    ...NO_RATE_LIMITS,
    ...overrides,
  });
  const ctx = await createContext(config, { log: pino({ level: 'silent' }), signingKeyText: generateSigningKeyText() });
  const app = buildApp(ctx, {});
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    async request(method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
      const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async close() {
      await app.close();
      await ctx.close();
    },
  };
}

