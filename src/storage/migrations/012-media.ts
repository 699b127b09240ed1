import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * The media repository, in Synapse's tables and columns, so operators' SQL and habits carry over:
 * `local_media_repository` (one row per local media ID; `media_length` stays NULL from
 * `POST /_matrix/media/v1/create` until the content is uploaded, as Synapse ≥1.102 does for
 * asynchronous uploads), `local_media_repository_thumbnails`, `remote_media_cache`,
 * `remote_media_cache_thumbnails` and `local_media_repository_url_cache` (URL previews).
 * Files live on disk under `media_store_path` in Synapse's layout (src/services/media/paths.ts).
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  const statements = [
    `CREATE TABLE local_media_repository (
      media_id TEXT NOT NULL,
      media_type TEXT,
      media_length BIGINT,
      created_ts BIGINT NOT NULL,
      upload_name TEXT,
      user_id TEXT,
      quarantined_by TEXT,
      url_cache TEXT,
      last_access_ts BIGINT,
      safe_from_quarantine BOOLEAN NOT NULL DEFAULT FALSE,
      authenticated BOOLEAN NOT NULL DEFAULT FALSE,
      sha256 TEXT,
      UNIQUE (media_id)
    )`,
    // A user's media, newest first (admin listing, pending-upload count, user media statistics).
    'CREATE INDEX users_have_local_media ON local_media_repository (user_id, created_ts)',
    'CREATE INDEX local_media_repository_sha256 ON local_media_repository (sha256)',
    // Media by age and by last access (the admin's delete-by-age and retention).
    'CREATE INDEX local_media_repository_last_access_ts ON local_media_repository (last_access_ts)',
    `CREATE TABLE local_media_repository_thumbnails (
      media_id TEXT NOT NULL,
      thumbnail_width INTEGER NOT NULL,
      thumbnail_height INTEGER NOT NULL,
      thumbnail_type TEXT NOT NULL,
      thumbnail_method TEXT NOT NULL,
      thumbnail_length INTEGER NOT NULL,
      UNIQUE (media_id, thumbnail_width, thumbnail_height, thumbnail_type, thumbnail_method)
    )`,
    `CREATE TABLE remote_media_cache (
      media_origin TEXT NOT NULL,
      media_id TEXT NOT NULL,
      media_type TEXT,
      created_ts BIGINT,
      upload_name TEXT,
      media_length BIGINT,
      filesystem_id TEXT,
      last_access_ts BIGINT,
      quarantined_by TEXT,
      authenticated BOOLEAN NOT NULL DEFAULT FALSE,
      sha256 TEXT,
      UNIQUE (media_origin, media_id)
    )`,
    'CREATE INDEX remote_media_cache_last_access_ts ON remote_media_cache (last_access_ts)',
    'CREATE INDEX remote_media_cache_sha256 ON remote_media_cache (sha256)',
    `CREATE TABLE remote_media_cache_thumbnails (
      media_origin TEXT NOT NULL,
      media_id TEXT NOT NULL,
      thumbnail_width INTEGER NOT NULL,
      thumbnail_height INTEGER NOT NULL,
      thumbnail_method TEXT NOT NULL,
      thumbnail_type TEXT NOT NULL,
      thumbnail_length INTEGER NOT NULL,
      filesystem_id TEXT NOT NULL,
      UNIQUE (media_origin, media_id, thumbnail_width, thumbnail_height, thumbnail_type, thumbnail_method)
    )`,
    `CREATE TABLE local_media_repository_url_cache (
      url TEXT NOT NULL,
      response_code INTEGER,
      etag TEXT,
      expires_ts BIGINT,
      og TEXT,
      media_id TEXT,
      download_ts BIGINT
    )`,
    'CREATE INDEX local_media_repository_url_cache_by_url_download_ts ON local_media_repository_url_cache (url, download_ts)',
    'CREATE INDEX local_media_repository_url_cache_expires_idx ON local_media_repository_url_cache (expires_ts)',
    'CREATE INDEX local_media_repository_url_cache_media_idx ON local_media_repository_url_cache (media_id)',
  ];
  for (const s of statements) await sql.raw(s).execute(db);
}
