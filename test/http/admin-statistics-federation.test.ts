import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';

const V3 = '/_matrix/client/v3';
const ADMIN = '/_synapse/admin/v1';
const enc = encodeURIComponent;

describe('Statistics, federation destinations and background updates (catalogue §8.2, §11, §12)', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;
  const get = (path: string, token = admin.accessToken) => s.request('GET', `${ADMIN}${path}`, { token });
  const post = (path: string, body?: unknown, token = admin.accessToken) => s.request('POST', `${ADMIN}${path}`, { token, body });

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
  });
  afterAll(async () => s?.close());

  describe('GET /statistics/database/rooms', () => {
    it('answers an empty list on a server without rooms', async () => {
      const res = await get('/statistics/database/rooms');
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ rooms: [] });
    });

    it('lists rooms by estimated size, biggest first, on both engines', async () => {
      const small = (await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: {} })).body.room_id as string;
      const big = (await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: {} })).body.room_id as string;
      for (let i = 0; i < 40; i++) {
        const r = await s.request('PUT', `${V3}/rooms/${enc(big)}/send/m.room.message/m${i}`, { token: alice.accessToken, body: { msgtype: 'm.text', body: `message ${i} `.repeat(20) } });
        expect(r.status).toBe(200);
      }
      const res = await get('/statistics/database/rooms');
      expect(res.status, res.text).toBe(200);
      const rooms = res.body.rooms as Array<{ room_id: string; estimated_size: number }>;
      expect(rooms.map((r) => r.room_id)).toEqual([big, small]);
      for (const r of rooms) {
        expect(Object.keys(r).sort()).toEqual(['estimated_size', 'room_id']);
        expect(Number.isInteger(r.estimated_size)).toBe(true);
        expect(r.estimated_size).toBeGreaterThan(0);
      }
      expect(rooms[0]!.estimated_size).toBeGreaterThan(rooms[1]!.estimated_size * 2);

      // On PostgreSQL, once the planner has statistics they are what the estimate uses (as Synapse).
      if (s.dialect === 'postgres') {
        await runSql(s, 'ANALYZE');
        const after = await get('/statistics/database/rooms');
        expect(after.status).toBe(200);
        expect(after.body.rooms[0].room_id).toBe(big);
      }
      expect((await get('/statistics/database/rooms', alice.accessToken)).status).toBe(403);
    });
  });

  describe('federation destinations (Axon does not federate yet)', () => {
    it('lists no destinations, with Synapse\'s shape, and checks the parameters', async () => {
      let res = await get('/federation/destinations');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ destinations: [], total: 0 });
      res = await get('/federation/destinations?from=10&limit=5&order_by=retry_last_ts&dir=b&destination=matrix.org');
      expect(res.body).toEqual({ destinations: [], total: 0 });
      for (const q of ['from=-1', 'limit=x', 'order_by=name', 'dir=up']) {
        res = await get(`/federation/destinations?${q}`);
        expect(res.status, q).toBe(400);
        expect(res.body.errcode).toBe('M_INVALID_PARAM');
      }
      expect((await get('/federation/destinations', alice.accessToken)).status).toBe(403);
    });

    it('every destination is unknown: details, rooms and reset_connection answer 404', async () => {
      const unknown = { errcode: 'M_NOT_FOUND', error: 'Unknown destination' };
      let res = await get('/federation/destinations/matrix.org');
      expect(res.status).toBe(404);
      expect(res.body).toEqual(unknown);
      res = await get('/federation/destinations/matrix.org/rooms');
      expect(res.status).toBe(404);
      expect(res.body).toEqual(unknown);
      res = await get('/federation/destinations/matrix.org/rooms?from=-1');
      expect(res.status).toBe(400);
      res = await post('/federation/destinations/matrix.org/reset_connection', {});
      expect(res.status).toBe(404);
      expect(res.body).toEqual(unknown);
    });
  });

  describe('background updates (Axon migrates before it listens: nothing is ever pending)', () => {
    it('status and enabled answer truthfully; enabled can be switched', async () => {
      let res = await get('/background_updates/status');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ enabled: true, current_updates: {} });
      res = await get('/background_updates/enabled');
      expect(res.body).toEqual({ enabled: true });
      res = await post('/background_updates/enabled', { enabled: false });
      expect(res.body).toEqual({ enabled: false });
      expect((await get('/background_updates/status')).body).toEqual({ enabled: false, current_updates: {} });
      // An absent value means true, as Synapse.
      res = await post('/background_updates/enabled', {});
      expect(res.body).toEqual({ enabled: true });
      res = await post('/background_updates/enabled', { enabled: 'no' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: "'enabled' parameter must be a boolean" });
      res = await s.request('POST', `${ADMIN}/background_updates/enabled`, { token: admin.accessToken });
      expect(res.body.errcode).toBe('M_NOT_JSON');
    });

    it('start_job accepts Synapse\'s jobs (there is nothing to redo) and refuses others', async () => {
      for (const job of ['populate_stats_process_rooms', 'regenerate_directory']) {
        const res = await post('/background_updates/start_job', { job_name: job });
        expect(res.status, job).toBe(200);
        expect(res.body).toEqual({});
      }
      let res = await post('/background_updates/start_job', { job_name: 'drop_everything' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Invalid job_name' });
      res = await post('/background_updates/start_job', {});
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errcode: 'M_MISSING_PARAM', error: "Missing params: ['job_name']" });
      expect((await get('/background_updates/status')).body.current_updates).toEqual({});
      expect((await post('/background_updates/start_job', { job_name: 'regenerate_directory' }, alice.accessToken)).status).toBe(403);
    });
  });
});
