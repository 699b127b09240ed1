import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { synadmRunner, type SynadmResult } from '../harness/synadm.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;
/** 2023-11-14: old enough for `--before-days 30`. */
const OLD = 1_700_000_000_000;

// Debian's synadm (0.38) against the media endpoints of the Admin API (issue 10): `media list`
// by user and by room, `media quarantine` by ID, room and user, `media protect`, `media delete`
// by ID and by age/size (the legacy /v1/media/<server>/delete it calls), and `media purge`.
describe('synadm: media', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;
  let store: string;
  let roomId: string;
  let txn = 0;
  let synadm: (...args: string[]) => Promise<SynadmResult>;
  const ok = (r: SynadmResult) => {
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    return r;
  };
  const bool = (b: boolean) => (s.dialect === 'postgres' ? (b ? 'TRUE' : 'FALSE') : b ? '1' : '0');
  const localContent = (id: string) => join(store, 'local_content', id.slice(0, 2), id.slice(2, 4), id.slice(4));
  const addMedia = async (id: string, o: { created?: number; length?: number; user?: string } = {}) => {
    const length = o.length ?? 10;
    await runSql(
      s,
      `INSERT INTO local_media_repository (media_id, media_type, media_length, created_ts, upload_name, user_id, quarantined_by, url_cache, last_access_ts, safe_from_quarantine, authenticated, sha256)
       VALUES ('${id}', 'image/png', ${length}, ${o.created ?? Date.now()}, '${id}.png', '${o.user ?? alice.userId}', NULL, NULL, NULL, ${bool(false)}, ${bool(true)}, NULL)`,
    );
    mkdirSync(dirname(localContent(id)), { recursive: true });
    writeFileSync(localContent(id), Buffer.alloc(length, 1));
  };
  const quarantinedBy = async (id: string) => (await querySql<{ quarantined_by: string | null }>(s, `SELECT quarantined_by FROM local_media_repository WHERE media_id = '${id}'`))[0]?.quarantined_by ?? null;

  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), 'axon-synadm-media-'));
    s = await startServer({ media_store_path: store });
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
    roomId = (await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: {} })).body.room_id;
    await addMedia('aliceNew01');
    await addMedia('aliceNew02');
    await addMedia('inRoom0001');
    await s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`, {
      token: alice.accessToken,
      body: { msgtype: 'm.image', body: 'x.png', url: 'mxc://localhost/inRoom0001' },
    });
    synadm = synadmRunner(s, admin);
  });
  afterAll(async () => {
    await s?.close();
    rmSync(store, { recursive: true, force: true });
  });

  it('media list by user and by room', async () => {
    const byUser = ok(await synadm('media', 'list', '-u', alice.userId, '--ts'));
    expect(byUser.json.total).toBe(3);
    expect(byUser.json.media.map((m: any) => m.media_id).sort()).toEqual(['aliceNew01', 'aliceNew02', 'inRoom0001']);
    const sorted = ok(await synadm('media', 'list', '-u', alice.userId, '-s', 'media_id', '-R', '-l', '2'));
    expect(sorted.json.media.map((m: any) => m.media_id)).toEqual(['inRoom0001', 'aliceNew02']);
    expect(sorted.json.next_token).toBe(2);
    const byRoom = ok(await synadm('media', 'list', '-r', roomId));
    expect(byRoom.json).toEqual({ local: ['mxc://localhost/inRoom0001'], remote: [] });
  });

  it('media protect and media quarantine by ID, room and user', async () => {
    ok(await synadm('media', 'protect', 'aliceNew02'));
    const one = ok(await synadm('media', 'quarantine', '-i', 'aliceNew01'));
    expect(one.json).toEqual({});
    expect(await quarantinedBy('aliceNew01')).toBe(admin.userId);
    const room = ok(await synadm('media', 'quarantine', '-r', roomId));
    expect(room.json).toEqual({ num_quarantined: 1 });
    expect(await quarantinedBy('inRoom0001')).toBe(admin.userId);
    // Everything of alice's is quarantined already but the protected item, which never is.
    const user = ok(await synadm('media', 'quarantine', '-u', alice.userId));
    expect(user.json).toEqual({ num_quarantined: 0 });
    expect(await quarantinedBy('aliceNew02')).toBeNull();
  });

  it('media delete by ID and by age and size', async () => {
    await addMedia('deleteMe01');
    const one = ok(await synadm('media', 'delete', '-i', 'deleteMe01'));
    expect(one.json).toEqual({ deleted_media: ['deleteMe01'], total: 1 });
    expect(existsSync(localContent('deleteMe01'))).toBe(false);

    await addMedia('oldSmall01', { created: OLD, length: 100 });
    await addMedia('oldLarge01', { created: OLD, length: 5000 });
    // --kib 2: larger than 2048 bytes only.
    const bySize = ok(await synadm('media', 'delete', '--before-days', '30', '--kib', '2'));
    expect(bySize.json).toEqual({ deleted_media: ['oldLarge01'], total: 1 });
    const byAge = ok(await synadm('media', 'delete', '--before-ts', String(OLD + 1000)));
    expect(byAge.json).toEqual({ deleted_media: ['oldSmall01'], total: 1 });
    expect(existsSync(localContent('oldSmall01'))).toBe(false);
    expect(existsSync(localContent('aliceNew01'))).toBe(true);
  });

  it('media purge (the remote cache; nothing cached here)', async () => {
    const r = ok(await synadm('media', 'purge', '--before-days', '1'));
    expect(r.json).toEqual({ deleted: 0 });
  });
});
