import { MatrixError, badJson, badRequest, invalidParam, notFound } from '../errors.js';
import { canonicalJson } from '../matrix/canonical-json.js';
import { decodeBase64, verifyJson } from '../matrix/signed-json.js';
import { afterSettle, announce, withTransaction, type Db } from '../storage/database.js';
import { shareARoom } from '../storage/stores/shared-rooms.js';
import { inChunks } from '../storage/bulk.js';
import * as store from '../storage/stores/e2e-keys.js';
import type { DeviceRemovalHooks } from './accounts.js';
import { StreamPositions } from './rooms/stream-positions.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const domainOf = (userId: string): string | undefined => (userId.startsWith('@') && userId.indexOf(':') > 1 ? userId.slice(userId.indexOf(':') + 1) : undefined);
/** The object a signature covers, canonical: without `signatures` and `unsigned`. */
const signable = (o: Json): string => {
  const { signatures: _s, unsigned: _u, ...rest } = o;
  return canonicalJson(rest);
};

/** How long the admin API's window for replacing a master key without UIA stays open (Synapse: 10 minutes). */
export const REPLACEMENT_WINDOW_MS = 10 * 60 * 1000;
const CROSS_SIGNING_TYPES = ['master', 'self_signing', 'user_signing'] as const;
type KeyType = (typeof CROSS_SIGNING_TYPES)[number];

/** A failure entry of /keys/signatures/upload: the spec's `errcode`/`error` plus Synapse's `status`/`message`. */
const failure = (e: MatrixError) => ({ status: e.status, errcode: e.errcode, error: e.message, message: e.message });

/** The one ed25519 public key of a cross-signing key, or undefined when it has not exactly one. */
function publicKeyOf(key: Json): string | undefined {
  if (!isObject(key.keys)) return undefined;
  const entries = Object.entries(key.keys);
  if (entries.length !== 1) return undefined;
  const [id, value] = entries[0]!;
  if (!id.startsWith('ed25519:') || typeof value !== 'string') return undefined;
  const raw = decodeBase64(value);
  return raw && raw.length === 32 ? id.slice('ed25519:'.length) : undefined;
}

/**
 * Where a device-list position sits in a sync token. /sync tokens follow Synapse's shape
 * `s<room>_<presence>_<typing>_<receipt>_<account_data>_<push_rules>_<to_device>_<device_list>_…`;
 * the room position (`s<n>`) is the first field.
 */
export function parseSyncToken(token: string): { room: number | undefined; deviceList: number } | undefined {
  const parts = token.split('_');
  if (parts.length < 8) return undefined;
  const dl = parts[7]!;
  if (!/^\d{1,15}$/.test(dl)) return undefined;
  const m = /^s(\d{1,15})$/.exec(parts[0]!);
  return { room: m ? Number(m[1]) : undefined, deviceList: Number(dl) };
}

/**
 * End-to-end encryption keys (Client-Server API, "End-to-End Encryption"): device, one-time and
 * fallback keys, cross-signing keys and signatures, and the device-list change stream that tells
 * users whose devices to re-query. The server stores and relays keys; it never decrypts.
 *
 * Device-list changes get positions from an in-memory stream (one writer per database, as room
 * events), written to `device_lists_stream` in the transaction that makes the change, published
 * once it ends and announced on topic 'device_lists' (keys: the user whose list changed).
 */
export class E2eKeysService implements DeviceRemovalHooks {
  private constructor(
    private readonly db: Db,
    private readonly serverName: string,
    private readonly positions: StreamPositions,
    private readonly now: () => number,
  ) {}

  static async open(db: Db, serverName: string, now: () => number = Date.now): Promise<E2eKeysService> {
    return new E2eKeysService(db, serverName, new StreamPositions(await store.maxDeviceListStreamId(db)), now);
  }

  /** The device-list position readers may see (every change up to it has committed or failed). */
  get deviceListPosition(): number {
    return this.positions.current;
  }

  /** Resolves once every device-list position allocated so far is visible (see ToDeviceService.visible). */
  deviceListVisible(): Promise<void> {
    return this.positions.caughtUp();
  }

