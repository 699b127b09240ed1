import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';

const V3 = '/_matrix/client/v3';
const ADMIN = '/_synapse/admin';
const enc = encodeURIComponent;
const DAY = 86_400_000;
/** A fixed "now" far from the real one, so age selections are exact. */
const T0 = 1_700_000_000_000;

/** Synapse's media store layout (as an operator's scripts see it): aa/bb/rest under each area. */
class MediaPaths {
  constructor(readonly root: string) {}
  private split = (id: string) => [id.slice(0, 2), id.slice(2, 4), id.slice(4)];
  localContent = (id: string) => join(this.root, 'local_content', ...this.split(id));
  localThumbnailDir = (id: string) => join(this.root, 'local_thumbnails', ...this.split(id));
  localThumbnail = (id: string, w: number, h: number, type: string, method: string) => join(this.localThumbnailDir(id), `${w}-${h}-${type.replace('/', '-')}-${method}`);
  remoteContent = (origin: string, fsid: string) => join(this.root, 'remote_content', origin, ...this.split(fsid));
  remoteThumbnailDir = (origin: string, fsid: string) => join(this.root, 'remote_thumbnail', origin, ...this.split(fsid));
  remoteThumbnail = (origin: string, fsid: string, w: number, h: number, type: string, method: string) =>
    join(this.remoteThumbnailDir(origin, fsid), `${w}-${h}-${type.replace('/', '-')}-${method}`);
}

interface MediaSpec {
  id: string;
  user?: string | null;
  length?: number;
  type?: string;
  name?: string | null;
  created?: number;
  accessed?: number | null;
  sha?: string | null;
  quarantinedBy?: string | null;
  safe?: boolean;
  /** Thumbnails written to disk and recorded (default one). */
  thumbnails?: number;
}

/**
 * The media Admin API (catalogue §3.12, §7, §8.1) on rows and files laid out as Synapse does:
 * media rows are written with SQL and files at the media store's paths, so every endpoint is
 * checked against the disk as well as its answer.
 */
