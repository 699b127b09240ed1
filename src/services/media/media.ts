import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, openSync, readSync } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { MatrixError, notFound } from '../../errors.js';
import { randomLetters } from '../../matrix/access-token.js';
import { withTransaction, type Db } from '../../storage/database.js';
import type { ChangeCache } from '../../storage/change-cache.js';
import * as store from '../../storage/stores/media.js';
import { isValidMediaId, isValidServerName, MediaPaths } from './paths.js';
import { UrlPreviewer } from './preview.js';
import { imageSize, renderThumbnail, selectThumbnail, thumbnailSize, thumbnailTypeFor, ThumbnailQueue, type ThumbnailMethod } from './thumbnails.js';

/**
 * The media repository (Matrix content repository, Synapse's layout and tables): uploads stream to
 * a temporary file in the media store while their SHA-256 is computed and their size checked, and
 * appear under their final name in one atomic step (fsync, then a hard link that fails rather than
 * overwrite); thumbnails are made off the request path; downloads stream from disk.
 */

export const tooLarge = () => new MatrixError(413, 'M_TOO_LARGE', 'Upload request body is too large');
const incomplete = () => new MatrixError(400, 'M_UNKNOWN', 'Upload was incomplete: the body ended before its Content-Length');
const mediaNotFound = () => notFound('Not found');

/** `quarantined_by` of uploads quarantined because their content matches quarantined media (Synapse's value). */
export const QUARANTINED_BY_SYSTEM = 'system';

/** Synapse's bounds on how long a download waits for an asynchronous upload's content. */
export const DEFAULT_MAX_TIMEOUT_MS = 20_000;
export const MAXIMUM_ALLOWED_MAX_TIMEOUT_MS = 60_000;
/** Files up to this size are read whole instead of streamed. */
const SMALL_FILE = 256 * 1024;
/**
 * Files whose recorded length is at most this are read synchronously (see `readSmallFile`): one
 * `open`, one `read`, one `close`, about 10 µs from the page cache. Each asynchronous fs call is a
 * hand-off to libuv's thread pool and back, which on a small VM costs more than the I/O itself:
 * measured on the 20 KB download, 190 µs of CPU per request with fs/promises (open, fstat, read,
 * close), 155 µs with plain callbacks (open, read, close), 95 µs read synchronously. A cold read
 * stalls the event loop for one disk read of at most this many bytes, the same kind of stall as a
 * SQLite page read, which already happens on the event loop.
 */
const SYNC_READ = 64 * 1024;

export interface UploadOptions {
  contentType: string | undefined;
  fileName: string | undefined;
  /** The request's Content-Length, when it sent one. */
  contentLength: number | undefined;
}

export interface ServeOptions {
  /**
   * Changes committed before the request arrived have reached the caches already (the auth hook
   * waited for them when it authenticated the request); otherwise the service waits itself.
   */
  synced?: boolean;
  /** The request came through `/_matrix/client/v1/media` (authenticated). */
  authenticatedEndpoint: boolean;
  /** An admin asked for `admin_unsafely_bypass_quarantine=true`. */
  bypassQuarantine: boolean;
  allowRemote: boolean;
  timeoutMs: number;
}

/** A file to send, with what the headers need: small ones read whole (`data`), others an open handle to stream. */
export interface MediaFile {
  handle: FileHandle | null;
  data?: Buffer;
  size: number;
  mediaType: string;
  uploadName: string | null;
}

/**
 * Reads a file expected to hold `expected` bytes (at most SYNC_READ) whole, synchronously, asking
 * for one byte more than expected so that no `fstat` is needed: null when it does not exist,
 * 'longer' when it holds more than expected (the caller then stats it), else its content (shorter
 * than expected if it was cut short: what is there is sent, with its true length).
 */
function readSmallFile(path: string, expected: number): Buffer | null | 'longer' {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const buf = Buffer.allocUnsafe(expected + 1);
    let at = 0;
    for (;;) {
      const n = readSync(fd, buf, at, buf.length - at, at);
      if (n === 0) return buf.subarray(0, at);
      at += n;
      if (at > expected) return 'longer';
    }
  } finally {
    closeSync(fd);
  }
}

interface Received {
  tmp: string;
  length: number;
  sha256: string;
}

