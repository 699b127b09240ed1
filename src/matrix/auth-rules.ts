/**
 * The authorization rules of room versions 1–11, as a pure function of an event, the state it is
 * checked against and the room version. Taken from the Matrix specification only:
 * content/rooms/fragments/v1-auth-rules.md (v1–v2), v3-auth-rules.md (v3–v7, with the v6 and v7
 * changes of content/rooms/v6.md and v7.md), v8-auth-rules.md (v8–v9), content/rooms/v10.md and
 * v11.md, plus content/server-server-api.md ("Auth events selection").
 *
 * Not covered here, by design:
 * - signature and hash checks (done before the auth rules, see event-hashing.ts); the one
 *   signature rule inside the auth rules (`join_authorised_via_users_server`, v8+) asks the
 *   caller through `AuthOptions.isSignedBy`;
 * - rule 2.3 (auth events that were themselves rejected): the caller knows which events were
 *   rejected and must not put them in the AuthState;
 * - third-party invites (`m.room.member` invites carrying `third_party_invite`): refused with a
 *   reason saying they are unsupported, not validated;
 * - redactions in v3+: allowed here (subject to the power level rule) and checked when applied,
 *   see content/rooms/fragments/v3-handling-redactions.md and `redactionAllowed` below.
 */
import { resolveRoomVersion, roomVersion, type RoomVersion } from './room-versions.js';
import { isValidUserId } from './server-name.js';

/** The parts of an event the auth rules read. */
export interface AuthEvent {
  readonly type: string;
  readonly sender: string;
  readonly content: Readonly<Record<string, unknown>>;
  readonly state_key?: string;
  readonly room_id?: string;
  /**
   * Needed on the m.room.create event of the state (the creator's first join is recognised by
   * `prev_events` being exactly that ID) and, in v1–v2, on redactions.
   */
  readonly event_id?: string;
  /** v1–v2: `[[event_id, hashes], …]`; v3+: `[event_id, …]`. */
  readonly prev_events?: readonly unknown[];
  /** v1–v10: the redacted event's ID at top level (v11 moves it into `content`). */
  readonly redacts?: string;
  readonly signatures?: Readonly<Record<string, unknown>>;
}

/** The state an event is checked against: (type, state_key) → event. */
export interface AuthState {
  get(type: string, stateKey: string): AuthEvent | undefined;
}

export type AuthResult = { allowed: true } | { allowed: false; reason: string };

export interface AuthOptions {
  /**
   * Whether the event is validly signed by this server (v8+ rule for
   * `join_authorised_via_users_server`). Default: the event's `signatures` has an entry for it;
   * pass a real verifier when the signatures have not been checked already.
   */
  readonly isSignedBy?: (serverName: string) => boolean;
}

/** An AuthState over a list of state events (later entries win for the same key). */
export function authStateFrom(events: Iterable<AuthEvent>): AuthState {
  const map = new Map<string, AuthEvent>();
  for (const e of events) if (e.state_key !== undefined) map.set(stateKey(e.type, e.state_key), e);
  return { get: (type, sk) => map.get(stateKey(type, sk)) };
}

const stateKey = (type: string, sk: string) => JSON.stringify([type, sk]);

export type StateKeyPair = readonly [type: string, stateKey: string];

/**
 * The (type, state_key) pairs an event's `auth_events` must be drawn from (server-server API,
 * "Auth events selection"). Empty for `m.room.create`. The restricted-join authoriser's member
 * event is included only in room versions that support restricted joins (v8+).
 */
export function authEventSelection(event: AuthEvent, version?: RoomVersion | string): StateKeyPair[] {
  if (event.type === 'm.room.create') return [];
  const out: StateKeyPair[] = [];
  const add = (type: string, sk: string) => {
    if (!out.some(([t, s]) => t === type && s === sk)) out.push([type, sk]);
  };
  add('m.room.create', '');
  add('m.room.power_levels', '');
  add('m.room.member', event.sender);
  if (event.type === 'm.room.member' && typeof event.state_key === 'string') {
    add('m.room.member', event.state_key);
    const membership = event.content.membership;
    if (membership === 'join' || membership === 'invite' || membership === 'knock') add('m.room.join_rules', '');
    const tpi = event.content.third_party_invite;
    if (membership === 'invite' && isObject(tpi) && isObject(tpi.signed) && typeof tpi.signed.token === 'string') {
      add('m.room.third_party_invite', tpi.signed.token);
    }
    const via = event.content.join_authorised_via_users_server;
    const restricted = version === undefined || resolveRoomVersion(version).restrictedJoins;
    if (membership === 'join' && typeof via === 'string' && restricted) add('m.room.member', via);
  }
  return out;
}

