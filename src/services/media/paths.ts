import { join } from 'node:path';

/**
 * Synapse's media store layout under `media_store_path`, so an operator's habits, scripts and
 * backups carry over:
 *
 *   local_content/aa/bb/rest
 *   local_thumbnails/aa/bb/rest/<w>-<h>-<top>-<sub>-<method>
 *   remote_content/<origin>/aa/bb/rest                       (by filesystem_id)
 *   remote_thumbnail/<origin>/aa/bb/rest/<w>-<h>-<top>-<sub>-<method>
 *
 * Every component is validated before it is joined, so no media ID, origin or content type can
 * name a path outside the store: IDs are [A-Za-z0-9_-] only (the spec's media ID grammar), origins
 * are server names (no `/`, `\`, and never `.` or `..`), content types are RFC 6838 tokens.
 */

/** The spec's media ID grammar: A-Z, a-z, 0-9, `_` and `-`. At least 5 characters, so `rest` is never empty. */
const MEDIA_ID = /^[A-Za-z0-9_-]{5,255}$/;
/** A server name: hostname, IPv4 or [IPv6], optional port. */
const SERVER_NAME = /^(?:[A-Za-z0-9.-]{1,255}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;
const TYPE_PART = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export const TEMP_DIR = '.axon-uploads';

export class MediaPathError extends Error {}

export function isValidMediaId(mediaId: string): boolean {
  return MEDIA_ID.test(mediaId);
}

export function isValidServerName(serverName: string): boolean {
  return SERVER_NAME.test(serverName) && serverName !== '.' && serverName !== '..' && !/^\.+(:|$)/.test(serverName);
}

function checkId(id: string): void {
  if (!MEDIA_ID.test(id)) throw new MediaPathError(`invalid media ID: ${JSON.stringify(id)}`);
}

function checkOrigin(origin: string): void {
  if (!isValidServerName(origin)) throw new MediaPathError(`invalid server name: ${JSON.stringify(origin)}`);
}

function split(id: string): [string, string, string] {
  return [id.slice(0, 2), id.slice(2, 4), id.slice(4)];
}

/** `<w>-<h>-<top>-<sub>-<method>`: Synapse's thumbnail file name. */
export function thumbnailFileName(width: number, height: number, contentType: string, method: string): string {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) throw new MediaPathError('invalid thumbnail size');
  const [top, sub, ...more] = contentType.split('/');
  if (more.length > 0 || top === undefined || sub === undefined || !TYPE_PART.test(top) || !TYPE_PART.test(sub)) {
    throw new MediaPathError(`invalid thumbnail type: ${JSON.stringify(contentType)}`);
  }
  if (method !== 'crop' && method !== 'scale') throw new MediaPathError(`invalid thumbnail method: ${JSON.stringify(method)}`);
  return `${width}-${height}-${top}-${sub}-${method}`;
}

/** Paths relative to the media store (Synapse's `*_rel` forms). */
export const rel = {
  localContent(mediaId: string): string {
    checkId(mediaId);
    return join('local_content', ...split(mediaId));
  },
  localThumbnailDir(mediaId: string): string {
    checkId(mediaId);
    return join('local_thumbnails', ...split(mediaId));
  },
  localThumbnail(mediaId: string, width: number, height: number, contentType: string, method: string): string {
    return join(rel.localThumbnailDir(mediaId), thumbnailFileName(width, height, contentType, method));
  },
  remoteContent(origin: string, filesystemId: string): string {
    checkOrigin(origin);
    checkId(filesystemId);
    return join('remote_content', origin, ...split(filesystemId));
  },
  remoteThumbnailDir(origin: string, filesystemId: string): string {
    checkOrigin(origin);
    checkId(filesystemId);
    return join('remote_thumbnail', origin, ...split(filesystemId));
  },
  remoteThumbnail(origin: string, filesystemId: string, width: number, height: number, contentType: string, method: string): string {
    return join(rel.remoteThumbnailDir(origin, filesystemId), thumbnailFileName(width, height, contentType, method));
  },
};

/** Absolute paths inside one media store. */
export class MediaPaths {
  constructor(readonly root: string) {}

  localContent(mediaId: string): string {
    return join(this.root, rel.localContent(mediaId));
  }
  localThumbnailDir(mediaId: string): string {
    return join(this.root, rel.localThumbnailDir(mediaId));
  }
  localThumbnail(mediaId: string, width: number, height: number, contentType: string, method: string): string {
    return join(this.root, rel.localThumbnail(mediaId, width, height, contentType, method));
  }
  remoteContent(origin: string, filesystemId: string): string {
    return join(this.root, rel.remoteContent(origin, filesystemId));
  }
  remoteThumbnailDir(origin: string, filesystemId: string): string {
    return join(this.root, rel.remoteThumbnailDir(origin, filesystemId));
  }
  remoteThumbnail(origin: string, filesystemId: string, width: number, height: number, contentType: string, method: string): string {
    return join(this.root, rel.remoteThumbnail(origin, filesystemId, width, height, contentType, method));
  }
  /** Where uploads are written before they are renamed into place (same filesystem, so the rename is atomic). */
  tempDir(): string {
    return join(this.root, TEMP_DIR);
  }
}
