import type { Generated } from 'kysely';

/**
 * Kysely table interfaces. Names follow Synapse's schema wherever operators, their SQL or the
 * Admin API reach (catalogue §19). SMALLINT flags are 0/1 on both engines; BOOLEAN columns read
 * as 0/1 on SQLite and true/false on PostgreSQL (mappers normalise them).
 */

type Flag = number; // SMALLINT 0/1
type Bool = boolean | number; // BOOLEAN: boolean on PostgreSQL, 0/1 on SQLite

export interface UsersTable {
  name: string;
  password_hash: string | null;
  /** Seconds since the epoch, as Synapse stores it. */
  creation_ts: number | null;
  admin: Generated<Flag>;
  upgrade_ts: number | null;
  is_guest: Generated<Flag>;
  appservice_id: string | null;
  consent_version: string | null;
  consent_server_notice_sent: string | null;
  user_type: string | null;
  deactivated: Generated<Flag>;
  shadow_banned: Bool | null;
  consent_ts: number | null;
  approved: Bool | null;
  locked: Generated<Bool>;
  suspended: Generated<Bool>;
}

export interface AccessTokensTable {
  id: Generated<number>;
  user_id: string;
  device_id: string | null;
  token: string;
  valid_until_ms: number | null;
  puppets_user_id: string | null;
  last_validated: number | null;
  refresh_token_id: number | null;
  used: Bool | null;
}

export interface DevicesTable {
  user_id: string;
  device_id: string;
  display_name: string | null;
  last_seen: number | null;
  ip: string | null;
  user_agent: string | null;
  hidden: Generated<Bool>;
}

export interface ProfilesTable {
  /** The localpart, as in Synapse. */
  user_id: string;
  full_user_id: string;
  displayname: string | null;
  avatar_url: string | null;
}

export interface UserThreepidsTable {
  user_id: string;
  medium: string;
  address: string;
  validated_at: number;
  added_at: number;
}

export interface UserExternalIdsTable {
  auth_provider: string;
  external_id: string;
  user_id: string;
}

export interface ErasedUsersTable {
  user_id: string;
}

export interface AccountDataTable {
  user_id: string;
  account_data_type: string;
  stream_id: number;
  /** JSON text. */
  content: string;
}

export interface RoomAccountDataTable {
  user_id: string;
  room_id: string;
  account_data_type: string;
  stream_id: number;
  content: string;
}

export interface UserIpsTable {
  user_id: string;
  access_token: string;
  device_id: string | null;
  ip: string;
  user_agent: string;
  /** ms */
  last_seen: number;
}

export interface PushersTable {
  id: Generated<number>;
  user_name: string;
  /** The access_tokens.id of the session that created it. */
  access_token: number | null;
  profile_tag: string | null;
  kind: string;
  app_id: string;
  app_display_name: string | null;
  device_display_name: string | null;
  pushkey: string;
  ts: number;
  lang: string | null;
  /** JSON text. */
  data: string | null;
  last_stream_ordering: number | null;
  last_success: number | null;
  failing_since: number | null;
  enabled: Generated<Bool>;
  device_id: string | null;
}

export interface RatelimitOverrideTable {
  user_id: string;
  messages_per_second: number | null;
  burst_count: number | null;
}

export interface RegistrationTokensTable {
  token: string;
  uses_allowed: number | null;
  pending: Generated<number>;
  completed: Generated<number>;
  expiry_time: number | null;
}

export interface AccountValidityTable {
  user_id: string;
  expiration_ts_ms: number;
  email_sent: Generated<Bool>;
  renewal_token: string | null;
  token_used_ts_ms: number | null;
}

export interface PerUserExperimentalFeaturesTable {
  user_id: string;
  feature: string;
  enabled: Generated<Bool>;
}

/** SQLite only: the searchable copy of users + display names behind the FTS5 index (migration 003). */
export interface UserSearchTable {
  id: Generated<number>;
  name: string;
  localpart: string;
  displayname: string | null;
}

/** A user-interactive-auth session (Synapse's table); the dicts are JSON text. */
export interface UiAuthSessionsTable {
  session_id: string;
  /** Milliseconds since the epoch. */
  creation_time: number;
  serverdict: string;
  clientdict: string;
  uri: string;
  method: string;
  description: string;
}

/** A completed stage of a UIA session and its JSON result. */
export interface UiAuthSessionsCredentialsTable {
  session_id: string;
  stage_type: string;
  result: string;
}

/** Shared-secret registration nonces (migration 005). */
export interface RegistrationNoncesTable {
  nonce: string;
  /** Milliseconds since the epoch. */
  created_ts: number;
}

// Rooms and events (migration 006), Synapse's tables.

export interface RoomsTable {
  room_id: string;
  is_public: Bool | null;
  creator: string | null;
  room_version: string | null;
  has_auth_chain_index: Bool | null;
}

