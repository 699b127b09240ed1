import { Type, type Static } from '@sinclair/typebox';
import type { MediaConfig } from './media.js';

/**
 * The subset of Synapse's homeserver.yaml that Axon reads. Keys not listed here are logged and
 * ignored at start-up, as Synapse does with keys it does not know.
 */

const Listener = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  bind_addresses: Type.Optional(Type.Array(Type.String())),
  type: Type.Optional(Type.String()),
  tls: Type.Optional(Type.Boolean()),
  x_forwarded: Type.Optional(Type.Boolean()),
  resources: Type.Optional(
    Type.Array(
      Type.Object({
        names: Type.Array(Type.String()),
        compress: Type.Optional(Type.Boolean()),
      }),
    ),
  ),
});

const Database = Type.Object({
  name: Type.Union([Type.Literal('sqlite3'), Type.Literal('psycopg2'), Type.Literal('psycopg')]),
  allow_unsafe_locale: Type.Optional(Type.Boolean()),
  txn_limit: Type.Optional(Type.Integer()),
  args: Type.Optional(
    Type.Object({
      database: Type.Optional(Type.String()),
      dbname: Type.Optional(Type.String()),
      user: Type.Optional(Type.String()),
      password: Type.Optional(Type.String()),
      host: Type.Optional(Type.String()),
      port: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
      cp_min: Type.Optional(Type.Integer({ minimum: 0 })),
      cp_max: Type.Optional(Type.Integer({ minimum: 1 })),
    }),
  ),
});

const RateLimit = Type.Object({
  per_second: Type.Optional(Type.Number({ minimum: 0 })),
  burst_count: Type.Optional(Type.Number({ minimum: 0 })),
});

const PasswordPolicy = Type.Object({
  enabled: Type.Optional(Type.Boolean()),
  minimum_length: Type.Optional(Type.Integer({ minimum: 0 })),
  require_digit: Type.Optional(Type.Boolean()),
  require_symbol: Type.Optional(Type.Boolean()),
  require_lowercase: Type.Optional(Type.Boolean()),
  require_uppercase: Type.Optional(Type.Boolean()),
});

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const ServerNotices = Type.Object({
  system_mxid_localpart: Type.Optional(Type.String({ minLength: 1 })),
  system_mxid_display_name: Type.Optional(Nullable(Type.String())),
  system_mxid_avatar_url: Type.Optional(Nullable(Type.String())),
  room_name: Type.Optional(Nullable(Type.String())),
  room_avatar_url: Type.Optional(Nullable(Type.String())),
  room_topic: Type.Optional(Nullable(Type.String())),
  auto_join: Type.Optional(Type.Boolean()),
});

