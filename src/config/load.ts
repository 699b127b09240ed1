import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { firstError } from './check.js';
import { ConfigSchema, type Config, type RateLimitSetting, type RawConfig } from './schema.js';
import { parseYaml11 } from './yaml.js';
import { mediaConfigOf } from './media.js';
import { DEFAULT_ROOM_VERSION, roomVersion } from '../matrix/room-versions.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads YAML the way Synapse's PyYAML does (YAML 1.1: `yes`/`no` are booleans). */
export function parseYaml(text: string, source: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml11(text);
  } catch (e) {
    throw new ConfigError(`${source}: not valid YAML: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${source}: expected a mapping at the top level`);
  return doc as Record<string, unknown>;
}

/** Reads and merges config files: later files replace earlier top-level keys, as Synapse does. */
export function readConfigFiles(paths: string[]): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    Object.assign(merged, parseYaml(text, path));
  }
  return merged;
}

/** Keys Axon reads; anything else is reported as ignored. */
export const KNOWN_KEYS = new Set(Object.keys(ConfigSchema.properties));

export function unknownKeys(raw: Record<string, unknown>): string[] {
  return Object.keys(raw).filter((k) => !KNOWN_KEYS.has(k));
}

/** Parses Synapse's size strings ("50M", "1G", "512K") or plain byte counts. */
export function parseSize(value: string | number, key: string): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+)\s*([KMGT]?)B?\s*$/i.exec(value);
  if (!m) throw new ConfigError(`Invalid config: '${key}' must be a size such as "50M"`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Number(m[1]) * unit;
}

/** Synapse's durations: an integer of ms, or a number with a unit suffix s, m, h, d, w or y. */
export function parseDuration(value: string | number, key: string): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+)\s*([smhdwy]?)\s*$/.exec(value);
  if (!m) throw new ConfigError(`Invalid config: '${key}' must be a duration such as "6w" or "30d"`);
  const unit = { '': 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 }[m[2] as '' | 's'];
  return Number(m[1]) * unit;
}

const rate = (r: RateLimitSetting | undefined, perSecond: number, burst: number) => ({
  per_second: r?.per_second ?? perSecond,
  burst_count: r?.burst_count ?? burst,
});

/**
 * Validates a merged raw config and fills in Synapse's defaults. The error names the bad key,
 * e.g. "Invalid config: 'listeners/0/port': Expected integer".
 */
