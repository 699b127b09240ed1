/**
 * Kysely types of the media repository tables (migration 012), merged into `Database` here so
 * the shared tables.ts stays untouched by this area. BOOLEAN columns read as true/false on
 * PostgreSQL and 0/1 on SQLite.
 */
type Bool = boolean | number;

export interface LocalMediaRepositoryTable {
  media_id: string;
  media_type: string | null;
  /** NULL while an asynchronous upload (`POST /_matrix/media/v1/create`) has no content yet. */
  media_length: number | null;
  /** Milliseconds since the epoch. */
  created_ts: number;
  upload_name: string | null;
  user_id: string | null;
  quarantined_by: string | null;
  url_cache: string | null;
  last_access_ts: number | null;
  safe_from_quarantine: Bool;
  authenticated: Bool;
  /** Hex SHA-256 of the content. */
  sha256: string | null;
}

export interface LocalMediaRepositoryThumbnailsTable {
  media_id: string;
  thumbnail_width: number;
  thumbnail_height: number;
  thumbnail_type: string;
  thumbnail_method: string;
  thumbnail_length: number;
}

export interface RemoteMediaCacheTable {
  media_origin: string;
  media_id: string;
  media_type: string | null;
  created_ts: number | null;
  upload_name: string | null;
  media_length: number | null;
  filesystem_id: string | null;
  last_access_ts: number | null;
  quarantined_by: string | null;
  authenticated: Bool;
  sha256: string | null;
}

export interface RemoteMediaCacheThumbnailsTable {
  media_origin: string;
  media_id: string;
  thumbnail_width: number;
  thumbnail_height: number;
  thumbnail_method: string;
  thumbnail_type: string;
  thumbnail_length: number;
  filesystem_id: string;
}

export interface LocalMediaRepositoryUrlCacheTable {
  url: string;
  response_code: number | null;
  etag: string | null;
  expires_ts: number | null;
  og: string | null;
  media_id: string | null;
  download_ts: number | null;
}

declare module './tables.js' {
  interface Database {
    local_media_repository: LocalMediaRepositoryTable;
    local_media_repository_thumbnails: LocalMediaRepositoryThumbnailsTable;
    remote_media_cache: RemoteMediaCacheTable;
    remote_media_cache_thumbnails: RemoteMediaCacheThumbnailsTable;
    local_media_repository_url_cache: LocalMediaRepositoryUrlCacheTable;
  }
}