export const ConfigSchema = Type.Object({
  // Presence (docs/presence-typing.md): `presence.enabled` true | false | 'untracked', legacy `use_presence`.
  presence: Type.Optional(Type.Union([Type.Object({ enabled: Type.Optional(Type.Union([Type.Boolean(), Type.Literal('untracked')])) }), Type.Null()])),
  use_presence: Type.Optional(Type.Boolean()),
  server_notices: Type.Optional(Type.Union([ServerNotices, Type.Null()])),
  // Push (docs/notifications.md): Synapse's `push` section and `start_pushers`.
  push: Type.Optional(
    Type.Union([
      Type.Object({
        enabled: Type.Optional(Type.Boolean()),
        include_content: Type.Optional(Type.Boolean()),
        group_unread_count_by_room: Type.Optional(Type.Boolean()),
        jitter_delay: Type.Optional(Type.Unknown()),
      }),
      Type.Null(),
    ]),
  ),
  start_pushers: Type.Optional(Type.Boolean()),
  server_name: Type.String({ minLength: 1 }),
  public_baseurl: Type.Optional(Nullable(Type.String())),
  serve_server_wellknown: Type.Optional(Type.Boolean()),
  listeners: Type.Optional(Type.Array(Listener)),
  database: Type.Optional(Database),
  registration_shared_secret: Type.Optional(Nullable(Type.String())),
  registration_shared_secret_path: Type.Optional(Nullable(Type.String())),
  enable_registration: Type.Optional(Type.Boolean()),
  enable_set_displayname: Type.Optional(Type.Boolean()),
  enable_set_avatar_url: Type.Optional(Type.Boolean()),
  enable_3pid_changes: Type.Optional(Type.Boolean()),
  enable_registration_without_verification: Type.Optional(Type.Boolean()),
  registration_requires_token: Type.Optional(Type.Boolean()),
  password_config: Type.Optional(
    Type.Object({
      enabled: Type.Optional(Type.Union([Type.Boolean(), Type.Literal('only_for_reauth')])),
      localdb_enabled: Type.Optional(Type.Boolean()),
      pepper: Type.Optional(Nullable(Type.String())),
      policy: Type.Optional(PasswordPolicy),
    }),
  ),
  bcrypt_rounds: Type.Optional(Type.Integer({ minimum: 4, maximum: 31 })),
  default_room_version: Type.Optional(Type.String()),
  allow_public_rooms_without_auth: Type.Optional(Type.Boolean()),
  user_directory: Type.Optional(
    Type.Union([
      Type.Object({
        enabled: Type.Optional(Type.Boolean()),
        search_all_users: Type.Optional(Type.Boolean()),
        prefer_local_users: Type.Optional(Type.Boolean()),
        show_locked_users: Type.Optional(Type.Boolean()),
      }),
      Type.Null(),
    ]),
  ),
  turn_uris: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()])),
  turn_shared_secret: Type.Optional(Nullable(Type.String())),
  turn_username: Type.Optional(Nullable(Type.String())),
  turn_password: Type.Optional(Nullable(Type.String())),
  turn_user_lifetime: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.String()])),
  turn_allow_guests: Type.Optional(Type.Boolean()),
  media_store_path: Type.Optional(Type.String()),
  max_upload_size: Type.Optional(Type.Union([Type.String(), Type.Integer({ minimum: 0 })])),
  // Media repository (docs/media.md): Synapse's keys.
  max_image_pixels: Type.Optional(Type.Union([Type.String(), Type.Integer({ minimum: 0 })])),
  dynamic_thumbnails: Type.Optional(Type.Boolean()),
  thumbnail_sizes: Type.Optional(
    Type.Array(
      Type.Object({
        width: Type.Integer({ minimum: 1, maximum: 10000 }),
        height: Type.Integer({ minimum: 1, maximum: 10000 }),
        method: Type.Optional(Type.Union([Type.Literal('crop'), Type.Literal('scale')])),
      }),
    ),
  ),
  enable_authenticated_media: Type.Optional(Type.Boolean()),
  max_pending_media_uploads: Type.Optional(Type.Integer({ minimum: 1 })),
  unused_expiration_time: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.String()])),
  url_preview_enabled: Type.Optional(Type.Boolean()),
  url_preview_ip_range_blacklist: Type.Optional(Type.Array(Type.String())),
  url_preview_ip_range_whitelist: Type.Optional(Type.Array(Type.String())),
  max_spider_size: Type.Optional(Type.Union([Type.String(), Type.Integer({ minimum: 0 })])),
  signing_key_path: Type.Optional(Type.String()),
  admin_contact: Type.Optional(Nullable(Type.String())),
  report_stats: Type.Optional(Type.Boolean()),
  user_types: Type.Optional(
    Type.Object({
      default_user_type: Type.Optional(Nullable(Type.String())),
      extra_user_types: Type.Optional(Type.Array(Type.String())),
    }),
  ),
  /** Path to a Python logging config (YAML), as Synapse's; see config/log-config.ts. */
  log_config: Type.Optional(Nullable(Type.String())),
  // Synapse keys that Axon accepts in generated configs but does not use (yet).
  pid_file: Type.Optional(Type.Unknown()),
  macaroon_secret_key: Type.Optional(Type.Unknown()),
  form_secret: Type.Optional(Type.Unknown()),
  trusted_key_servers: Type.Optional(Type.Unknown()),
  rc_message: Type.Optional(RateLimit),
  rc_registration: Type.Optional(RateLimit),
  rc_admin_redaction: Type.Optional(RateLimit),
  account_validity: Type.Optional(
    Type.Object({
      enabled: Type.Optional(Type.Boolean()),
      // Synapse durations: milliseconds, or a string such as "6w", "30d", "12h".
      period: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.String()])),
      renew_at: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.String()])),
      renew_email_subject: Type.Optional(Type.String()),
      template_dir: Type.Optional(Type.String()),
      account_renewed_html_path: Type.Optional(Type.String()),
      invalid_token_html_path: Type.Optional(Type.String()),
    }),
  ),
  rc_login: Type.Optional(
    Type.Object({
      address: Type.Optional(RateLimit),
      account: Type.Optional(RateLimit),
      failed_attempts: Type.Optional(RateLimit),
    }),
  ),
});

export type RawConfig = Static<typeof ConfigSchema>;
export type RateLimitSetting = Static<typeof RateLimit>;

export interface ListenerConfig {
  port: number;
  bindAddresses: string[];
  type: string;
  tls: boolean;
  xForwarded: boolean;
  resources: string[];
}