export function normalizeConfig(input: Record<string, unknown>, configPaths: string[] = []): Config {
  const first = firstError(ConfigSchema, input);
  if (first) {
    const key = first.path.replace(/^\//, '') || '(top level)';
    throw new ConfigError(`Invalid config: '${key}': ${first.message}`);
  }
  const raw = input as RawConfig;
  const baseDir = configPaths.length > 0 ? dirname(resolve(configPaths[0]!)) : process.cwd();
  const abs = (p: string) => resolve(baseDir, p);

  if (raw.registration_shared_secret && raw.registration_shared_secret_path) {
    throw new ConfigError(
      "Invalid config: 'registration_shared_secret_path': cannot be combined with 'registration_shared_secret'",
    );
  }
  let secret = raw.registration_shared_secret ?? null;
  if (raw.registration_shared_secret_path) {
    try {
      secret = readFileSync(abs(raw.registration_shared_secret_path), 'utf8').trim();
    } catch (e) {
      throw new ConfigError(`Invalid config: 'registration_shared_secret_path': cannot read ${raw.registration_shared_secret_path}`);
    }
  }

  const listeners = (raw.listeners ?? [
    { port: 8008, bind_addresses: ['::1', '127.0.0.1'], type: 'http', resources: [{ names: ['client', 'federation'] }] },
  ]).map((l) => ({
    port: l.port,
    bindAddresses: l.bind_addresses ?? ['::', '0.0.0.0'],
    type: l.type ?? 'http',
    tls: l.tls ?? false,
    xForwarded: l.x_forwarded ?? false,
    resources: (l.resources ?? []).flatMap((r) => r.names),
  }));

  const db = raw.database ?? { name: 'sqlite3' as const, args: { database: 'homeserver.db' } };
  let database: Config['database'];
  if (db.name === 'sqlite3') {
    const file = db.args?.database;
    if (!file) throw new ConfigError("Invalid config: 'database/args/database': required for sqlite3");
    database = { kind: 'sqlite', path: file === ':memory:' ? file : abs(file) };
  } else {
    const a = db.args ?? {};
    database = {
      kind: 'postgres',
      host: a.host,
      port: a.port === undefined ? undefined : Number(a.port),
      user: a.user,
      password: a.password,
      database: a.database ?? a.dbname,
      poolMin: a.cp_min ?? 5,
      poolMax: a.cp_max ?? 10,
    };
  }

  const publicBaseUrl = raw.public_baseurl ?? `https://${raw.server_name}/`;
  const pw = raw.password_config ?? {};
  const policy = pw.policy ?? {};

  return {
    serverName: raw.server_name,
    publicBaseUrl: publicBaseUrl.endsWith('/') ? publicBaseUrl : `${publicBaseUrl}/`,
    serveClientWellknown: raw.public_baseurl !== undefined && raw.public_baseurl !== null,
    serveServerWellknown: raw.serve_server_wellknown ?? false,
    listeners,
    database,
    registrationSharedSecret: secret,
    enableRegistration: raw.enable_registration ?? false,
    enableSetDisplayname: raw.enable_set_displayname ?? true,
    enableSetAvatarUrl: raw.enable_set_avatar_url ?? true,
    enable3pidChanges: raw.enable_3pid_changes ?? true,
    enableRegistrationWithoutVerification: raw.enable_registration_without_verification ?? false,
    registrationRequiresToken: raw.registration_requires_token ?? false,
    password: {
      enabled: pw.enabled !== false,
      localdbEnabled: pw.localdb_enabled ?? true,
      pepper: pw.pepper ?? '',
      policy: {
        enabled: policy.enabled ?? false,
        minimumLength: policy.minimum_length ?? 0,
        requireDigit: policy.require_digit ?? false,
        requireSymbol: policy.require_symbol ?? false,
        requireLowercase: policy.require_lowercase ?? false,
        requireUppercase: policy.require_uppercase ?? false,
      },
    },
    bcryptRounds: raw.bcrypt_rounds ?? 12,
    defaultRoomVersion: defaultRoomVersionOf(raw.default_room_version),
    allowPublicRoomsWithoutAuth: raw.allow_public_rooms_without_auth ?? false,
    userDirectory: {
      enabled: raw.user_directory?.enabled ?? true,
      searchAllUsers: raw.user_directory?.search_all_users ?? false,
      preferLocalUsers: raw.user_directory?.prefer_local_users ?? false,
      showLockedUsers: raw.user_directory?.show_locked_users ?? false,
    },
    turn: {
      uris: raw.turn_uris ?? [],
      sharedSecret: raw.turn_shared_secret ?? null,
      username: raw.turn_username ?? null,
      password: raw.turn_password ?? null,
      userLifetimeMs: parseDuration(raw.turn_user_lifetime ?? '1h', 'turn_user_lifetime'),
      allowGuests: raw.turn_allow_guests ?? true,
    },
    mediaStorePath: abs(raw.media_store_path ?? 'media_store'),
    maxUploadSize: parseSize(raw.max_upload_size ?? '50M', 'max_upload_size'),
    media: mediaConfigOf(raw, parseSize, parseDuration),
    signingKeyPath: abs(raw.signing_key_path ?? `${raw.server_name}.signing.key`),
    adminContact: raw.admin_contact ?? null,
    defaultUserType: raw.user_types?.default_user_type ?? null,
    extraUserTypes: raw.user_types?.extra_user_types ?? [],
    rateLimits: {
      message: rate(raw.rc_message, 0.2, 10),
      registration: rate(raw.rc_registration, 0.17, 3),
      loginAddress: rate(raw.rc_login?.address, 0.003, 5),
      loginAccount: rate(raw.rc_login?.account, 0.003, 5),
      loginFailedAttempts: rate(raw.rc_login?.failed_attempts, 0.17, 3),
    },
    accountValidity: accountValidityOf(raw),
    serverNotices: serverNoticesOf(raw),
    push: {
      enabled: raw.push?.enabled ?? true,
      includeContent: raw.push?.include_content ?? true,
      groupUnreadCountByRoom: raw.push?.group_unread_count_by_room ?? true,
      startPushers: raw.start_pushers ?? true,
    },
    presence: presenceOf(raw),
    logConfig: raw.log_config ? abs(raw.log_config) : null,
    configPaths,
  };
}

function accountValidityOf(raw: RawConfig): Config['accountValidity'] {
  const av = raw.account_validity ?? {};
  const enabled = av.enabled ?? false;
  if (enabled && av.period === undefined) throw new ConfigError("Invalid config: 'account_validity/period': required when using account validity");
  return {
    enabled,
    periodMs: av.period === undefined ? null : parseDuration(av.period, 'account_validity/period'),
    renewAtMs: av.renew_at === undefined ? null : parseDuration(av.renew_at, 'account_validity/renew_at'),
  };
}

/** Synapse's reading: `presence.enabled`, else `use_presence`, else true; 'untracked' is enabled but untracked. */
function presenceOf(raw: RawConfig): Config['presence'] {
  const enabled = raw.presence?.enabled ?? raw.use_presence ?? true;
  return { enabled: enabled !== false, tracked: enabled === true };
}

function serverNoticesOf(raw: RawConfig): Config['serverNotices'] {
  const sn = raw.server_notices;
  if (!sn?.system_mxid_localpart) return null;
  return {
    systemUserId: `@${sn.system_mxid_localpart}:${raw.server_name}`,
    displayName: sn.system_mxid_display_name ?? null,
    avatarUrl: sn.system_mxid_avatar_url ?? null,
    roomName: sn.room_name ?? 'Server Notices',
    roomAvatarUrl: sn.room_avatar_url ?? null,
    roomTopic: sn.room_topic ?? null,
    autoJoin: sn.auto_join ?? false,
  };
}

export function loadConfig(paths: string[]): { config: Config; ignoredKeys: string[] } {
  const raw = readConfigFiles(paths);
  return { config: normalizeConfig(raw, paths), ignoredKeys: unknownKeys(raw) };
}

/** `default_room_version` must name a room version Axon knows (Synapse refuses to start otherwise). */
function defaultRoomVersionOf(value: string | undefined): string {
  if (value === undefined) return DEFAULT_ROOM_VERSION;
  if (!roomVersion(value)) throw new ConfigError(`default_room_version: unknown room version '${value}'`);
  return value;
}