export interface EventsTable {
  topological_ordering: number;
  event_id: string;
  type: string;
  room_id: string;
  content: string | null;
  unrecognized_keys: string | null;
  processed: Bool;
  outlier: Bool;
  depth: number;
  origin_server_ts: number | null;
  received_ts: number | null;
  sender: string | null;
  contains_url: Bool | null;
  instance_name: string | null;
  stream_ordering: number;
  state_key: string | null;
  rejection_reason: string | null;
}

export interface EventJsonTable {
  event_id: string;
  room_id: string;
  internal_metadata: string;
  json: string;
  format_version: number | null;
}

export interface EventEdgesTable {
  event_id: string;
  prev_event_id: string;
  room_id: string | null;
  is_state: Generated<Bool>;
}

export interface EventAuthTable {
  event_id: string;
  auth_id: string;
  room_id: string;
}

export interface StateEventsTable {
  event_id: string;
  room_id: string;
  type: string;
  state_key: string;
  prev_state: string | null;
}

export interface CurrentStateEventsTable {
  event_id: string;
  room_id: string;
  type: string;
  state_key: string;
  membership: string | null;
  event_stream_ordering: number | null;
}

export interface RoomMembershipsTable {
  event_id: string;
  user_id: string;
  sender: string;
  room_id: string;
  membership: string;
  forgotten: Generated<number>;
  display_name: string | null;
  avatar_url: string | null;
  event_stream_ordering: number | null;
}

export interface LocalCurrentMembershipTable {
  room_id: string;
  user_id: string;
  event_id: string;
  membership: string;
  event_stream_ordering: number | null;
}

export interface EventForwardExtremitiesTable {
  event_id: string;
  room_id: string;
}

export interface StateGroupsTable {
  id: number;
  room_id: string;
  event_id: string;
}

export interface StateGroupEdgesTable {
  state_group: number;
  prev_state_group: number;
}

export interface StateGroupsStateTable {
  state_group: number;
  room_id: string;
  type: string;
  state_key: string;
  event_id: string;
}

export interface EventToStateGroupsTable {
  event_id: string;
  state_group: number;
}

export interface RedactionsTable {
  event_id: string;
  redacts: string;
  have_censored: Generated<Bool>;
  received_ts: number | null;
}

export interface EventRelationsTable {
  event_id: string;
  relates_to_id: string;
  relation_type: string;
  aggregation_key: string | null;
}

export interface ThreadsTable {
  room_id: string;
  thread_id: string;
  latest_event_id: string;
  topological_ordering: number;
  stream_ordering: number;
}

export interface EventTxnIdDeviceIdTable {
  event_id: string;
  room_id: string;
  user_id: string;
  device_id: string;
  txn_id: string;
  inserted_ts: number;
}

export interface RoomAliasesTable {
  room_alias: string;
  room_id: string;
  creator: string | null;
}

export interface RoomAliasServersTable {
  room_alias: string;
  server: string;
}

export interface RoomStatsCurrentTable {
  room_id: string;
  current_state_events: number;
  joined_members: number;
  invited_members: number;
  left_members: number;
  banned_members: number;
  local_users_in_room: number;
  completed_delta_stream_id: number;
  knocked_members: number | null;
}

export interface RoomStatsStateTable {
  room_id: string;
  name: string | null;
  canonical_alias: string | null;
  join_rules: string | null;
  history_visibility: string | null;
  encryption: string | null;
  avatar: string | null;
  guest_access: string | null;
  is_federatable: Bool | null;
  topic: string | null;
  room_type: string | null;
}

export interface CurrentStateDeltaStreamTable {
  stream_id: number;
  room_id: string;
  type: string;
  state_key: string;
  event_id: string | null;
  prev_event_id: string | null;
  instance_name: string | null;
}

export interface RejectionsTable {
  event_id: string;
  reason: string;
  last_check: string;
}

export interface EventReportsTable {
  id: Generated<number>;
  received_ts: number;
  room_id: string;
  event_id: string;
  user_id: string;
  reason: string | null;
  /** The client's whole request body, as JSON text (Synapse). */
  content: string | null;
}

export interface RoomReportsTable {
  id: Generated<number>;
  received_ts: number;
  room_id: string;
  user_id: string;
  reason: string;
}

export interface UserReportsTable {
  id: Generated<number>;
  received_ts: number;
  target_user_id: string;
  user_id: string;
  reason: string;
}

/** Axon's own: one row per state-changing Admin API call (no bodies, token redacted). */
export interface AdminAuditLogTable {
  id: Generated<number>;
  ts: number;
  user_id: string | null;
  authenticated_by: string | null;
  method: string;
  path: string;
  target: string | null;
  status: number;
  request_id: string | null;
}

