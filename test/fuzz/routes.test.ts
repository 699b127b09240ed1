import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { adminRoutes, clientRoutes, federationRoutes, wellKnownRoutes } from '../../src/api/index.js';
import { MatrixError } from '../../src/errors.js';
import { checkBody } from '../../src/http/body-schema.js';
import type { RouteDef } from '../../src/http/route.js';
import { startServer, type TestUser } from '../harness/server.js';
import { QUERY_NAMES, bodyText, bodyValue, encodeSegment, nastyStrings } from './arbitraries.js';
import { changedTables, openDigester } from './digest.js';

/**
 * Property-based fuzzing of every registered route, taken from the route table (so a new route is
 * fuzzed the day it is added): path parameters, query parameters and bodies filled with wrong
 * types, edge numbers, empty and 1 MB strings, NUL, lone surrogates, deep nesting, duplicate keys
 * and bytes that are not UTF-8, sent with no token, a user's and an admin's. Every answer must be
 * below 500 and Matrix JSON when it is an error; a refused request (4xx) must change no row (see
 * digest.ts for the few tables refused requests write by design); the server must still answer.
 *
 * Bounded and seeded for `npm test`; `npm run fuzz` runs longer (AXON_FUZZ_RUNS per route,
 * AXON_FUZZ_SEED). A failure prints the seed and the request to replay it.
 */

const RUNS = Number(process.env.AXON_FUZZ_RUNS ?? 12);
const SEED = Number(process.env.AXON_FUZZ_SEED ?? 20_240_601);

const s = await startServer();
afterAll(async () => {
  await digester.close();
  await s.close();
});
const digester = await openDigester(s);

let serial = 0;
const fresh = async (admin: boolean) => s.registerUser(`fuzz${admin ? 'admin' : 'user'}${serial++}`, { admin });
const tokens: { user: TestUser; admin: TestUser } = { user: await fresh(false), admin: await fresh(true) };
const victims = [await s.registerUser('victim1'), await s.registerUser('victim2', { admin: true })];

/** A real room (the fuzzing user joined, one message in it), so room routes reach past the room look-up. */
const room = await (async () => {
  const owner = await s.registerUser('roomowner');
  const created = await s.request('POST', '/_matrix/client/v3/createRoom', { token: owner.accessToken, body: { preset: 'public_chat', name: 'fuzz' } });
  const roomId = created.body.room_id as string;
  await s.request('POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: tokens.user.accessToken, body: {} });
  const sent = await s.request('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/f1`, {
    token: owner.accessToken,
    body: { msgtype: 'm.text', body: 'hello' },
  });
  return { roomId, eventId: sent.body.event_id as string, owner: owner.userId };
})();
let baseline = await digester.digest();

/** Every (method, path) the app serves, from the same tables build-app.ts mounts. */
const routes: Array<{ method: string; path: string; def: RouteDef }> = [];
for (const def of [...clientRoutes(s.ctx), ...adminRoutes(s.ctx), ...wellKnownRoutes(s.ctx), ...federationRoutes(s.ctx)]) {
  for (const method of ([] as string[]).concat(def.method)) for (const path of ([] as string[]).concat(def.path)) routes.push({ method, path, def });
}

/** Plausible values per parameter name, mixed with hostile ones. */
function paramValue(name: string): fc.Arbitrary<string> {
  const plausible: Record<string, string[]> = {
    userId: [victims[0]!.userId, victims[1]!.userId, '@nobody:localhost', '@someone:other.example'],
    deviceId: [victims[0]!.deviceId, 'NODEVICE'],
    type: ['m.test', 'm.push_rules', 'm.room.message', 'm.room.topic', 'm.room.power_levels', 'm.room.member', 'm.room.canonical_alias'],
    roomId: [room.roomId, '!room:localhost'],
    roomIdOrAlias: [room.roomId, '#nope:localhost'],
    eventId: [room.eventId, '$nope'],
    stateKey: ['', room.owner, victims[0]!.userId],
    txnId: ['t1', 't2'],
    token: ['abcd', 'NOTOKEN'],
    medium: ['email', 'msisdn'],
    address: ['a@example.org'],
    provider: ['oidc'],
    externalId: ['ext1'],
    keyId: ['ed25519:a_key'],
  };
  const raw = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...(plausible[name] ?? ['x'])).map(encodeSegment) },
    { weight: 3, arbitrary: fc.constantFrom(...nastyStrings).map(encodeSegment) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map(encodeSegment) },
    { weight: 1, arbitrary: fc.constantFrom('%FF', '%ED%A0%80', '%zz', '%', '%2F', '..') },
  );
  return raw;
}

