/**
 * Kysely types of the presence and room-tag tables (migration 014), merged into `Database` here
 * so the shared tables.ts stays untouched by this area.
 */

export interface PresenceStreamTable {
  stream_id: number;
  user_id: string;
  /** 'online' | 'unavailable' | 'offline' */
  state: string;
  last_active_ts: number;
  last_federation_update_ts: number;
  last_user_sync_ts: number;
  status_msg: string | null;
  /** 0/1 */
  currently_active: number;
  instance_name: string | null;
}

export interface RoomTagsTable {
  user_id: string;
  room_id: string;
  tag: string;
  /** JSON text. */
  content: string;
}

export interface RoomTagsRevisionsTable {
  user_id: string;
  room_id: string;
  stream_id: number;
  instance_name: string | null;
}

declare module './tables.js' {
  interface Database {
    presence_stream: PresenceStreamTable;
    room_tags: RoomTagsTable;
    room_tags_revisions: RoomTagsRevisionsTable;
  }
}
