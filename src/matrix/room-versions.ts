/**
 * The room versions Axon understands, "1" to "11", with the properties the rooms core branches
 * on. Facts from the Matrix specification, content/rooms/v1.md … v11.md and their fragments.
 */

/**
 * How event IDs are made:
 * - 'server-random': v1–v2, `$<opaque>:<server name>`, chosen by the origin server;
 * - 'base64': v3, `$` + unpadded standard base64 of the reference hash;
 * - 'url-safe-base64': v4 and later, `$` + unpadded URL-safe base64 of the reference hash.
 */
export type EventIdFormat = 'server-random' | 'base64' | 'url-safe-base64';

/**
 * Which redaction algorithm applies (named after the version that introduced it):
 * - 'v1': v1–v5;
 * - 'v6': v6–v7, `m.room.aliases` no longer keeps `aliases`;
 * - 'v8': v8, `m.room.join_rules` keeps `allow`;
 * - 'v9': v9–v10, `m.room.member` keeps `join_authorised_via_users_server`;
 * - 'v11': v11, see the v11-redactions fragment.
 */
export type RedactionRules = 'v1' | 'v6' | 'v8' | 'v9' | 'v11';

export interface RoomVersion {
  readonly id: string;
  readonly stability: 'stable' | 'unstable';
  readonly eventIdFormat: EventIdFormat;
  readonly redactionRules: RedactionRules;
  /** State resolution algorithm: v1 for room version 1, v2 for every later one. */
  readonly stateResolution: 'v1' | 'v2';
  /** v5+: a signing key's `valid_until_ts` is enforced when checking event signatures. */
  readonly enforceKeyValidity: boolean;
  /**
   * v6+: canonical JSON is strictly enforced (integers in [-(2^53)+1, 2^53-1], no floats);
   * invalid events are refused with M_BAD_JSON or dropped over federation.
   */
  readonly strictCanonicalJson: boolean;
  /**
   * v1–v2: `m.room.redaction` has its own authorization rule (redact level, or same event ID
   * domain); from v3 redactions pass the auth rules and are checked when applied.
   */
  readonly redactionAuthRule: boolean;
  /** v1–v5: the special authorization rule for `m.room.aliases` events (removed in v6). */
  readonly specialCaseAliasesAuth: boolean;
  /** v6+: the `notifications` power levels are checked when power levels change. */
  readonly limitNotificationsPowerLevels: boolean;
  /** v7+: the `knock` membership and join rule. */
  readonly knocking: boolean;
  /** v8+: the `restricted` join rule (joins authorised through another room's membership). */
  readonly restrictedJoins: boolean;
  /** v10+: the `knock_restricted` join rule. */
  readonly knockRestricted: boolean;
  /** v10+: power level values must be integers (no stringy "50"). */
  readonly integerPowerLevels: boolean;
  /** v1–v10: `m.room.create` carries `content.creator`; v11 uses the event's `sender` instead. */
  readonly createEventHasCreator: boolean;
  /** v11+: `m.room.redaction` carries `redacts` in its content (and at top level for old clients). */
  readonly redactsInContent: boolean;
}

function make(n: number): RoomVersion {
  return {
    id: String(n),
    stability: 'stable',
    eventIdFormat: n <= 2 ? 'server-random' : n === 3 ? 'base64' : 'url-safe-base64',
    redactionRules: n >= 11 ? 'v11' : n >= 9 ? 'v9' : n === 8 ? 'v8' : n >= 6 ? 'v6' : 'v1',
    stateResolution: n === 1 ? 'v1' : 'v2',
    enforceKeyValidity: n >= 5,
    strictCanonicalJson: n >= 6,
    redactionAuthRule: n <= 2,
    specialCaseAliasesAuth: n <= 5,
    limitNotificationsPowerLevels: n >= 6,
    knocking: n >= 7,
    restrictedJoins: n >= 8,
    knockRestricted: n >= 10,
    integerPowerLevels: n >= 10,
    createEventHasCreator: n <= 10,
    redactsInContent: n >= 11,
  };
}

export const ROOM_VERSIONS: Readonly<Record<string, RoomVersion>> = Object.freeze(
  Object.fromEntries(Array.from({ length: 11 }, (_, i) => [String(i + 1), Object.freeze(make(i + 1))])),
);

/** New rooms are created in this version unless the config or the request says otherwise. */
export const DEFAULT_ROOM_VERSION = '10';

/** The room version with this identifier, or undefined for a version Axon does not know. */
export function roomVersion(id: string): RoomVersion | undefined {
  return Object.prototype.hasOwnProperty.call(ROOM_VERSIONS, id) ? ROOM_VERSIONS[id] : undefined;
}

/** Accepts a RoomVersion or its identifier; throws for an unknown identifier. */
export function resolveRoomVersion(version: RoomVersion | string): RoomVersion {
  if (typeof version !== 'string') return version;
  const v = roomVersion(version);
  if (!v) throw new Error(`unknown room version ${JSON.stringify(version)}`);
  return v;
}

/** The `m.room_versions` capability as GET /capabilities reports it. */
export function roomVersionsCapability(): { default: string; available: Record<string, 'stable' | 'unstable'> } {
  return {
    default: DEFAULT_ROOM_VERSION,
    available: Object.fromEntries(Object.values(ROOM_VERSIONS).map((v) => [v.id, v.stability])),
  };
}