const queryValue = fc.oneof(
  fc.constantFrom('true', 'false', '0', '1', '10', '-1', '1.5', '99999999999999999999', 'b', 'f', 'name', 'admin', 'creation_ts', 'user', 'guest', 'bot'),
  fc.constantFrom(...nastyStrings).map((v) => encodeSegment(v.slice(0, 300))),
  fc.constantFrom('%FF', '%ED%A0%80', '%zz', '%00'),
);
const query = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_NAMES), fc.constantFrom('%00', '%ED%A0%80', 'x')), queryValue), { maxLength: 4 })
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));

const who = fc.constantFrom('none', 'user', 'admin', 'garbage') as fc.Arbitrary<'none' | 'user' | 'admin' | 'garbage'>;

/** Replaces tokens or admins a successful request logged out, deactivated or demoted. */
async function reprovision(): Promise<boolean> {
  let changed = false;
  for (const kind of ['user', 'admin'] as const) {
    const t = tokens[kind];
    const ok = kind === 'admin'
      ? (await s.request('GET', `/_synapse/admin/v1/users/${encodeURIComponent(t.userId)}/admin`, { token: t.accessToken })).status === 200
      : (await s.request('GET', '/_matrix/client/v3/account/whoami', { token: t.accessToken })).status === 200;
    if (!ok) {
      tokens[kind] = await fresh(kind === 'admin');
      changed = true;
    }
  }
  return changed;
}

/** Routes that never read a body (Synapse ignores any). */
const BODILESS = new Set([
  'POST /_matrix/client/v3/logout',
  'POST /_matrix/client/r0/logout',
  'POST /_matrix/client/v3/logout/all',
  'POST /_matrix/client/r0/logout/all',
  'POST /_synapse/admin/v1/users/:userId/shadow_ban',
  'DELETE /_synapse/admin/v1/users/:userId/shadow_ban',
  'DELETE /_synapse/admin/v1/users/:userId/override_ratelimit',
  'DELETE /_synapse/admin/v2/users/:userId/devices/:deviceId',
  'DELETE /_synapse/admin/v1/registration_tokens/:token',
  'DELETE /_synapse/admin/v1/rooms/:roomId/forward_extremities',
  'DELETE /_synapse/admin/v1/event_reports/:reportId',
  'DELETE /_synapse/admin/v1/user_reports/:reportId',
  // Synapse ignores the body of reset_connection.
  'POST /_synapse/admin/v1/federation/destinations/:destination/reset_connection',
  // Removing a room tag reads no body (Synapse's RoomTagServlet).
  'DELETE /_matrix/client/v3/user/:userId/rooms/:roomId/tags/:tag',
  'DELETE /_matrix/client/r0/user/:userId/rooms/:roomId/tags/:tag',
  // Media uploads take raw bytes of any type, not JSON; create ignores its body as Synapse does.
  'POST /_matrix/media/v3/upload',
  'POST /_matrix/media/r0/upload',
  'PUT /_matrix/media/v3/upload/:serverName/:mediaId',
  'PUT /_matrix/media/r0/upload/:serverName/:mediaId',
  'POST /_matrix/media/v1/create',
  'DELETE /_matrix/client/v3/pushrules/*',
  'DELETE /_matrix/client/r0/pushrules/*',
  // The media Admin API ignores bodies, as Synapse does (tools send `{}`).
  'DELETE /_synapse/admin/v1/users/:userId/media',
  'POST /_synapse/admin/v1/media/quarantine/:serverName/:mediaId',
  'POST /_synapse/admin/v1/media/unquarantine/:serverName/:mediaId',
  'POST /_synapse/admin/v1/room/:roomId/media/quarantine',
  'POST /_synapse/admin/v1/quarantine_media/:roomId',
  'POST /_synapse/admin/v1/user/:userId/media/quarantine',
  'POST /_synapse/admin/v1/media/protect/:mediaId',
  'POST /_synapse/admin/v1/media/unprotect/:mediaId',
  'POST /_synapse/admin/v1/media/delete',
  'POST /_synapse/admin/v1/media/:serverName/delete',
  'POST /_synapse/admin/v1/purge_media_cache',
  'DELETE /_synapse/admin/v1/media/:serverName/:mediaId',
]);