/**
 * Rule 2 of every version's auth rules, on the event's actual `auth_events` (as events): no
 * duplicate (type, state_key), nothing outside the selection, and an `m.room.create` present.
 * (Rule 2.3, rejected auth events, is the caller's.)
 */
export function checkAuthEventsList(event: AuthEvent, authEvents: readonly AuthEvent[], version: RoomVersion | string): AuthResult {
  const allowedPairs = authEventSelection(event, version);
  const seen = new Set<string>();
  let hasCreate = false;
  for (const a of authEvents) {
    if (a.state_key === undefined) return deny(`auth event of type ${a.type} is not a state event`);
    const key = stateKey(a.type, a.state_key);
    if (seen.has(key)) return deny(`duplicate auth event for (${a.type}, ${a.state_key})`);
    seen.add(key);
    if (!allowedPairs.some(([t, s]) => t === a.type && s === a.state_key)) {
      return deny(`auth event (${a.type}, ${a.state_key}) is not in the auth events selection`);
    }
    if (a.type === 'm.room.create') hasCreate = true;
  }
  if (!hasCreate) return deny('no m.room.create event among the auth events');
  return ALLOW;
}

const ALLOW: AuthResult = Object.freeze({ allowed: true });
const deny = (reason: string): AuthResult => ({ allowed: false, reason });

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The server name part of a user, room or (v1–v2) event ID. */
function domainOf(id: string): string | undefined {
  const i = id.indexOf(':');
  return i < 0 ? undefined : id.slice(i + 1);
}

/** A JSON integer: a number without fraction, inside the canonical JSON range. */
function isInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

const STRINGY_INT = /^\s*[+-]?\d+\s*$/;

/**
 * A power level value as the room version reads it: an integer, or before v10 also a string that
 * is an integer (rooms/fragments/v1-stringy-power-levels.md). Undefined when it is neither.
 */
function parseLevel(v: unknown, version: RoomVersion): number | undefined {
  if (isInteger(v)) return v;
  if (!version.integerPowerLevels) {
    if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
    if (typeof v === 'string' && STRINGY_INT.test(v)) {
      const n = Number(v.trim());
      return Number.isSafeInteger(n) ? n : undefined;
    }
  }
  return undefined;
}

const PL_SCALARS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'] as const;

/** The effective power levels of a room (content of m.room.power_levels with the spec's defaults). */
class PowerLevels {
  private readonly content: Record<string, unknown> | undefined;

  constructor(
    plEvent: AuthEvent | undefined,
    private readonly creator: string | undefined,
    private readonly version: RoomVersion,
  ) {
    this.content = plEvent && isObject(plEvent.content) ? plEvent.content : undefined;
  }

  private scalar(key: string, dflt: number): number {
    return (this.content && parseLevel(this.content[key], this.version)) ?? dflt;
  }

  userLevel(userId: string): number {
    if (!this.content) return userId === this.creator ? 100 : 0;
    const users = this.content.users;
    const own = isObject(users) ? parseLevel(users[userId], this.version) : undefined;
    return own ?? this.scalar('users_default', 0);
  }

  get ban() {
    return this.scalar('ban', 50);
  }
  get kick() {
    return this.scalar('kick', 50);
  }
  get redact() {
    return this.scalar('redact', 50);
  }
  get invite() {
    return this.scalar('invite', 0);
  }

  /** The event type's required power level. */
  required(type: string, isState: boolean): number {
    const events = this.content?.events;
    const own = isObject(events) ? parseLevel(events[type], this.version) : undefined;
    if (own !== undefined) return own;
    // state_default: 50 when unspecified, 0 when there is no m.room.power_levels event at all.
    return isState ? this.scalar('state_default', this.content ? 50 : 0) : this.scalar('events_default', 0);
  }
}

function membershipOf(state: AuthState, userId: string): string {
  const m = state.get('m.room.member', userId)?.content.membership;
  return typeof m === 'string' ? m : 'leave';
}

