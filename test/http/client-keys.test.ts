import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { specErrors } from '../harness/spec-schema.js';
import { crossSigningKey, deviceKeys, ed25519, type Ed25519 } from '../harness/e2e.js';

const V3 = '/_matrix/client/v3';
/** A sync token in Synapse's shape with the given device-list (and room) position. */
const token = (deviceList: number, room = 0) => `s${room}_0_0_0_0_0_0_${deviceList}_0_0`;

describe('End-to-end keys: upload, query, claim, changes, cross-signing', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  const post = (u: TestUser, path: string, body: unknown) => s.request('POST', `${V3}${path}`, { token: u.accessToken, body });
  const position = () => s.ctx.services.e2eKeys.deviceListPosition;

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    carol = await s.registerUser('carol');
  });
  afterAll(async () => s?.close());

  it('uploads signed device keys and one-time keys, and counts them', async () => {
    const res = await post(alice, '/keys/upload', {
      device_keys: deviceKeys(alice.userId, alice.deviceId),
      one_time_keys: { 'signed_curve25519:AAAAAQ': { key: 'k1' }, 'signed_curve25519:AAAAAg': { key: 'k2' }, 'curve25519:AAAAAw': 'plain' },
    });
    expect(res.status, res.text).toBe(200);
    expect(specErrors('client-server', '/keys/upload', 'post', 200, res.body)).toEqual([]);
    expect(res.body.one_time_key_counts).toEqual({ signed_curve25519: 2, curve25519: 1 });
    // Synapse's tables: one device key row, three one-time keys stored under their key IDs.
    const rows = await querySql(s, `SELECT algorithm, key_id, key_json FROM e2e_one_time_keys_json WHERE user_id = '${alice.userId}' ORDER BY key_id`);
    expect(rows.map((r) => `${r.algorithm}:${r.key_id}`)).toEqual(['signed_curve25519:AAAAAQ', 'signed_curve25519:AAAAAg', 'curve25519:AAAAAw']);
    expect(JSON.parse(rows[2]!.key_json as string)).toBe('plain');
    const dk = await querySql(s, `SELECT device_id FROM e2e_device_keys_json WHERE user_id = '${alice.userId}'`);
    expect(dk).toEqual([{ device_id: alice.deviceId }]);
    // Re-uploading the same key is fine; another key under a used ID is refused.
    expect((await post(alice, '/keys/upload', { one_time_keys: { 'signed_curve25519:AAAAAQ': { key: 'k1' } } })).body.one_time_key_counts.signed_curve25519).toBe(2);
    const clash = await post(alice, '/keys/upload', { one_time_keys: { 'signed_curve25519:AAAAAQ': { key: 'other' } } });
    expect(clash.status).toBe(400);
    // An empty upload reports the counts, signed_curve25519 always present.
    const empty = await post(bob, '/keys/upload', {});
    expect(empty.body).toEqual({ one_time_key_counts: { signed_curve25519: 0 } });
  });

  it('refuses device keys of another user or device, unsigned or badly signed, and malformed bodies', async () => {
    const other = await post(alice, '/keys/upload', { device_keys: deviceKeys(bob.userId, alice.deviceId) });
    expect(other.status).toBe(400);
    expect(other.body.errcode).toBe('M_BAD_JSON');
    const otherDevice = await post(alice, '/keys/upload', { device_keys: deviceKeys(alice.userId, 'SOMEOTHER') });
    expect(otherDevice.status).toBe(400);
    expect(otherDevice.body.errcode).toBe('M_BAD_JSON');
    const { signatures: _s, ...unsigned } = deviceKeys(alice.userId, alice.deviceId);
    expect((await post(alice, '/keys/upload', { device_keys: unsigned })).body.errcode).toBe('M_INVALID_SIGNATURE');
    const forged = { ...deviceKeys(alice.userId, alice.deviceId), algorithms: ['changed.after.signing'] };
    const bad = await post(alice, '/keys/upload', { device_keys: forged });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_SIGNATURE');
    for (const body of [{ device_keys: 'x' }, { one_time_keys: [] }, { one_time_keys: { nocolon: 'k' } }, { fallback_keys: { 'a:b': 5 } }]) {
      const r = await post(alice, '/keys/upload', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect((await s.request('POST', `${V3}/keys/upload`, { token: alice.accessToken, rawBody: 'nope' })).body.errcode).toBe('M_NOT_JSON');
    // Nothing of the refused uploads was stored.
    const n = await querySql(s, `SELECT count(*) AS n FROM e2e_device_keys_json WHERE user_id = '${bob.userId}'`);
    expect(Number(n[0]!.n)).toBe(0);
  });

  it('query answers device keys with display names, all devices or the named ones', async () => {
    await s.request('PUT', `${V3}/devices/${bob.deviceId}`, { token: bob.accessToken, body: { display_name: "Bob's phone" } });
    expect((await post(bob, '/keys/upload', { device_keys: deviceKeys(bob.userId, bob.deviceId) })).status).toBe(200);
    const res = await post(alice, '/keys/query', { device_keys: { [bob.userId]: [], [alice.userId]: [alice.deviceId], '@nobody:localhost': [] } });
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/keys/query', 'post', 200, res.body)).toEqual([]);
    expect(res.body.device_keys[bob.userId][bob.deviceId]).toMatchObject({ user_id: bob.userId, device_id: bob.deviceId, unsigned: { device_display_name: "Bob's phone" } });
    expect(Object.keys(res.body.device_keys[alice.userId])).toEqual([alice.deviceId]);
    expect(res.body.device_keys['@nobody:localhost']).toEqual({});
    expect(res.body.failures).toEqual({});
    // A named device without keys is simply absent.
    const none = await post(alice, '/keys/query', { device_keys: { [bob.userId]: ['NOSUCHDEVICE'] } });
    expect(none.body.device_keys[bob.userId]).toEqual({});
    for (const body of [{}, { device_keys: [] }, { device_keys: { [bob.userId]: 'x' } }, { device_keys: { [bob.userId]: [1] } }]) {
      const r = await post(alice, '/keys/query', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.errcode).toBe('M_BAD_JSON');
    }
  });

  it('claim hands out one-time keys, then the fallback key (marked used) and answers nothing for unknown devices', async () => {
    const dave = await s.registerUser('dave');
    await post(dave, '/keys/upload', {
      one_time_keys: { 'signed_curve25519:A1': { key: 'one', signatures: { [dave.userId]: { [`ed25519:${dave.deviceId}`]: 'sig' } } } },
      fallback_keys: { 'signed_curve25519:F1': { key: 'fallback', fallback: true, signatures: { [dave.userId]: { [`ed25519:${dave.deviceId}`]: 'sig' } } } },
    });
    const ask = { one_time_keys: { [dave.userId]: { [dave.deviceId]: 'signed_curve25519', NODEVICE: 'signed_curve25519' } } };
    const first = await post(alice, '/keys/claim', ask);
    expect(first.status).toBe(200);
    expect(specErrors('client-server', '/keys/claim', 'post', 200, first.body)).toEqual([]);
    expect(first.body).toEqual({ one_time_keys: { [dave.userId]: { [dave.deviceId]: { 'signed_curve25519:A1': expect.objectContaining({ key: 'one' }) } } }, failures: {} });
    expect(await s.ctx.services.e2eKeys.unusedFallbackKeyTypes(dave.userId, dave.deviceId)).toEqual(['signed_curve25519']);
    const second = await post(alice, '/keys/claim', ask);
    expect(second.body.one_time_keys[dave.userId][dave.deviceId]).toEqual({ 'signed_curve25519:F1': expect.objectContaining({ key: 'fallback', fallback: true }) });
    const [fb] = await querySql(s, `SELECT used FROM e2e_fallback_keys_json WHERE user_id = '${dave.userId}'`);
    expect(Boolean(Number(fb!.used)) || fb!.used === true).toBe(true);
    expect(await s.ctx.services.e2eKeys.unusedFallbackKeyTypes(dave.userId, dave.deviceId)).toEqual([]);
    // The fallback key is handed out again until replaced; a new one is unused.
    expect((await post(alice, '/keys/claim', ask)).body.one_time_keys[dave.userId][dave.deviceId]).toHaveProperty(['signed_curve25519:F1']);
    await post(dave, '/keys/upload', { fallback_keys: { 'signed_curve25519:F2': { key: 'fallback2' } } });
    expect(await s.ctx.services.e2eKeys.unusedFallbackKeyTypes(dave.userId, dave.deviceId)).toEqual(['signed_curve25519']);
    for (const body of [{}, { one_time_keys: [] }, { one_time_keys: { [dave.userId]: { X: 5 } } }]) {
      expect((await post(alice, '/keys/claim', body)).status, JSON.stringify(body)).toBe(400);
    }
  });

  it('20 concurrent claims of 10 one-time keys hand each key out once, then the fallback key', async () => {
    const erin = await s.registerUser('erin');
    const otks: Record<string, unknown> = {};
    for (let i = 0; i < 10; i++) otks[`signed_curve25519:K${i}`] = { key: `otk${i}` };
    await post(erin, '/keys/upload', { one_time_keys: otks, fallback_keys: { 'signed_curve25519:FB': { key: 'fb' } } });
    const claims = await Promise.all(
      Array.from({ length: 20 }, () => post(alice, '/keys/claim', { one_time_keys: { [erin.userId]: { [erin.deviceId]: 'signed_curve25519' } } })),
    );
    const got = claims.map((c) => {
      expect(c.status).toBe(200);
      return Object.keys(c.body.one_time_keys[erin.userId][erin.deviceId])[0]!;
    });
    const otkIds = got.filter((k) => k !== 'signed_curve25519:FB');
    expect(otkIds).toHaveLength(10);
    expect(new Set(otkIds).size).toBe(10);
    expect(got.filter((k) => k === 'signed_curve25519:FB')).toHaveLength(10);
    const left = await querySql(s, `SELECT count(*) AS n FROM e2e_one_time_keys_json WHERE user_id = '${erin.userId}'`);
    expect(Number(left[0]!.n)).toBe(0);
  });

  it('keys/changes lists users sharing a room whose devices changed, and who left', async () => {
    const roomId = (await post(alice, '/createRoom', { preset: 'public_chat' })).body.room_id as string;
    expect((await post(bob, `/join/${encodeURIComponent(roomId)}`, {})).status).toBe(200);
    const roomPos = () => s.ctx.services.streamPositions.current;
    const from = position();
    const fromRoom = roomPos();
    // Bob changes his device keys; carol (no shared room) changes hers.
    await post(bob, '/keys/upload', { device_keys: deviceKeys(bob.userId, bob.deviceId) });
    await post(carol, '/keys/upload', { device_keys: deviceKeys(carol.userId, carol.deviceId) });
    const res = await s.request('GET', `${V3}/keys/changes?from=${token(from, fromRoom)}&to=${token(position(), roomPos())}`, { token: alice.accessToken });
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/keys/changes', 'get', 200, res.body)).toEqual([]);
    expect(res.body.changed).toContain(bob.userId);
    expect(res.body.changed).not.toContain(carol.userId);
    expect(res.body.left).toEqual([]);
    // Nothing since the latest position; a recorded row in Synapse's stream table.
    const none = await s.request('GET', `${V3}/keys/changes?from=${token(position())}&to=${token(position())}`, { token: alice.accessToken });
    expect(none.body).toEqual({ changed: [], left: [] });
    const rows = await querySql(s, `SELECT user_id, device_id FROM device_lists_stream WHERE stream_id > ${from} ORDER BY stream_id`);
    expect(rows).toContainEqual({ user_id: bob.userId, device_id: bob.deviceId });
    // Carol joins (changed, by the room positions), then bob leaves (left).
    const beforeJoin = { d: position(), r: roomPos() };
    await post(carol, `/join/${encodeURIComponent(roomId)}`, {});
    await post(bob, `/rooms/${encodeURIComponent(roomId)}/leave`, {});
    const after = await s.request('GET', `${V3}/keys/changes?from=${token(beforeJoin.d, beforeJoin.r)}&to=${token(position(), roomPos())}`, { token: alice.accessToken });
    expect(after.body).toEqual({ changed: [carol.userId], left: [bob.userId] });
    // Errors: missing or unparsable tokens.
    const missing = await s.request('GET', `${V3}/keys/changes?to=${token(0)}`, { token: alice.accessToken });
    expect(missing.status).toBe(400);
    expect(missing.body.errcode).toBe('M_MISSING_PARAM');
    expect((await s.request('GET', `${V3}/keys/changes?from=${token(0)}`, { token: alice.accessToken })).body.errcode).toBe('M_MISSING_PARAM');
    expect((await s.request('GET', `${V3}/keys/changes?from=garbage&to=${token(0)}`, { token: alice.accessToken })).status).toBe(400);
  });

  it('deleting a device removes its keys and records a device-list change', async () => {
    const second = await s.login('bob', bob.password);
    await post(second, '/keys/upload', { device_keys: deviceKeys(bob.userId, second.deviceId), one_time_keys: { 'signed_curve25519:X': { key: 'x' } } });
    await s.ctx.services.toDevice.send(alice.userId, alice.deviceId, 'm.test', 'del-1', { messages: { [bob.userId]: { [second.deviceId]: { hi: 1 } } } });
    const from = position();
    const del = await s.request('DELETE', `${V3}/devices/${second.deviceId}`, {
      token: bob.accessToken,
      body: { auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: bob.userId }, password: bob.password } },
    });
    expect(del.status, del.text).toBe(200);
    for (const table of ['e2e_device_keys_json', 'e2e_one_time_keys_json', 'device_inbox']) {
      const n = await querySql(s, `SELECT count(*) AS n FROM ${table} WHERE user_id = '${bob.userId}' AND device_id = '${second.deviceId}'`);
      expect(Number(n[0]!.n), table).toBe(0);
    }
    const rows = await querySql(s, `SELECT user_id, device_id FROM device_lists_stream WHERE stream_id > ${from}`);
    expect(rows).toEqual([{ user_id: bob.userId, device_id: second.deviceId }]);
    const q = await post(alice, '/keys/query', { device_keys: { [bob.userId]: [] } });
    expect(Object.keys(q.body.device_keys[bob.userId])).toEqual([bob.deviceId]);
  });

  describe('cross-signing', () => {
    let master: Ed25519;
    let ssk: Ed25519;
    let usk: Ed25519;
    const auth = (u: TestUser) => ({ type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: u.password });

    it('the first upload needs no UIA; query shows master and self-signing keys, user-signing only to its owner', async () => {
      [master, ssk, usk] = [ed25519(), ed25519(), ed25519()];
      const from = position();
      const res = await post(alice, '/keys/device_signing/upload', {
        master_key: crossSigningKey(alice.userId, 'master', master),
        self_signing_key: crossSigningKey(alice.userId, 'self_signing', ssk, master),
        user_signing_key: crossSigningKey(alice.userId, 'user_signing', usk, master),
      });
      expect(res.status, res.text).toBe(200);
      expect(specErrors('client-server', '/keys/device_signing/upload', 'post', 200, res.body)).toEqual([]);
      const rows = await querySql(s, `SELECT keytype FROM e2e_cross_signing_keys WHERE user_id = '${alice.userId}' ORDER BY keytype`);
      expect(rows.map((r) => r.keytype)).toEqual(['master', 'self_signing', 'user_signing']);
      expect(position()).toBeGreaterThan(from);
      const own = await post(alice, '/keys/query', { device_keys: { [alice.userId]: [] } });
      expect(specErrors('client-server', '/keys/query', 'post', 200, own.body)).toEqual([]);
      expect(own.body.master_keys[alice.userId].keys).toEqual({ [`ed25519:${master.pub}`]: master.pub });
      expect(own.body.self_signing_keys[alice.userId].usage).toEqual(['self_signing']);
      expect(own.body.user_signing_keys[alice.userId].usage).toEqual(['user_signing']);
      const seen = await post(bob, '/keys/query', { device_keys: { [alice.userId]: [] } });
      expect(seen.body.master_keys[alice.userId]).toBeDefined();
      expect(seen.body.user_signing_keys).toEqual({});
      // The same keys again: idempotent, no UIA (spec 1.11).
      const again = await post(alice, '/keys/device_signing/upload', { master_key: crossSigningKey(alice.userId, 'master', master) });
      expect(again.status).toBe(200);
    });

    it('replacing keys needs UIA (401 with flows, then the password)', async () => {
      const newSsk = ed25519();
      const body = { self_signing_key: crossSigningKey(alice.userId, 'self_signing', newSsk, master) };
      const first = await post(alice, '/keys/device_signing/upload', body);
      expect(first.status).toBe(401);
      expect(first.body.flows).toEqual([{ stages: ['m.login.password'] }]);
      expect(typeof first.body.session).toBe('string');
      const wrong = await post(alice, '/keys/device_signing/upload', { ...body, auth: { ...auth(alice), password: 'nope', session: first.body.session } });
      expect(wrong.status).toBe(401);
      expect(wrong.body.errcode).toBe('M_FORBIDDEN');
      const ok = await post(alice, '/keys/device_signing/upload', { ...body, auth: { ...auth(alice), session: first.body.session } });
      expect(ok.status, ok.text).toBe(200);
      ssk = newSsk;
      const q = await post(alice, '/keys/query', { device_keys: { [alice.userId]: [] } });
      expect(q.body.self_signing_keys[alice.userId].keys).toEqual({ [`ed25519:${newSsk.pub}`]: newSsk.pub });
    });

    it('refuses keys of another user, unsigned or wrongly signed keys, and keys without a master', async () => {
      const a = auth(alice);
      const other = await post(alice, '/keys/device_signing/upload', { master_key: crossSigningKey(bob.userId, 'master', ed25519()), auth: a });
      expect(other.status).toBe(400);
      expect(other.body.errcode).toBe('M_INVALID_PARAM');
      const badSig = await post(alice, '/keys/device_signing/upload', { self_signing_key: crossSigningKey(alice.userId, 'self_signing', ed25519(), ed25519()), auth: a });
      expect(badSig.status).toBe(400);
      expect(badSig.body.errcode).toBe('M_INVALID_SIGNATURE');
      const noMaster = await post(carol, '/keys/device_signing/upload', { self_signing_key: crossSigningKey(carol.userId, 'self_signing', ed25519(), ed25519()) });
      expect(noMaster.status).toBe(400);
      expect(noMaster.body.errcode).toBe('M_MISSING_PARAM');
      const twoKeys = { user_id: carol.userId, usage: ['master'], keys: { 'ed25519:a': 'a', 'ed25519:b': 'b' } };
      expect((await post(carol, '/keys/device_signing/upload', { master_key: twoKeys })).body.errcode).toBe('M_INVALID_PARAM');
      expect((await post(carol, '/keys/device_signing/upload', { master_key: 'x' })).status).toBe(400);
    });

    it('signatures/upload: own device by the self-signing key, master by a device, another user\'s master by the user-signing key', async () => {
      const aliceEd = ed25519();
      await post(alice, '/keys/upload', { device_keys: deviceKeys(alice.userId, alice.deviceId, aliceEd) });
      const stored = (await post(alice, '/keys/query', { device_keys: { [alice.userId]: [alice.deviceId] } })).body.device_keys[alice.userId][alice.deviceId];
      const { unsigned: _u, ...deviceKey } = stored;
      const signedDevice = ssk.sign(deviceKey, alice.userId, `ed25519:${ssk.pub}`);
      const masterKey = crossSigningKey(alice.userId, 'master', master);
      const masterByDevice = aliceEd.sign(masterKey, alice.userId, `ed25519:${alice.deviceId}`);
      // Bob's master key, signed by alice's user-signing key.
      const bobMaster = ed25519();
      await post(bob, '/keys/device_signing/upload', { master_key: crossSigningKey(bob.userId, 'master', bobMaster) });
      const bobMasterSigned = usk.sign(crossSigningKey(bob.userId, 'master', bobMaster), alice.userId, `ed25519:${usk.pub}`);
      const forged = { ...ssk.sign(deviceKey, alice.userId, `ed25519:${ssk.pub}`), algorithms: ['x'] };
      const res = await post(alice, '/keys/signatures/upload', {
        [alice.userId]: { [alice.deviceId]: signedDevice, [master.pub]: masterByDevice, NODEVICE: { ...deviceKey, device_id: 'NODEVICE' } },
        [bob.userId]: { [bobMaster.pub]: bobMasterSigned },
        [carol.userId]: { somekey: forged },
      });
      expect(res.status).toBe(200);
      expect(specErrors('client-server', '/keys/signatures/upload', 'post', 200, res.body)).toEqual([]);
      expect(Object.keys(res.body.failures)).toEqual([alice.userId, carol.userId]);
      expect(Object.keys(res.body.failures[alice.userId])).toEqual(['NODEVICE']);
      expect(res.body.failures[alice.userId].NODEVICE.errcode).toBe('M_NOT_FOUND');
      // Stored in Synapse's table and merged into query answers.
      const sigs = await querySql(s, `SELECT key_id, target_user_id, target_device_id FROM e2e_cross_signing_signatures WHERE user_id = '${alice.userId}' ORDER BY target_user_id, key_id`);
      expect(sigs).toEqual(
        expect.arrayContaining([
          { key_id: `ed25519:${ssk.pub}`, target_user_id: alice.userId, target_device_id: alice.deviceId },
          { key_id: `ed25519:${alice.deviceId}`, target_user_id: alice.userId, target_device_id: master.pub },
          { key_id: `ed25519:${usk.pub}`, target_user_id: bob.userId, target_device_id: bobMaster.pub },
        ]),
      );
      const q = await post(bob, '/keys/query', { device_keys: { [alice.userId]: [] } });
      expect(q.body.device_keys[alice.userId][alice.deviceId].signatures[alice.userId]).toHaveProperty([`ed25519:${ssk.pub}`]);
      expect(q.body.master_keys[alice.userId].signatures[alice.userId]).toHaveProperty([`ed25519:${alice.deviceId}`]);
      // Alice's signature on bob's master key: alice sees it, carol does not.
      const fromAlice = await post(alice, '/keys/query', { device_keys: { [bob.userId]: [] } });
      expect(fromAlice.body.master_keys[bob.userId].signatures[alice.userId]).toHaveProperty([`ed25519:${usk.pub}`]);
      const fromCarol = await post(carol, '/keys/query', { device_keys: { [bob.userId]: [] } });
      expect(fromCarol.body.master_keys[bob.userId].signatures?.[alice.userId]).toBeUndefined();
      // A signature that does not verify is a failure, not stored.
      const bad = await post(alice, '/keys/signatures/upload', { [alice.userId]: { [alice.deviceId]: { ...signedDevice, signatures: { [alice.userId]: { [`ed25519:${ssk.pub}`]: 'AAAA' } } } } });
      expect(bad.body.failures[alice.userId][alice.deviceId].errcode).toBe('M_INVALID_SIGNATURE');
    });

    it('the admin endpoint opens a window to replace the master key without UIA', async () => {
      const admin = await s.registerUser('admin', { admin: true });
      const url = (u: string) => `/_synapse/admin/v1/users/${encodeURIComponent(u)}/_allow_cross_signing_replacement_without_uia`;
      const unknown = await s.request('POST', url('@ghost:localhost'), { token: admin.accessToken, body: {} });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'User has no master cross-signing key' });
      expect((await s.request('POST', url(carol.userId), { token: admin.accessToken, body: {} })).status).toBe(404);
      expect((await s.request('POST', url(alice.userId), { token: bob.accessToken, body: {} })).status).toBe(403);
      const newMaster = ed25519();
      const replace = { master_key: crossSigningKey(alice.userId, 'master', newMaster) };
      expect((await post(alice, '/keys/device_signing/upload', replace)).status).toBe(401);
      const before = Date.now();
      const res = await s.request('POST', url(alice.userId), { token: admin.accessToken, body: {} });
      expect(res.status).toBe(200);
      expect(res.body.updatable_without_uia_before_ms).toBeGreaterThanOrEqual(before + 600_000);
      expect(res.body.updatable_without_uia_before_ms).toBeLessThanOrEqual(Date.now() + 600_000);
      const [row] = await querySql(s, `SELECT updatable_without_uia_before_ms AS t FROM e2e_cross_signing_keys WHERE user_id = '${alice.userId}' AND keytype = 'master' ORDER BY stream_id DESC LIMIT 1`);
      expect(Number(row!.t)).toBe(res.body.updatable_without_uia_before_ms);
      const ok = await post(alice, '/keys/device_signing/upload', replace);
      expect(ok.status, ok.text).toBe(200);
      // The window belonged to the replaced key: the next replacement needs UIA again.
      expect((await post(alice, '/keys/device_signing/upload', { master_key: crossSigningKey(alice.userId, 'master', ed25519()) })).status).toBe(401);
    });
  });
});
