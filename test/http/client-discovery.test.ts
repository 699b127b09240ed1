import { createPublicKey, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';

/** Canonical JSON, written independently of the server's implementation. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const publicKey = (b64: string) => createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(b64, 'base64')]), format: 'der', type: 'spki' });

describe('Discovery: versions, capabilities, well-known, key server', () => {
  let s: TestServer;
  let alice: TestUser;

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    alice = await s.registerUser('alice');
  });
  afterAll(async () => s?.close());

  it('GET /_matrix/client/versions lists Synapse 1.94\'s spec versions, without auth', async () => {
    const res = await s.request('GET', '/_matrix/client/versions');
    expect(res.status).toBe(200);
    expect(res.body.versions).toEqual(['r0.0.1', 'r0.1.0', 'r0.2.0', 'r0.3.0', 'r0.4.0', 'r0.5.0', 'r0.6.0', 'r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6']);
    expect(typeof res.body.unstable_features).toBe('object');
    expect(specErrors('client-server', '/versions', 'get', 200, res.body)).toEqual([]);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('GET /capabilities: room versions 1-11 stable, default 10, and the account switches', async () => {
    const res = await s.request('GET', `${V3}/capabilities`, { token: alice.accessToken });
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/capabilities', 'get', 200, res.body)).toEqual([]);
    const caps = res.body.capabilities;
    expect(caps['m.room_versions'].default).toBe('10');
    expect(caps['m.room_versions'].available).toEqual(Object.fromEntries(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'].map((v) => [v, 'stable'])));
    expect(caps['m.change_password']).toEqual({ enabled: true });
    expect(caps['m.set_displayname']).toEqual({ enabled: true });
    expect(caps['m.set_avatar_url']).toEqual({ enabled: true });
    expect(caps['m.3pid_changes']).toEqual({ enabled: true });
    expect((await s.request('GET', '/_matrix/client/r0/capabilities', { token: alice.accessToken })).status).toBe(200);
  });

  it('GET /capabilities needs a token', async () => {
    const res = await s.request('GET', `${V3}/capabilities`);
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('GET /.well-known/matrix/client gives public_baseurl when set; matrix/server is off by default (404 M_UNRECOGNIZED)', async () => {
    const client = await s.request('GET', '/.well-known/matrix/client');
    expect(client.status).toBe(200);
    expect(client.body).toEqual({ 'm.homeserver': { base_url: 'http://localhost:8008/' } });
    expect(client.headers.get('access-control-allow-origin')).toBe('*');
    expect(specErrors('client-server', '/matrix/client', 'get', 200, client.body)).toEqual([]);
    const server = await s.request('GET', '/.well-known/matrix/server');
    expect(server.status).toBe(404);
    expect(server.body).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
  });

  it('GET /_matrix/key/v2/server: the signing key, valid for a day, signed over canonical JSON', async () => {
    const before = Date.now();
    const res = await s.request('GET', '/_matrix/key/v2/server');
    expect(res.status).toBe(200);
    expect(specErrors('server-server', '/server', 'get', 200, res.body)).toEqual([]);
    const body = res.body as {
      server_name: string;
      valid_until_ts: number;
      verify_keys: Record<string, { key: string }>;
      old_verify_keys: Record<string, unknown>;
      signatures: Record<string, Record<string, string>>;
    };
    expect(body.server_name).toBe('localhost');
    expect(body.old_verify_keys).toEqual({});
    expect(body.valid_until_ts).toBeGreaterThanOrEqual(before + 24 * 3600 * 1000 - 5000);
    expect(body.valid_until_ts).toBeLessThanOrEqual(Date.now() + 24 * 3600 * 1000);

    const keyIds = Object.keys(body.verify_keys);
    expect(keyIds).toHaveLength(1);
    const keyId = keyIds[0]!;
    expect(keyId).toMatch(/^ed25519:[A-Za-z0-9_]+$/);
    expect(keyId).toBe(s.ctx.signingKey.keyId);
    expect(body.verify_keys[keyId]!.key).toMatch(/^[A-Za-z0-9+/]{43}$/); // unpadded base64 of 32 bytes

    const sig = body.signatures.localhost?.[keyId];
    expect(sig).toMatch(/^[A-Za-z0-9+/]{86}$/); // unpadded base64 of 64 bytes
    const { signatures: _s, ...signed } = body;
    const message = Buffer.from(canonical(signed), 'utf8');
    const key = publicKey(body.verify_keys[keyId]!.key);
    expect(verify(null, message, key, Buffer.from(sig!, 'base64'))).toBe(true);
    // A tampered body must not verify (the check above is meaningful).
    expect(verify(null, Buffer.from(canonical({ ...signed, valid_until_ts: 1 })), key, Buffer.from(sig!, 'base64'))).toBe(false);
  });

  it('the legacy /_matrix/key/v2/server/{keyId} returns the same keys, whatever the key ID', async () => {
    const plain = await s.request('GET', '/_matrix/key/v2/server');
    const legacy = await s.request('GET', `/_matrix/key/v2/server/${encodeURIComponent('ed25519:whatever')}`);
    expect(legacy.status).toBe(200);
    expect(legacy.body.verify_keys).toEqual(plain.body.verify_keys);
    expect(legacy.body.server_name).toBe('localhost');
  });
});

describe('Discovery with serve_server_wellknown', () => {
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('serves {"m.server": "<server_name>:443"}', async () => {
    a = await startServer({ ...NO_RATE_LIMITS, serve_server_wellknown: true, public_baseurl: 'https://matrix.example.org' });
    const res = await a.request('GET', '/.well-known/matrix/server');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ 'm.server': 'localhost:443' });
    expect(specErrors('server-server', '/matrix/server', 'get', 200, res.body)).toEqual([]);
    // public_baseurl gets its trailing slash.
    expect((await a.request('GET', '/.well-known/matrix/client')).body).toEqual({ 'm.homeserver': { base_url: 'https://matrix.example.org/' } });
  });

  it('keeps an explicit port of server_name', async () => {
    b = await startServer({ ...NO_RATE_LIMITS, serve_server_wellknown: true, server_name: 'example.org:8448' });
    const res = await b.request('GET', '/.well-known/matrix/server');
    expect(res.body).toEqual({ 'm.server': 'example.org:8448' });
  });
});

describe('Discovery without public_baseurl (as a generated config)', () => {
  let c: TestServer | undefined;
  afterAll(async () => c?.close());

  it('GET /.well-known/matrix/client is 404 and login carries no well_known, so clients keep their URL', async () => {
    c = await startServer({ ...NO_RATE_LIMITS, public_baseurl: null });
    const res = await c.request('GET', '/.well-known/matrix/client');
    // Synapse answers 404 ".well-known not available" here: a client then IGNOREs discovery (spec
    // client-server §4.1.1) instead of following a guessed https://<server_name>/.
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: '.well-known not available' });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    await c.registerUser('dora', { password: 'pw-dora-1' });
    const login = await c.request('POST', `${V3}/login`, {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'dora' }, password: 'pw-dora-1' },
    });
    expect(login.status).toBe(200);
    expect(login.body.user_id).toBe('@dora:localhost');
    expect(login.body).not.toHaveProperty('well_known');
  });
});
