import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * End-to-end encryption in Synapse's tables and columns, so operators' SQL works as on Synapse:
 * device keys, one-time and fallback keys, cross-signing keys and signatures, key backups, the
 * to-device inbox and the device-list change stream. The server stores and relays these; it never
 * decrypts anything. JSON columns hold JSON text, as in Synapse.
 *
 * Stream positions (`device_inbox.stream_id`, `device_lists_stream.stream_id`) are allocated in
 * memory (one writer per database, as for room events). `stream_positions` (Synapse's table)
 * keeps a stream's highest position when its rows are deleted, so a restart never hands a
 * position out twice. `to_device_txns` makes `PUT /sendToDevice` idempotent across restarts
 * (Synapse keeps its transaction cache in memory).
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  const run = (statement: string) => sql.raw(statement).execute(db);
  await run(`CREATE TABLE e2e_device_keys_json (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    ts_added_ms BIGINT NOT NULL,
    key_json TEXT NOT NULL,
    CONSTRAINT e2e_device_keys_json_uniqueness UNIQUE (user_id, device_id)
  )`);
  await run(`CREATE TABLE e2e_one_time_keys_json (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    ts_added_ms BIGINT NOT NULL,
    key_json TEXT NOT NULL,
    CONSTRAINT e2e_one_time_keys_json_uniqueness UNIQUE (user_id, device_id, algorithm, key_id)
  )`);
  await run(`CREATE TABLE e2e_fallback_keys_json (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE,
    CONSTRAINT e2e_fallback_keys_json_uniqueness UNIQUE (user_id, device_id, algorithm)
  )`);
  // Every upload is kept, as in Synapse; the current key of a type is the one with the highest stream_id.
  await run(`CREATE TABLE e2e_cross_signing_keys (
    user_id TEXT NOT NULL,
    keytype TEXT NOT NULL,
    keydata TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    updatable_without_uia_before_ms BIGINT
  )`);
  await run('CREATE UNIQUE INDEX e2e_cross_signing_keys_idx ON e2e_cross_signing_keys (user_id, keytype, stream_id)');
  await run(`CREATE TABLE e2e_cross_signing_signatures (
    user_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    target_user_id TEXT NOT NULL,
    target_device_id TEXT NOT NULL,
    signature TEXT NOT NULL
  )`);
  await run('CREATE INDEX e2e_cross_signing_signatures2_idx ON e2e_cross_signing_signatures (user_id, target_user_id, target_device_id)');
  await run('CREATE INDEX e2e_cross_signing_signatures_target ON e2e_cross_signing_signatures (target_user_id, target_device_id)');
  await run(`CREATE TABLE e2e_room_keys_versions (
    user_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    algorithm TEXT NOT NULL,
    auth_data TEXT NOT NULL,
    deleted SMALLINT DEFAULT 0 NOT NULL,
    etag BIGINT
  )`);
  await run('CREATE UNIQUE INDEX e2e_room_keys_versions_idx ON e2e_room_keys_versions (user_id, version)');
  await run(`CREATE TABLE e2e_room_keys (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    first_message_index INT,
    forwarded_count INT,
    is_verified BOOLEAN,
    session_data TEXT NOT NULL
  )`);
  await run('CREATE UNIQUE INDEX e2e_room_keys_with_version_idx ON e2e_room_keys (user_id, version, room_id, session_id)');
  await run(`CREATE TABLE device_inbox (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    message_json TEXT NOT NULL,
    instance_name TEXT
  )`);
  await run('CREATE INDEX device_inbox_user_stream_id ON device_inbox (user_id, device_id, stream_id)');
  await run('CREATE INDEX device_inbox_stream_id_user_id ON device_inbox (stream_id, user_id)');
  await run(`CREATE TABLE device_lists_stream (
    stream_id BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL
  )`);
  await run('CREATE INDEX device_lists_stream_id ON device_lists_stream (stream_id, user_id)');
  await run('CREATE INDEX device_lists_stream_user_id ON device_lists_stream (user_id, device_id)');
  await run(`CREATE TABLE stream_positions (
    stream_name TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    stream_id BIGINT NOT NULL
  )`);
  await run('CREATE UNIQUE INDEX stream_positions_idx ON stream_positions (stream_name, instance_name)');
  await run(`CREATE TABLE to_device_txns (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    inserted_ts BIGINT NOT NULL,
    CONSTRAINT to_device_txns_uniqueness UNIQUE (user_id, device_id, txn_id)
  )`);
}