  /** Records that a user's devices changed, in the caller's transaction; returns the position. */
  async recordDeviceListChangeIn(tx: Db, userId: string, deviceIds: string[]): Promise<number> {
    const [position] = this.positions.allocate(1) as [number];
    afterSettle(tx, () => this.positions.finish([position]));
    await store.insertDeviceListChanges(tx, position, userId, deviceIds.length > 0 ? deviceIds : ['']);
    announce(tx, 'device_lists', [userId]);
    return position;
  }

  // POST /keys/upload ----------------------------------------------------------------------------

  async upload(userId: string, deviceId: string | null, body: Json): Promise<{ one_time_key_counts: Record<string, number> }> {
    if (deviceId === null) throw badRequest('To upload keys, you must pass device_id when authenticating');
    const deviceKeys = body.device_keys;
    if (deviceKeys !== undefined && deviceKeys !== null) this.checkDeviceKeys(deviceKeys, userId, deviceId);
    const otks = parseKeyMap(body.one_time_keys, 'one_time_keys');
    const fallbacks = parseKeyMap(body.fallback_keys ?? body['org.matrix.msc2732.fallback_keys'], 'fallback_keys');
    const now = this.now();
    this.forgetKeyCounts(userId, deviceId);
    await withTransaction(this.db, async (tx) => {
      afterSettle(tx, () => this.forgetKeyCounts(userId, deviceId));
      if (isObject(deviceKeys)) {
        const json = canonicalJson(deviceKeys);
        if ((await store.getDeviceKeyJson(tx, userId, deviceId)) !== json) {
          await store.setDeviceKeyJson(tx, userId, deviceId, json, now);
          await this.recordDeviceListChangeIn(tx, userId, [deviceId]);
        }
      }
      const fresh = [];
      for (const k of otks) {
        const existing = await store.oneTimeKeyJson(tx, userId, deviceId, k.algorithm, k.keyId);
        if (existing === undefined) fresh.push({ user_id: userId, device_id: deviceId, algorithm: k.algorithm, key_id: k.keyId, ts_added_ms: now, key_json: k.json });
        else if (existing !== k.json) throw badRequest(`One time key ${k.algorithm}:${k.keyId} already exists. Old key: ${existing}; new key: ${k.json}`);
      }
      await store.insertOneTimeKeys(tx, fresh);
      const current = new Map((await store.fallbackKeys(tx, userId, deviceId)).map((f) => [f.algorithm, f]));
      for (const k of fallbacks) {
        const old = current.get(k.algorithm);
        // Re-uploading the same fallback key keeps its `used` mark.
        if (old && old.key_id === k.keyId && old.key_json === k.json) continue;
        await store.setFallbackKey(tx, userId, deviceId, k.algorithm, k.keyId, k.json);
      }
    });
    return { one_time_key_counts: await this.oneTimeKeyCounts(userId, deviceId) };
  }

  private checkDeviceKeys(keys: unknown, userId: string, deviceId: string): void {
    if (!isObject(keys)) throw badJson('device_keys must be a JSON object');
    if (keys.user_id !== userId) throw badJson('Provided `user_id` in `device_keys` does not match that of the authenticated user');
    if (keys.device_id !== deviceId) throw badJson('Provided `device_id` in `device_keys` does not match that of the authenticated user device');
    if (!Array.isArray(keys.algorithms) || keys.algorithms.some((a) => typeof a !== 'string')) throw badJson('device_keys.algorithms must be a list of strings');
    if (!isObject(keys.keys) || Object.values(keys.keys).some((v) => typeof v !== 'string')) throw badJson('device_keys.keys must map key IDs to strings');
    // Signed by the device's own ed25519 key. A key that is not a real ed25519 key cannot be
    // checked (test suites upload placeholders); a real one must verify.
    const sigs = isObject(keys.signatures) ? keys.signatures[userId] : undefined;
    if (!isObject(sigs) || typeof sigs[`ed25519:${deviceId}`] !== 'string') {
      throw new MatrixError(400, 'M_INVALID_SIGNATURE', 'device_keys must be signed by the device\'s ed25519 key');
    }
    const ed = keys.keys[`ed25519:${deviceId}`];
    const raw = typeof ed === 'string' ? decodeBase64(ed) : undefined;
    if (raw?.length === 32 && !verifyJson(keys, userId, `ed25519:${deviceId}`, ed as string)) {
      throw new MatrixError(400, 'M_INVALID_SIGNATURE', 'Invalid signature on device_keys');
    }
  }

