/**
 * Kysely types of the end-to-end encryption tables (migration 010), merged into `Database` here
 * so the shared tables.ts stays untouched by this area.
 */
type Bool = boolean | number; // BOOLEAN: boolean on PostgreSQL, 0/1 on SQLite

export interface E2eDeviceKeysJsonTable {
  user_id: string;
  device_id: string;
  ts_added_ms: number;
  key_json: string;
}

export interface E2eOneTimeKeysJsonTable {
  user_id: string;
  device_id: string;
  algorithm: string;
  key_id: string;
  ts_added_ms: number;
  key_json: string;
}

export interface E2eFallbackKeysJsonTable {
  user_id: string;
  device_id: string;
  algorithm: string;
  key_id: string;
  key_json: string;
  used: Bool;
}

export interface E2eCrossSigningKeysTable {
  user_id: string;
  /** master, self_signing or user_signing */
  keytype: string;
  keydata: string;
  stream_id: number;
  updatable_without_uia_before_ms: number | null;
}

export interface E2eCrossSigningSignaturesTable {
  /** The signer. */
  user_id: string;
  /** The signing key, `ed25519:<public key or device ID>`. */
  key_id: string;
  target_user_id: string;
  /** A device ID, or the public key of a master key. */
  target_device_id: string;
  signature: string;
}

export interface E2eRoomKeysVersionsTable {
  user_id: string;
  version: number;
  algorithm: string;
  auth_data: string;
  deleted: number;
  etag: number | null;
}

export interface E2eRoomKeysTable {
  user_id: string;
  room_id: string;
  session_id: string;
  version: number;
  first_message_index: number | null;
  forwarded_count: number | null;
  is_verified: Bool | null;
  session_data: string;
}

export interface DeviceInboxTable {
  user_id: string;
  device_id: string;
  stream_id: number;
  message_json: string;
  instance_name: string | null;
}

export interface DeviceListsStreamTable {
  stream_id: number;
  user_id: string;
  device_id: string;
}

export interface StreamPositionsTable {
  stream_name: string;
  instance_name: string;
  stream_id: number;
}

export interface ToDeviceTxnsTable {
  user_id: string;
  device_id: string;
  txn_id: string;
  stream_id: number;
  inserted_ts: number;
}

declare module './tables.js' {
  interface Database {
    e2e_device_keys_json: E2eDeviceKeysJsonTable;
    e2e_one_time_keys_json: E2eOneTimeKeysJsonTable;
    e2e_fallback_keys_json: E2eFallbackKeysJsonTable;
    e2e_cross_signing_keys: E2eCrossSigningKeysTable;
    e2e_cross_signing_signatures: E2eCrossSigningSignaturesTable;
    e2e_room_keys_versions: E2eRoomKeysVersionsTable;
    e2e_room_keys: E2eRoomKeysTable;
    device_inbox: DeviceInboxTable;
    device_lists_stream: DeviceListsStreamTable;
    stream_positions: StreamPositionsTable;
    to_device_txns: ToDeviceTxnsTable;
  }
}
