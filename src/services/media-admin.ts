import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { badRequest, invalidParam, notFound } from '../errors.js';
import { parseUserId } from '../matrix/ids.js';
import type { Db } from '../storage/database.js';
import { withTransaction } from '../storage/database.js';
import * as store from '../storage/stores/media-admin.js';
import * as users from '../storage/stores/users.js';
import { MediaPaths } from './media/paths.js';

export { USER_MEDIA_ORDER, USER_STATS_ORDER, type UserMediaPage } from '../storage/stores/media-admin.js';

/** Synapse refuses timestamps that are obviously seconds ("from the year 1970"). */
const MIN_MS_TIMESTAMP = 30_000_000_000;
const YEAR_1970 = (name: string) =>
  invalidParam(`Query parameter ${name} you provided is from the year 1970. Double check that you are providing a timestamp in milliseconds.`);
/** Events read per step of a room or server scan. */
const SCAN_PAGE = 1000;
/** The quarantine change feed's fixed page size (Synapse). */
const QUARANTINE_PAGE = 100;
/** Duplicates listed in a media info answer at most. */
const MAX_DUPLICATES = 100;

export interface Mxc {
  server: string;
  mediaId: string;
}

/** `mxc://<server>/<media id>` split, or null for anything else. */
export function parseMxc(uri: unknown): Mxc | null {
  if (typeof uri !== 'string' || !uri.startsWith('mxc://')) return null;
  const rest = uri.slice(6);
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  const mediaId = rest.slice(slash + 1);
  if (!mediaId || mediaId.includes('/')) return null;
  return { server: rest.slice(0, slash), mediaId };
}

/** The mxc URIs an event's content references: `url` and `info.thumbnail_url` (what Synapse inspects). */
export function mxcsOfEventJson(json: string): string[] {
  let content: Record<string, unknown> | undefined;
  try {
    content = (JSON.parse(json) as { content?: Record<string, unknown> }).content;
  } catch {
    return [];
  }
  if (!content || typeof content !== 'object') return [];
  const out: string[] = [];
  if (typeof content.url === 'string' && content.url.startsWith('mxc://')) out.push(content.url);
  const info = content.info as Record<string, unknown> | undefined;
  if (info && typeof info === 'object' && typeof info.thumbnail_url === 'string' && info.thumbnail_url.startsWith('mxc://')) out.push(info.thumbnail_url);
  return out;
}

export interface MediaInfo {
  media_origin: string | null;
  user_id: string | null;
  media_id: string;
  media_type: string | null;
  media_length: number | null;
  upload_name: string | null;
  created_ts: number | null;
  filesystem_id: string | null;
  url_cache: string | null;
  last_access_ts: number | null;
  quarantined_by: string | null;
  authenticated: boolean;
  safe_from_quarantine: boolean | null;
  sha256: string | null;
  /** Axon: other media (local and cached remote) with the same content, as mxc URIs. */
  axon_duplicates: string[];
}

export interface DeletedMedia {
  deleted_media: string[];
  total: number;
}

/**
 * The media Admin API (catalogue §3.12, §7, §8.1) and the media side of room deletion and history
 * purges. Deletion removes rows in one transaction first, then the files (media and every
 * thumbnail), so a client never finds a row whose file is gone; files already missing are fine.
 */
export class MediaAdminService {
  readonly paths: MediaPaths;

  constructor(
    private readonly db: Db,
    private readonly serverName: string,
    mediaStorePath: string,
    private readonly log: Logger,
  ) {
    this.paths = new MediaPaths(mediaStorePath);
  }

  private isMine(server: string): boolean {
    return server === this.serverName;
  }

  private mxc(server: string, mediaId: string): string {
    return `mxc://${server}/${mediaId}`;
  }

  /** Checks a path user ID the way Synapse's user-media endpoints do. */
  private async localUser(userId: string): Promise<string> {
    const { full, domain } = parseUserId(userId);
    if (!this.isMine(domain)) throw badRequest('Can only look up local users');
    if (!(await users.getUser(this.db, full))) throw notFound('Unknown user');
    return full;
  }

  // ---- One item ----