  /**
   * A device's one-time key counts and unused fallback key types, as every /sync reports them:
   * kept in memory and forgotten whenever this process uploads, claims or deletes the device's
   * keys (before the change and once it has settled, so a read that overlapped it is not kept).
   */
  async deviceKeyCounts(userId: string, deviceId: string): Promise<{ oneTimeKeys: Record<string, number>; fallbackTypes: string[] }> {
    const key = `${userId}|${deviceId}`;
    const cached = this.keyCounts.get(key);
    if (cached) return cached;
    const generation = this.keyCountsGeneration;
    const [oneTimeKeys, fallbackTypes] = await Promise.all([this.oneTimeKeyCounts(userId, deviceId), this.unusedFallbackKeyTypes(userId, deviceId)]);
    const value = { oneTimeKeys, fallbackTypes };
    if (generation === this.keyCountsGeneration) {
      this.keyCounts.set(key, value);
      if (this.keyCounts.size > 100_000) this.keyCounts.delete(this.keyCounts.keys().next().value!);
    }
    return value;
  }

  private readonly keyCounts = new Map<string, { oneTimeKeys: Record<string, number>; fallbackTypes: string[] }>();
  private keyCountsGeneration = 0;

  /** Drops cached key counts of one device, or of every device of the user. */
  private forgetKeyCounts(userId: string, deviceId?: string): void {
    this.keyCountsGeneration++;
    if (deviceId !== undefined) this.keyCounts.delete(`${userId}|${deviceId}`);
    else for (const k of [...this.keyCounts.keys()]) if (k.startsWith(`${userId}|`)) this.keyCounts.delete(k);
  }

  /** Unclaimed one-time keys per algorithm (Synapse always reports signed_curve25519). */
  async oneTimeKeyCounts(userId: string, deviceId: string): Promise<Record<string, number>> {
    return { signed_curve25519: 0, ...(await store.oneTimeKeyCounts(this.db, userId, deviceId)) };
  }

  /** Algorithms of the device's fallback keys not yet handed out (/sync's device_unused_fallback_key_types). */
  async unusedFallbackKeyTypes(userId: string, deviceId: string): Promise<string[]> {
    return (await store.fallbackKeys(this.db, userId, deviceId)).filter((f) => !f.used).map((f) => f.algorithm).sort();
  }

  // POST /keys/query -----------------------------------------------------------------------------