/** Rooms an admin blocked (migration 008, Synapse's table). */
export interface BlockedRoomsTable {
  room_id: string;
  user_id: string;
}

/** Background tasks (migration 009, Synapse's table); params and result are JSON text. */
export interface ScheduledTasksTable {
  id: string;
  action: string;
  status: string;
  timestamp: number;
  resource_id: string | null;
  params: string | null;
  result: string | null;
  error: string | null;
}

/** Filters uploaded with POST /user/{userId}/filter (migration 011); `user_id` is the localpart. */
export interface UserFiltersTable {
  user_id: string;
  full_user_id: string;
  filter_id: number;
  /** The filter as JSON text. */
  filter_json: string;
}

/** A user's own push rules; `rule_id` is namespaced `global/<kind>/<rule id>` as in Synapse. */
export interface PushRulesTable {
  id: Generated<number>;
  user_name: string;
  rule_id: string;
  /** underride 1, sender 2, room 3, content 4, override 5; -1: new actions of a predefined rule. */
  priority_class: number;
  priority: number;
  /** JSON text. */
  conditions: string;
  /** JSON text. */
  actions: string;
}

export interface PushRulesEnableTable {
  id: Generated<number>;
  user_name: string;
  rule_id: string;
  enabled: number | null;
}

export interface PushRulesStreamTable {
  stream_id: number;
  event_stream_ordering: number;
  user_id: string;
  rule_id: string;
  op: string;
  priority_class: number | null;
  priority: number | null;
  conditions: string | null;
  actions: string | null;
  instance_name: string | null;
}

/** One row per (notified user, event): written with the event, in its transaction. */
export interface EventPushActionsTable {
  room_id: string;
  event_id: string;
  user_id: string;
  profile_tag: string | null;
  /** JSON text. */
  actions: string;
  topological_ordering: number | null;
  stream_ordering: number;
  notif: number | null;
  highlight: number | null;
  unread: number | null;
  thread_id: string | null;
}

export interface EventPushSummaryTable {
  user_id: string;
  room_id: string;
  notif_count: number;
  stream_ordering: number;
  unread_count: number | null;
  last_receipt_stream_ordering: number | null;
  thread_id: string | null;
}

export interface Database {
  users: UsersTable;
  access_tokens: AccessTokensTable;
  devices: DevicesTable;
  profiles: ProfilesTable;
  user_threepids: UserThreepidsTable;
  user_external_ids: UserExternalIdsTable;
  erased_users: ErasedUsersTable;
  account_data: AccountDataTable;
  room_account_data: RoomAccountDataTable;
  user_ips: UserIpsTable;
  pushers: PushersTable;
  ratelimit_override: RatelimitOverrideTable;
  registration_tokens: RegistrationTokensTable;
  account_validity: AccountValidityTable;
  per_user_experimental_features: PerUserExperimentalFeaturesTable;
  user_search: UserSearchTable;
  ui_auth_sessions: UiAuthSessionsTable;
  ui_auth_sessions_credentials: UiAuthSessionsCredentialsTable;
  registration_nonces: RegistrationNoncesTable;
  rooms: RoomsTable;
  events: EventsTable;
  event_json: EventJsonTable;
  event_edges: EventEdgesTable;
  event_auth: EventAuthTable;
  state_events: StateEventsTable;
  current_state_events: CurrentStateEventsTable;
  room_memberships: RoomMembershipsTable;
  local_current_membership: LocalCurrentMembershipTable;
  event_forward_extremities: EventForwardExtremitiesTable;
  state_groups: StateGroupsTable;
  state_group_edges: StateGroupEdgesTable;
  state_groups_state: StateGroupsStateTable;
  event_to_state_groups: EventToStateGroupsTable;
  redactions: RedactionsTable;
  event_relations: EventRelationsTable;
  threads: ThreadsTable;
  event_txn_id_device_id: EventTxnIdDeviceIdTable;
  room_aliases: RoomAliasesTable;
  room_alias_servers: RoomAliasServersTable;
  room_stats_current: RoomStatsCurrentTable;
  room_stats_state: RoomStatsStateTable;
  current_state_delta_stream: CurrentStateDeltaStreamTable;
  rejections: RejectionsTable;
  blocked_rooms: BlockedRoomsTable;
  event_reports: EventReportsTable;
  room_reports: RoomReportsTable;
  user_reports: UserReportsTable;
  admin_audit_log: AdminAuditLogTable;
  scheduled_tasks: ScheduledTasksTable;
  user_filters: UserFiltersTable;
  push_rules: PushRulesTable;
  push_rules_enable: PushRulesEnableTable;
  push_rules_stream: PushRulesStreamTable;
  event_push_actions: EventPushActionsTable;
  event_push_summary: EventPushSummaryTable;
}