  /** GET /_synapse/admin/v1/media/<server_name>/<media_id> (Δ1.140) with Axon's duplicates. */
  async mediaInfo(serverName: string, mediaId: string): Promise<MediaInfo> {
    if (this.isMine(serverName)) {
      const [r] = await store.getLocalMediaRows(this.db, [mediaId]);
      if (!r) throw notFound('Unknown media');
      return {
        media_origin: null,
        user_id: r.user_id,
        media_id: r.media_id,
        media_type: r.media_type,
        media_length: r.media_length,
        upload_name: r.upload_name,
        created_ts: r.created_ts,
        filesystem_id: null,
        url_cache: r.url_cache,
        last_access_ts: r.last_access_ts,
        quarantined_by: r.quarantined_by,
        authenticated: Boolean(r.authenticated),
        safe_from_quarantine: Boolean(r.safe_from_quarantine),
        sha256: r.sha256,
        axon_duplicates: await this.duplicates(r.sha256, this.mxc(serverName, mediaId)),
      };
    }
    const r = await store.getRemoteMediaRow(this.db, serverName, mediaId);
    if (!r) throw notFound('Unknown media');
    return {
      media_origin: r.media_origin,
      user_id: null,
      media_id: r.media_id,
      media_type: r.media_type,
      media_length: r.media_length,
      upload_name: r.upload_name,
      created_ts: r.created_ts,
      filesystem_id: r.filesystem_id,
      url_cache: null,
      last_access_ts: r.last_access_ts,
      quarantined_by: r.quarantined_by,
      authenticated: Boolean(r.authenticated),
      safe_from_quarantine: null,
      sha256: r.sha256,
      axon_duplicates: await this.duplicates(r.sha256, this.mxc(serverName, mediaId)),
    };
  }

  private async duplicates(sha256: string | null, self: string): Promise<string[]> {
    if (!sha256) return [];
    const same = await store.sameHash(this.db, sha256, MAX_DUPLICATES + 1);
    return [...same.local.map((id) => this.mxc(this.serverName, id)), ...same.remote.map((k) => this.mxc(k.origin, k.mediaId))].filter((u) => u !== self).slice(0, MAX_DUPLICATES);
  }

  /** DELETE /_synapse/admin/v1/media/<server_name>/<media_id>: regardless of quarantine or protection. */
  async deleteOne(serverName: string, mediaId: string): Promise<DeletedMedia> {
    if (!this.isMine(serverName)) throw badRequest('Can only delete local media');
    const deleted = await this.deleteLocal([mediaId]);
    if (deleted.length === 0) throw notFound('Unknown media');
    return { deleted_media: deleted, total: deleted.length };
  }

  /** Deletes local media: rows in one transaction, then files and thumbnails. Returns what was there. */
  async deleteLocal(mediaIds: readonly string[]): Promise<string[]> {
    if (mediaIds.length === 0) return [];
    const gone = new Set(await withTransaction(this.db, (tx) => store.deleteLocalMedia(tx, mediaIds)));
    // In the order asked for (a page's order), each once.
    const deleted = [...new Set(mediaIds)].filter((id) => gone.has(id));
    for (const id of deleted) await this.removeLocalFiles(id);
    return deleted;
  }

  private async removeLocalFiles(mediaId: string): Promise<void> {
    let content: string;
    let thumbnails: string;
    try {
      content = this.paths.localContent(mediaId);
      thumbnails = this.paths.localThumbnailDir(mediaId);
    } catch {
      // An ID that cannot name a file (a row written by hand): nothing of it is on disk.
      return;
    }
    await this.removePath(content);
    await this.removePath(thumbnails);
  }

  private async removePath(path: string): Promise<void> {
    try {
      await rm(path, { recursive: true, force: true });
    } catch (err) {
      // The row is gone already; a file left behind is harmless to clients and logged for the operator.
      this.log.warn({ err, path }, 'media: could not remove a deleted media file');
    }
  }

  /** POST /_synapse/admin/v1/media/delete and the legacy /v1/media/<server_name>/delete. */
  async deleteByDateAndSize(p: { serverName?: string; beforeTs: number; sizeGt: number; keepProfiles: boolean }): Promise<DeletedMedia> {
    if (p.beforeTs < MIN_MS_TIMESTAMP) throw YEAR_1970('before_ts');
    if (p.serverName !== undefined && !this.isMine(p.serverName)) throw badRequest('Can only delete local media');
    let ids = await store.oldLocalMedia(this.db, p.beforeTs, p.sizeGt);
    if (p.keepProfiles && ids.length) {
      const kept = await this.profileMedia();
      ids = ids.filter((id) => !kept.has(id));
    }
    const deleted = await this.deleteLocal(ids);
    return { deleted_media: deleted, total: deleted.length };
  }

  /** Local media used as an avatar: global profiles, member events (per-room profiles), room avatars. */
  private async profileMedia(): Promise<Set<string>> {
    const out = new Set<string>();
    const add = (uri: unknown) => {
      const m = parseMxc(uri);
      if (m && this.isMine(m.server)) out.add(m.mediaId);
    };
    for (const url of await store.avatarUrls(this.db)) add(url);
    for (const json of await store.roomAvatarJsons(this.db)) for (const url of mxcsOfEventJson(json)) add(url);
    return out;
  }

