import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ICreateClientOpts } from 'matrix-js-sdk';
import { querySql, runSql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

type SdkLogger = NonNullable<ICreateClientOpts['logger']>;
const noop = () => {};
const quiet: SdkLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, getChild: () => quiet };

const CSP = "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';";

/** Every file under a folder, relative to it. */
function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p.slice(root.length + 1));
    }
  };
  walk(root);
  return out;
}

async function upload(s: TestServer, token: string, body: Buffer | string, contentType = 'application/octet-stream', query = ''): Promise<{ status: number; body: any; mediaId: string }> {
  const res = await fetch(`${s.url}/_matrix/media/v3/upload${query}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, body });
  const json = (await res.json()) as any;
  const mediaId = typeof json.content_uri === 'string' ? json.content_uri.split('/').pop() : '';
  return { status: res.status, body: json, mediaId };
}

const get = (s: TestServer, path: string, token?: string) => fetch(s.url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });

/** Sends a raw HTTP request and resolves when the server closes or answers (or after `ms`). */
function rawRequest(s: TestServer, head: string, body: Buffer, opts: { destroyAfterBody?: boolean; endAfterBody?: boolean }): Promise<string> {
  const { port } = new URL(s.url);
  return new Promise((resolve) => {
    const sock = connect(Number(port), '127.0.0.1');
    let got = '';
    sock.on('data', (d) => (got += d.toString()));
    sock.on('close', () => resolve(got));
    sock.on('error', () => resolve(got));
    sock.write(head);
    sock.write(body, () => {
      if (opts.destroyAfterBody) setTimeout(() => sock.destroy(), 50);
      else if (opts.endAfterBody) sock.end();
    });
    setTimeout(() => {
      sock.destroy();
      resolve(got);
    }, 3000);
  });
}

async function waitFor(check: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('media repository (client)', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let admin: TestUser;
  let store: string;

  beforeAll(async () => {
    s = await startServer({ max_upload_size: '2M' });
    store = s.ctx.config.mediaStorePath;
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    admin = await s.registerUser('root', { admin: true });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('uploads and downloads with Synapse headers; the file is at Synapse path with its sha256 recorded', async () => {
    const content = Buffer.from('hello media\n');
    const up = await upload(s, alice.accessToken, content, 'text/plain', '?filename=hello.txt');
    expect(up.status).toBe(200);
    expect(up.body.content_uri).toMatch(/^mxc:\/\/localhost\/[A-Za-z]{24}$/);
    expect(specErrors('client-server', '/media/v3/upload', 'post', 200, up.body)).toEqual([]);
    const id = up.mediaId;

    const res = await get(s, `/_matrix/client/v1/media/download/localhost/${id}`, alice.accessToken);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(content);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=UTF-8');
    expect(res.headers.get('content-disposition')).toBe('inline; filename=hello.txt');
    expect(res.headers.get('content-security-policy')).toBe(CSP);
    expect(res.headers.get('x-content-security-policy')).toBe(CSP);
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(res.headers.get('cache-control')).toContain('max-age=86400');
    expect(res.headers.get('content-length')).toBe(String(content.length));

    // The file name in the path wins; an HTML upload is an attachment, never inline.
    const html = await upload(s, alice.accessToken, '<script>alert(1)</script>', 'text/html');
    const h = await get(s, `/_matrix/client/v1/media/download/localhost/${html.mediaId}/n%C3%A4me%20x.html`, alice.accessToken);
    expect(h.status).toBe(200);
    expect(h.headers.get('content-disposition')).toBe("attachment; filename*=utf-8''n%C3%A4me%20x.html");
    expect(h.headers.get('content-type')).toBe('text/html; charset=UTF-8');

    const file = join(store, 'local_content', id.slice(0, 2), id.slice(2, 4), id.slice(4));
    expect(readFileSync(file)).toEqual(content);
    const [row] = await querySql<{ sha256: string; media_length: number; media_type: string; upload_name: string; user_id: string }>(
      s,
      `SELECT sha256, media_length, media_type, upload_name, user_id FROM local_media_repository WHERE media_id = '${id}'`,
    );
    expect(row!.sha256).toBe(createHash('sha256').update(content).digest('hex'));
    expect(Number(row!.media_length)).toBe(content.length);
    expect(row!.media_type).toBe('text/plain');
    expect(row!.upload_name).toBe('hello.txt');
    expect(row!.user_id).toBe(alice.userId);
    // Nothing left in the temporary folder.
    expect(filesUnder(join(store, '.axon-uploads'))).toEqual([]);
  });

  it('downloads send the file as it is on disk, whatever its size and even if it no longer matches the recorded length', async () => {
    // Sizes around the read strategies' limits: read at once (≤ 64 KiB), read whole (≤ 256 KiB), streamed.
    for (const size of [0, 1, 64 * 1024, 64 * 1024 + 1, 256 * 1024, 256 * 1024 + 1, 600 * 1024]) {
      const content = Buffer.alloc(size, size % 251);
      if (size > 0) content[size - 1] = 7;
      const up = await upload(s, alice.accessToken, content);
      expect(up.status).toBe(200);
      const res = await get(s, `/_matrix/client/v1/media/download/localhost/${up.mediaId}`, alice.accessToken);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(size));
      expect(Buffer.from(await res.arrayBuffer()).equals(content)).toBe(true);
    }
    // An operator replaced a file with a longer or a shorter one: the file is sent with its own length.
    const id = (await upload(s, alice.accessToken, 'short')).mediaId;
    const file = join(store, 'local_content', id.slice(0, 2), id.slice(2, 4), id.slice(4));
    for (const replacement of [Buffer.from('a much longer replacement'), Buffer.from('sh'), Buffer.alloc(300 * 1024, 3)]) {
      writeFileSync(file, replacement);
      const res = await get(s, `/_matrix/client/v1/media/download/localhost/${id}`, alice.accessToken);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(replacement.length));
      expect(Buffer.from(await res.arrayBuffer()).equals(replacement)).toBe(true);
    }
    // A row whose file is gone is 404, not 500.
    rmSync(file);
    const gone = await get(s, `/_matrix/client/v1/media/download/localhost/${id}`, alice.accessToken);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as any).errcode).toBe('M_NOT_FOUND');
  });

  it('new media is authenticated: the legacy unauthenticated download answers 404 M_NOT_FOUND', async () => {
    const up = await upload(s, alice.accessToken, 'secret');
    const legacy = await get(s, `/_matrix/media/v3/download/localhost/${up.mediaId}`);
    expect(legacy.status).toBe(404);
    expect(((await legacy.json()) as any).errcode).toBe('M_NOT_FOUND');
    const r0 = await get(s, `/_matrix/media/r0/download/localhost/${up.mediaId}`);
    expect(r0.status).toBe(404);
  });

  it('authenticated endpoints require a token; config answers the upload limit', async () => {
    const up = await upload(s, alice.accessToken, 'x');
    for (const path of [`/_matrix/client/v1/media/download/localhost/${up.mediaId}`, `/_matrix/client/v1/media/thumbnail/localhost/${up.mediaId}?width=32&height=32`, '/_matrix/client/v1/media/config']) {
      const res = await get(s, path);
      expect(res.status, path).toBe(401);
      expect(((await res.json()) as any).errcode).toBe('M_MISSING_TOKEN');
    }
    const noToken = await fetch(`${s.url}/_matrix/media/v3/upload`, { method: 'POST', body: 'x' });
    expect(noToken.status).toBe(401);
    const cfg = await get(s, '/_matrix/client/v1/media/config', alice.accessToken);
    expect(await cfg.json()).toEqual({ 'm.upload.size': 2 * 1024 * 1024 });
    const legacyCfg = await get(s, '/_matrix/media/v3/config', alice.accessToken);
    expect(await legacyCfg.json()).toEqual({ 'm.upload.size': 2 * 1024 * 1024 });
  });

  it('asynchronous upload: create, a download waits, PUT once; a second PUT is 409 and another user is 403', async () => {
    const created = await s.request('POST', '/_matrix/media/v1/create', { token: alice.accessToken });
    expect(created.status).toBe(200);
    expect(specErrors('client-server', '/media/v1/create', 'post', 200, created.body)).toEqual([]);
    expect(created.body.unused_expires_at).toBeGreaterThan(Date.now());
    const id = (created.body.content_uri as string).split('/').pop()!;
    const [pending] = await querySql<{ media_length: unknown }>(s, `SELECT media_length FROM local_media_repository WHERE media_id = '${id}'`);
    expect(pending!.media_length).toBeNull();

    const early = await get(s, `/_matrix/client/v1/media/download/localhost/${id}?timeout_ms=100`, alice.accessToken);
    expect(early.status).toBe(504);
    expect(((await early.json()) as any).errcode).toBe('M_NOT_YET_UPLOADED');

    const waiting = get(s, `/_matrix/client/v1/media/download/localhost/${id}?timeout_ms=5000`, bob.accessToken);
    const other = await fetch(`${s.url}/_matrix/media/v3/upload/localhost/${id}`, { method: 'PUT', headers: { authorization: `Bearer ${bob.accessToken}` }, body: 'nope' });
    expect(other.status).toBe(403);
    expect(((await other.json()) as any).errcode).toBe('M_FORBIDDEN');
    const put = await fetch(`${s.url}/_matrix/media/v3/upload/localhost/${id}?filename=later.bin`, { method: 'PUT', headers: { authorization: `Bearer ${alice.accessToken}`, 'content-type': 'application/octet-stream' }, body: 'later content' });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({});
    const waited = await waiting;
    expect(waited.status).toBe(200);
    expect(await waited.text()).toBe('later content');

    const again = await fetch(`${s.url}/_matrix/media/v3/upload/localhost/${id}`, { method: 'PUT', headers: { authorization: `Bearer ${alice.accessToken}` }, body: 'overwrite' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as any).errcode).toBe('M_CANNOT_OVERWRITE_MEDIA');
    const still = await get(s, `/_matrix/client/v1/media/download/localhost/${id}`, alice.accessToken);
    expect(await still.text()).toBe('later content');

    const unknown = await fetch(`${s.url}/_matrix/media/v3/upload/localhost/abcdefghijklmnopqrstuvwx`, { method: 'PUT', headers: { authorization: `Bearer ${alice.accessToken}` }, body: 'x' });
    expect(unknown.status).toBe(404);
  });

  it('more than max_upload_size is 413 M_TOO_LARGE, declared or streamed, and leaves nothing on disk', async () => {
    const before = filesUnder(store);
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const declared = await upload(s, alice.accessToken, big);
    expect(declared.status).toBe(413);
    expect(declared.body.errcode).toBe('M_TOO_LARGE');
    // Chunked: no Content-Length, so the limit is found while streaming.
    const chunks = async function* () {
      for (let i = 0; i < 6; i++) yield Buffer.alloc(512 * 1024, i);
    };
    const streamed = await fetch(`${s.url}/_matrix/media/v3/upload`, { method: 'POST', headers: { authorization: `Bearer ${alice.accessToken}` }, body: chunks() as any, duplex: 'half' } as RequestInit).catch((e: unknown) => e);
    if (streamed instanceof Response) {
      expect(streamed.status).toBe(413);
      expect(((await streamed.json()) as any).errcode).toBe('M_TOO_LARGE');
    }
    await waitFor(() => filesUnder(store).length === before.length).catch(() => {});
    expect(filesUnder(store)).toEqual(before);
  });

  it('a truncated upload (lying Content-Length, connection dropped mid-body) leaves no file and no row', async () => {
    const rows = async () => Number((await querySql<{ n: number }>(s, 'SELECT count(*) AS n FROM local_media_repository'))[0]!.n);
    const before = filesUnder(store);
    const n = await rows();
    const head = (len: number) => `POST /_matrix/media/v3/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.accessToken}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${len}\r\n\r\n`;
    await rawRequest(s, head(100_000), Buffer.alloc(1000, 1), { endAfterBody: true });
    await rawRequest(s, head(100_000), Buffer.alloc(50_000, 1), { destroyAfterBody: true });
    // The temporary file goes once its stream has closed (after an fsync): give it a moment.
    await waitFor(() => filesUnder(store).length === before.length).catch(() => {});
    expect(filesUnder(store)).toEqual(before);
    expect(await rows()).toBe(n);
  });

  it('path traversal in a media ID or file name reaches nothing outside the store', async () => {
    for (const bad of ['..%2F..%2F..%2Fetc%2Fpasswd', '..', '%2E%2E', 'ab%2F..%2F..%2F..', 'a%00bcdef']) {
      const res = await get(s, `/_matrix/client/v1/media/download/localhost/${bad}`, alice.accessToken);
      expect([400, 404], bad).toContain(res.status);
      const body = (await res.json()) as any;
      expect(typeof body.errcode).toBe('string');
    }
    const remote = await get(s, '/_matrix/client/v1/media/download/..%2F..%2Fetc/passwd12', alice.accessToken);
    expect(remote.status).toBe(404);
    const put = await fetch(`${s.url}/_matrix/media/v3/upload/localhost/..%2F..%2Fescape`, { method: 'PUT', headers: { authorization: `Bearer ${alice.accessToken}` }, body: 'x' });
    expect(put.status).toBe(404);
    // A file name is only a header value, encoded so that it cannot split the header.
    const up = await upload(s, alice.accessToken, 'x', 'text/plain', `?filename=${encodeURIComponent('../../etc/passwd\r\nSet-Cookie: a=b')}`);
    expect(up.status).toBe(200);
    const res = await get(s, `/_matrix/client/v1/media/download/localhost/${up.mediaId}`, alice.accessToken);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('content-disposition')).toBe("inline; filename*=utf-8''..%2F..%2Fetc%2Fpasswd%0D%0ASet-Cookie%3A%20a%3Db");
    expect(existsSync(join(store, '..', 'escape'))).toBe(false);
    expect(filesUnder(store).every((f) => /^(local_content|local_thumbnails|\.axon-uploads)\//.test(f))).toBe(true);
  });

  for (const kind of ['png', 'jpeg'] as const) {
    it(`thumbnails of a real ${kind.toUpperCase()} are valid images of the expected size, at Synapse paths, with rows`, async () => {
      const image = await sharp({ create: { width: 1000, height: 500, channels: 3, background: { r: 200, g: 30, b: 90 } } })
        [kind]()
        .toBuffer();
      const up = await upload(s, alice.accessToken, image, `image/${kind}`, `?filename=pic.${kind}`);
      expect(up.status).toBe(200);
      const id = up.mediaId;
      const thumb = async (q: string) => {
        const res = await get(s, `/_matrix/client/v1/media/thumbnail/localhost/${id}?${q}`, alice.accessToken);
        expect(res.status, q).toBe(200);
        return { res, meta: await sharp(Buffer.from(await res.arrayBuffer())).metadata() };
      };
      const type = kind === 'png' ? 'png' : 'jpeg';
      const crop = await thumb('width=32&height=32&method=crop');
      expect([crop.meta.width, crop.meta.height, crop.meta.format]).toEqual([32, 32, type]);
      expect(crop.res.headers.get('content-type')).toBe(`image/${type}`);
      expect(crop.res.headers.get('content-security-policy')).toBe(CSP);
      const crop96 = await thumb('width=90&height=90&method=crop');
      expect([crop96.meta.width, crop96.meta.height]).toEqual([96, 96]);
      // 320×240 box, 2:1 source → 320×160; 700×500 asks for more than 640×480: the 800×600 box (800×400).
      const scale = await thumb('width=320&height=240&method=scale');
      expect([scale.meta.width, scale.meta.height]).toEqual([320, 160]);
      const larger = await thumb('width=700&height=500');
      expect([larger.meta.width, larger.meta.height]).toEqual([800, 400]);

      const dir = join(store, 'local_thumbnails', id.slice(0, 2), id.slice(2, 4), id.slice(4));
      expect(readdirSync(dir).sort()).toEqual(
        [`32-32-image-${type}-crop`, `96-96-image-${type}-crop`, `320-160-image-${type}-scale`, `640-320-image-${type}-scale`, `800-400-image-${type}-scale`].sort(),
      );
      const rows = await querySql<{ thumbnail_width: number; thumbnail_height: number; thumbnail_type: string; thumbnail_method: string }>(
        s,
        `SELECT thumbnail_width, thumbnail_height, thumbnail_type, thumbnail_method FROM local_media_repository_thumbnails WHERE media_id = '${id}'`,
      );
      expect(rows.map((r) => `${r.thumbnail_width}x${r.thumbnail_height} ${r.thumbnail_type} ${r.thumbnail_method}`).sort()).toEqual(
        [`32x32 image/${type} crop`, `96x96 image/${type} crop`, `320x160 image/${type} scale`, `640x320 image/${type} scale`, `800x400 image/${type} scale`].sort(),
      );
    });
  }

  it('thumbnail bad input: missing or bad size, bad method; non-image media has none (400)', async () => {
    const up = await upload(s, alice.accessToken, 'not an image', 'text/plain');
    const t = (q: string) => get(s, `/_matrix/client/v1/media/thumbnail/localhost/${up.mediaId}?${q}`, alice.accessToken);
    expect((await t('height=32')).status).toBe(400);
    const neg = await t('width=-5&height=32');
    expect(neg.status).toBe(400);
    expect(((await neg.json()) as any).errcode).toBe('M_INVALID_PARAM');
    expect((await t('width=0&height=32')).status).toBe(400);
    const method = await t('width=32&height=32&method=stretch');
    expect(method.status).toBe(400);
    expect(((await method.json()) as any).errcode).toBe('M_INVALID_PARAM');
    const none = await t('width=32&height=32');
    expect(none.status).toBe(400);
    const absurd = await t('width=99999999&height=99999999');
    expect(absurd.status).toBe(400);
    const missing = await get(s, '/_matrix/client/v1/media/thumbnail/localhost/abcdefghijklmnopqrstuvwx?width=32&height=32', alice.accessToken);
    expect(missing.status).toBe(404);
  });

  it('quarantined media is 404 to clients; an admin may bypass with admin_unsafely_bypass_quarantine=true', async () => {
    const up = await upload(s, alice.accessToken, 'quarantine me');
    await runSql(s, `UPDATE local_media_repository SET quarantined_by = '${admin.userId}' WHERE media_id = '${up.mediaId}'`);
    const path = `/_matrix/client/v1/media/download/localhost/${up.mediaId}`;
    const plain = await get(s, path, alice.accessToken);
    expect(plain.status).toBe(404);
    expect(((await plain.json()) as any).errcode).toBe('M_NOT_FOUND');
    expect((await get(s, `${path}?admin_unsafely_bypass_quarantine=true`, alice.accessToken)).status).toBe(404);
    const bypass = await get(s, `${path}?admin_unsafely_bypass_quarantine=true`, admin.accessToken);
    expect(bypass.status).toBe(200);
    expect(await bypass.text()).toBe('quarantine me');
  });

  it('a download right after a quarantine, release, protection or deletion, in SQL or by the Admin API, sees it (rows are cached)', async () => {
    const up = await upload(s, alice.accessToken, 'cached row');
    const id = up.mediaId;
    const v1 = `/_matrix/client/v1/media/download/localhost/${id}`;
    const status = async (path = v1, token: string | null = alice.accessToken) => {
      const r = await get(s, path, token ?? undefined);
      await r.arrayBuffer();
      return r.status;
    };
    // Read twice, so the second answer may come from memory.
    expect(await status()).toBe(200);
    expect(await status()).toBe(200);
    // An operator's SQL (another connection) is seen by the very next request.
    await runSql(s, `UPDATE local_media_repository SET quarantined_by = '@op:localhost' WHERE media_id = '${id}'`);
    expect(await status()).toBe(404);
    await runSql(s, `UPDATE local_media_repository SET quarantined_by = NULL WHERE media_id = '${id}'`);
    expect(await status()).toBe(200);
    // The Admin API's quarantine, release, protection and deletion.
    const admin_ = (path: string, method = 'POST') => s.request(method, `/_synapse/admin${path}`, { token: admin.accessToken, body: {} });
    expect((await admin_(`/v1/media/quarantine/localhost/${id}`)).status).toBe(200);
    expect(await status()).toBe(404);
    expect((await admin_(`/v1/media/unquarantine/localhost/${id}`)).status).toBe(200);
    expect(await status()).toBe(200);
    expect((await admin_(`/v1/media/protect/${id}`)).status).toBe(200);
    expect(await status()).toBe(200);
    expect((await admin_(`/v1/media/quarantine/localhost/${id}`)).status).toBe(200);
    expect(await status()).toBe(200); // protected media is never quarantined
    expect((await admin_(`/v1/media/unprotect/${id}`)).status).toBe(200);
    expect((await admin_(`/v1/media/quarantine/localhost/${id}`)).status).toBe(200);
    expect(await status()).toBe(404);
    expect((await admin_(`/v1/media/unquarantine/localhost/${id}`)).status).toBe(200);

    // The legacy paths authenticate nobody: they wait for committed changes themselves.
    await runSql(s, `UPDATE local_media_repository SET authenticated = ${s.dialect === 'postgres' ? 'FALSE' : '0'} WHERE media_id = '${id}'`);
    const legacy = `/_matrix/media/v3/download/localhost/${id}`;
    expect(await status(legacy, null)).toBe(200);
    expect(await status(legacy, null)).toBe(200);
    await runSql(s, `UPDATE local_media_repository SET quarantined_by = '@op:localhost' WHERE media_id = '${id}'`);
    expect(await status(legacy, null)).toBe(404);
    await runSql(s, `UPDATE local_media_repository SET quarantined_by = NULL WHERE media_id = '${id}'`);
    expect(await status(legacy, null)).toBe(200);

    // A row deleted in SQL (the file is still there) is gone for the next request.
    expect(await status()).toBe(200);
    await runSql(s, `DELETE FROM local_media_repository WHERE media_id = '${id}'`);
    expect(await status()).toBe(404);
    expect(await status(legacy, null)).toBe(404);
  });

  it('downloads update last_access_ts in a batch', async () => {
    const up = await upload(s, alice.accessToken, 'touch me');
    await runSql(s, `UPDATE local_media_repository SET last_access_ts = 5 WHERE media_id = '${up.mediaId}'`);
    await get(s, `/_matrix/client/v1/media/download/localhost/${up.mediaId}`, alice.accessToken).then((r) => r.arrayBuffer());
    await s.ctx.services.media.flushAccessTimes();
    const [row] = await querySql<{ last_access_ts: number }>(s, `SELECT last_access_ts FROM local_media_repository WHERE media_id = '${up.mediaId}'`);
    expect(Number(row!.last_access_ts)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('remote media without federation: 502 on the authenticated endpoint, 404 with allow_remote=false or on legacy paths', async () => {
    const res = await get(s, '/_matrix/client/v1/media/download/example.org/abcdefghij', alice.accessToken);
    expect(res.status).toBe(502);
    expect((await get(s, '/_matrix/client/v1/media/download/example.org/abcdefghij?allow_remote=false', alice.accessToken)).status).toBe(404);
    expect((await get(s, '/_matrix/media/v3/download/example.org/abcdefghij')).status).toBe(404);
  });

  it('preview_url is not served while url_preview_enabled is off (404 M_UNRECOGNIZED, as Synapse)', async () => {
    for (const p of ['/_matrix/media/v3/preview_url?url=https://example.org', '/_matrix/client/v1/media/preview_url?url=https://example.org']) {
      const res = await get(s, p, alice.accessToken);
      expect(res.status).toBe(404);
      expect(((await res.json()) as any).errcode).toBe('M_UNRECOGNIZED');
    }
  });

  it('matrix-js-sdk uploads content and downloads it through mxcUrlToHttp', async () => {
    const client = createClient({ logger: quiet, baseUrl: s.url, accessToken: alice.accessToken, userId: alice.userId });
    const data = Buffer.from('from the sdk');
    const { content_uri } = await client.uploadContent(data, { type: 'text/plain', name: 'sdk.txt' });
    expect(content_uri).toMatch(/^mxc:\/\/localhost\//);
    const url = client.mxcUrlToHttp(content_uri, undefined, undefined, undefined, false, true, true)!;
    expect(url).toContain('/_matrix/client/v1/media/download/');
    const res = await fetch(url, { headers: { authorization: `Bearer ${alice.accessToken}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('from the sdk');
    expect(res.headers.get('content-disposition')).toBe('inline; filename=sdk.txt');
    client.stopClient();
  });
});