  async query(requester: string, body: Json): Promise<Json> {
    const wanted = body.device_keys;
    if (!isObject(wanted)) throw badJson("'device_keys' must be a JSON object");
    for (const v of Object.values(wanted)) {
      if (!Array.isArray(v) || v.some((d) => typeof d !== 'string')) throw badJson("each value in 'device_keys' must be a list of device IDs");
    }
    const out = { device_keys: {} as Json, master_keys: {} as Json, self_signing_keys: {} as Json, user_signing_keys: {} as Json, failures: {} as Json };
    for (const [userId, devices] of Object.entries(wanted as Record<string, string[]>)) {
      const domain = domainOf(userId);
      if (domain === undefined) continue;
      if (domain !== this.serverName) {
        // No federation yet: other servers' users cannot be asked.
        out.failures[domain] = { status: 503, message: 'Federation is not available' };
        continue;
      }
      const rows = await store.deviceKeysOf(this.db, userId, devices.length === 0 ? 'all' : devices);
      const sigs = await store.signaturesOn(this.db, userId, rows.map((r) => r.device_id), [userId]);
      const byDevice: Json = {};
      for (const r of rows) {
        const keys = JSON.parse(r.key_json) as Json;
        mergeSignatures(keys, sigs.filter((s) => s.target_device_id === r.device_id));
        const unsigned = isObject(keys.unsigned) ? keys.unsigned : {};
        byDevice[r.device_id] = { ...keys, unsigned: { ...unsigned, ...(r.display_name !== null ? { device_display_name: r.display_name } : {}) } };
      }
      out.device_keys[userId] = byDevice;
      const cs = await store.currentCrossSigningKeys(this.db, userId);
      const master = cs.get('master');
      if (master) {
        const key = JSON.parse(master.keydata) as Json;
        const pub = publicKeyOf(key);
        if (pub) mergeSignatures(key, await store.signaturesOn(this.db, userId, [pub], [...new Set([userId, requester])]));
        out.master_keys[userId] = key;
      }
      const ssk = cs.get('self_signing');
      if (ssk) out.self_signing_keys[userId] = JSON.parse(ssk.keydata);
      const usk = cs.get('user_signing');
      if (usk && userId === requester) out.user_signing_keys[userId] = JSON.parse(usk.keydata);
    }
    return out;
  }

  // POST /keys/claim -----------------------------------------------------------------------------

  async claim(body: Json): Promise<Json> {
    const wanted = body.one_time_keys;
    if (!isObject(wanted)) throw badJson("'one_time_keys' must be a JSON object");
    for (const devices of Object.values(wanted)) {
      if (!isObject(devices) || Object.values(devices).some((a) => typeof a !== 'string')) {
        throw badJson("'one_time_keys' must map user IDs to device IDs to algorithms");
      }
    }
    const keys: Json = {};
    const failures: Json = {};
    for (const [userId, devices] of Object.entries(wanted as Record<string, Record<string, string>>)) {
      const domain = domainOf(userId);
      if (domain === undefined) continue;
      if (domain !== this.serverName) {
        failures[domain] = { status: 503, message: 'Federation is not available' };
        continue;
      }
      const byDevice: Json = {};
      for (const [deviceId, algorithm] of Object.entries(devices)) {
        this.forgetKeyCounts(userId, deviceId);
        const got = (await store.claimOneTimeKey(this.db, userId, deviceId, algorithm)) ?? (await store.useFallbackKey(this.db, userId, deviceId, algorithm));
        this.forgetKeyCounts(userId, deviceId);
        if (got) byDevice[deviceId] = { [`${algorithm}:${got.key_id}`]: JSON.parse(got.key_json) };
      }
      if (Object.keys(byDevice).length > 0) keys[userId] = byDevice;
    }
    return { one_time_keys: keys, failures };
  }

  // GET /keys/changes ----------------------------------------------------------------------------

  async changes(userId: string, fromToken: string, toToken: string): Promise<{ changed: string[]; left: string[] }> {
    const from = parseSyncToken(fromToken);
    const to = parseSyncToken(toToken);
    if (!from || !to) throw badRequest('Invalid stream token');
    return this.deviceListChanges(userId, from, { room: to.room, deviceList: Math.min(to.deviceList, this.deviceListPosition) });
  }

  /**
   * Users whose devices `userId` must re-query between two positions: those sharing a room whose
   * device lists changed, plus (given room positions) those who joined a shared room; `left`:
   * those who left and now share no room. For /keys/changes and /sync's device_lists.
   */
  async deviceListChanges(userId: string, from: { room?: number; deviceList: number }, to: { room?: number; deviceList: number }): Promise<{ changed: string[]; left: string[] }> {
    // Empty ranges need no query (most syncs move one stream, not both).
    const changed = new Set(from.deviceList < to.deviceList ? await store.changedUsersSharingRooms(this.db, userId, from.deviceList, to.deviceList) : []);
    const left = new Set<string>();
    if (from.room !== undefined && to.room !== undefined && from.room < to.room) {
      for (const m of await store.membershipChangesInRange(this.db, userId, from.room, to.room)) {
        if (m.user_id === userId) continue;
        if (m.membership === 'join') {
          changed.add(m.user_id);
          left.delete(m.user_id);
        } else if (m.membership === 'leave' || m.membership === 'ban') {
          if (!(await shareARoom(this.db, userId, m.user_id))) {
            left.add(m.user_id);
            changed.delete(m.user_id);
          }
        }
      }
    }
    return { changed: [...changed].sort(), left: [...left].sort() };
  }