  /** POST /_synapse/admin/v1/purge_media_cache: cached remote media last accessed before `beforeTs`. */
  async purgeRemoteCache(beforeTs: number): Promise<{ deleted: number }> {
    if (beforeTs < MIN_MS_TIMESTAMP) throw YEAR_1970('before_ts');
    let deleted = 0;
    for (const item of await store.oldRemoteMedia(this.db, beforeTs)) {
      const gone = await withTransaction(this.db, (tx) => store.deleteRemoteMedia(tx, item.origin, item.mediaId));
      if (!gone) continue;
      deleted++;
      if (!item.filesystemId) continue;
      try {
        await this.removePath(this.paths.remoteContent(item.origin, item.filesystemId));
        await this.removePath(this.paths.remoteThumbnailDir(item.origin, item.filesystemId));
      } catch {
        // An origin or file ID that cannot name a path: nothing of it is on disk.
      }
    }
    return { deleted };
  }

  // ---- Quarantine and protection ----

  async quarantineOne(serverName: string, mediaId: string, by: string | null): Promise<void> {
    const keys: store.MediaKeys = this.isMine(serverName) ? { local: [mediaId], remote: [] } : { local: [], remote: [{ origin: serverName, mediaId }] };
    await withTransaction(this.db, (tx) => store.setQuarantine(tx, keys, by));
  }

  /** POST /_synapse/admin/v1/room/<room_id>/media/quarantine: every mxc the room's events reference. */
  async quarantineRoom(roomId: string, by: string): Promise<number> {
    const { local, remote } = await this.mediaOfRoom(roomId);
    const keys: store.MediaKeys = {
      local: local.map((u) => parseMxc(u)!.mediaId),
      remote: remote.map((u) => {
        const m = parseMxc(u)!;
        return { origin: m.server, mediaId: m.mediaId };
      }),
    };
    return withTransaction(this.db, (tx) => store.setQuarantine(tx, keys, by));
  }

  /** POST /_synapse/admin/v1/user/<user_id>/media/quarantine: all local media the user uploaded. */
  async quarantineUser(userId: string, by: string): Promise<number> {
    // Synapse takes the path as it is: no parsing, an unknown user simply has no media.
    const ids = await store.localMediaOfUser(this.db, userId);
    return withTransaction(this.db, (tx) => store.setQuarantine(tx, { local: ids, remote: [] }, by));
  }

  /**
   * GET /_synapse/admin/v1/media/quarantine_changes (Synapse 1.152): changes after `from`, 100 at
   * a time; `next_batch` is the last change's position, or the current one when there is none.
   */
  async quarantineChanges(from: number): Promise<{ next_batch: number; changes: Array<{ origin: string; media_id: string; quarantined: boolean }> }> {
    const current = await store.quarantineFeedPosition(this.db);
    if (from > current) throw invalidParam(`Invalid 'from' token: ${from} is beyond the current position of the quarantine change stream (${current}). Use a next_batch value this server returned.`);
    const rows = await store.quarantineChangesAfter(this.db, from, QUARANTINE_PAGE);
    return {
      next_batch: rows.length ? rows.at(-1)!.streamId : current,
      changes: rows.map((r) => ({ origin: r.origin === '' ? this.serverName : r.origin, media_id: r.mediaId, quarantined: r.quarantined })),
    };
  }

  async protect(mediaId: string, safe: boolean): Promise<void> {
    await store.setProtected(this.db, mediaId, safe);
  }

  // ---- Listings ----

  /** GET /_synapse/admin/v1/room/<room_id>/media: mxc URIs of the room's unredacted events, local and remote. */
  async mediaOfRoom(roomId: string): Promise<{ local: string[]; remote: string[] }> {
    const local = new Set<string>();
    const remote = new Set<string>();
    await this.scanUrlEvents(roomId, (uri) => {
      const m = parseMxc(uri);
      if (!m) return;
      (this.isMine(m.server) ? local : remote).add(uri);
    });
    return { local: [...local], remote: [...remote] };
  }

  private async scanUrlEvents(roomId: string | null, onUri: (uri: string) => void): Promise<void> {
    let after: number | null = null;
    for (;;) {
      const page = await store.urlEventsPage(this.db, roomId, after, SCAN_PAGE);
      for (const e of page) for (const uri of mxcsOfEventJson(e.json)) onUri(uri);
      if (page.length < SCAN_PAGE) return;
      after = page.at(-1)!.stream;
    }
  }

