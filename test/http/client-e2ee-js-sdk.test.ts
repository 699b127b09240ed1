import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientEvent,
  createClient,
  type ICreateClientOpts,
  type MatrixClient,
  type MatrixEvent,
  MatrixEventEvent,
  RoomEvent,
  RoomMemberEvent,
  UserEvent,
} from 'matrix-js-sdk';
import { LoggerLevel, Tracing } from '@matrix-org/matrix-sdk-crypto-wasm';
import { CryptoEvent } from 'matrix-js-sdk/lib/crypto-api/index.js';
import { logger as sdkGlobalLogger } from 'matrix-js-sdk/lib/logger.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { startServer, type TestServer } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

type SdkLogger = NonNullable<ICreateClientOpts['logger']>;
const noop = () => {};
const quiet: SdkLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, getChild: () => quiet };
// The crypto and RTC code log through children of the library's global logger, each created at DEBUG
// level with its parent's method factory: a silent factory on the root keeps them all quiet
// (AXON_SDK_LOG=1 shows them when debugging).
if (!process.env.AXON_SDK_LOG) {
  const root = sdkGlobalLogger as unknown as { methodFactory: unknown; rebuild(): void };
  root.methodFactory = () => noop;
  root.rebuild();
}

/** Resolves when `check()` holds, re-checking whenever the emitter fires one of `events`; rejects after `ms`. */
function until<T>(
  emitter: { on(e: string, f: (...a: any[]) => void): unknown; off(e: string, f: (...a: any[]) => void): unknown },
  events: string | string[],
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  ms = 20_000,
): Promise<T> {
  const list = typeof events === 'string' ? [events] : events;
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, value?: T) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(poll);
      for (const e of list) emitter.off(e, listener);
      if (err) reject(err);
      else resolve(value as T);
    };
    const probe = async () => {
      try {
        const value = await check();
        if (value) finish(null, value);
      } catch (err) {
        finish(err as Error);
      }
    };
    const listener = () => void probe();
    // Some state lands after the event that announces it (a room is stored after its membership
    // event fires): a slow poll backs the events up.
    const poll = setInterval(listener, 250);
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}`)), ms);
    for (const e of list) emitter.on(e, listener);
    void probe();
  });
}

// The real-client paragraph: matrix-js-sdk 37 with its Rust cryptography, end to end.
describe('matrix-js-sdk 37 with Rust crypto: an encrypted room between two users', () => {
  let s: TestServer;
  const clients: MatrixClient[] = [];
  let a: MatrixClient;
  let b: MatrixClient;
  let b2: MatrixClient;
  let roomId: string;
  /** The first exchange: A's message (A's megolm session) and B's reply (B's). */
  const history: Array<{ id: string; body: string }> = [];

  /** What each device's /sync answers carried: device_lists.changed users, and to-device events. */
  const seen = new Map<string, { changed: Set<string>; left: Set<string>; toDevice: string[] }>();
  /** Answers the SDK got that the spec's schema rejects. */
  const offSpec: string[] = [];
  const checked = new Set<string>();
  const CHECKED = ['/sync', '/keys/upload', '/keys/query', '/keys/claim', '/keys/changes', '/room_keys/version', '/room_keys/keys'];
  /** A fetch that records /sync answers per device (AXON_FETCH_LOG=1 also logs every request). */
  const observe = (user: string, deviceId: string): typeof fetch => {
    const mine = { changed: new Set<string>(), left: new Set<string>(), toDevice: [] as string[] };
    seen.set(deviceId, mine);
    return async (input, init) => {
      const t0 = Date.now();
      const res = await fetch(input, init);
      const url = new URL(String(input));
      const route = url.pathname.replace('/_matrix/client/v3', '');
      if (res.ok && CHECKED.includes(route)) {
        const method = (init?.method ?? 'GET').toLowerCase();
        checked.add(`${method} ${route}`);
        const errors = specErrors('client-server', route, method, res.status, await res.clone().json());
        if (errors.length > 0) offSpec.push(`${method} ${route}: ${errors.join('; ')}`);
      }
      if (res.ok && route === '/sync') {
        const body = await res.clone().json();
        for (const u of body.device_lists?.changed ?? []) mine.changed.add(u);
        for (const u of body.device_lists?.left ?? []) mine.left.add(u);
        for (const e of body.to_device?.events ?? []) mine.toDevice.push(JSON.stringify(e));
      }
      if (process.env.AXON_FETCH_LOG) {
        const q = url.searchParams;
        console.log('FETCH', user, deviceId, init?.method ?? 'GET', url.pathname, q.get('since') ?? '', q.get('timeout') ?? '', res.status, `+${Date.now() - t0}ms`);
      }
      return res;
    };
  };

  // Secret storage keys each client created, returned when the SDK asks for them (an app would ask the user).
  const ssssKeys = new Map<string, Map<string, Uint8Array>>();
  const login = async (user: string, password: string, deviceName: string) => {
    const anon = createClient({ baseUrl: s.url, logger: quiet });
    const res = await anon.loginRequest({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user },
      password,
      initial_device_display_name: deviceName,
    });
    const keys = new Map<string, Uint8Array>();
    ssssKeys.set(res.device_id, keys);
    const client = createClient({
      baseUrl: s.url,
      logger: quiet,
      accessToken: res.access_token,
      userId: res.user_id,
      deviceId: res.device_id,
      fetchFn: observe(user, res.device_id),
      cryptoCallbacks: {
        cacheSecretStorageKey: (keyId, _info, key) => void keys.set(keyId, key),
        getSecretStorageKey: async ({ keys: wanted }) => {
          const id = Object.keys(wanted).find((k) => keys.has(k));
          return id ? [id, keys.get(id)!] : null;
        },
      },
    });
    clients.push(client);
    // initRustCrypto turns the Rust tracing on at DEBUG (written with console.debug); keep only its errors.
    const debug = console.debug;
    if (!process.env.AXON_SDK_LOG) console.debug = noop;
    try {
      await client.initRustCrypto({ useIndexedDB: false });
    } finally {
      console.debug = debug;
    }
    new Tracing(process.env.AXON_SDK_LOG ? LoggerLevel.Debug : LoggerLevel.Error).turnOn();
    return client;
  };

  const start = async (client: MatrixClient) => {
    const ready = until(client, ClientEvent.Sync, () => client.isInitialSyncComplete(), 'the initial sync');
    await client.startClient({ initialSyncLimit: 20 });
    await ready;
  };

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    await s.registerUser('alice', { password: 'alice-password' });
    await s.registerUser('bob', { password: 'bob-password' });
    a = await login('alice', 'alice-password', 'alice laptop');
    b = await login('bob', 'bob-password', 'bob phone');
    await start(a);
    await start(b);
  });
  afterAll(async () => {
    for (const c of clients) c.stopClient();
    await s?.close();
  });

  it('A creates an encrypted room, B joins, and they exchange messages each side decrypts', async () => {
    const created = await a.createRoom({
      name: 'secret room',
      invite: ['@bob:localhost'],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    roomId = created.room_id;

    await until(b, RoomEvent.MyMembership, () => b.getRoom(roomId)?.getMyMembership() === 'invite', 'B sees the invite');
    await b.joinRoom(roomId);
    await until(a, RoomMemberEvent.Membership, () => a.getRoom(roomId)?.getMember('@bob:localhost')?.membership === 'join', 'A sees B join');
    expect(a.getRoom(roomId)?.hasEncryptionStateEvent()).toBe(true);

    const sent = await a.sendTextMessage(roomId, 'hello bob, this is secret');
    const raw = await s.request('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(sent.event_id)}`, {
      token: b.getAccessToken()!,
    });
    expect(raw.body.type).toBe('m.room.encrypted');
    expect(raw.body.content.algorithm).toBe('m.megolm.v1.aes-sha2');
    expect(JSON.stringify(raw.body)).not.toContain('hello bob');

    const decrypted = async (client: MatrixClient, eventId: string): Promise<MatrixEvent | undefined> => {
      const ev = client.getRoom(roomId)?.findEventById(eventId);
      if (!ev) return undefined;
      await client.decryptEventIfNeeded(ev);
      return ev.isBeingDecrypted() || ev.isDecryptionFailure() || ev.getType() !== 'm.room.message' ? undefined : ev;
    };
    const seenByB = await until(b, [MatrixEventEvent.Decrypted, RoomEvent.Timeline], () => decrypted(b, sent.event_id), 'B decrypts A', 30_000);
    expect(seenByB.isDecryptionFailure()).toBe(false);
    expect(seenByB.getClearContent()?.body).toBe('hello bob, this is secret');
    expect(seenByB.isEncrypted()).toBe(true);

    const reply = await b.sendTextMessage(roomId, 'hi alice, got it');
    const seenByA = await until(a, [MatrixEventEvent.Decrypted, RoomEvent.Timeline], () => decrypted(a, reply.event_id), 'A decrypts B', 30_000);
    expect(seenByA.isDecryptionFailure()).toBe(false);
    expect(seenByA.getClearContent()?.body).toBe('hi alice, got it');
    history.push({ id: sent.event_id, body: 'hello bob, this is secret' }, { id: reply.event_id, body: 'hi alice, got it' });
  }, 90_000);

  it("B's second device reaches A's device list through device_lists.changed and /keys/query, and reads A's next message", async () => {
    b2 = await login('bob', 'bob-password', 'bob tablet');
    await start(b2);
    const b2Device = b2.getDeviceId()!;

    const devices = await until(
      a,
      [CryptoEvent.DevicesUpdated, ClientEvent.Sync],
      async () => {
        const map = await a.getCrypto()!.getUserDeviceInfo(['@bob:localhost']);
        const bob = map.get('@bob:localhost');
        return bob?.has(b2Device) ? bob : undefined;
      },
      "B's second device in A's device list",
    );
    expect([...devices.keys()].sort()).toEqual([b.getDeviceId()!, b2Device].sort());
    expect(devices.get(b2Device)?.displayName).toBe('bob tablet');
    // It came the way the spec says: bob in A's /sync device_lists.changed, then A's /keys/query.
    expect(seen.get(a.getDeviceId()!)!.changed.has('@bob:localhost')).toBe(true);
    expect(devices.get(b2Device)?.getIdentityKey()).toMatch(/^[A-Za-z0-9+/]{43}$/);

    // A's next message is shared with the new device too (over /sendToDevice and B2's /sync).
    await until(b2, ClientEvent.Room, () => b2.getRoom(roomId)?.getMyMembership() === 'join', 'B2 has the room');
    const sent = await a.sendTextMessage(roomId, 'for both of your devices');
    const got = await until(
      b2,
      [MatrixEventEvent.Decrypted, RoomEvent.Timeline],
      async () => {
        const ev = b2.getRoom(roomId)?.findEventById(sent.event_id);
        if (!ev) return undefined;
        await b2.decryptEventIfNeeded(ev);
        return !ev.isBeingDecrypted() && !ev.isDecryptionFailure() && ev.getType() === 'm.room.message' ? ev : undefined;
      },
      'B2 decrypts A',
      30_000,
    );
    expect(got.getClearContent()?.body).toBe('for both of your devices');
  }, 90_000);

  it('A bootstraps cross-signing and secret storage with a key backup; the server holds the keys and the backup', async () => {
    const crypto = a.getCrypto()!;
    expect(await crypto.isCrossSigningReady()).toBe(false);
    let uiaCalls = 0;
    await crypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        uiaCalls++;
        await makeRequest({
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: '@alice:localhost' },
          password: 'alice-password',
        } as never);
      },
    });
    expect(uiaCalls).toBe(1);
    expect(await crypto.isCrossSigningReady()).toBe(true);
    const status = await crypto.getCrossSigningStatus();
    expect(status.publicKeysOnDevice).toBe(true);
    expect(status.privateKeysCachedLocally).toEqual({ masterKey: true, selfSigningKey: true, userSigningKey: true });

    // The server answers /keys/query with A's cross-signing keys, and A's device signed by the self-signing key.
    const query = await s.request('POST', '/_matrix/client/v3/keys/query', {
      token: b.getAccessToken()!,
      body: { device_keys: { '@alice:localhost': [] } },
    });
    expect(query.status).toBe(200);
    const master = query.body.master_keys['@alice:localhost'];
    const selfSigning = query.body.self_signing_keys['@alice:localhost'];
    expect(master.usage).toEqual(['master']);
    expect(selfSigning.usage).toEqual(['self_signing']);
    expect(query.body.user_signing_keys?.['@alice:localhost']).toBeUndefined(); // only for the owner
    const ssk = Object.keys(selfSigning.keys)[0]!;
    expect(Object.keys(query.body.device_keys['@alice:localhost'][a.getDeviceId()!].signatures['@alice:localhost'])).toContain(ssk);

    // Secret storage with a new key backup: the backup version is on the server, and A's room keys go into it.
    await crypto.bootstrapSecretStorage({
      createSecretStorageKey: () => crypto.createRecoveryKeyFromPassphrase(),
      setupNewSecretStorage: true,
      setupNewKeyBackup: true,
    });
    expect(await crypto.isSecretStorageReady()).toBe(true);
    const version = await s.request('GET', '/_matrix/client/v3/room_keys/version', { token: a.getAccessToken()! });
    expect(version.status).toBe(200);
    expect(version.body.algorithm).toBe('m.megolm_backup.v1.curve25519-aes-sha2');
    expect(version.body.auth_data.public_key).toMatch(/^[A-Za-z0-9+/]{43}$/);
    expect(Object.keys(version.body.auth_data.signatures['@alice:localhost'])).toContain(`ed25519:${a.getDeviceId()}`);
    const active = await until(a, CryptoEvent.KeyBackupStatus, () => crypto.getActiveSessionBackupVersion(), 'the backup to be active');
    expect(active).toBe(version.body.version);

    const backedUp = await until(
      a,
      CryptoEvent.KeyBackupSessionsRemaining,
      async () => {
        const res = await s.request('GET', `/_matrix/client/v3/room_keys/keys?version=${version.body.version}`, { token: a.getAccessToken()! });
        const sessions = res.body.rooms?.[roomId]?.sessions ?? {};
        return Object.keys(sessions).length > 0 ? sessions : undefined;
      },
      "A's megolm sessions in the backup",
    );
    for (const session of Object.values<any>(backedUp)) {
      expect(session.session_data.ephemeral).toBeTypeOf('string');
      expect(session.session_data.ciphertext).toBeTypeOf('string');
    }

    // Secret storage lives in A's global account data; B sees A's new identity.
    const defaultKey = await s.request('GET', `/_matrix/client/v3/user/${encodeURIComponent('@alice:localhost')}/account_data/m.secret_storage.default_key`, {
      token: a.getAccessToken()!,
    });
    expect(defaultKey.body.key).toBeTypeOf('string');
    // B learns A's new identity (device_lists.changed for A, then /keys/query): A's device is now
    // signed by its owner's self-signing key, which B can only know from the server's answer.
    const aDevice = a.getDeviceId()!;
    const signed = await until(
      b,
      [CryptoEvent.UserTrustStatusChanged, CryptoEvent.DevicesUpdated, ClientEvent.Sync],
      async () => (await b.getCrypto()!.getDeviceVerificationStatus('@alice:localhost', aDevice))?.signedByOwner === true,
      "B to see A's device signed by A's cross-signing identity",
    );
    expect(signed).toBe(true);
    expect((await b.getCrypto()!.getUserVerificationStatus('@alice:localhost')).isCrossSigningVerified()).toBe(false);
  }, 90_000);

  it("typing, read receipts and presence arrive through the SDK's sync loop", async () => {
    const typing = until(
      b,
      RoomMemberEvent.Typing,
      () => b.getRoom(roomId)?.getMember('@alice:localhost')?.typing === true,
      'A typing at B',
    );
    await a.sendTyping(roomId, true, 20_000);
    await typing;
    const stopped = until(
      b,
      RoomMemberEvent.Typing,
      () => b.getRoom(roomId)?.getMember('@alice:localhost')?.typing === false,
      'A stops typing at B',
    );
    await a.sendTyping(roomId, false, 0);
    await stopped;

    const sent = await a.sendTextMessage(roomId, 'read me');
    const event = await until(b, RoomEvent.Timeline, () => b.getRoom(roomId)?.findEventById(sent.event_id), 'B has the message');
    await b.sendReadReceipt(event);
    const receipt = await until(
      a,
      RoomEvent.Receipt,
      () => a.getRoom(roomId)?.getReadReceiptForUserId('@bob:localhost', true) ?? undefined,
      "B's receipt at A",
    );
    expect(receipt.eventId).toBe(sent.event_id);
    const onEvent = a.getRoom(roomId)!.getReceiptsForEvent(a.getRoom(roomId)!.findEventById(sent.event_id)!);
    expect(onEvent.some((r) => r.userId === '@bob:localhost' && r.type === 'm.read')).toBe(true);

    await a.setPresence({ presence: 'online', status_msg: 'encrypting things' });
    const user = await until(
      b,
      UserEvent.Presence,
      () => {
        const u = b.getUser('@alice:localhost');
        return u?.presence === 'online' && u.presenceStatusMsg === 'encrypting things' ? u : undefined;
      },
      "A's presence at B",
    );
    expect(user.presence).toBe('online');
  }, 90_000);

  it("A's new device restores the key backup through secret storage and reads the history", async () => {
    const a2 = await login('alice', 'alice-password', 'alice desktop');
    // The user types in their recovery key: here, the one A's first device created.
    for (const [id, key] of ssssKeys.get(a.getDeviceId()!)!) ssssKeys.get(a2.getDeviceId()!)!.set(id, key);
    await start(a2);
    const crypto = a2.getCrypto()!;
    await until(a2, ClientEvent.AccountData, () => a2.getAccountData('m.megolm_backup.v1' as never) !== undefined, 'the backup secret in account data');
    await crypto.loadSessionBackupPrivateKeyFromSecretStorage();
    const check = await crypto.checkKeyBackupAndEnable();
    expect(check?.backupInfo.version).toBeTypeOf('string');
    const restored = await crypto.restoreKeyBackup();
    expect(restored.imported).toBeGreaterThanOrEqual(2);

    for (const { id, body } of history) {
      const ev = await until(
        a2,
        [MatrixEventEvent.Decrypted, RoomEvent.Timeline],
        async () => {
          const e = a2.getRoom(roomId)?.findEventById(id);
          if (!e) return undefined;
          if (e.isDecryptionFailure()) await e.attemptDecryption(crypto as never, { isRetry: true });
          else await a2.decryptEventIfNeeded(e);
          return !e.isBeingDecrypted() && !e.isDecryptionFailure() && e.getType() === 'm.room.message' ? e : undefined;
        },
        `A's new device decrypts "${body}"`,
      );
      expect(ev.getClearContent()?.body).toBe(body);
    }
  }, 90_000);

  it("B's second device signs out and leaves A's device list", async () => {
    const gone = b2.getDeviceId()!;
    await b2.logout(true);
    await until(
      a,
      [CryptoEvent.DevicesUpdated, ClientEvent.Sync],
      async () => !(await a.getCrypto()!.getUserDeviceInfo(['@bob:localhost'])).get('@bob:localhost')?.has(gone),
      "B's second device gone from A's list",
    );
    const left = await a.getCrypto()!.getUserDeviceInfo(['@bob:localhost']);
    expect([...left.get('@bob:localhost')!.keys()]).toEqual([b.getDeviceId()]);
  }, 90_000);

  it("B leaves the only room they share with A: A's sync says so in device_lists.left", async () => {
    const mine = seen.get(a.getDeviceId()!)!;
    expect(mine.left.has('@bob:localhost')).toBe(false);
    await b.leave(roomId);
    await until(a, ClientEvent.Sync, () => mine.left.has('@bob:localhost'), "bob in A's device_lists.left");
    expect(mine.left.has('@alice:localhost')).toBe(false);
  }, 90_000);

  it("every answer the SDK got from the sync and key endpoints matches the spec's schema", () => {
    expect([...checked].sort()).toEqual(
      expect.arrayContaining(['get /room_keys/version', 'get /sync', 'post /keys/claim', 'post /keys/query', 'post /keys/upload', 'post /room_keys/version', 'put /room_keys/keys']),
    );
    expect(offSpec).toEqual([]);
  });

  it('every to-device message reached its device exactly once', () => {
    let total = 0;
    for (const [device, { toDevice }] of seen) {
      const encrypted = toDevice.filter((e) => JSON.parse(e).type === 'm.room.encrypted');
      total += encrypted.length;
      expect(new Set(toDevice).size, `duplicates delivered to ${device}`).toBe(toDevice.length);
    }
    // Room keys went to B, to B's second device and to A (B's reply) at least.
    expect(total).toBeGreaterThanOrEqual(3);
  });
});
