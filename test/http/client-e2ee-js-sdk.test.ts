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
import { logger as sdkGlobalLogger } from 'matrix-js-sdk/lib/logger.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { startServer, type TestServer } from '../harness/server.js';

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
  let roomId: string;

  const login = async (user: string, password: string, deviceName: string) => {
    const anon = createClient({ baseUrl: s.url, logger: quiet });
    const res = await anon.loginRequest({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user },
      password,
      initial_device_display_name: deviceName,
    });
    const client = createClient({ baseUrl: s.url, logger: quiet, accessToken: res.access_token, userId: res.user_id, deviceId: res.device_id });
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
  });
});
