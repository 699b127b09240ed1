import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, Direction, type ICreateClientOpts, type MatrixClient } from 'matrix-js-sdk';
import { logger as sdkGlobalLogger } from 'matrix-js-sdk/lib/logger.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { startServer, type TestServer } from '../harness/server.js';

type SdkLogger = NonNullable<ICreateClientOpts['logger']>;
const noop = () => {};
const quiet: SdkLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, getChild: () => quiet };
// The send queue logs through the library's global logger.
(sdkGlobalLogger as unknown as { setLevel(level: string): void }).setLevel('silent');

// The real-client flow: two matrix-js-sdk clients in a room, through the library's own calls.
describe('matrix-js-sdk 37: a room between two users', () => {
  let s: TestServer;
  let a: MatrixClient;
  let b: MatrixClient;

  const login = async (user: string, password: string) => {
    const anon = createClient({ baseUrl: s.url, logger: quiet });
    const res = await anon.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user }, password });
    return createClient({ baseUrl: s.url, logger: quiet, accessToken: res.access_token, userId: res.user_id, deviceId: res.device_id });
  };

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    await s.registerUser('anna', { password: 'anna-password' });
    await s.registerUser('ben', { password: 'ben-password' });
    a = await login('anna', 'anna-password');
    b = await login('ben', 'ben-password');
  });
  afterAll(async () => s?.close());

  it('create, name, topic, invite, join, talk, paginate, redact, upgrade and follow, ban', async () => {
    const { room_id: roomId } = await a.createRoom({ name: 'js-sdk room', preset: 'public_chat' as never });
    await a.setRoomName(roomId, 'Renamed by js-sdk');
    await a.setRoomTopic(roomId, 'A topic from js-sdk');
    expect((await a.getStateEvent(roomId, 'm.room.name', '')).name).toBe('Renamed by js-sdk');
    expect((await b.getStateEvent(roomId, 'm.room.topic', '').catch((e) => e)).errcode).toBe('M_FORBIDDEN');

    await a.invite(roomId, '@ben:localhost');
    await b.joinRoom(roomId);
    expect((await b.getJoinedRooms()).joined_rooms).toContain(roomId);
    expect((await b.getStateEvent(roomId, 'm.room.topic', '')).topic).toBe('A topic from js-sdk');

    const sent: string[] = [];
    for (let i = 0; i < 6; i++) {
      const who = i % 2 === 0 ? a : b;
      sent.push((await who.sendTextMessage(roomId, `message ${i}`)).event_id);
    }

    // A paginates back from the end, two pages of three.
    const page1 = await a.createMessagesRequest(roomId, null, 3, Direction.Backward);
    expect(page1.chunk.map((e) => e.content.body)).toEqual(['message 5', 'message 4', 'message 3']);
    const page2 = await a.createMessagesRequest(roomId, page1.end!, 3, Direction.Backward);
    expect(page2.chunk.map((e) => e.content.body)).toEqual(['message 2', 'message 1', 'message 0']);

    // A redacts B's message; B sees it redacted.
    await a.redactEvent(roomId, sent[1]!, undefined, { reason: 'tidy' });
    const seen = await b.fetchRoomEvent(roomId, sent[1]!);
    expect(seen.content).toEqual({});
    expect(seen.unsigned?.redacted_because?.sender).toBe('@anna:localhost');

    // A upgrades the room; B finds the tombstone and follows it.
    const { replacement_room: newRoom } = await a.upgradeRoom(roomId, '11');
    const tombstone = await b.getStateEvent(roomId, 'm.room.tombstone', '');
    expect(tombstone.replacement_room).toBe(newRoom);
    const create = await a.getStateEvent(newRoom, 'm.room.create', '');
    expect(create.predecessor?.room_id).toBe(roomId);
    await b.joinRoom(newRoom);
    await b.sendTextMessage(newRoom, 'followed the upgrade');

    // A bans B in the new room: B's next send is refused.
    await a.ban(newRoom, '@ben:localhost', 'enough');
    const refused = await b.sendTextMessage(newRoom, 'still here?').catch((e) => e);
    expect(refused.httpStatus).toBe(403);
    expect(refused.errcode).toBe('M_FORBIDDEN');
    const members = await a.members(newRoom);
    const ben = members.chunk.find((e) => e.state_key === '@ben:localhost');
    expect(ben?.content.membership).toBe('ban');
  });
});