describe('declared body schemas', () => {
  it('every route that reads a body declares its schema (so the fuzz and API descriptions see it)', () => {
    const missing = routes.filter((r) => r.method !== 'GET' && !r.def.body && !BODILESS.has(`${r.method} ${r.path}`)).map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
  });

  it('every schema uses only keywords the checker knows, and accepts what it generates', () => {
    for (const r of routes.filter((x) => x.def.body)) {
      for (const value of fc.sample(bodyValue(r.def.body!), { numRuns: 20, seed: SEED })) {
        try {
          checkBody(r.def.body!, value);
        } catch (e) {
          // An unsupported keyword is a plain Error (a 500 at run time); a Matrix error means a
          // generated value the schema itself refuses, which fromSchema must not produce.
          expect.fail(`${r.method} ${r.path}: ${e instanceof MatrixError ? `refused its own value ${JSON.stringify(value)}` : String(e)}`);
        }
      }
    }
  });
});

describe.each(routes.map((r) => [`${r.method} ${r.path}`, r] as const))('fuzz %s', (_name, route) => {
  it('no 5xx; a refused request changes no row', { timeout: Math.max(120_000, RUNS * 2_000) }, async () => {
    const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    const request = fc.record({
      who,
      params: fc.tuple(...params.map(paramValue), fc.constant('')),
      query,
      body: route.method === 'GET' ? fc.constant(undefined) : bodyText(route.def.body),
    });
    // One seed per route, so a route's runs do not shift when another route is added.
    let h = SEED;
    for (const ch of `${route.method} ${route.path}`) h = (Math.imul(h, 31) + ch.charCodeAt(0)) | 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        let i = 0;
        const path = route.path.replace(/:(\w+)/g, () => r.params[i++]!);
        const token = r.who === 'none' ? undefined : r.who === 'garbage' ? 'syt_garbage' : tokens[r.who].accessToken;
        const res = await fetch(s.url + path + r.query, {
          method: route.method,
          headers: token ? { authorization: `Bearer ${token}` } : {},
          body: r.body,
        });
        const text = await res.text();
        const what = `${route.method} ${path}${r.query} as ${r.who}: ${res.status} ${text.slice(0, 200)}`;
        expect(res.status, what).toBeLessThan(500);
        if (res.status >= 400) {
          // Every refusal is Matrix JSON: an error, or a user-interactive-auth challenge (401 with flows).
          const body = JSON.parse(text) as { errcode?: unknown; flows?: unknown };
          expect(typeof body.errcode === 'string' || (res.status === 401 && Array.isArray(body.flows)), what).toBe(true);
          const after = await digester.digest();
          expect(changedTables(baseline, after), `${what}\nchanged rows although refused`).toEqual([]);
        } else {
          await reprovision();
          baseline = await digester.digest();
        }
      }),
      { seed: h, numRuns: RUNS, endOnFailure: true },
    );
    // Still answering.
    expect((await s.request('GET', '/_matrix/client/versions')).status).toBe(200);
  });
});