  // POST /keys/device_signing/upload -------------------------------------------------------------

  /**
   * Stores new cross-signing keys. `authorize` runs the user-interactive auth; it is skipped when
   * the user has no master key yet, when the request only repeats the stored keys (spec 1.11), or
   * within the window the admin API opened for replacing the master key (Synapse 1.97+).
   */
  async uploadSigningKeys(userId: string, body: Json, authorize: () => Promise<void>): Promise<void> {
    const given = new Map<KeyType, Json>();
    for (const t of CROSS_SIGNING_TYPES) {
      const v = body[`${t}_key`];
      if (v === undefined || v === null) continue;
      if (!isObject(v)) throw invalidParam(`Invalid ${t} key`);
      given.set(t, v);
    }
    const existing = await store.currentCrossSigningKeys(this.db, userId);
    const master = existing.get('master');
    if (master) {
      const repeats = [...given].every(([t, k]) => existing.get(t) !== undefined && canonicalJson(JSON.parse(existing.get(t)!.keydata)) === canonicalJson(k));
      const windowOpen = master.updatable_without_uia_before_ms !== null && master.updatable_without_uia_before_ms > this.now();
      if (!repeats && !windowOpen) await authorize();
      if (repeats) return;
    }
    // Checks, as Synapse makes them: each key is the user's, of its usage, with one ed25519 key;
    // the others are signed by the master key (the new one, else the stored one).
    let masterPub: string | undefined;
    const newMaster = given.get('master');
    if (newMaster) {
      masterPub = this.checkCrossSigningKey(newMaster, userId, 'master');
    } else if (given.size > 0) {
      if (!master) throw new MatrixError(400, 'M_MISSING_PARAM', 'No master key available');
      masterPub = publicKeyOf(JSON.parse(master.keydata) as Json);
    }
    for (const t of ['self_signing', 'user_signing'] as const) {
      const k = given.get(t);
      if (!k) continue;
      this.checkCrossSigningKey(k, userId, t);
      if (!masterPub || !verifyJson(k, userId, `ed25519:${masterPub}`, masterPub)) {
        throw new MatrixError(400, 'M_INVALID_SIGNATURE', `Invalid signature on ${t} key`);
      }
    }
    if (given.size === 0) return;
    await withTransaction(this.db, async (tx) => {
      const pubs = [...given.values()].map((k) => publicKeyOf(k)!);
      const position = await this.recordDeviceListChangeIn(tx, userId, pubs);
      for (const [t, k] of given) await store.insertCrossSigningKey(tx, userId, t, canonicalJson(k), position);
    });
  }

  private checkCrossSigningKey(key: Json, userId: string, type: KeyType): string {
    const usage = key.usage;
    const pub = publicKeyOf(key);
    if (key.user_id !== userId || !Array.isArray(usage) || !usage.includes(type) || pub === undefined) throw invalidParam(`Invalid ${type} key`);
    return pub;
  }

  // POST /keys/signatures/upload -----------------------------------------------------------------

  async uploadSignatures(userId: string, body: Json): Promise<{ failures: Json }> {
    const failures: Record<string, Json> = {};
    const fail = (target: string, keyId: string, e: MatrixError) => ((failures[target] ??= {})[keyId] = failure(e));
    const mine = await store.currentCrossSigningKeys(this.db, userId);
    const pubOf = (t: KeyType) => {
      const row = mine.get(t);
      return row ? publicKeyOf(JSON.parse(row.keydata) as Json) : undefined;
    };
    for (const [target, byKey] of Object.entries(body)) {
      if (!isObject(byKey)) {
        fail(target, '', invalidParam('Invalid signature upload'));
        continue;
      }
      for (const [keyId, signed] of Object.entries(byKey)) {
        try {
          if (!isObject(signed)) throw invalidParam('Invalid signature upload');
          if (target === userId) await this.selfSignature(userId, keyId, signed, pubOf('master'), pubOf('self_signing'));
          else await this.userSignature(userId, target, keyId, signed, pubOf('user_signing'));
        } catch (e) {
          if (!(e instanceof MatrixError)) throw e;
          fail(target, keyId, e);
        }
      }
    }
    return { failures };
  }