describe('media with enable_authenticated_media off and URL previews on', () => {
  let s: TestServer;
  let u: TestUser;
  beforeAll(async () => {
    s = await startServer({ enable_authenticated_media: false, url_preview_enabled: true });
    u = await s.registerUser('carol');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('legacy unauthenticated download and thumbnail serve unauthenticated media', async () => {
    const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } }).png().toBuffer();
    const up = await upload(s, u.accessToken, image, 'image/png');
    const res = await get(s, `/_matrix/media/v3/download/localhost/${up.mediaId}/x.png`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('inline; filename=x.png');
    await waitFor(async () => (await get(s, `/_matrix/media/r0/thumbnail/localhost/${up.mediaId}?width=32&height=32&method=crop`)).status === 200);
  });

  it('preview_url refuses loopback and private addresses (Synapse blacklist defaults)', async () => {
    for (const target of ['http://127.0.0.1:1/', 'http://localhost:1/', 'http://10.1.2.3/', 'http://[::1]/']) {
      const res = await get(s, `/_matrix/client/v1/media/preview_url?url=${encodeURIComponent(target)}`, u.accessToken);
      expect(res.status, target).toBe(403);
    }
    const missing = await get(s, '/_matrix/media/v3/preview_url', u.accessToken);
    expect(missing.status).toBe(400);
  });
});
