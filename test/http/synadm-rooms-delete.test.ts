import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { synadmRunner, type SynadmResult } from '../harness/synadm.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

/**
 * Debian's synadm (0.38) deleting a room and purging history against Axon. This synadm deletes
 * through DELETE /_synapse/admin/v1/rooms (it has no v2 command and no delete-status command);
 * it prints the room's details and members first, then the deletion's result.
 */
describe('synadm: room delete, history purge and purge-status', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let synadm: (...args: string[]) => Promise<SynadmResult>;
  const ok = (r: SynadmResult) => {
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    return r;
  };
  /** The JSON documents synadm printed, in order. */
  const documents = (stdout: string): any[] => {
    const out: any[] = [];
    let depth = 0;
    let start = -1;
    let inString = false;
    for (let i = 0; i < stdout.length; i++) {
      const c = stdout[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{') {
        if (depth++ === 0) start = i;
      } else if (c === '}' && --depth === 0) out.push(JSON.parse(stdout.slice(start, i + 1)));
    }
    return out;
  };
  const room = async () => {
    const roomId = (await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat', name: 'to go' } })).body.room_id as string;
    await s.request('POST', `${V3}/rooms/${enc(roomId)}/join`, { token: bob.accessToken, body: {} });
    for (let i = 0; i < 5; i++) await s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/s${roomId}${i}`, { token: bob.accessToken, body: { msgtype: 'm.text', body: `m${i}` } });
    return roomId;
  };

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    synadm = synadmRunner(s, admin);
  });
  afterAll(async () => s?.close());

  it('room delete kicks the members, moves them to the new room and purges the room', async () => {
    const roomId = await room();
    const r = ok(await synadm('room', 'delete', roomId, '-u', 'moderator', '-n', 'Elsewhere', '-m', 'Closed.', '-b'));
    const result = documents(r.stdout).at(-1);
    expect(result.kicked_users.sort()).toEqual([alice.userId, bob.userId].sort());
    expect(result.failed_to_kick_users).toEqual([]);
    expect(result.new_room_id).toMatch(/^!.+:localhost$/);
    expect(Number((await querySql<{ n: number | string }>(s, `SELECT count(*) AS n FROM events WHERE room_id = '${roomId}'`))[0]!.n)).toBe(0);
    expect(Number((await querySql<{ n: number | string }>(s, `SELECT count(*) AS n FROM blocked_rooms WHERE room_id = '${roomId}'`))[0]!.n)).toBe(1);
    const joined = (await s.request('GET', `${V3}/joined_rooms`, { token: bob.accessToken })).body.joined_rooms as string[];
    expect(joined).toContain(result.new_room_id);
  });

  it('history purge starts a purge and history purge-status reports it complete', async () => {
    const roomId = await room();
    const r = ok(await synadm('history', 'purge', roomId, '--before-ts', String(Date.now() + 60_000), '--delete-local'));
    const purgeId = documents(r.stdout).at(-1).purge_id as string;
    expect(purgeId).toMatch(/^[A-Za-z]{16}$/);
    let status: any;
    for (let i = 0; i < 50; i++) {
      status = documents(ok(await synadm('history', 'purge-status', purgeId)).stdout).at(-1);
      if (status.status !== 'active') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(status.status).toBe('complete');
    // Only state and the latest message are left.
    const left = await querySql<{ n: number | string }>(s, `SELECT count(*) AS n FROM events WHERE room_id = '${roomId}' AND state_key IS NULL`);
    expect(Number(left[0]!.n)).toBe(1);
    const missing = await synadm('history', 'purge-status', 'nosuchpurge');
    expect(`${missing.stdout}${missing.stderr}`).toMatch(/purge id 'nosuchpurge' not found|404/);
  });
});