/** The room creator: `content.creator` (v1–v10) or the create event's `sender` (v11). */
function creatorOf(create: AuthEvent, version: RoomVersion): string | undefined {
  if (!version.createEventHasCreator) return create.sender;
  return typeof create.content.creator === 'string' ? create.content.creator : undefined;
}

/** The IDs in `prev_events` in either format (v1–v2 pairs or v3+ bare IDs). */
function prevEventIds(event: AuthEvent): string[] {
  return (event.prev_events ?? []).map((p) => (Array.isArray(p) ? String(p[0]) : String(p)));
}

/**
 * Whether `event` is authorised by `state` under the room version's authorization rules.
 * `state` holds the events selected by authEventSelection (or the full current state).
 */
export function checkAuth(event: AuthEvent, state: AuthState, version: RoomVersion | string, options: AuthOptions = {}): AuthResult {
  const v = resolveRoomVersion(version);
  const content = isObject(event.content) ? event.content : {};

  // 1. m.room.create
  if (event.type === 'm.room.create') {
    if ((event.prev_events ?? []).length > 0) return deny('m.room.create must not have prev_events');
    const roomDomain = event.room_id === undefined ? undefined : domainOf(event.room_id);
    if (roomDomain === undefined || roomDomain !== domainOf(event.sender)) {
      return deny("the room ID's domain does not match the sender's domain");
    }
    if (content.room_version !== undefined && (typeof content.room_version !== 'string' || !roomVersion(content.room_version))) {
      return deny(`unknown room version ${JSON.stringify(content.room_version)}`);
    }
    if (v.createEventHasCreator && content.creator === undefined) return deny('m.room.create has no creator');
    return ALLOW;
  }

  // 2.4 (the rest of rule 2 is checkAuthEventsList's and the caller's)
  const create = state.get('m.room.create', '');
  if (!create) return deny('no m.room.create event in the auth state');

  // 3. m.federate
  if (create.content['m.federate'] === false && domainOf(event.sender) !== domainOf(create.sender)) {
    return deny('the room does not federate and the sender is on another server');
  }

  // 4 (v1–v5). m.room.aliases
  if (event.type === 'm.room.aliases' && v.specialCaseAliasesAuth) {
    if (event.state_key === undefined) return deny('m.room.aliases has no state_key');
    if (event.state_key !== domainOf(event.sender)) return deny("m.room.aliases state_key does not match the sender's domain");
    return ALLOW;
  }

  const pl = new PowerLevels(state.get('m.room.power_levels', ''), creatorOf(create, v), v);

  if (event.type === 'm.room.member') return checkMember(event, content, state, v, pl, create, options);

  // The sender must be joined.
  const senderMembership = membershipOf(state, event.sender);
  if (senderMembership !== 'join') return deny(`the sender is not in the room (membership ${senderMembership})`);

  const senderLevel = pl.userLevel(event.sender);

  if (event.type === 'm.room.third_party_invite') {
    return senderLevel >= pl.invite ? ALLOW : deny('the sender is below the invite level');
  }

  const required = pl.required(event.type, event.state_key !== undefined);
  if (required > senderLevel) {
    return deny(`sending ${event.type} needs power level ${required}; the sender has ${senderLevel}`);
  }

  if (event.state_key !== undefined && event.state_key.startsWith('@') && event.state_key !== event.sender) {
    return deny('a state_key starting with @ must be the sender');
  }

  if (event.type === 'm.room.power_levels') return checkPowerLevels(event, content, state, v, pl, senderLevel);

  // v1–v2: redactions are part of the auth rules; from v3 they are checked when applied.
  if (event.type === 'm.room.redaction' && v.redactionAuthRule) return redactionRuleV1(event, pl, senderLevel);

  return ALLOW;
}

function redactionRuleV1(event: AuthEvent, pl: PowerLevels, senderLevel: number): AuthResult {
  if (senderLevel >= pl.redact) return ALLOW;
  const redacts = event.redacts;
  if (typeof redacts === 'string' && event.event_id !== undefined) {
    const d = domainOf(redacts);
    if (d !== undefined && d === domainOf(event.event_id)) return ALLOW;
  }
  return deny('the sender is below the redact level and the redacted event is from another server');
}