  /** The user's own key signed: their master key by one of their devices, or a device by their self-signing key. */
  private async selfSignature(userId: string, keyId: string, signed: Json, masterPub: string | undefined, sskPub: string | undefined): Promise<void> {
    const sigs = isObject(signed.signatures) && isObject(signed.signatures[userId]) ? (signed.signatures[userId] as Json) : {};
    if (masterPub !== undefined && keyId === masterPub) {
      const stored = (await store.currentCrossSigningKeys(this.db, userId)).get('master')!;
      if (signable(JSON.parse(stored.keydata) as Json) !== signable(signed)) throw invalidParam('Key does not match');
      const valid: Array<{ keyId: string; sig: string }> = [];
      for (const [sigKeyId, sig] of Object.entries(sigs)) {
        if (!sigKeyId.startsWith('ed25519:') || typeof sig !== 'string') continue;
        const deviceId = sigKeyId.slice('ed25519:'.length);
        if (deviceId === masterPub) continue; // the master key's self-signature
        const deviceJson = await store.getDeviceKeyJson(this.db, userId, deviceId);
        const deviceKey = deviceJson ? (JSON.parse(deviceJson) as Json).keys : undefined;
        const ed = isObject(deviceKey) ? deviceKey[sigKeyId] : undefined;
        if (typeof ed !== 'string' || !verifyJson(signed, userId, sigKeyId, ed)) throw new MatrixError(400, 'M_INVALID_SIGNATURE', 'Invalid signature');
        valid.push({ keyId: sigKeyId, sig });
      }
      if (valid.length === 0) throw new MatrixError(400, 'M_INVALID_SIGNATURE', 'Missing signature');
      await withTransaction(this.db, async (tx) => {
        for (const v of valid) await store.insertSignature(tx, { user_id: userId, key_id: v.keyId, target_user_id: userId, target_device_id: masterPub, signature: v.sig });
        await this.recordDeviceListChangeIn(tx, userId, [masterPub]);
      });
      return;
    }
    if (sskPub === undefined) throw notFound('No self-signing key found');
    const deviceJson = await store.getDeviceKeyJson(this.db, userId, keyId);
    if (deviceJson === undefined) throw notFound('Unknown device');
    if (signable(JSON.parse(deviceJson) as Json) !== signable(signed)) throw invalidParam('Key does not match');
    const sigKeyId = `ed25519:${sskPub}`;
    const sig = sigs[sigKeyId];
    if (typeof sig !== 'string' || !verifyJson(signed, userId, sigKeyId, sskPub)) throw new MatrixError(400, 'M_INVALID_SIGNATURE', 'Invalid signature');
    await withTransaction(this.db, async (tx) => {
      await store.insertSignature(tx, { user_id: userId, key_id: sigKeyId, target_user_id: userId, target_device_id: keyId, signature: sig });
      await this.recordDeviceListChangeIn(tx, userId, [keyId]);
    });
  }

