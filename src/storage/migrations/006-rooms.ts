import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * Rooms and events in Synapse's tables and column names, so that the Admin API's read models and
 * operators' SQL (`SELECT count(*) FROM events WHERE room_id = …`) work as on Synapse. Types are
 * ones both engines accept verbatim; BOOLEAN columns are booleans on PostgreSQL and 0/1 on SQLite,
 * as in Synapse.
 *
 * Stream orderings and state group IDs are allocated in memory by the persister (one writer per
 * database); the tables carry no sequences.
 */
/**
 * The tables every message writes are laid out so that a commit dirties few pages: on SQLite each
 * dirtied page is a 4 KiB WAL frame written per commit, and a send commits alone when one sender
 * waits for it. So SQLite gets `stream_ordering` as the rowid of `events`, and WITHOUT ROWID
 * tables keyed by what they are looked up by (one B-tree instead of a table plus an index). The
 * columns are Synapse's either way.
 */
const tables = (dialect: DialectName) => {
  const sqlite = dialect === 'sqlite';
  const keyed = sqlite ? ' WITHOUT ROWID' : '';
  return [
  `CREATE TABLE rooms (
    room_id TEXT NOT NULL PRIMARY KEY,
    is_public BOOLEAN,
    creator TEXT,
    room_version TEXT,
    has_auth_chain_index BOOLEAN
  )`,
  `CREATE TABLE events (
    topological_ordering BIGINT NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    room_id TEXT NOT NULL,
    content TEXT,
    unrecognized_keys TEXT,
    processed BOOLEAN NOT NULL,
    outlier BOOLEAN NOT NULL,
    depth BIGINT DEFAULT 0 NOT NULL,
    origin_server_ts BIGINT,
    received_ts BIGINT,
    sender TEXT,
    contains_url BOOLEAN,
    instance_name TEXT,
    stream_ordering ${sqlite ? 'INTEGER PRIMARY KEY' : 'BIGINT NOT NULL PRIMARY KEY'},
    state_key TEXT,
    rejection_reason TEXT
  )`,
  'CREATE INDEX events_order_room ON events (room_id, topological_ordering, stream_ordering)',
  'CREATE INDEX events_room_stream ON events (room_id, stream_ordering)',
  // Synapse's partial index for the media-in-room admin queries: only events with a URL.
  'CREATE INDEX event_contains_url_index ON events (room_id, topological_ordering, stream_ordering) WHERE contains_url = TRUE AND outlier = FALSE',
  `CREATE TABLE event_json (
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    internal_metadata TEXT NOT NULL,
    json TEXT NOT NULL,
    format_version INTEGER
  )`,
  `CREATE TABLE event_edges (
    event_id TEXT NOT NULL,
    prev_event_id TEXT NOT NULL,
    room_id TEXT,
    is_state BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (event_id, prev_event_id)
  )${keyed}`,
  'CREATE INDEX ev_edges_prev_id ON event_edges (prev_event_id)',
  `CREATE TABLE event_auth (
    event_id TEXT NOT NULL,
    auth_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    PRIMARY KEY (event_id, auth_id)
  )${keyed}`,
  `CREATE TABLE state_events (
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    prev_state TEXT
  )`,
  `CREATE TABLE current_state_events (
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    membership TEXT,
    event_stream_ordering BIGINT,
    UNIQUE (room_id, type, state_key)
  )`,
  'CREATE INDEX current_state_events_member_index ON current_state_events (state_key, type, membership)',
  `CREATE TABLE room_memberships (
    event_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    room_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    forgotten INTEGER DEFAULT 0,
    display_name TEXT,
    avatar_url TEXT,
    event_stream_ordering BIGINT
  )`,
  'CREATE INDEX room_memberships_room_id ON room_memberships (room_id)',
  'CREATE INDEX room_memberships_user_room_forgotten ON room_memberships (user_id, room_id)',
  `CREATE TABLE local_current_membership (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    event_stream_ordering BIGINT,
    UNIQUE (user_id, room_id)
  )`,
  'CREATE INDEX local_current_membership_room_idx ON local_current_membership (room_id)',
  `CREATE TABLE event_forward_extremities (
    event_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
  )${keyed}`,
  `CREATE TABLE state_groups (
    id BIGINT NOT NULL PRIMARY KEY,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL
  )`,
  'CREATE INDEX state_groups_room_id_idx ON state_groups (room_id)',
  `CREATE TABLE state_group_edges (
    state_group BIGINT NOT NULL,
    prev_state_group BIGINT NOT NULL
  )`,
  'CREATE UNIQUE INDEX state_group_edges_unique_idx ON state_group_edges (state_group, prev_state_group)',
  'CREATE INDEX state_group_edges_prev_idx ON state_group_edges (prev_state_group)',
  `CREATE TABLE state_groups_state (
    state_group BIGINT NOT NULL,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL
  )`,
  'CREATE INDEX state_groups_state_type_idx ON state_groups_state (state_group, type, state_key)',
  `CREATE TABLE event_to_state_groups (
    event_id TEXT NOT NULL PRIMARY KEY,
    state_group BIGINT NOT NULL
  )${keyed}`,
  'CREATE INDEX event_to_state_groups_sg_index ON event_to_state_groups (state_group)',
  `CREATE TABLE redactions (
    event_id TEXT NOT NULL UNIQUE,
    redacts TEXT NOT NULL,
    have_censored BOOLEAN NOT NULL DEFAULT FALSE,
    received_ts BIGINT
  )`,
  'CREATE INDEX redactions_redacts ON redactions (redacts)',
  `CREATE TABLE event_relations (
    event_id TEXT NOT NULL UNIQUE,
    relates_to_id TEXT NOT NULL,
    relation_type TEXT NOT NULL,
    aggregation_key TEXT
  )`,
  'CREATE INDEX event_relations_relates ON event_relations (relates_to_id, relation_type, aggregation_key)',
  `CREATE TABLE threads (
    room_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    latest_event_id TEXT NOT NULL,
    topological_ordering BIGINT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    UNIQUE (room_id, thread_id)
  )`,
  'CREATE INDEX threads_ordering_idx ON threads (room_id, topological_ordering, stream_ordering)',
  `CREATE TABLE event_txn_id_device_id (
    event_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    inserted_ts BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id, device_id, txn_id)
  )${keyed}`,
  `CREATE TABLE room_aliases (
    room_alias TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    creator TEXT
  )`,
  'CREATE INDEX room_aliases_id ON room_aliases (room_id)',
  `CREATE TABLE room_alias_servers (
    room_alias TEXT NOT NULL,
    server TEXT NOT NULL
  )`,
  'CREATE INDEX room_alias_servers_alias ON room_alias_servers (room_alias)',
  `CREATE TABLE room_stats_current (
    room_id TEXT NOT NULL PRIMARY KEY,
    current_state_events INTEGER NOT NULL,
    joined_members INTEGER NOT NULL,
    invited_members INTEGER NOT NULL,
    left_members INTEGER NOT NULL,
    banned_members INTEGER NOT NULL,
    local_users_in_room INTEGER NOT NULL,
    completed_delta_stream_id BIGINT NOT NULL,
    knocked_members INTEGER
  )`,
  `CREATE TABLE room_stats_state (
    room_id TEXT NOT NULL PRIMARY KEY,
    name TEXT,
    canonical_alias TEXT,
    join_rules TEXT,
    history_visibility TEXT,
    encryption TEXT,
    avatar TEXT,
    guest_access TEXT,
    is_federatable BOOLEAN,
    topic TEXT,
    room_type TEXT
  )`,
  `CREATE TABLE current_state_delta_stream (
    stream_id BIGINT NOT NULL,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT,
    prev_event_id TEXT,
    instance_name TEXT
  )`,
  'CREATE INDEX current_state_delta_stream_idx ON current_state_delta_stream (stream_id)',
  'CREATE INDEX current_state_delta_stream_room_idx ON current_state_delta_stream (room_id, stream_id)',
  `CREATE TABLE rejections (
    event_id TEXT NOT NULL PRIMARY KEY,
    reason TEXT NOT NULL,
    last_check TEXT NOT NULL
  )`,
  ];
};

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  for (const statement of tables(dialect)) await sql.raw(statement).execute(db);
  // Every send reads the sender's rc_message override: it is cached, so its changes are captured
  // (see 004-change-capture.ts; SQLite captures through Axon's TEMP triggers).
  if (dialect === 'postgres') {
    const fn = "EXECUTE FUNCTION axon_capture_changes('user_id')";
    const t = 'ratelimit_override';
    for (const statement of [
      `CREATE TRIGGER axon_capture_insert AFTER INSERT ON ${t} REFERENCING NEW TABLE AS axon_rows FOR EACH STATEMENT ${fn}`,
      `CREATE TRIGGER axon_capture_update AFTER UPDATE ON ${t} REFERENCING NEW TABLE AS axon_rows FOR EACH STATEMENT ${fn}`,
      `CREATE TRIGGER axon_capture_delete AFTER DELETE ON ${t} REFERENCING OLD TABLE AS axon_rows FOR EACH STATEMENT ${fn}`,
      `CREATE TRIGGER axon_capture_truncate AFTER TRUNCATE ON ${t} FOR EACH STATEMENT ${fn}`,
    ]) {
      await sql.raw(statement).execute(db);
    }
  }
}