export type DatabaseConfig =
  | { kind: 'sqlite'; path: string }
  | {
      kind: 'postgres';
      connectionString?: string;
      host?: string;
      port?: number;
      user?: string;
      password?: string;
      database?: string;
      poolMin: number;
      poolMax: number;
    };

export interface PasswordConfig {
  enabled: boolean;
  localdbEnabled: boolean;
  pepper: string;
  policy: {
    enabled: boolean;
    minimumLength: number;
    requireDigit: boolean;
    requireSymbol: boolean;
    requireLowercase: boolean;
    requireUppercase: boolean;
  };
}

/** The validated, defaulted configuration the rest of Axon reads. */
export interface Config {
  serverName: string;
  /** Always ends with '/'. */
  publicBaseUrl: string;
  /** Whether `public_baseurl` was set: only then are /.well-known/matrix/client and login's `well_known` served, as in Synapse. */
  serveClientWellknown: boolean;
  serveServerWellknown: boolean;
  listeners: ListenerConfig[];
  database: DatabaseConfig;
  registrationSharedSecret: string | null;
  enableRegistration: boolean;
  /** Profile and 3PID switches (Synapse's `enable_set_displayname` etc., default true). */
  enableSetDisplayname: boolean;
  enableSetAvatarUrl: boolean;
  enable3pidChanges: boolean;
  enableRegistrationWithoutVerification: boolean;
  registrationRequiresToken: boolean;
  password: PasswordConfig;
  bcryptRounds: number;
  /** The room version of new rooms (`default_room_version`, default 10). */
  defaultRoomVersion: string;
  /** `allow_public_rooms_without_auth` (default false): GET /publicRooms without a token. */
  allowPublicRoomsWithoutAuth: boolean;
  /** `user_directory`: who `/user_directory/search` finds (Synapse's defaults: enabled, not all users). */
  userDirectory: {
    enabled: boolean;
    searchAllUsers: boolean;
    preferLocalUsers: boolean;
    showLockedUsers: boolean;
  };
  /** TURN for `/voip/turnServer` (`turn_uris`, `turn_shared_secret` or `turn_username`/`turn_password`). */
  turn: {
    uris: string[];
    sharedSecret: string | null;
    username: string | null;
    password: string | null;
    /** ms (`turn_user_lifetime`, default 1h). */
    userLifetimeMs: number;
    allowGuests: boolean;
  };
  mediaStorePath: string;
  maxUploadSize: number;
  /** The media repository's other settings (config/media.ts). */
  media: MediaConfig;
  signingKeyPath: string;
  adminContact: string | null;
  defaultUserType: string | null;
  extraUserTypes: string[];
  rateLimits: {
    message: Required<RateLimitSetting>;
    registration: Required<RateLimitSetting>;
    loginAddress: Required<RateLimitSetting>;
    loginAccount: Required<RateLimitSetting>;
    loginFailedAttempts: Required<RateLimitSetting>;
  };
  /** Legacy account validity (`account_validity`): expired accounts get 403 M_EXPIRED_ACCOUNT. */
  accountValidity: {
    enabled: boolean;
    /** ms; null when not configured. */
    periodMs: number | null;
    renewAtMs: number | null;
  };
  /**
   * `server_notices`: null when off (no section or no `system_mxid_localpart`), as in Synapse.
   * `roomName` defaults to "Server Notices".
   */
  serverNotices: {
    systemUserId: string;
    displayName: string | null;
    avatarUrl: string | null;
    roomName: string;
    roomAvatarUrl: string | null;
    roomTopic: string | null;
    autoJoin: boolean;
  } | null;
  /**
   * `presence.enabled` (legacy `use_presence`; default true): `enabled` false turns presence off
   * (PUT accepted and ignored, GET answers offline, /sync shows none); `tracked` false
   * ('untracked') keeps the API but /sync activity and timeouts no longer change anyone's presence.
   */
  presence: { enabled: boolean; tracked: boolean };
  /**
   * Synapse's `push` section: `enabled` (default true; false stops push rule evaluation, so no
   * counts and nothing to push, as in Synapse), `include_content` (default true: event content in
   * pushes unless a pusher asks for `event_id_only`), `group_unread_count_by_room` (default true:
   * the badge counts rooms with notifications, else notifications); and `start_pushers` (default
   * true; false: this process delivers nothing, the queue is kept in `pushers.last_stream_ordering`).
   */
  push: { enabled: boolean; includeContent: boolean; groupUnreadCountByRoom: boolean; startPushers: boolean };
  /** Absolute path of Synapse's `log_config` file, or null (log to stdout). */
  logConfig: string | null;
  /** The file(s) the config came from; relative paths resolve against the first one's folder. */
  configPaths: string[];
}