  /** Another user's master key signed by the user's user-signing key. */
  private async userSignature(userId: string, target: string, keyId: string, signed: Json, uskPub: string | undefined): Promise<void> {
    if (uskPub === undefined) throw notFound('No user-signing key found');
    if (domainOf(target) !== this.serverName) throw notFound('Unknown user');
    const theirs = (await store.currentCrossSigningKeys(this.db, target)).get('master');
    const theirPub = theirs ? publicKeyOf(JSON.parse(theirs.keydata) as Json) : undefined;
    if (!theirs || theirPub === undefined) throw notFound('No master key found');
    if (keyId !== theirPub) throw invalidParam('Only the master key of another user can be signed');
    if (signable(JSON.parse(theirs.keydata) as Json) !== signable(signed)) throw invalidParam('Key does not match');
    const sigKeyId = `ed25519:${uskPub}`;
    const sigs = isObject(signed.signatures) && isObject(signed.signatures[userId]) ? (signed.signatures[userId] as Json) : {};
    const sig = sigs[sigKeyId];
    if (typeof sig !== 'string' || !verifyJson(signed, userId, sigKeyId, uskPub)) throw new MatrixError(400, 'M_INVALID_SIGNATURE', 'Invalid signature');
    await withTransaction(this.db, async (tx) => {
      await store.insertSignature(tx, { user_id: userId, key_id: sigKeyId, target_user_id: target, target_device_id: theirPub, signature: sig });
      // The signer's own devices learn of it (Synapse's user-signature stream goes to the signer only).
      await this.recordDeviceListChangeIn(tx, userId, [theirPub]);
    });
  }

  // Admin: POST /_synapse/admin/v1/users/<user_id>/_allow_cross_signing_replacement_without_uia --

  async allowMasterKeyReplacement(userId: string): Promise<{ updatable_without_uia_before_ms: number }> {
    const until = this.now() + REPLACEMENT_WINDOW_MS;
    const done = await withTransaction(this.db, (tx) => store.setMasterKeyReplaceableUntil(tx, userId, until));
    if (!done) throw notFound('User has no master cross-signing key');
    return { updatable_without_uia_before_ms: until };
  }

  // Device removal (AccountsService calls these inside its transaction) -------------------------

  async devicesRemovedIn(tx: Db, userId: string, deviceIds: string[]): Promise<void> {
    this.forgetKeyCounts(userId);
    afterSettle(tx, () => this.forgetKeyCounts(userId));
    const keyed = await store.keyedDeviceIds(tx, userId, deviceIds);
    await store.deleteDevicesE2e(tx, userId, deviceIds);
    if (keyed.length > 0) await this.recordDeviceListChangeIn(tx, userId, keyed);
  }

  async allDevicesRemovedIn(tx: Db, userId: string): Promise<void> {
    this.forgetKeyCounts(userId);
    afterSettle(tx, () => this.forgetKeyCounts(userId));
    const keyed = await store.keyedDeviceIds(tx, userId, 'all');
    for (const table of ['e2e_device_keys_json', 'e2e_one_time_keys_json', 'e2e_fallback_keys_json', 'device_inbox'] as const) {
      await inChunks((n) => store.deleteSomeUserE2e(tx, table, userId, n), 200);
    }
    if (keyed.length > 0) await this.recordDeviceListChangeIn(tx, userId, keyed);
  }
}

/** Adds stored cross-signing signatures to a key's `signatures`. */
function mergeSignatures(key: Json, sigs: store.SignatureRow[]): void {
  if (sigs.length === 0) return;
  const all = (isObject(key.signatures) ? { ...key.signatures } : {}) as Record<string, Json>;
  for (const s of sigs) all[s.user_id] = { ...(all[s.user_id] ?? {}), [s.key_id]: s.signature };
  key.signatures = all;
}

/** `{"<algorithm>:<key id>": key}` maps of /keys/upload, as (algorithm, key id, canonical JSON). */
function parseKeyMap(v: unknown, field: string): Array<{ algorithm: string; keyId: string; json: string }> {
  if (v === undefined || v === null) return [];
  if (!isObject(v)) throw badJson(`${field} must be a JSON object`);
  return Object.entries(v).map(([id, key]) => {
    const colon = id.indexOf(':');
    if (colon <= 0 || colon === id.length - 1) throw badJson(`Invalid key ID in ${field}: ${id}`);
    if (typeof key !== 'string' && !isObject(key)) throw badJson(`Invalid key in ${field}: ${id}`);
    return { algorithm: id.slice(0, colon), keyId: id.slice(colon + 1), json: canonicalJson(key) };
  });
}