/**
 * v3+ ("Handling redactions"): whether a redaction, valid under the auth rules, may be applied to
 * the event it redacts: the sender is at the redact level, or both senders are on the same server.
 */
export function redactionAllowed(
  redaction: AuthEvent,
  redacted: AuthEvent,
  state: AuthState,
  version: RoomVersion | string,
): boolean {
  const v = resolveRoomVersion(version);
  const create = state.get('m.room.create', '');
  const pl = new PowerLevels(state.get('m.room.power_levels', ''), create && creatorOf(create, v), v);
  if (pl.userLevel(redaction.sender) >= pl.redact) return true;
  const d = domainOf(redaction.sender);
  return d !== undefined && d === domainOf(redacted.sender);
}

function checkMember(
  event: AuthEvent,
  content: Record<string, unknown>,
  state: AuthState,
  v: RoomVersion,
  pl: PowerLevels,
  create: AuthEvent,
  options: AuthOptions,
): AuthResult {
  const target = event.state_key;
  const membership = content.membership;
  if (target === undefined || typeof membership !== 'string') return deny('m.room.member needs a state_key and content.membership');

  // v8+: the authorising server must have signed the event.
  const via = content.join_authorised_via_users_server;
  if (v.restrictedJoins && via !== undefined) {
    const server = typeof via === 'string' ? domainOf(via) : undefined;
    if (server === undefined) return deny('join_authorised_via_users_server is not a user ID');
    const signed = options.isSignedBy ? options.isSignedBy(server) : isObject(event.signatures?.[server]);
    if (!signed) return deny(`the event is not signed by ${server}, the server of join_authorised_via_users_server`);
  }

  const sender = event.sender;
  const senderMembership = membershipOf(state, sender);
  const targetMembership = membershipOf(state, target);
  const joinRulesContent = state.get('m.room.join_rules', '')?.content;
  // No m.room.join_rules event: the room is invite-only.
  const joinRule = typeof joinRulesContent?.join_rule === 'string' ? joinRulesContent.join_rule : 'invite';
  const senderLevel = pl.userLevel(sender);
  const targetLevel = pl.userLevel(target);

  switch (membership) {
    case 'join': {
      const prev = prevEventIds(event);
      if (prev.length === 1 && create.event_id !== undefined && prev[0] === create.event_id && target === creatorOf(create, v)) {
        return ALLOW;
      }
      if (sender !== target) return deny('a join must be sent by the joining user');
      if (senderMembership === 'ban') return deny('the user is banned from the room');
      if (joinRule === 'invite' || (v.knocking && joinRule === 'knock')) {
        return senderMembership === 'invite' || senderMembership === 'join' ? ALLOW : deny('the room is invite-only and the user is not invited');
      }
      if ((v.restrictedJoins && joinRule === 'restricted') || (v.knockRestricted && joinRule === 'knock_restricted')) {
        if (senderMembership === 'join' || senderMembership === 'invite') return ALLOW;
        if (typeof via !== 'string' || !isValidUserId(via)) return deny('a restricted join needs join_authorised_via_users_server');
        if (membershipOf(state, via) !== 'join' || pl.userLevel(via) < pl.invite) {
          return deny('join_authorised_via_users_server is not a member allowed to invite');
        }
        return ALLOW;
      }
      if (joinRule === 'public') return ALLOW;
      return deny(`the join rule ${JSON.stringify(joinRule)} does not allow this join`);
    }
    case 'invite': {
      if (content.third_party_invite !== undefined) return deny('third-party invites are unsupported');
      if (senderMembership !== 'join') return deny('the inviter is not in the room');
      if (targetMembership === 'join' || targetMembership === 'ban') return deny(`the invitee's membership is ${targetMembership}`);
      return senderLevel >= pl.invite ? ALLOW : deny(`inviting needs power level ${pl.invite}; the sender has ${senderLevel}`);
    }
    case 'leave': {
      if (sender === target) {
        const ok = targetMembership === 'invite' || targetMembership === 'join' || (v.knocking && targetMembership === 'knock');
        return ok ? ALLOW : deny(`cannot leave from membership ${targetMembership}`);
      }
      if (senderMembership !== 'join') return deny('the sender is not in the room');
      if (targetMembership === 'ban' && senderLevel < pl.ban) return deny(`unbanning needs power level ${pl.ban}; the sender has ${senderLevel}`);
      if (senderLevel >= pl.kick && targetLevel < senderLevel) return ALLOW;
      return deny(`kicking needs power level ${pl.kick} and more than the target's ${targetLevel}; the sender has ${senderLevel}`);
    }
    case 'ban': {
      if (senderMembership !== 'join') return deny('the sender is not in the room');
      if (senderLevel >= pl.ban && targetLevel < senderLevel) return ALLOW;
      return deny(`banning needs power level ${pl.ban} and more than the target's ${targetLevel}; the sender has ${senderLevel}`);
    }
    case 'knock': {
      if (!v.knocking) break;
      if (joinRule !== 'knock' && !(v.knockRestricted && joinRule === 'knock_restricted')) {
        return deny(`the join rule ${JSON.stringify(joinRule)} does not allow knocking`);
      }
      if (sender !== target) return deny('a knock must be sent by the knocking user');
      if (senderMembership === 'ban' || senderMembership === 'invite' || senderMembership === 'join') {
        return deny(`cannot knock from membership ${senderMembership}`);
      }
      return ALLOW;
    }
  }
  return deny(`unknown membership ${JSON.stringify(membership)} in room version ${v.id}`);
}