export class MediaService {
  readonly paths: MediaPaths;
  private readonly queue = new ThumbnailQueue(2);
  /** Thumbnail generation in progress, by media ID (a thumbnail request waits for it). */
  private readonly generating = new Map<string, Promise<void>>();
  /** Downloads since the last flush: media ID → time (written in one batch, not per request). */
  private accessed = new Map<string, number>();
  /** Downloads waiting for an asynchronous upload's content. */
  private readonly uploadWaiters = new Map<string, Set<() => void>>();
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly previewer: UrlPreviewer;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly log: Logger,
    /**
     * Complete local media rows by media ID, dropped when their row changes, whoever changes it
     * (`local_media_repository` is a watched table: migration 017). Optional: without it every
     * download reads its row.
     */
    private readonly rows: ChangeCache<store.LocalMediaRow> | null = null,
  ) {
    this.paths = new MediaPaths(config.mediaStorePath);
    this.previewer = new UrlPreviewer(config.media);
  }

  /** `GET /preview_url` (routes exist only with `url_preview_enabled`). */
  previewUrl(url: string): Promise<Record<string, unknown>> {
    return this.previewer.preview(url);
  }

  /** Removes uploads a crash or restart left half-written, and starts the access-time flusher. */
  async start(): Promise<void> {
    const tmp = this.paths.tempDir();
    try {
      const names = await readdir(tmp);
      for (const n of names) await rm(join(tmp, n), { force: true, recursive: true });
      if (names.length > 0) this.log.info({ count: names.length }, 'removed unfinished media uploads');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.flushTimer = setInterval(() => void this.flushAccessTimes(), 10_000);
    this.flushTimer.unref();
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = null;
    await Promise.allSettled([...this.generating.values()]);
    await this.flushAccessTimes();
  }

  uploadConfig(): Record<string, unknown> {
    return { 'm.upload.size': this.config.maxUploadSize };
  }

  private mxc(mediaId: string): string {
    return `mxc://${this.config.serverName}/${mediaId}`;
  }

  private newMediaId(): string {
    return randomLetters(24);
  }

  /** `POST /_matrix/media/v1/create`: reserves a media ID whose content comes later. */
  async create(userId: string): Promise<{ content_uri: string; unused_expires_at: number }> {
    const now = Date.now();
    const expiry = this.config.media.unusedExpirationMs;
    const pending = await store.countPendingMedia(this.db, userId, now - expiry);
    if (pending >= this.config.media.maxPendingMediaUploads) {
      throw new MatrixError(429, 'M_LIMIT_EXCEEDED', 'You have too many uploads pending', { retry_after_ms: 60_000 });
    }
    const mediaId = this.newMediaId();
    await store.insertPendingMedia(this.db, mediaId, userId, now, this.config.media.enableAuthenticatedMedia);
    return { content_uri: this.mxc(mediaId), unused_expires_at: now + expiry };
  }

  /** `POST /upload`: a new media ID with this content. */
  async upload(userId: string, body: Readable, opts: UploadOptions): Promise<{ content_uri: string }> {
    const { mediaType, uploadName } = this.describe(opts);
    const got = await this.receive(body, opts.contentLength);
    const mediaId = this.newMediaId();
    const path = this.paths.localContent(mediaId);
    await this.place(got.tmp, path);
    try {
      const now = Date.now();
      await withTransaction(this.db, async (tx) => {
        await store.lockQuarantine(tx, 'shared');
        await store.insertLocalMedia(tx, {
          media_id: mediaId,
          media_type: mediaType,
          media_length: got.length,
          created_ts: now,
          upload_name: uploadName,
          user_id: userId,
          last_access_ts: now,
          authenticated: this.config.media.enableAuthenticatedMedia,
          sha256: got.sha256,
          quarantined_by: await this.quarantineFor(tx, mediaId, got.sha256),
        });
      });
    } catch (e) {
      await rm(path, { force: true });
      throw e;
    }
    this.scheduleThumbnails(mediaId, mediaType, path);
    return { content_uri: this.mxc(mediaId) };
  }

  /** `PUT /upload/{serverName}/{mediaId}`: the content of a reserved media ID, once. */
  async uploadTo(userId: string, serverName: string, mediaId: string, body: Readable, opts: UploadOptions): Promise<Record<string, never>> {
    if (serverName !== this.config.serverName) throw new MatrixError(404, 'M_NOT_FOUND', 'Non-local server name specified');
    const row = isValidMediaId(mediaId) ? await store.getLocalMedia(this.db, mediaId) : undefined;
    if (!row || (row.media_length === null && row.created_ts + this.config.media.unusedExpirationMs < Date.now())) throw mediaNotFound();
    if (row.user_id !== userId) throw new MatrixError(403, 'M_FORBIDDEN', 'You may not upload to this media ID');
    if (row.media_length !== null) throw new MatrixError(409, 'M_CANNOT_OVERWRITE_MEDIA', 'Media ID already has content');
    const { mediaType, uploadName } = this.describe(opts);
    const got = await this.receive(body, opts.contentLength);
    const path = this.paths.localContent(mediaId);
    try {
      await this.place(got.tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new MatrixError(409, 'M_CANNOT_OVERWRITE_MEDIA', 'Media ID already has content');
      throw e;
    }
    let done = false;
    try {
      done = await withTransaction(this.db, async (tx) => {
        await store.lockQuarantine(tx, 'shared');
        const values = { media_type: mediaType, media_length: got.length, upload_name: uploadName, sha256: got.sha256, last_access_ts: Date.now() };
        return store.completePendingMedia(tx, mediaId, values, await this.quarantineFor(tx, mediaId, got.sha256));
      });
    } finally {
      if (!done) await rm(path, { force: true });
    }
    if (!done) throw new MatrixError(409, 'M_CANNOT_OVERWRITE_MEDIA', 'Media ID already has content');
    for (const wake of this.uploadWaiters.get(mediaId) ?? []) wake();
    this.scheduleThumbnails(mediaId, mediaType, path);
    return {};
  }

  /**
   * Synapse ≥ 1.128: content whose hash matches quarantined media (local or cached remote) is
   * quarantined as it is stored, by "system"; the uploader still gets a normal answer. Runs in the
   * transaction that writes the row, after `lockQuarantine(tx, 'shared')`.
   */
  private async quarantineFor(tx: Db, mediaId: string, sha256: string): Promise<string | null> {
    if (!(await store.isHashQuarantined(tx, sha256))) return null;
    this.log.warn({ mediaId, sha256 }, 'media automatically quarantined: its content matches quarantined media');
    return QUARANTINED_BY_SYSTEM;
  }

  private describe(opts: UploadOptions): { mediaType: string; uploadName: string | null } {
    const mediaType = opts.contentType?.trim() || 'application/octet-stream';
    if (mediaType.length > 255) throw new MatrixError(400, 'M_INVALID_PARAM', 'Content-Type is too long');
    const uploadName = opts.fileName === undefined || opts.fileName === '' ? null : opts.fileName;
    if (uploadName !== null && uploadName.length > 1024) throw new MatrixError(400, 'M_INVALID_PARAM', 'filename is too long');
    return { mediaType, uploadName };
  }

  /**
   * Streams a body into a new temporary file in the media store, hashing and counting as it goes;
   * more than `max_upload_size` stops it with 413 and a body that ends early (a dropped connection,
   * a Content-Length larger than what came) with 400. Either way the temporary file is removed. The
   * file is flushed to disk (fsync) before this returns.
   */
  private async receive(body: Readable, declared: number | undefined): Promise<Received> {
    const max = this.config.maxUploadSize;
    if (declared !== undefined && declared > max) throw tooLarge();
    const dir = this.paths.tempDir();
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
    const hash = createHash('sha256');
    let length = 0;
    const out = createWriteStream(tmp, { flags: 'wx', flush: true });
    try {
      await new Promise<void>((resolve, reject) => {
        let settled = false;
        let ended = false;
        const fail = (err: Error) => {
          if (settled) return;
          settled = true;
          body.off('data', onData);
          body.pause();
          out.destroy();
          reject(err);
        };
        const onData = (chunk: Buffer) => {
          length += chunk.length;
          if (length > max) return fail(tooLarge());
          hash.update(chunk);
          if (!out.write(chunk)) {
            body.pause();
            out.once('drain', () => settled || body.resume());
          }
        };
        body.on('data', onData);
        body.once('end', () => {
          ended = true;
          if (settled) return;
          if (declared !== undefined && length !== declared) return fail(incomplete());
          out.end();
        });
        body.once('error', () => fail(incomplete()));
        body.once('close', () => {
          if (!ended) fail(incomplete());
        });
        out.once('error', (e) => fail(e));
        out.once('finish', () => {
          if (settled) return;
          settled = true;
          resolve();
        });
        // The connection may have gone, or an empty body ended, while the request was authenticated.
        if (body.readableEnded) {
          ended = true;
          if (declared !== undefined && declared !== 0) fail(incomplete());
          else out.end();
        } else if (body.destroyed) {
          fail(incomplete());
        }
      });
      // 'finish' comes after the flush (fsync) the stream was asked for; wait for the close too.
      if (!out.closed) await new Promise<void>((r) => out.once('close', () => r()));
    } catch (e) {
      await new Promise<void>((r) => (out.closed ? r() : out.once('close', () => r())));
      await rm(tmp, { force: true });
      throw e;
    }
    return { tmp, length, sha256: hash.digest('hex') };
  }

  /** Moves a finished temporary file to its final name; fails with EEXIST rather than replace a file. */
  private async place(tmp: string, path: string): Promise<void> {
    try {
      await mkdir(dirname(path), { recursive: true });
      await link(tmp, path);
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Downloads

  /** Resolves a media reference to local media the caller may see, waiting for pending content. */
  private async localMediaFor(mediaId: string, opts: ServeOptions): Promise<store.LocalMediaRow> {
    if (!isValidMediaId(mediaId)) throw mediaNotFound();
    let row = await this.localRow(mediaId, opts.synced === true);
    if (!row) throw mediaNotFound();
    // With enable_authenticated_media, media uploaded so is not served by the legacy endpoints.
    if (store.flag(row.authenticated) && !opts.authenticatedEndpoint && this.config.media.enableAuthenticatedMedia) throw mediaNotFound();
    if (row.quarantined_by !== null && !opts.bypassQuarantine) throw mediaNotFound();
    if (row.media_length === null) {
      row = await this.waitForContent(mediaId, opts.timeoutMs);
    }
    this.accessed.set(mediaId, Date.now());
    return row;
  }

  /**
   * A local media row, from the cache when it holds it. Only complete uploads are kept (a pending
   * one is read again until its content arrives). A quarantine, protection or deletion, by the
   * Admin API or in SQL, drops the entry before the next request reads it: the request first waits
   * for changes committed before it arrived (unless the auth hook did), and a read that overlapped
   * a change of its row is not kept (ChangeCache epochs).
   */
  private async localRow(mediaId: string, synced: boolean): Promise<store.LocalMediaRow | undefined> {
    const cache = this.rows;
    if (!cache) return store.getLocalMedia(this.db, mediaId);
    if (!synced) await cache.sync();
    const epoch = cache.begin();
    const hit = cache.get(epoch, mediaId);
    if (hit) return hit;
    const row = await store.getLocalMedia(this.db, mediaId);
    if (row && row.media_length !== null) cache.set(epoch, mediaId, row, [mediaId]);
    return row;
  }

  private async waitForContent(mediaId: string, timeoutMs: number): Promise<store.LocalMediaRow> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await store.getLocalMedia(this.db, mediaId);
      if (!row) throw mediaNotFound();
      if (row.media_length !== null) return row;
      const left = deadline - Date.now();
      if (left <= 0) throw new MatrixError(504, 'M_NOT_YET_UPLOADED', 'Media has not been uploaded yet');
      // Woken by the upload in this process; polls too, for one made elsewhere.
      await new Promise<void>((resolve) => {
        const set = this.uploadWaiters.get(mediaId) ?? new Set();
        this.uploadWaiters.set(mediaId, set);
        const wake = () => {
          clearTimeout(timer);
          set.delete(wake);
          if (set.size === 0) this.uploadWaiters.delete(mediaId);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 1000));
        set.add(wake);
      });
    }
  }

  /** Remote media: served from the cache when present; without federation nothing can be fetched. */
  private async remoteFile(origin: string, mediaId: string, opts: ServeOptions): Promise<MediaFile> {
    if (!isValidServerName(origin) || !isValidMediaId(mediaId)) throw mediaNotFound();
    const row = await store.getRemoteMedia(this.db, origin, mediaId);
    if (row && row.filesystem_id && row.media_length !== null) {
      if (row.quarantined_by !== null && !opts.bypassQuarantine) throw mediaNotFound();
      const file = await this.openFile(this.paths.remoteContent(origin, row.filesystem_id), row.media_length);
      if (file) return { ...file, mediaType: row.media_type ?? 'application/octet-stream', uploadName: row.upload_name };
    }
    // Synapse: `allow_remote=false`, or an uncached remote file asked for through the legacy
    // endpoints with authenticated media on, is 404; a fetch that fails is 502.
    if (!opts.allowRemote || (!opts.authenticatedEndpoint && this.config.media.enableAuthenticatedMedia)) throw mediaNotFound();
    throw new MatrixError(502, 'M_UNKNOWN', 'Failed to fetch remote media (this server does not federate yet)');
  }

  /**
   * Opens a file to send. A file whose recorded length is at most SYNC_READ bytes (most media:
   * avatars, thumbnails, stickers) is read whole at once (`readSmallFile`). A larger one, one that
   * turns out longer than recorded, or one of unknown length goes the general way: `fstat`, then
   * read whole when at most SMALL_FILE bytes (cheaper than a stream), else streamed.
   */
  private async openFile(path: string, expected?: number | null): Promise<{ handle: FileHandle | null; data?: Buffer; size: number } | null> {
    if (expected !== undefined && expected !== null && expected <= SYNC_READ) {
      const small = readSmallFile(path, expected);
      if (small === null) return null;
      if (small !== 'longer') return { handle: null, data: small, size: small.length };
    }
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      const size = (await handle.stat()).size;
      if (size > SMALL_FILE) return { handle, size };
      const data = Buffer.allocUnsafe(size);
      let read = 0;
      while (read < size) {
        const { bytesRead } = await handle.read(data, read, size - read, read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      await handle.close();
      return { handle: null, data: data.subarray(0, read), size: read };
    } catch (e) {
      await handle.close().catch(() => {});
      throw e;
    }
  }

  /** The content of `mxc://{serverName}/{mediaId}`, opened for streaming (the caller closes it). */
  async download(serverName: string, mediaId: string, opts: ServeOptions): Promise<MediaFile> {
    if (serverName !== this.config.serverName) return this.remoteFile(serverName, mediaId, opts);
    const row = await this.localMediaFor(mediaId, opts);
    const file = await this.openFile(this.paths.localContent(mediaId), row.media_length);
    if (!file) {
      this.log.warn({ mediaId }, 'media row without a file');
      throw mediaNotFound();
    }
    return { ...file, mediaType: row.media_type ?? 'application/octet-stream', uploadName: row.upload_name };
  }

  // ---------------------------------------------------------------------------------------------
  // Thumbnails

  /** Generates the configured thumbnail sizes of new image media in the background. */
  private scheduleThumbnails(mediaId: string, mediaType: string, path: string): void {
    const type = thumbnailTypeFor(mediaType);
    if (!type || this.config.media.thumbnailSizes.length === 0) return;
    const job = this.queue
      .run(() => this.generateThumbnails(mediaId, path, type))
      .catch((e: unknown) => this.log.warn({ err: e, mediaId }, 'thumbnail generation failed'))
      .finally(() => this.generating.delete(mediaId));
    this.generating.set(mediaId, job);
  }

  private async generateThumbnails(mediaId: string, path: string, type: 'image/jpeg' | 'image/png'): Promise<void> {
    const maxPixels = this.config.media.maxImagePixels;
    const size = await imageSize(path, maxPixels);
    if (!size) return;
    const done = new Set<string>();
    for (const s of this.config.media.thumbnailSizes) {
      const [tw, th] = thumbnailSize(size.width, size.height, s.width, s.height, s.method);
      const key = `${tw}x${th}-${s.method}`;
      if (done.has(key)) continue;
      done.add(key);
      await this.writeThumbnail(mediaId, path, tw, th, s.method, type);
    }
  }

  private async writeThumbnail(mediaId: string, source: string, w: number, h: number, method: ThumbnailMethod, type: 'image/jpeg' | 'image/png'): Promise<{ path: string; length: number }> {
    const data = await renderThumbnail(source, w, h, method, type, this.config.media.maxImagePixels);
    const path = this.paths.localThumbnail(mediaId, w, h, type, method);
    const dir = this.paths.tempDir();
    await mkdir(dir, { recursive: true });
    await mkdir(dirname(path), { recursive: true });
    const tmp = join(dir, `${Date.now()}-${randomBytes(8).toString('hex')}.thumb`);
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await store.upsertLocalThumbnail(this.db, { media_id: mediaId, thumbnail_width: w, thumbnail_height: h, thumbnail_type: type, thumbnail_method: method, thumbnail_length: data.length });
    return { path, length: data.length };
  }

  /**
   * A thumbnail of `mxc://{serverName}/{mediaId}`: the stored one Synapse's rules choose, or with
   * `dynamic_thumbnails` one of exactly the asked size made now. Media that is not a thumbnailable
   * image has none: 400, as Synapse answers ("Cannot find any thumbnails for the requested media").
   */
  async thumbnail(serverName: string, mediaId: string, w: number, h: number, method: ThumbnailMethod, opts: ServeOptions): Promise<MediaFile> {
    if (serverName !== this.config.serverName) {
      await this.remoteFile(serverName, mediaId, opts);
      throw mediaNotFound();
    }
    const row = await this.localMediaFor(mediaId, opts);
    await this.generating.get(mediaId);
    const type = thumbnailTypeFor(row.media_type);
    const infos = (await store.getLocalThumbnails(this.db, mediaId)).map((t) => ({
      width: t.thumbnail_width,
      height: t.thumbnail_height,
      type: t.thumbnail_type,
      method: t.thumbnail_method,
      length: t.thumbnail_length,
    }));
    if (this.config.media.dynamicThumbnails && type) {
      const exact = infos.find((i) => i.width === w && i.height === h && i.method === method);
      if (exact) return this.openThumbnail(mediaId, exact);
      if (w * h > this.config.media.maxImagePixels) throw new MatrixError(400, 'M_INVALID_PARAM', 'Requested thumbnail is too large');
      const source = this.paths.localContent(mediaId);
      const size = await imageSize(source, this.config.media.maxImagePixels);
      if (!size) throw new MatrixError(400, 'M_UNKNOWN', 'Failed to generate thumbnail.');
      const [tw, th] = thumbnailSize(size.width, size.height, w, h, method);
      await this.queue.run(() => this.writeThumbnail(mediaId, source, tw, th, method, type));
      return this.openThumbnail(mediaId, { width: tw, height: th, type, method });
    }
    const chosen = selectThumbnail(infos, w, h, method, type ?? 'image/png');
    if (!chosen) {
      throw new MatrixError(
        400,
        'M_UNKNOWN',
        `Cannot find any thumbnails for the requested media ('${mediaId}'). This might mean the media is not a supported media format or that thumbnailing failed for some other reason. (Dynamic thumbnails are ${this.config.media.dynamicThumbnails ? 'enabled' : 'disabled'} on this server.)`,
      );
    }
    return this.openThumbnail(mediaId, chosen);
  }

  private async openThumbnail(mediaId: string, info: { width: number; height: number; type: string; method: string; length?: number }): Promise<MediaFile> {
    const file = await this.openFile(this.paths.localThumbnail(mediaId, info.width, info.height, info.type, info.method), info.length);
    if (!file) throw mediaNotFound();
    return { ...file, mediaType: info.type, uploadName: null };
  }

  // ---------------------------------------------------------------------------------------------

  /** Writes the download times gathered since the last flush, in one batch. */
  async flushAccessTimes(): Promise<void> {
    if (this.accessed.size === 0) return;
    const batch = this.accessed;
    this.accessed = new Map();
    // One timestamp per batch is precise enough for "last accessed" (Synapse batches likewise).
    let ts = 0;
    for (const t of batch.values()) ts = Math.max(ts, t);
    try {
      await store.touchLocalMedia(this.db, [...batch.keys()], ts);
    } catch (e) {
      this.log.warn({ err: e }, 'could not record media access times');
    }
  }
}
