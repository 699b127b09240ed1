import type { RawConfig } from './schema.js';

/** The media repository's settings, with Synapse's keys and defaults (see docs/media.md). */
export interface MediaConfig {
  /** `max_image_pixels` (default "32M"): larger images are not thumbnailed. */
  maxImagePixels: number;
  /** `dynamic_thumbnails` (default false): thumbnails of exactly the requested size, made on demand. */
  dynamicThumbnails: boolean;
  /** `thumbnail_sizes`: pre-generated on upload. */
  thumbnailSizes: Array<{ width: number; height: number; method: 'crop' | 'scale' }>;
  /** `enable_authenticated_media` (default true): new media is only served by /_matrix/client/v1/media. */
  enableAuthenticatedMedia: boolean;
  /** `max_pending_media_uploads` (default 5): reservations without content a user may hold. */
  maxPendingMediaUploads: number;
  /** `unused_expiration_time` (default "24h"), ms: how long a reservation waits for its content. */
  unusedExpirationMs: number;
  urlPreviewEnabled: boolean;
  /** `url_preview_ip_range_blacklist` (Synapse's default list when unset), CIDR strings. */
  urlPreviewIpRangeBlacklist: string[];
  /** `url_preview_ip_range_whitelist` (default empty): exceptions to the blacklist. */
  urlPreviewIpRangeWhitelist: string[];
  /** `max_spider_size` (default "10M"): the most a preview reads of a page. */
  maxSpiderSize: number;
}

/** Synapse's DEFAULT_IP_RANGE_BLOCKLIST (private, loopback, link-local, documentation, multicast ranges). */
export const DEFAULT_IP_RANGE_BLACKLIST = [
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '192.0.0.0/24',
  '169.254.0.0/16',
  '192.88.99.0/24',
  '198.18.0.0/15',
  '192.0.2.0/24',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '::1/128',
  'fe80::/10',
  'fc00::/7',
  '2001:db8::/32',
  'ff00::/8',
  'fec0::/10',
];

export const DEFAULT_THUMBNAIL_SIZES: MediaConfig['thumbnailSizes'] = [
  { width: 32, height: 32, method: 'crop' },
  { width: 96, height: 96, method: 'crop' },
  { width: 320, height: 240, method: 'scale' },
  { width: 640, height: 480, method: 'scale' },
  { width: 800, height: 600, method: 'scale' },
];

export function mediaConfigOf(
  raw: RawConfig,
  parseSize: (v: string | number, key: string) => number,
  parseDuration: (v: string | number, key: string) => number,
): MediaConfig {
  return {
    maxImagePixels: parseSize(raw.max_image_pixels ?? '32M', 'max_image_pixels'),
    dynamicThumbnails: raw.dynamic_thumbnails ?? false,
    thumbnailSizes: raw.thumbnail_sizes?.map((s) => ({ width: s.width, height: s.height, method: s.method ?? 'scale' })) ?? DEFAULT_THUMBNAIL_SIZES,
    enableAuthenticatedMedia: raw.enable_authenticated_media ?? true,
    maxPendingMediaUploads: raw.max_pending_media_uploads ?? 5,
    unusedExpirationMs: parseDuration(raw.unused_expiration_time ?? '24h', 'unused_expiration_time'),
    urlPreviewEnabled: raw.url_preview_enabled ?? false,
    urlPreviewIpRangeBlacklist: raw.url_preview_ip_range_blacklist ?? DEFAULT_IP_RANGE_BLACKLIST,
    urlPreviewIpRangeWhitelist: raw.url_preview_ip_range_whitelist ?? [],
    maxSpiderSize: parseSize(raw.max_spider_size ?? '10M', 'max_spider_size'),
  };
}