function checkPowerLevels(
  event: AuthEvent,
  content: Record<string, unknown>,
  state: AuthState,
  v: RoomVersion,
  pl: PowerLevels,
  senderLevel: number,
): AuthResult {
  const maps = v.limitNotificationsPowerLevels ? (['events', 'notifications'] as const) : (['events'] as const);
  if (v.integerPowerLevels) {
    for (const k of PL_SCALARS) {
      if (content[k] !== undefined && !isInteger(content[k])) return deny(`power level ${k} must be an integer`);
    }
    for (const k of ['events', 'notifications'] as const) {
      const m = content[k];
      if (m !== undefined && (!isObject(m) || !Object.values(m).every(isInteger))) {
        return deny(`power levels ${k} must be an object of integers`);
      }
    }
  }
  const users = content.users;
  if (users !== undefined) {
    if (!isObject(users)) return deny('power levels users must be an object');
    for (const [u, level] of Object.entries(users)) {
      if (!isValidUserId(u)) return deny(`power levels users has an invalid user ID ${JSON.stringify(u)}`);
      if (parseLevel(level, v) === undefined) return deny(`power level of ${u} must be an integer`);
    }
  }

  const previous = state.get('m.room.power_levels', '');
  if (!previous) return ALLOW;
  const old = isObject(previous.content) ? previous.content : {};
  const lvl = (x: unknown) => (x === undefined ? undefined : parseLevel(x, v));

  for (const k of PL_SCALARS) {
    const before = lvl(old[k]);
    const after = lvl(content[k]);
    if (before === after) continue;
    if (before !== undefined && before > senderLevel) return deny(`cannot change ${k} from ${before}, above the sender's ${senderLevel}`);
    if (after !== undefined && after > senderLevel) return deny(`cannot set ${k} to ${after}, above the sender's ${senderLevel}`);
  }

  for (const k of maps) {
    const before = isObject(old[k]) ? old[k] : {};
    const after = isObject(content[k]) ? content[k] : {};
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const b = lvl(before[key]);
      const a = lvl(after[key]);
      if (b === a) continue;
      if (b !== undefined && b > senderLevel) return deny(`cannot change ${k}[${key}] from ${b}, above the sender's ${senderLevel}`);
      if (a !== undefined && a > senderLevel) return deny(`cannot set ${k}[${key}] to ${a}, above the sender's ${senderLevel}`);
    }
  }

  const beforeUsers = isObject(old.users) ? old.users : {};
  const afterUsers = isObject(users) ? users : {};
  for (const u of new Set([...Object.keys(beforeUsers), ...Object.keys(afterUsers)])) {
    const b = lvl(beforeUsers[u]);
    const a = lvl(afterUsers[u]);
    if (b === a) continue;
    if (b !== undefined && u !== event.sender && b >= senderLevel) {
      return deny(`cannot change the level of ${u} (${b}), not below the sender's ${senderLevel}`);
    }
    if (a !== undefined && a > senderLevel) return deny(`cannot give ${u} level ${a}, above the sender's ${senderLevel}`);
  }
  return ALLOW;
}
