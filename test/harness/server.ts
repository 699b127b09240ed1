import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import pino from 'pino';
import { normalizeConfig } from '../../src/config/load.js';
import { createContext, generateSigningKeyText, type Context } from '../../src/context.js';
import { buildApp } from '../../src/http/build-app.js';
import { readLogConfig } from '../../src/config/log-config.js';
import { createLogger } from '../../src/http/logging.js';
import { registrationMac } from '../../src/matrix/registration-mac.js';

/**
 * Starts a real Axon on a fresh database and a random port, for black-box tests over HTTP.
 * The engine comes from AXON_TEST_DB (sqlite, the default, or postgres at DATABASE_URL).
 */

export const TEST_DB = (process.env.AXON_TEST_DB ?? 'sqlite') as 'sqlite' | 'postgres';
export const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const SHARED_SECRET = 'test-shared-secret';
export const SERVER_NAME = 'localhost';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Sent as-is instead of JSON-encoding `body`. */
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface TestUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
}

export interface TestServer {
  url: string;
  ctx: Context;
  dialect: 'sqlite' | 'postgres';
  /** SQLite file path, or PostgreSQL database name. */
  database: string;
  /** A PostgreSQL connection string for the test database (postgres only). */
  databaseUrl?: string;
  request<T = any>(method: string, path: string, opts?: RequestOptions): Promise<ApiResponse<T>>;
  /** Registers a user through shared-secret registration (the real HTTP flow). */
  registerUser(localpart: string, opts?: { admin?: boolean; password?: string; userType?: string }): Promise<TestUser>;
  login(user: string, password: string): Promise<TestUser>;
  /** Stops the server (as a shutdown would) but keeps its database, for a `secondInstance` to reopen. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

async function createPgDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `axon_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function startServer(overrides: Record<string, unknown> = {}): Promise<TestServer> {
  let database: string;
  let databaseUrl: string | undefined;
  let cleanup: () => Promise<void>;
  let dbConfig: Record<string, unknown>;
  if (TEST_DB === 'postgres') {
    const pgdb = await createPgDatabase();
    database = pgdb.name;
    databaseUrl = pgdb.url;
    const u = new URL(pgdb.url);
    dbConfig = {
      name: 'psycopg2',
      args: { user: decodeURIComponent(u.username) || 'postgres', host: u.hostname, port: Number(u.port || 5432), database: pgdb.name, cp_min: 1, cp_max: 10 },
    };
    cleanup = pgdb.drop;
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'axon-test-'));
    database = join(dir, 'homeserver.db');
    dbConfig = { name: 'sqlite3', args: { database } };
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  }
  // Each server's media store in its own temporary folder (removed with the server).
  const mediaStore = mkdtempSync(join(tmpdir(), 'axon-media-'));
  const dropDatabase = cleanup;
  cleanup = async () => {
    rmSync(mediaStore, { recursive: true, force: true });
    await dropDatabase();
  };
  const config = normalizeConfig({
    media_store_path: mediaStore,
    server_name: SERVER_NAME,
    public_baseurl: 'http://localhost:8008/',
    registration_shared_secret: SHARED_SECRET,
    bcrypt_rounds: 4,
    enable_registration: true,
    enable_registration_without_verification: true,
    // Rate limits high enough that no test is limited unless it sets its own rc_* keys.
    rc_message: { per_second: 1000, burst_count: 1000 },
    rc_registration: { per_second: 1000, burst_count: 1000 },
    rc_login: {
      address: { per_second: 1000, burst_count: 1000 },
      account: { per_second: 1000, burst_count: 1000 },
      failed_attempts: { per_second: 1000, burst_count: 1000 },
    },
    database: dbConfig,
    ...overrides,
  });
  // Silent unless the test gives a `log_config` (then logged as bin/axon would).
  const log = config.logConfig ? createLogger({ settings: readLogConfig(config.logConfig) }) : pino({ level: 'silent' });
  const ctx = await createContext(config, { log, signingKeyText: generateSigningKeyText() });
  // Served like the config's first listener (its `x_forwarded` decides where the client IP comes from).
  const app = buildApp(ctx, { xForwarded: config.listeners[0]?.xForwarded });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  const request = async <T>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined = opts.rawBody;
    if (body === undefined && opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  };

  let stopped = false;
  const server: TestServer = {
    url,
    ctx,
    dialect: TEST_DB,
    database,
    databaseUrl,
    request,
    async registerUser(localpart, opts = {}) {
      const password = opts.password ?? `pw-${localpart}`;
      const nonce = (await request('GET', '/_synapse/admin/v1/register')).body.nonce as string;
      const admin = opts.admin ?? false;
      const res = await request('POST', '/_synapse/admin/v1/register', {
        body: {
          nonce,
          username: localpart,
          password,
          admin,
          user_type: opts.userType ?? null,
          mac: registrationMac(SHARED_SECRET, nonce, localpart, password, admin, opts.userType ?? null),
        },
      });
      if (res.status !== 200) throw new Error(`registerUser ${localpart}: ${res.status} ${res.text}`);
      return { userId: res.body.user_id, accessToken: res.body.access_token, deviceId: res.body.device_id, password };
    },
    async login(user, password) {
      const res = await request('POST', '/_matrix/client/v3/login', {
        body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password },
      });
      if (res.status !== 200) throw new Error(`login ${user}: ${res.status} ${res.text}`);
      return { userId: res.body.user_id, accessToken: res.body.access_token, deviceId: res.body.device_id, password };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.close();
      await ctx.close();
    },
    async close() {
      await server.stop();
      await cleanup();
    },
  };
  return server;
}

/** Runs SQL on the test server's database through a separate connection (as an operator would). */
export async function runSql(server: TestServer, statement: string): Promise<void> {
  if (server.dialect === 'postgres') {
    const c = new pg.Client({ connectionString: server.databaseUrl });
    await c.connect();
    await c.query(statement);
    await c.end();
  } else {
    const { default: Sqlite } = await import('better-sqlite3');
    const db = new Sqlite(server.database);
    db.exec(statement);
    db.close();
  }
}

/** Runs a query on the test server's database through a separate connection and returns its rows. */
export async function querySql<T = Record<string, unknown>>(server: TestServer, statement: string): Promise<T[]> {
  if (server.dialect === 'postgres') {
    const c = new pg.Client({ connectionString: server.databaseUrl });
    await c.connect();
    try {
      return (await c.query(statement)).rows as T[];
    } finally {
      await c.end();
    }
  }
  const { default: Sqlite } = await import('better-sqlite3');
  const db = new Sqlite(server.database, { readonly: true });
  try {
    return db.prepare(statement).all() as T[];
  } finally {
    db.close();
  }
}