describe('Admin API: media', () => {
  let s: TestServer;
  let admin: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let store: string;
  let paths: MediaPaths;
  let txn = 0;
  const ok = <T extends { status: number; body: any }>(r: T) => {
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  const get = (path: string, u = admin) => s.request('GET', `${ADMIN}${path}`, { token: u.accessToken });
  const post = (path: string, u = admin) => s.request('POST', `${ADMIN}${path}`, { token: u.accessToken, body: {} });
  const del = (path: string, u = admin) => s.request('DELETE', `${ADMIN}${path}`, { token: u.accessToken, body: {} });
  const bool = (b: boolean) => (s.dialect === 'postgres' ? (b ? 'TRUE' : 'FALSE') : b ? '1' : '0');
  const q = (v: string | null | undefined) => (v === null || v === undefined ? 'NULL' : `'${v.replace(/'/g, "''")}'`);

  const addMedia = async (m: MediaSpec) => {
    const user = m.user === undefined ? alice.userId : m.user;
    const length = m.length ?? 10;
    await runSql(
      s,
      `INSERT INTO local_media_repository (media_id, media_type, media_length, created_ts, upload_name, user_id, quarantined_by, url_cache, last_access_ts, safe_from_quarantine, authenticated, sha256)
       VALUES (${q(m.id)}, ${q(m.type ?? 'image/png')}, ${length}, ${m.created ?? T0}, ${q(m.name === undefined ? `${m.id}.png` : m.name)}, ${q(user)}, ${q(m.quarantinedBy)}, NULL, ${m.accessed ?? 'NULL'}, ${bool(m.safe ?? false)}, ${bool(true)}, ${q(m.sha === undefined ? `sha-${m.id}` : m.sha)})`,
    );
    const file = paths.localContent(m.id);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, Buffer.alloc(length, 7));
    for (let i = 0; i < (m.thumbnails ?? 1); i++) {
      const w = 32 * (i + 1);
      const thumb = paths.localThumbnail(m.id, w, w, 'image/png', 'crop');
      mkdirSync(dirname(thumb), { recursive: true });
      writeFileSync(thumb, 'thumb');
      await runSql(
        s,
        `INSERT INTO local_media_repository_thumbnails (media_id, thumbnail_width, thumbnail_height, thumbnail_type, thumbnail_method, thumbnail_length) VALUES (${q(m.id)}, ${w}, ${w}, 'image/png', 'crop', 5)`,
      );
    }
  };
  const addRemote = async (origin: string, id: string, o: { accessed?: number; sha?: string | null; quarantinedBy?: string | null } = {}) => {
    const fsid = `fs${id}`;
    await runSql(
      s,
      `INSERT INTO remote_media_cache (media_origin, media_id, media_type, created_ts, upload_name, media_length, filesystem_id, last_access_ts, quarantined_by, authenticated, sha256)
       VALUES (${q(origin)}, ${q(id)}, 'image/jpeg', ${T0}, 'r.jpg', 20, ${q(fsid)}, ${o.accessed ?? T0}, ${q(o.quarantinedBy)}, ${bool(false)}, ${q(o.sha === undefined ? `sha-${id}` : o.sha)})`,
    );
    const file = paths.remoteContent(origin, fsid);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, 'remote');
    const thumb = paths.remoteThumbnail(origin, fsid, 32, 32, 'image/jpeg', 'crop');
    mkdirSync(dirname(thumb), { recursive: true });
    writeFileSync(thumb, 't');
    await runSql(
      s,
      `INSERT INTO remote_media_cache_thumbnails (media_origin, media_id, thumbnail_width, thumbnail_height, thumbnail_method, thumbnail_type, thumbnail_length, filesystem_id) VALUES (${q(origin)}, ${q(id)}, 32, 32, 'crop', 'image/jpeg', 1, ${q(fsid)})`,
    );
    return fsid;
  };
  /** Whether a local item has anything on disk or in the tables. */
  const onDisk = (id: string) => existsSync(paths.localContent(id)) || existsSync(paths.localThumbnailDir(id));
  const rowsOf = async (id: string) =>
    Number((await querySql<{ n: number | string }>(s, `SELECT count(*) AS n FROM local_media_repository WHERE media_id = '${id}'`))[0]!.n) +
    Number((await querySql<{ n: number | string }>(s, `SELECT count(*) AS n FROM local_media_repository_thumbnails WHERE media_id = '${id}'`))[0]!.n);
  const quarantinedBy = async (id: string) => (await querySql<{ quarantined_by: string | null }>(s, `SELECT quarantined_by FROM local_media_repository WHERE media_id = '${id}'`))[0]?.quarantined_by ?? null;
  const remoteQuarantinedBy = async (origin: string, id: string) =>
    (await querySql<{ quarantined_by: string | null }>(s, `SELECT quarantined_by FROM remote_media_cache WHERE media_origin = '${origin}' AND media_id = '${id}'`))[0]?.quarantined_by ?? null;

  const createRoom = async (u: TestUser, body: unknown = {}) => ok(await s.request('POST', `${V3}/createRoom`, { token: u.accessToken, body })).room_id as string;
  const send = async (u: TestUser, roomId: string, content: unknown, type = 'm.room.message') =>
    ok(await s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/${type}/t${++txn}`, { token: u.accessToken, body: content })).event_id as string;
  const image = (url: string, thumb?: string) => ({ msgtype: 'm.image', body: 'pic.png', url, ...(thumb ? { info: { thumbnail_url: thumb, mimetype: 'image/png' } } : {}) });

  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), 'axon-media-admin-'));
    paths = new MediaPaths(store);
    s = await startServer({ media_store_path: store });
    admin = await s.registerUser('admin', { admin: true });
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
  });
  afterAll(async () => {
    await s?.close();
    rmSync(store, { recursive: true, force: true });
  });

  it('every endpoint is for admins only', async () => {
    const calls: Array<[string, string]> = [
      ['GET', '/v1/room/!r:localhost/media'],
      ['GET', `/v1/users/${enc('@alice:localhost')}/media`],
      ['DELETE', `/v1/users/${enc('@alice:localhost')}/media`],
      ['POST', '/v1/media/quarantine/localhost/abcdefgh'],
      ['POST', '/v1/media/unquarantine/localhost/abcdefgh'],
      ['POST', '/v1/room/!r:localhost/media/quarantine'],
      ['POST', '/v1/quarantine_media/!r:localhost'],
      ['POST', `/v1/user/${enc('@alice:localhost')}/media/quarantine`],
      ['POST', '/v1/media/protect/abcdefgh'],
      ['POST', '/v1/media/unprotect/abcdefgh'],
      ['GET', '/v1/media/localhost/abcdefgh'],
      ['DELETE', '/v1/media/localhost/abcdefgh'],
      ['POST', `/v1/media/delete?before_ts=${T0}`],
      ['POST', `/v1/media/localhost/delete?before_ts=${T0}`],
      ['POST', `/v1/purge_media_cache?before_ts=${T0}`],
      ['GET', '/v1/statistics/users/media'],
      ['GET', '/v1/axon/media/unreferenced'],
    ];
    for (const [method, path] of calls) {
      const none = await s.request(method, `${ADMIN}${path}`, { body: method === 'GET' ? undefined : {} });
      expect(none.status, `${method} ${path}`).toBe(401);
      expect(none.body.errcode).toBe('M_MISSING_TOKEN');
      const user = await s.request(method, `${ADMIN}${path}`, { token: alice.accessToken, body: method === 'GET' ? undefined : {} });
      expect(user.status, `${method} ${path}`).toBe(403);
      expect(user.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You are not a server admin' });
    }
  });

  it('GET /v1/media/<server>/<id>: local and cached remote shapes, 404 for unknown, duplicates by hash', async () => {
    await addMedia({ id: 'infoLocal1', length: 123, accessed: T0 + 5, sha: 'samehash', name: 'cat.png' });
    await addMedia({ id: 'infoLocal2', sha: 'samehash', created: T0 + 1 });
    await addRemote('remote.example', 'infoRemote1', { sha: 'samehash' });
    const local = ok(await get('/v1/media/localhost/infoLocal1')).media_info;
    expect(local).toEqual({
      media_origin: null,
      user_id: alice.userId,
      media_id: 'infoLocal1',
      media_type: 'image/png',
      media_length: 123,
      upload_name: 'cat.png',
      created_ts: T0,
      filesystem_id: null,
      url_cache: null,
      last_access_ts: T0 + 5,
      quarantined_by: null,
      authenticated: true,
      safe_from_quarantine: false,
      sha256: 'samehash',
      axon_duplicates: ['mxc://localhost/infoLocal2', 'mxc://remote.example/infoRemote1'],
    });
    const remote = ok(await get('/v1/media/remote.example/infoRemote1')).media_info;
    expect(remote).toMatchObject({
      media_origin: 'remote.example',
      user_id: null,
      media_id: 'infoRemote1',
      filesystem_id: 'fsinfoRemote1',
      url_cache: null,
      safe_from_quarantine: null,
      authenticated: false,
      axon_duplicates: ['mxc://localhost/infoLocal1', 'mxc://localhost/infoLocal2'],
    });
    for (const path of ['/v1/media/localhost/nosuchmedia', '/v1/media/remote.example/nosuchmedia', '/v1/media/localhost/..%2F..%2Fetc']) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
      expect(r.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Unknown media' });
    }
  });

  it('GET /v1/users/<user>/media: shapes, default newest first, order_by/dir, pagination, errors', async () => {
    const carol = await s.registerUser('carol');
    await addMedia({ id: 'carolAAA1', user: carol.userId, created: T0 + 3, length: 5, name: 'b' });
    await addMedia({ id: 'carolBBB2', user: carol.userId, created: T0 + 1, length: 50, name: 'a' });
    await addMedia({ id: 'carolCCC3', user: carol.userId, created: T0 + 2, length: 20, name: null });
    const path = `/v1/users/${enc(carol.userId)}/media`;
    const all = ok(await get(path));
    expect(all.total).toBe(3);
    expect(all.next_token).toBeUndefined();
    expect(all.media.map((m: any) => m.media_id)).toEqual(['carolAAA1', 'carolCCC3', 'carolBBB2']);
    expect(all.media[0]).toEqual({
      media_id: 'carolAAA1',
      media_type: 'image/png',
      media_length: 5,
      upload_name: 'b',
      created_ts: T0 + 3,
      last_access_ts: null,
      quarantined_by: null,
      safe_from_quarantine: false,
      url_cache: null,
      user_id: carol.userId,
      authenticated: true,
      sha256: 'sha-carolAAA1',
    });
    // Either parameter given: the other defaults to created_ts / forwards.
    expect(ok(await get(`${path}?dir=f`)).media.map((m: any) => m.media_id)).toEqual(['carolBBB2', 'carolCCC3', 'carolAAA1']);
    expect(ok(await get(`${path}?order_by=media_length`)).media.map((m: any) => m.media_id)).toEqual(['carolAAA1', 'carolCCC3', 'carolBBB2']);
    expect(ok(await get(`${path}?order_by=media_length&dir=b`)).media.map((m: any) => m.media_id)).toEqual(['carolBBB2', 'carolCCC3', 'carolAAA1']);
    expect(ok(await get(`${path}?order_by=media_id`)).media.map((m: any) => m.media_id)).toEqual(['carolAAA1', 'carolBBB2', 'carolCCC3']);
    const page1 = ok(await get(`${path}?limit=2`));
    expect(page1).toMatchObject({ total: 3, next_token: 2 });
    expect(page1.media).toHaveLength(2);
    const page2 = ok(await get(`${path}?limit=2&from=${page1.next_token}`));
    expect(page2.next_token).toBeUndefined();
    expect(page2.media.map((m: any) => m.media_id)).toEqual(['carolBBB2']);

    const errors: Array<[string, number, string, string?]> = [
      [`/v1/users/${enc('@carol:other.example')}/media`, 400, 'M_UNKNOWN', 'Can only look up local users'],
      [`/v1/users/${enc('@ghost:localhost')}/media`, 404, 'M_NOT_FOUND', 'Unknown user'],
      [`/v1/users/carol/media`, 400, 'M_INVALID_PARAM'],
      [`${path}?order_by=nope`, 400, 'M_INVALID_PARAM'],
      [`${path}?dir=x`, 400, 'M_INVALID_PARAM'],
      [`${path}?from=-1`, 400, 'M_INVALID_PARAM'],
      [`${path}?limit=abc`, 400, 'M_INVALID_PARAM'],
    ];
    for (const [p, status, errcode, error] of errors) {
      const r = await get(p);
      expect(r.status, p).toBe(status);
      expect(r.body.errcode, p).toBe(errcode);
      if (error) expect(r.body.error).toBe(error);
    }
    expect((await get(`${path}?order_by=nope`)).body.error).toBe(
      "Query parameter 'order_by' must be one of ['media_id', 'upload_name', 'created_ts', 'last_access_ts', 'media_length', 'media_type', 'quarantined_by', 'safe_from_quarantine']",
    );
  });

  it('DELETE /v1/users/<user>/media: deletes the selected page (quarantined and protected too), files and thumbnails', async () => {
    const dave = await s.registerUser('dave');
    await addMedia({ id: 'daveAAAA1', user: dave.userId, created: T0 + 1, thumbnails: 2 });
    await addMedia({ id: 'daveBBBB2', user: dave.userId, created: T0 + 2, safe: true });
    await addMedia({ id: 'daveCCCC3', user: dave.userId, created: T0 + 3, quarantinedBy: admin.userId });
    const path = `/v1/users/${enc(dave.userId)}/media`;
    // Newest first by default: the first page of 2 is CCCC3 and BBBB2.
    const r = ok(await del(`${path}?limit=2`));
    expect(r).toEqual({ deleted_media: ['daveCCCC3', 'daveBBBB2'], total: 2 });
    for (const id of ['daveBBBB2', 'daveCCCC3']) {
      expect(onDisk(id), id).toBe(false);
      expect(await rowsOf(id)).toBe(0);
    }
    expect(onDisk('daveAAAA1')).toBe(true);
    expect(readdirSync(paths.localThumbnailDir('daveAAAA1'))).toHaveLength(2);
    expect(ok(await del(path))).toEqual({ deleted_media: ['daveAAAA1'], total: 1 });
    expect(onDisk('daveAAAA1')).toBe(false);
    expect(await rowsOf('daveAAAA1')).toBe(0);
    expect(ok(await del(path))).toEqual({ deleted_media: [], total: 0 });
    expect((await del(`/v1/users/${enc('@dave:other.example')}/media`)).status).toBe(400);
    expect((await del(`/v1/users/${enc('@nobody:localhost')}/media`)).status).toBe(404);
  });

  it('DELETE /v1/media/<server>/<id>: one local item with its files, whatever its state; errors', async () => {
    await addMedia({ id: 'delOne001', safe: true, quarantinedBy: admin.userId, thumbnails: 3 });
    await runSql(s, `INSERT INTO local_media_repository_url_cache (url, response_code, etag, expires_ts, og, media_id, download_ts) VALUES ('https://x.example/', 200, NULL, ${T0}, '{}', 'delOne001', ${T0})`);
    expect(ok(await del('/v1/media/localhost/delOne001'))).toEqual({ deleted_media: ['delOne001'], total: 1 });
    expect(onDisk('delOne001')).toBe(false);
    expect(await rowsOf('delOne001')).toBe(0);
    expect((await querySql(s, "SELECT * FROM local_media_repository_url_cache WHERE media_id = 'delOne001'")).length).toBe(0);
    const again = await del('/v1/media/localhost/delOne001');
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Unknown media' });
    const remote = await del('/v1/media/remote.example/infoRemote1');
    expect(remote.status).toBe(400);
    expect(remote.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Can only delete local media' });
    // A file already missing from disk does not stop the deletion of its rows.
    await addMedia({ id: 'delMissing' });
    rmSync(paths.localContent('delMissing'));
    rmSync(paths.localThumbnailDir('delMissing'), { recursive: true });
    expect(ok(await del('/v1/media/localhost/delMissing'))).toEqual({ deleted_media: ['delMissing'], total: 1 });
    expect(await rowsOf('delMissing')).toBe(0);
  });

  it('POST /v1/media/delete and the legacy /v1/media/<server>/delete: by age and size, skipping quarantined, protected and avatars', async () => {
    // Everything this test adds is older than T0 - 10 days; earlier tests' media is at T0 and later.
    const old = T0 - 20 * DAY;
    const eve = await s.registerUser('eve');
    await addMedia({ id: 'ageOld001', user: eve.userId, created: old, length: 100 });
    await addMedia({ id: 'ageOld002', user: eve.userId, created: old, length: 5 });
    await addMedia({ id: 'ageAccRec', user: eve.userId, created: old, accessed: T0 + 1, length: 100 });
    await addMedia({ id: 'ageAccOld', user: eve.userId, created: old, accessed: old + 1, length: 100 });
    await addMedia({ id: 'ageQuar01', user: eve.userId, created: old, length: 100, quarantinedBy: admin.userId });
    await addMedia({ id: 'ageSafe01', user: eve.userId, created: old, length: 100, safe: true });
    await addMedia({ id: 'ageAvatar', user: eve.userId, created: old, length: 100 });
    ok(await s.request('PUT', `${V3}/profile/${enc(eve.userId)}/avatar_url`, { token: eve.accessToken, body: { avatar_url: 'mxc://localhost/ageAvatar' } }));
    const before = T0 - 10 * DAY;

    const bySize = ok(await post(`/v1/media/delete?before_ts=${before}&size_gt=50`));
    expect(bySize.deleted_media.sort()).toEqual(['ageAccOld', 'ageOld001']);
    expect(bySize.total).toBe(2);
    for (const id of ['ageAccOld', 'ageOld001']) expect(onDisk(id)).toBe(false);
    for (const id of ['ageOld002', 'ageAccRec', 'ageQuar01', 'ageSafe01', 'ageAvatar']) expect(onDisk(id), id).toBe(true);

    // The legacy path, with synapse-admin's keep_profiles=false: the avatar goes too.
    const legacy = ok(await post(`/v1/media/localhost/delete?before_ts=${before}&keep_profiles=false`));
    expect(legacy.deleted_media.sort()).toEqual(['ageAvatar', 'ageOld002']);
    expect(onDisk('ageAvatar')).toBe(false);
    expect(ok(await post(`/v1/media/delete?before_ts=${before}`))).toEqual({ deleted_media: [], total: 0 });

    const errors: Array<[string, number, string, string?]> = [
      ['/v1/media/delete', 400, 'M_MISSING_PARAM'],
      ['/v1/media/delete?before_ts=1000', 400, 'M_INVALID_PARAM', 'Query parameter before_ts you provided is from the year 1970. Double check that you are providing a timestamp in milliseconds.'],
      ['/v1/media/delete?before_ts=-5', 400, 'M_INVALID_PARAM'],
      [`/v1/media/delete?before_ts=${T0}&size_gt=-1`, 400, 'M_INVALID_PARAM'],
      [`/v1/media/delete?before_ts=${T0}&keep_profiles=yes`, 400, 'M_INVALID_PARAM'],
      [`/v1/media/other.example/delete?before_ts=${T0}`, 400, 'M_UNKNOWN', 'Can only delete local media'],
    ];
    for (const [p, status, errcode, error] of errors) {
      const r = await post(p);
      expect(r.status, p).toBe(status);
      expect(r.body.errcode, p).toBe(errcode);
      if (error) expect(r.body.error).toBe(error);
    }
  });

  it('POST /v1/purge_media_cache: cached remote media last accessed before before_ts, except quarantined, files gone', async () => {
    const old = T0 - 30 * DAY;
    const fsOld = await addRemote('cache.example', 'cacheOld1', { accessed: old });
    const fsNew = await addRemote('cache.example', 'cacheNew1', { accessed: T0 });
    const fsQ = await addRemote('cache.example', 'cacheQuar', { accessed: old, quarantinedBy: admin.userId });
    expect(ok(await post(`/v1/purge_media_cache?before_ts=${T0 - DAY}`))).toEqual({ deleted: 1 });
    expect(existsSync(paths.remoteContent('cache.example', fsOld))).toBe(false);
    expect(existsSync(paths.remoteThumbnailDir('cache.example', fsOld))).toBe(false);
    expect(existsSync(paths.remoteContent('cache.example', fsNew))).toBe(true);
    expect(existsSync(paths.remoteContent('cache.example', fsQ))).toBe(true);
    expect((await querySql(s, "SELECT media_id FROM remote_media_cache_thumbnails WHERE media_id = 'cacheOld1'")).length).toBe(0);
    expect(ok(await post(`/v1/purge_media_cache?before_ts=${T0 - DAY}`))).toEqual({ deleted: 0 });
    expect((await post('/v1/purge_media_cache')).body.errcode).toBe('M_MISSING_PARAM');
    const tooSmall = await post('/v1/purge_media_cache?before_ts=1234');
    expect(tooSmall.status).toBe(400);
    expect(tooSmall.body.errcode).toBe('M_INVALID_PARAM');
    expect((await post('/v1/purge_media_cache?before_ts=-1')).body.errcode).toBe('M_INVALID_PARAM');
  });

  it('quarantine by ID (local and remote) propagates by hash, skips protected media, unquarantine reverses it', async () => {
    await addMedia({ id: 'quarOne01', sha: 'qhash' });
    await addMedia({ id: 'quarTwin1', sha: 'qhash' });
    await addMedia({ id: 'quarSafe1', sha: 'qhash', safe: true });
    await addRemote('far.example', 'quarRem01', { sha: 'qhash' });
    expect(ok(await post('/v1/media/quarantine/localhost/quarOne01'))).toEqual({});
    expect(await quarantinedBy('quarOne01')).toBe(admin.userId);
    expect(await quarantinedBy('quarTwin1')).toBe(admin.userId);
    expect(await quarantinedBy('quarSafe1')).toBeNull();
    expect(await remoteQuarantinedBy('far.example', 'quarRem01')).toBe(admin.userId);
    // Files stay.
    expect(onDisk('quarOne01')).toBe(true);
    expect(ok(await get('/v1/media/localhost/quarOne01')).media_info.quarantined_by).toBe(admin.userId);

    expect(ok(await post('/v1/media/unquarantine/far.example/quarRem01'))).toEqual({});
    for (const id of ['quarOne01', 'quarTwin1']) expect(await quarantinedBy(id)).toBeNull();
    expect(await remoteQuarantinedBy('far.example', 'quarRem01')).toBeNull();

    // Recorded in the admin audit log like every other admin mutation.
    const audit = ok(await get(`/v1/audit_log?user_id=${enc(admin.userId)}&limit=1000`)).entries as any[];
    expect(audit.find((e) => e.path === `${ADMIN}/v1/media/quarantine/localhost/quarOne01`)).toMatchObject({ method: 'POST', status: 200 });

    // Unknown IDs are not an error.
    expect(ok(await post('/v1/media/quarantine/localhost/nosuchmedia'))).toEqual({});
    expect(ok(await post('/v1/media/quarantine/nowhere.example/nosuchmedia'))).toEqual({});
    expect(ok(await post('/v1/media/unquarantine/localhost/nosuchmedia'))).toEqual({});
  });

  it('protect and unprotect: a protected item is never quarantined; unknown IDs are fine', async () => {
    await addMedia({ id: 'protect01', sha: null });
    expect(ok(await post('/v1/media/protect/protect01'))).toEqual({});
    expect(ok(await get('/v1/media/localhost/protect01')).media_info.safe_from_quarantine).toBe(true);
    ok(await post('/v1/media/quarantine/localhost/protect01'));
    expect(await quarantinedBy('protect01')).toBeNull();
    expect(ok(await post('/v1/media/unprotect/protect01'))).toEqual({});
    expect(ok(await get('/v1/media/localhost/protect01')).media_info.safe_from_quarantine).toBe(false);
    ok(await post('/v1/media/quarantine/localhost/protect01'));
    expect(await quarantinedBy('protect01')).toBe(admin.userId);
    expect(ok(await post('/v1/media/protect/nosuchmedia'))).toEqual({});
    expect(ok(await post('/v1/media/unprotect/nosuchmedia'))).toEqual({});
  });

  it('room media: listed from unredacted events (url and thumbnail_url), quarantined by room and by the legacy path', async () => {
    const roomId = await createRoom(alice);
    await addMedia({ id: 'roomImg01', sha: null });
    await addMedia({ id: 'roomThumb1', sha: null });
    await addMedia({ id: 'roomImg02', sha: null });
    await addMedia({ id: 'roomSafe01', sha: null, safe: true });
    await addMedia({ id: 'roomRedact', sha: null });
    await addRemote('far.example', 'roomRemote', { sha: null });
    await send(alice, roomId, image('mxc://localhost/roomImg01', 'mxc://localhost/roomThumb1'));
    await send(alice, roomId, image('mxc://localhost/roomImg02'));
    await send(alice, roomId, image('mxc://localhost/roomSafe01'));
    await send(alice, roomId, image('mxc://far.example/roomRemote'));
    await send(alice, roomId, { msgtype: 'm.text', body: 'mxc://localhost/notAnAttachment' });
    const redacted = await send(alice, roomId, image('mxc://localhost/roomRedact'));
    ok(await s.request('PUT', `${V3}/rooms/${enc(roomId)}/redact/${enc(redacted)}/t${++txn}`, { token: alice.accessToken, body: {} }));

    const listed = ok(await get(`/v1/room/${enc(roomId)}/media`));
    expect(listed.local.sort()).toEqual(['mxc://localhost/roomImg01', 'mxc://localhost/roomImg02', 'mxc://localhost/roomSafe01', 'mxc://localhost/roomThumb1']);
    expect(listed.remote).toEqual(['mxc://far.example/roomRemote']);
    expect(ok(await get(`/v1/room/${enc('!unknown:localhost')}/media`))).toEqual({ local: [], remote: [] });

    // Three local (the protected one skipped) and the remote one.
    expect(ok(await post(`/v1/room/${enc(roomId)}/media/quarantine`))).toEqual({ num_quarantined: 4 });
    for (const id of ['roomImg01', 'roomThumb1', 'roomImg02']) expect(await quarantinedBy(id), id).toBe(admin.userId);
    expect(await quarantinedBy('roomSafe01')).toBeNull();
    expect(await quarantinedBy('roomRedact')).toBeNull();
    expect(await remoteQuarantinedBy('far.example', 'roomRemote')).toBe(admin.userId);
    // Already quarantined items do not count again.
    expect(ok(await post(`/v1/quarantine_media/${enc(roomId)}`))).toEqual({ num_quarantined: 0 });
    ok(await post('/v1/media/unquarantine/localhost/roomImg02'));
    expect(ok(await post(`/v1/quarantine_media/${enc(roomId)}`))).toEqual({ num_quarantined: 1 });
  });

  it('quarantine by user: all local media the user uploaded, protected ones skipped', async () => {
    const frank = await s.registerUser('frank');
    await addMedia({ id: 'frankAAA1', user: frank.userId, sha: null });
    await addMedia({ id: 'frankBBB2', user: frank.userId, sha: null });
    await addMedia({ id: 'frankSafe', user: frank.userId, sha: null, safe: true });
    expect(ok(await post(`/v1/user/${enc(frank.userId)}/media/quarantine`))).toEqual({ num_quarantined: 2 });
    expect(ok(await post(`/v1/user/${enc(frank.userId)}/media/quarantine`))).toEqual({ num_quarantined: 0 });
    expect(await quarantinedBy('frankSafe')).toBeNull();
    expect(ok(await post(`/v1/user/${enc('@nobody:localhost')}/media/quarantine`))).toEqual({ num_quarantined: 0 });
  });

  it('GET /v1/statistics/users/media: counts and bytes per uploader, order, window, search, pagination, errors', async () => {
    const gina = await s.registerUser('gina');
    const hank = await s.registerUser('hank');
    ok(await s.request('PUT', `${V3}/profile/${enc(gina.userId)}/displayname`, { token: gina.accessToken, body: { displayname: 'Gina Stats' } }));
    const base = T0 + 100 * DAY;
    await addMedia({ id: 'ginaAAAA1', user: gina.userId, created: base, length: 1000 });
    await addMedia({ id: 'ginaBBBB2', user: gina.userId, created: base + 10, length: 500 });
    await addMedia({ id: 'hankAAAA1', user: hank.userId, created: base + 20, length: 2000 });
    const window = `from_ts=${base}`;
    const all = ok(await get(`/v1/statistics/users/media?${window}`));
    expect(all).toEqual({
      users: [
        { user_id: gina.userId, displayname: 'Gina Stats', media_count: 2, media_length: 1500 },
        { user_id: hank.userId, displayname: 'hank', media_count: 1, media_length: 2000 },
      ],
      total: 2,
    });
    expect(ok(await get(`/v1/statistics/users/media?${window}&order_by=media_length&dir=b`)).users.map((u: any) => u.user_id)).toEqual([hank.userId, gina.userId]);
    expect(ok(await get(`/v1/statistics/users/media?${window}&order_by=media_count`)).users.map((u: any) => u.user_id)).toEqual([hank.userId, gina.userId]);
    expect(ok(await get(`/v1/statistics/users/media?${window}&until_ts=${base + 15}`)).users).toEqual([
      { user_id: gina.userId, displayname: 'Gina Stats', media_count: 2, media_length: 1500 },
    ]);
    expect(ok(await get(`/v1/statistics/users/media?${window}&search_term=Stats`)).users.map((u: any) => u.user_id)).toEqual([gina.userId]);
    expect(ok(await get(`/v1/statistics/users/media?${window}&search_term=han`)).users.map((u: any) => u.user_id)).toEqual([hank.userId]);
    const page = ok(await get(`/v1/statistics/users/media?${window}&limit=1`));
    expect(page).toMatchObject({ total: 2, next_token: 1 });
    expect(ok(await get(`/v1/statistics/users/media?${window}&limit=1&from=1`)).next_token).toBeUndefined();
    // Without a window every uploader so far appears, alice among them.
    expect(ok(await get('/v1/statistics/users/media')).users.map((u: any) => u.user_id)).toContain(alice.userId);

    const errors: Array<[string, string?]> = [
      [`until_ts=${base}&from_ts=${base}`, 'Query parameter until_ts must be greater than from_ts.'],
      ['search_term=', 'Query parameter search_term cannot be an empty string.'],
      ['order_by=nope', "Query parameter 'order_by' must be one of ['media_length', 'media_count', 'user_id', 'displayname']"],
      ['dir=x'],
      ['from=-1'],
      ['limit=x'],
      ['from_ts=-3'],
    ];
    for (const [query, error] of errors) {
      const r = await get(`/v1/statistics/users/media?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body.errcode, query).toBe('M_INVALID_PARAM');
      if (error) expect(r.body.error).toBe(error);
    }
  });
  it('Axon: GET /v1/axon/media/unreferenced lists local media no event, profile or room avatar references', async () => {
    const ivan = await s.registerUser('ivan');
    for (const id of ['unrefFree1', 'unrefInRoom', 'unrefThumb', 'unrefAvatar', 'unrefRoomAv', 'unrefRedact']) await addMedia({ id, user: ivan.userId, sha: null, created: T0 + 500 * DAY });
    const roomId = await createRoom(ivan);
    await send(ivan, roomId, image('mxc://localhost/unrefInRoom', 'mxc://localhost/unrefThumb'));
    ok(await s.request('PUT', `${V3}/profile/${enc(ivan.userId)}/avatar_url`, { token: ivan.accessToken, body: { avatar_url: 'mxc://localhost/unrefAvatar' } }));
    ok(await s.request('PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.avatar`, { token: ivan.accessToken, body: { url: 'mxc://localhost/unrefRoomAv' } }));
    const redacted = await send(ivan, roomId, image('mxc://localhost/unrefRedact'));
    ok(await s.request('PUT', `${V3}/rooms/${enc(roomId)}/redact/${enc(redacted)}/t${++txn}`, { token: ivan.accessToken, body: {} }));

    const all = ok(await get('/v1/axon/media/unreferenced?limit=1000'));
    const ids = (all.media as any[]).map((m) => m.media_id);
    expect(ids).toContain('unrefFree1');
    expect(ids).toContain('unrefRedact');
    for (const id of ['unrefInRoom', 'unrefThumb', 'unrefAvatar', 'unrefRoomAv']) expect(ids, id).not.toContain(id);
    expect(all.total).toBe(ids.length);
    expect(all.media.find((m: any) => m.media_id === 'unrefFree1')).toMatchObject({ user_id: ivan.userId, media_type: 'image/png', media_length: 10 });
    const page = ok(await get('/v1/axon/media/unreferenced?limit=1'));
    expect(page).toMatchObject({ total: all.total, next_token: 1 });
    expect(page.media.map((m: any) => m.media_id)).toEqual([ids[0]]);
    expect((await get('/v1/axon/media/unreferenced?limit=-1')).status).toBe(400);
  });

  it('Axon: room deletion with axon_delete_media takes the media only that room referenced (files too)', async () => {
    const judy = await s.registerUser('judy');
    const doomed = await createRoom(judy);
    const other = await createRoom(judy);
    for (const id of ['roomDelOnly', 'roomDelThmb', 'roomDelShrd', 'roomDelSafe', 'roomKeepAll']) await addMedia({ id, user: judy.userId, sha: null });
    await send(judy, doomed, image('mxc://localhost/roomDelOnly', 'mxc://localhost/roomDelThmb'));
    await send(judy, doomed, image('mxc://localhost/roomDelShrd'));
    await send(judy, doomed, image('mxc://localhost/roomDelSafe'));
    await send(judy, other, image('mxc://localhost/roomDelShrd'));
    ok(await post('/v1/media/protect/roomDelSafe'));
    const keepRoom = await createRoom(judy);
    await send(judy, keepRoom, image('mxc://localhost/roomKeepAll'));

    const waitDeleted = async (deleteId: string) => {
      for (let i = 0; i < 500; i++) {
        const st = ok(await get(`/v2/rooms/delete_status/${deleteId}`));
        if (st.status === 'complete' || st.status === 'failed') return st;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('deletion did not finish');
    };
    // Without the option (Synapse's behaviour) the media stays.
    const plain = ok(await s.request('DELETE', `${ADMIN}/v2/rooms/${enc(keepRoom)}`, { token: admin.accessToken, body: {} }));
    const plainStatus = await waitDeleted(plain.delete_id);
    expect(plainStatus.status).toBe('complete');
    expect(plainStatus.axon_deleted_media).toBeUndefined();
    expect(onDisk('roomKeepAll')).toBe(true);

    const bad = await s.request('DELETE', `${ADMIN}/v2/rooms/${enc(doomed)}`, { token: admin.accessToken, body: { axon_delete_media: 'yes' } });
    expect(bad.status).toBe(400);
    const res = ok(await s.request('DELETE', `${ADMIN}/v2/rooms/${enc(doomed)}`, { token: admin.accessToken, body: { axon_delete_media: true } }));
    const st = await waitDeleted(res.delete_id);
    expect(st.status).toBe('complete');
    expect([...st.axon_deleted_media].sort()).toEqual(['roomDelOnly', 'roomDelThmb']);
    for (const id of ['roomDelOnly', 'roomDelThmb']) {
      expect(onDisk(id), id).toBe(false);
      expect(await rowsOf(id)).toBe(0);
    }
    for (const id of ['roomDelShrd', 'roomDelSafe']) expect(onDisk(id), id).toBe(true);

    // v1 (synchronous) takes the option too.
    const v1Room = await createRoom(judy);
    await addMedia({ id: 'roomDelV1a', user: judy.userId, sha: null });
    await send(judy, v1Room, image('mxc://localhost/roomDelV1a'));
    ok(await s.request('DELETE', `${ADMIN}/v1/rooms/${enc(v1Room)}`, { token: admin.accessToken, body: { axon_delete_media: true } }));
    expect(onDisk('roomDelV1a')).toBe(false);
    expect(await rowsOf('roomDelV1a')).toBe(0);
  });

  it('Axon: purge_history with axon_delete_media takes the media only the purged events referenced', async () => {
    const kim = await s.registerUser('kim');
    const roomId = await createRoom(kim);
    for (const id of ['histOld001', 'histOld002', 'histLater1']) await addMedia({ id, user: kim.userId, sha: null });
    await send(kim, roomId, image('mxc://localhost/histOld001'));
    await send(kim, roomId, image('mxc://localhost/histOld002'));
    await send(kim, roomId, image('mxc://localhost/histOld002'));
    const point = await send(kim, roomId, { msgtype: 'm.text', body: 'point' });
    await send(kim, roomId, image('mxc://localhost/histLater1'));
    const res = ok(await s.request('POST', `${ADMIN}/v1/purge_history/${enc(roomId)}/${enc(point)}`, { token: admin.accessToken, body: { delete_local_events: true, axon_delete_media: true } }));
    let st: any;
    for (let i = 0; i < 500; i++) {
      st = ok(await get(`/v1/purge_history_status/${res.purge_id}`));
      if (st.status !== 'active') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(st.status).toBe('complete');
    expect([...st.axon_deleted_media].sort()).toEqual(['histOld001', 'histOld002']);
    expect(onDisk('histOld001')).toBe(false);
    expect(onDisk('histLater1')).toBe(true);
    expect(ok(await get(`/v1/room/${enc(roomId)}/media`)).local).toEqual(['mxc://localhost/histLater1']);
  });
  it('GET /v1/media/quarantine_changes: every (un)quarantined row in order, 100 a page, next_batch to poll with', async () => {
    // Read to the end of what earlier tests logged.
    let from = 0;
    let seen = 0;
    for (;;) {
      const page = ok(await get(`/v1/media/quarantine_changes?from=${from}`));
      expect(page.changes.length).toBeLessThanOrEqual(100);
      seen += page.changes.length;
      if (page.changes.length === 0) {
        expect(page.next_batch).toBe(from);
        break;
      }
      expect(page.next_batch).toBeGreaterThan(from);
      from = page.next_batch;
    }
    expect(seen).toBeGreaterThan(0);
    await addMedia({ id: 'feedLocal1', sha: 'feedhash' });
    await addRemote('feed.example', 'feedRemot1', { sha: 'feedhash' });
    ok(await post('/v1/media/quarantine/localhost/feedLocal1'));
    const q = ok(await get(`/v1/media/quarantine_changes?from=${from}`));
    expect(q.changes).toEqual([
      { origin: 'localhost', media_id: 'feedLocal1', quarantined: true },
      { origin: 'feed.example', media_id: 'feedRemot1', quarantined: true },
    ]);
    expect(q.next_batch).toBe(from + 2);
    // Nothing changed, nothing logged.
    ok(await post('/v1/media/quarantine/localhost/feedLocal1'));
    expect(ok(await get(`/v1/media/quarantine_changes?from=${q.next_batch}`))).toEqual({ next_batch: q.next_batch, changes: [] });
    ok(await post('/v1/media/unquarantine/feed.example/feedRemot1'));
    const u = ok(await get(`/v1/media/quarantine_changes?from=${q.next_batch}`));
    expect(u.changes.map((c: any) => [c.media_id, c.quarantined]).sort()).toEqual([
      ['feedLocal1', false],
      ['feedRemot1', false],
    ]);
    const beyond = await get(`/v1/media/quarantine_changes?from=${u.next_batch + 1}`);
    expect(beyond.status).toBe(400);
    expect(beyond.body.errcode).toBe('M_INVALID_PARAM');
    expect((await get('/v1/media/quarantine_changes?from=x')).status).toBe(400);
    expect((await get('/v1/media/quarantine_changes', alice)).status).toBe(403);
  });
  describe('with media uploaded through the client API', () => {
    const upload = async (u: TestUser, body: Buffer, type: string, name: string) => {
      const res = await fetch(`${s.url}/_matrix/media/v3/upload?filename=${enc(name)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${u.accessToken}`, 'content-type': type },
        body,
      });
      expect(res.status).toBe(200);
      const uri = ((await res.json()) as { content_uri: string }).content_uri;
      return uri.slice('mxc://localhost/'.length);
    };
    const download = (id: string, u: TestUser = alice, query = '') =>
      fetch(`${s.url}/_matrix/client/v1/media/download/localhost/${id}${query}`, { headers: { authorization: `Bearer ${u.accessToken}` } });
    const thumbnail = (id: string) =>
      fetch(`${s.url}/_matrix/client/v1/media/thumbnail/localhost/${id}?width=32&height=32&method=crop`, { headers: { authorization: `Bearer ${alice.accessToken}` } });

    it('quarantine makes a download 404 for clients (an admin may bypass it); identical uploads are duplicates', async () => {
      const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c00' } }).png().toBuffer();
      const first = await upload(alice, png, 'image/png', 'red.png');
      const second = await upload(bob, png, 'image/png', 'same.png');
      const info = ok(await get(`/v1/media/localhost/${first}`)).media_info;
      expect(info.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(info.axon_duplicates).toEqual([`mxc://localhost/${second}`]);
      expect((await download(first)).status).toBe(200);

      ok(await post(`/v1/media/quarantine/localhost/${first}`));
      // The same content uploaded by bob is quarantined with it.
      for (const id of [first, second]) {
        const r = await download(id);
        expect(r.status, id).toBe(404);
        expect(((await r.json()) as { errcode: string }).errcode).toBe('M_NOT_FOUND');
      }
      expect((await download(first, alice, '?admin_unsafely_bypass_quarantine=true')).status).toBe(404);
      const bypass = await download(first, admin, '?admin_unsafely_bypass_quarantine=true');
      expect(bypass.status).toBe(200);
      expect(Buffer.from(await bypass.arrayBuffer()).equals(png)).toBe(true);
      ok(await post(`/v1/media/unquarantine/localhost/${first}`));
      expect((await download(second)).status).toBe(200);
    });

    it('Synapse ≥ 1.128: an upload of quarantined content (local or cached remote) is quarantined by "system", by POST and by PUT', async () => {
      const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      const a = Buffer.from(`quarantined content ${Date.now()}`);
      const original = await upload(alice, a, 'text/plain', 'a.txt');
      ok(await post(`/v1/media/quarantine/localhost/${original}`));
      expect(await quarantinedBy(original)).toBe(admin.userId);

      // POST /upload: the uploader gets a normal answer; the row is quarantined, clients get 404.
      const again = await upload(bob, a, 'text/plain', 'again.txt');
      expect(again).not.toBe(original);
      expect(await quarantinedBy(again)).toBe('system');
      expect((await download(again, bob)).status).toBe(404);
      expect(ok(await get(`/v1/media/localhost/${again}`)).media_info).toMatchObject({ quarantined_by: 'system', sha256: sha(a) });
      const bypass = await download(again, admin, '?admin_unsafely_bypass_quarantine=true');
      expect(bypass.status).toBe(200);
      expect(Buffer.from(await bypass.arrayBuffer()).equals(a)).toBe(true);

      // PUT to a reservation made before the content was quarantined.
      const reserve = async () => {
        const r = await fetch(`${s.url}/_matrix/media/v1/create`, { method: 'POST', headers: { authorization: `Bearer ${bob.accessToken}` } });
        expect(r.status).toBe(200);
        return ((await r.json()) as { content_uri: string }).content_uri.slice('mxc://localhost/'.length);
      };
      const put = async (id: string, body: Buffer) => {
        const r = await fetch(`${s.url}/_matrix/media/v3/upload/localhost/${id}`, { method: 'PUT', headers: { authorization: `Bearer ${bob.accessToken}`, 'content-type': 'text/plain' }, body });
        expect(r.status).toBe(200);
      };
      const reserved = await reserve();
      await put(reserved, a);
      expect(await quarantinedBy(reserved)).toBe('system');
      expect((await download(reserved, bob)).status).toBe(404);

      // Content unrelated to any quarantined item is not quarantined.
      const other = await upload(bob, Buffer.from(`harmless ${Date.now()}`), 'text/plain', 'ok.txt');
      expect(await quarantinedBy(other)).toBeNull();
      expect((await download(other, bob)).status).toBe(200);

      // A reservation an admin quarantined keeps its quarantine when harmless content arrives.
      const held = await reserve();
      ok(await post(`/v1/media/quarantine/localhost/${held}`));
      await put(held, Buffer.from(`harmless too ${Date.now()}`));
      expect(await quarantinedBy(held)).toBe(admin.userId);

      // A quarantined cached remote item's hash counts too.
      const b = Buffer.from(`remote content ${Date.now()}`);
      await addRemote('remote.example', `rq${Date.now()}`, { sha: sha(b), quarantinedBy: '@mod:remote.example' });
      expect(await quarantinedBy(await upload(alice, b, 'text/plain', 'b.txt'))).toBe('system');

      // Releasing the original releases every copy (by hash); new uploads are then not quarantined.
      ok(await post(`/v1/media/unquarantine/localhost/${original}`));
      for (const id of [original, again, reserved]) expect(await quarantinedBy(id), id).toBeNull();
      const later = await upload(bob, a, 'text/plain', 'later.txt');
      expect(await quarantinedBy(later)).toBeNull();
      expect((await download(later, bob)).status).toBe(200);
    });

    it('uploads racing a quarantine of the same content all end up quarantined', async () => {
      const c = Buffer.from(`raced content ${Date.now()}`);
      const first = await upload(alice, c, 'text/plain', 'c.txt');
      const [, ...ids] = await Promise.all([
        post(`/v1/media/quarantine/localhost/${first}`).then(ok),
        ...Array.from({ length: 8 }, () => upload(bob, c, 'text/plain', 'c2.txt')),
      ]);
      for (const id of [first, ...ids]) expect(await quarantinedBy(id as string), id as string).not.toBeNull();
    });

    it('deleting an uploaded item removes its file and generated thumbnails; the client then gets 404', async () => {
      const jpeg = await sharp({ create: { width: 200, height: 150, channels: 3, background: '#08f' } }).jpeg().toBuffer();
      const id = await upload(alice, jpeg, 'image/jpeg', 'blue.jpg');
      const thumb = await thumbnail(id);
      expect(thumb.status).toBe(200);
      expect(existsSync(paths.localContent(id))).toBe(true);
      expect(readdirSync(paths.localThumbnailDir(id)).length).toBeGreaterThan(0);
      const listed = ok(await get(`/v1/users/${enc(alice.userId)}/media?order_by=created_ts&dir=b&limit=1`));
      expect(listed.media[0]).toMatchObject({ media_id: id, media_type: 'image/jpeg', media_length: jpeg.length, upload_name: 'blue.jpg', user_id: alice.userId });

      expect(ok(await del(`/v1/media/localhost/${id}`))).toEqual({ deleted_media: [id], total: 1 });
      expect(existsSync(paths.localContent(id))).toBe(false);
      expect(existsSync(paths.localThumbnailDir(id))).toBe(false);
      expect(await rowsOf(id)).toBe(0);
      expect((await download(id)).status).toBe(404);
      expect((await thumbnail(id)).status).toBe(404);
    });
  });
});