  /** GET /_synapse/admin/v1/users/<user_id>/media. */
  async listUserMedia(userId: string, page: store.UserMediaPage) {
    const full = await this.localUser(userId);
    const { rows, total } = await store.listUserMedia(this.db, full, page);
    const media = rows.map((r) => ({
      media_id: r.media_id,
      media_type: r.media_type,
      media_length: r.media_length,
      upload_name: r.upload_name,
      created_ts: r.created_ts,
      last_access_ts: r.last_access_ts,
      quarantined_by: r.quarantined_by,
      safe_from_quarantine: Boolean(r.safe_from_quarantine),
      url_cache: r.url_cache,
      user_id: r.user_id,
      authenticated: Boolean(r.authenticated),
      sha256: r.sha256,
    }));
    return page.from + page.limit < total ? { media, next_token: page.from + media.length, total } : { media, total };
  }

  /** DELETE /_synapse/admin/v1/users/<user_id>/media: the page the same parameters select, whatever its state. */
  async deleteUserMedia(userId: string, page: store.UserMediaPage): Promise<DeletedMedia> {
    const full = await this.localUser(userId);
    const { rows } = await store.listUserMedia(this.db, full, page);
    const deleted = await this.deleteLocal(rows.map((r) => r.media_id));
    return { deleted_media: deleted, total: deleted.length };
  }

  /** GET /_synapse/admin/v1/statistics/users/media. */
  async userMediaStatistics(q: store.UserStatsQuery) {
    if (q.untilTs !== undefined && q.untilTs <= q.fromTs) throw invalidParam('Query parameter until_ts must be greater than from_ts.');
    if (q.searchTerm === '') throw invalidParam('Query parameter search_term cannot be an empty string.');
    const { users: rows, total } = await store.userMediaStats(this.db, q);
    return q.from + q.limit < total ? { users: rows, next_token: q.from + rows.length, total } : { users: rows, total };
  }

  // ---- Beyond Synapse: what nothing references any more ----

  /**
   * Local media IDs referenced anywhere: unredacted events of any room (`url`,
   * `info.thumbnail_url`), global profiles' and member events' avatars, room avatars.
   */
  async referencedLocalMedia(): Promise<Set<string>> {
    const out = await this.profileMedia();
    await this.scanUrlEvents(null, (uri) => {
      const m = parseMxc(uri);
      if (m && this.isMine(m.server)) out.add(m.mediaId);
    });
    return out;
  }

  /** GET /_synapse/admin/v1/axon/media/unreferenced: local media nothing references, oldest first. */
  async unreferenced(from: number, limit: number) {
    const referenced = await this.referencedLocalMedia();
    const ids = (await store.allLocalMediaIds(this.db)).filter((id) => !referenced.has(id));
    const pageIds = ids.slice(from, from + limit);
    const rows = new Map((await store.getLocalMediaRows(this.db, pageIds)).map((r) => [r.media_id, r]));
    const media = pageIds
      .map((id) => rows.get(id))
      .filter((r) => r !== undefined)
      .map((r) => ({
        media_id: r.media_id,
        user_id: r.user_id,
        media_type: r.media_type,
        media_length: r.media_length,
        upload_name: r.upload_name,
        created_ts: r.created_ts,
        last_access_ts: r.last_access_ts,
        quarantined_by: r.quarantined_by,
        safe_from_quarantine: Boolean(r.safe_from_quarantine),
      }));
    return from + limit < ids.length ? { media, next_token: from + media.length, total: ids.length } : { media, total: ids.length };
  }

  // ---- Hooks for room deletion and history purges (option `axon_delete_media`) ----

  /** Local media IDs a room's events reference (read before the room is purged). */
  async localMediaOfRoom(roomId: string): Promise<string[]> {
    return (await this.mediaOfRoom(roomId)).local.map((u) => parseMxc(u)!.mediaId);
  }

  /** Local media IDs these events reference (read before they are purged). */
  async localMediaOfEvents(eventIds: readonly string[]): Promise<string[]> {
    const out = new Set<string>();
    for (const json of await store.eventJsons(this.db, eventIds)) {
      for (const uri of mxcsOfEventJson(json)) {
        const m = parseMxc(uri);
        if (m && this.isMine(m.server)) out.add(m.mediaId);
      }
    }
    return [...out];
  }

  /** Deletes those of `mediaIds` nothing references any more (protected media stays); returns the deleted. */
  async deleteUnreferenced(mediaIds: readonly string[]): Promise<string[]> {
    if (mediaIds.length === 0) return [];
    const referenced = await this.referencedLocalMedia();
    const candidates = (await store.getLocalMediaRows(this.db, mediaIds)).filter((r) => !referenced.has(r.media_id) && !r.safe_from_quarantine);
    return this.deleteLocal(candidates.map((r) => r.media_id));
  }
}
