/**
 * POST /createRoom as pure protocol code: the request's validation and the ordered list of state
 * events the new room receives. From the Matrix specification (client-server API, `createRoom`:
 * the order of the events and the preset table) and Synapse's room-creation handler (observed
 * behaviour: default power levels, error codes and texts, how `initial_state` overrides presets).
 *
 * Event order (spec steps 1–7; step 8, the invites, is returned separately):
 *   1. m.room.create: `creation_content`, with `room_version` set, and `creator` for room
 *      versions before 11 (v11 uses the event's sender);
 *   2. the creator's m.room.member join, with their displayname/avatar_url when set;
 *   3. m.room.power_levels: Synapse's defaults, the preset's changes, then
 *      `power_level_content_override` (its top-level keys replace the defaults' whole keys, as
 *      Synapse does). An `initial_state` power-levels event (state_key "") replaces the whole
 *      content instead, sent here, and the override is then not applied (Synapse);
 *   4. m.room.canonical_alias, when an alias is created, unless `initial_state` has one;
 *   5. the preset's m.room.join_rules, m.room.history_visibility and (private presets)
 *      m.room.guest_access, each left out when `initial_state` has that event;
 *   6. the `initial_state` events, in request order (a repeated type/state_key keeps the place of
 *      its first occurrence and the content of its last, like Synapse's ordered dict);
 *   7. m.room.name and m.room.topic, from `name` and `topic` (so they win over initial_state).
 */
import { MatrixError, badJson, badRequest, invalidParam } from '../errors.js';
import { DEFAULT_ROOM_VERSION, roomVersion, type RoomVersion } from './room-versions.js';
import { isValidUserId } from './server-name.js';
import { MAX_ALIAS_LENGTH, checkClientEvent, isObject, pyRepr } from './event-validation.js';

export type RoomPreset = 'private_chat' | 'trusted_private_chat' | 'public_chat';
export const ROOM_PRESETS: readonly RoomPreset[] = Object.freeze(['private_chat', 'trusted_private_chat', 'public_chat']);

export interface Invite3pid {
  id_server: string;
  id_access_token: string;
  medium: string;
  address: string;
}

export interface InitialStateEvent {
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
}

/** A createRoom body that passed checkCreateRoomRequest. */
export interface CreateRoomRequest {
  visibility?: 'public' | 'private';
  room_alias_name?: string;
  name?: string;
  topic?: string;
  invite?: string[];
  invite_3pid?: Invite3pid[];
  room_version?: string;
  creation_content?: Record<string, unknown>;
  initial_state?: InitialStateEvent[];
  preset?: RoomPreset;
  is_direct?: boolean;
  power_level_content_override?: Record<string, unknown>;
}

export interface StateEventSpec {
  type: string;
  state_key: string;
  content: Record<string, unknown>;
}

export interface CreateRoomOptions {
  /** The creating user's ID. */
  creator: string;
  /** The creator's global profile, copied into their join event when set. */
  creatorProfile: { displayname: string | null; avatar_url: string | null };
  version: RoomVersion;
  serverName: string;
  /** The full `#alias:server` when the request gave `room_alias_name`. */
  roomAlias?: string;
  /**
   * Synapse's `encryption_enabled_by_default_for_room_type` in effect for this preset: an
   * m.room.encryption event (megolm) follows the initial_state events.
   */
  encrypted?: boolean;
}

export interface CreateRoomPlan {
  /** The state events, in the order they are to be sent. */
  events: StateEventSpec[];
  /** User IDs to invite after the events, in request order, without duplicates. */
  invites: string[];
  /** Content of each invite's m.room.member event ({membership: 'invite'} plus is_direct). */
  inviteContent: Record<string, unknown>;
}

const PRESETS: Record<RoomPreset, { joinRule: string; guestCanJoin: boolean; inviteesHaveOps: boolean; levels: (pl: Record<string, unknown>) => void }> = {
  private_chat: { joinRule: 'invite', guestCanJoin: true, inviteesHaveOps: false, levels: (pl) => void (pl.invite = 0) },
  trusted_private_chat: { joinRule: 'invite', guestCanJoin: true, inviteesHaveOps: true, levels: (pl) => void (pl.invite = 0) },
  // Synapse since 1.104 raises m.call.invite to 50 in public rooms (so a random joiner cannot
  // ring everyone). Synapse long wrote it as a top-level key by mistake (element-hq/synapse#18115,
  // fixed by #20050); Axon puts it where it means something, under `events`.
  public_chat: {
    joinRule: 'public',
    guestCanJoin: false,
    inviteesHaveOps: false,
    levels: (pl) => void ((pl.events as Record<string, number>)['m.call.invite'] = 50),
  },
};

/** The preset a request uses: `preset`, else `public_chat` for public visibility, else `private_chat`. */
export function presetOf(req: Pick<CreateRoomRequest, 'preset' | 'visibility'>): RoomPreset {
  return req.preset ?? (req.visibility === 'public' ? 'public_chat' : 'private_chat');
}

/** Synapse's default power levels for a new room (before preset and override). */
export function defaultPowerLevels(creator: string): Record<string, unknown> {
  return {
    users: { [creator]: 100 },
    users_default: 0,
    events: {
      'm.room.name': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.canonical_alias': 50,
      'm.room.avatar': 50,
      'm.room.tombstone': 100,
      'm.room.server_acl': 100,
      'm.room.encryption': 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 50,
    historical: 100,
  };
}

const key = (type: string, stateKey: string) => JSON.stringify([type, stateKey]);

/** The ordered state events of a new room, and the users to invite after them. */
export function createRoomEvents(req: CreateRoomRequest, opts: CreateRoomOptions): CreateRoomPlan {
  const preset = PRESETS[presetOf(req)];
  const invites = [...new Set(req.invite ?? [])];

  // initial_state as an ordered map: first position, last content.
  const initial = new Map<string, StateEventSpec>();
  for (const e of req.initial_state ?? []) {
    const sk = e.state_key ?? '';
    const k = key(e.type, sk);
    const prev = initial.get(k);
    if (prev) prev.content = structuredClone(e.content);
    else initial.set(k, { type: e.type, state_key: sk, content: structuredClone(e.content) });
  }
  const takeInitial = (type: string) => {
    const e = initial.get(key(type, ''));
    initial.delete(key(type, ''));
    return e;
  };
  const hasInitial = (type: string) => initial.has(key(type, ''));

  const events: StateEventSpec[] = [];

  // 1. m.room.create
  const create: Record<string, unknown> = structuredClone(req.creation_content ?? {});
  if (opts.version.createEventHasCreator) create.creator = opts.creator;
  create.room_version = opts.version.id;
  events.push({ type: 'm.room.create', state_key: '', content: create });

  // 2. the creator joins
  const join: Record<string, unknown> = { membership: 'join' };
  if (opts.creatorProfile.displayname !== null) join.displayname = opts.creatorProfile.displayname;
  if (opts.creatorProfile.avatar_url !== null) join.avatar_url = opts.creatorProfile.avatar_url;
  events.push({ type: 'm.room.member', state_key: opts.creator, content: join });

  // 3. power levels
  const initialPl = takeInitial('m.room.power_levels');
  if (initialPl) {
    events.push(initialPl);
  } else {
    const pl = defaultPowerLevels(opts.creator);
    if (preset.inviteesHaveOps) for (const u of invites) (pl.users as Record<string, number>)[u] = 100;
    preset.levels(pl);
    Object.assign(pl, structuredClone(req.power_level_content_override ?? {}));
    events.push({ type: 'm.room.power_levels', state_key: '', content: pl });
  }

  // 4. canonical alias
  if (opts.roomAlias !== undefined && !hasInitial('m.room.canonical_alias')) {
    events.push({ type: 'm.room.canonical_alias', state_key: '', content: { alias: opts.roomAlias } });
  }

  // 5. the preset's events
  if (!hasInitial('m.room.join_rules')) events.push({ type: 'm.room.join_rules', state_key: '', content: { join_rule: preset.joinRule } });
  if (!hasInitial('m.room.history_visibility')) {
    events.push({ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'shared' } });
  }
  if (preset.guestCanJoin && !hasInitial('m.room.guest_access')) {
    events.push({ type: 'm.room.guest_access', state_key: '', content: { guest_access: 'can_join' } });
  }

  // 6. initial_state
  events.push(...initial.values());
  if (opts.encrypted === true) {
    events.push({ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } });
  }

  // 7. name and topic
  if (req.name !== undefined) events.push({ type: 'm.room.name', state_key: '', content: { name: req.name } });
  if (req.topic !== undefined) events.push({ type: 'm.room.topic', state_key: '', content: { topic: req.topic } });

  const inviteContent: Record<string, unknown> = { membership: 'invite' };
  if (req.is_direct === true) inviteContent.is_direct = true;
  return { events, invites, inviteContent };
}

/** The room version a (checked) request asks for, or the server's default. */
export function createRoomVersion(req: Pick<CreateRoomRequest, 'room_version'>, defaultVersion: string = DEFAULT_ROOM_VERSION): RoomVersion {
  const id = req.room_version ?? defaultVersion;
  const v = roomVersion(id);
  if (!v) throw unsupportedRoomVersion();
  return v;
}

const unsupportedRoomVersion = () => new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', 'Your homeserver does not support this room version');

/** Python's string.whitespace, which Synapse refuses in an alias localpart. */
const WHITESPACE = /[ \t\n\r\v\f]/;

export interface CheckCreateRoomOptions {
  /** The creating user: with it, a `power_level_content_override.users` must name them. */
  creator?: string;
  /** The server name: with it, the full alias's length is checked (255). */
  serverName?: string;
}

/**
 * Validates a createRoom body and returns it typed. Throws Synapse's errors, in Synapse's order
 * where it has one:
 * - `invite_3pid` entries lacking one of medium/address/id_server/id_access_token: 400
 *   M_MISSING_PARAM;
 * - `room_version` not a string: 400 M_BAD_JSON "room_version must be a string"; unknown: 400
 *   M_UNSUPPORTED_ROOM_VERSION;
 * - `room_alias_name` with whitespace: 400 M_UNKNOWN "Invalid characters in room alias"; with a
 *   colon: 400 M_UNKNOWN (Synapse's explanation that a local part is expected);
 * - an `invite` entry that is not a user ID with a valid server name: 400 M_UNKNOWN
 *   "Invalid user_id: <entry>";
 * - `power_level_content_override.users` without the creator: 400 M_UNKNOWN;
 * - an unknown `preset`: 400 M_BAD_JSON "'<preset>' is not a valid preset";
 * - the full alias longer than 255: 400 M_INVALID_PARAM "Can't create aliases longer than 255
 *   characters" (Synapse counts characters, the spec bytes: bytes here).
 * Synapse answers 500 (or silently accepts) for wrong JSON types; Axon answers 400 M_BAD_JSON
 * naming the field: a non-object `creation_content`, `power_level_content_override` or
 * `initial_state` item, an `initial_state` item without a string `type` or with a non-string
 * `state_key`, non-list `invite`/`invite_3pid`/`initial_state`, a `visibility` other than
 * public/private, a non-boolean `is_direct`. A non-string `name` or `topic` gets the error
 * Synapse gives when it builds the event (400 "'name' not a string type").
 */
export function checkCreateRoomRequest(body: unknown, opts: CheckCreateRoomOptions = {}): CreateRoomRequest {
  if (!isObject(body)) throw badJson('Content must be a JSON object.');
  const b = body;
  const list = (field: string): unknown[] | undefined => {
    const v = b[field];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw badJson(`'${field}' must be a list`);
    return v;
  };
  const object = (field: string): Record<string, unknown> | undefined => {
    const v = b[field];
    if (v === undefined) return undefined;
    if (!isObject(v)) throw badJson(`'${field}' must be an object`);
    return v;
  };

  // Shapes first: Synapse would crash (500) or misbehave on these.
  if (b.visibility !== undefined && b.visibility !== 'public' && b.visibility !== 'private') {
    throw badJson("'visibility' must be one of 'public' or 'private'");
  }
  const invite = list('invite');
  const invite3pid = list('invite_3pid');
  const initialState = list('initial_state');
  const creationContent = object('creation_content');
  const plOverride = object('power_level_content_override');
  if (b.is_direct !== undefined && typeof b.is_direct !== 'boolean') throw badJson("'is_direct' must be a boolean");
  if (b.room_alias_name !== undefined && typeof b.room_alias_name !== 'string') throw badJson("'room_alias_name' must be a string");
  initialState?.forEach((item, i) => {
    if (!isObject(item)) throw badJson(`initial_state[${i}] must be an object`);
    if (typeof item.type !== 'string') throw badJson(`initial_state[${i}].type must be a string`);
    if (item.state_key !== undefined && typeof item.state_key !== 'string') throw badJson(`initial_state[${i}].state_key must be a string`);
    if (!isObject(item.content)) throw badJson(`initial_state[${i}].content must be an object`);
  });

  // Synapse's order from here.
  for (const entry of invite3pid ?? []) {
    if (!isObject(entry) || !['medium', 'address', 'id_server', 'id_access_token'].every((k) => k in entry)) {
      throw new MatrixError(
        400,
        'M_MISSING_PARAM',
        'all of `medium`, `address`, `id_server` and `id_access_token` are required when making a 3pid invite',
      );
    }
  }

  if (b.room_version !== undefined) {
    if (typeof b.room_version !== 'string') throw badJson('room_version must be a string');
    if (!roomVersion(b.room_version)) throw unsupportedRoomVersion();
  }

  const aliasName = b.room_alias_name as string | undefined;
  if (aliasName !== undefined) {
    if (WHITESPACE.test(aliasName)) throw badRequest('Invalid characters in room alias');
    if (aliasName.includes(':')) {
      throw badRequest("':' is not permitted in the room alias name. Please note this expects a local part — 'wombat', not '#wombat:example.com'.");
    }
  }

  for (const entry of invite ?? []) {
    if (typeof entry !== 'string' || !isValidUserId(entry)) {
      throw badRequest(`Invalid user_id: ${typeof entry === 'string' ? entry : pyRepr(entry)}`);
    }
  }

  if (opts.creator !== undefined && plOverride !== undefined && 'users' in plOverride) {
    const users = plOverride.users;
    if (!isObject(users) || !Object.prototype.hasOwnProperty.call(users, opts.creator)) {
      throw badRequest(`Not a valid power_level_content_override: 'users' did not contain ${opts.creator}`);
    }
  }

  if (b.preset !== undefined && !(typeof b.preset === 'string' && (ROOM_PRESETS as readonly string[]).includes(b.preset))) {
    throw badJson(`'${typeof b.preset === 'string' ? b.preset : pyRepr(b.preset)}' is not a valid preset`);
  }

  if (aliasName !== undefined && opts.serverName !== undefined && Buffer.byteLength(`#${aliasName}:${opts.serverName}`, 'utf8') > MAX_ALIAS_LENGTH) {
    throw invalidParam(`Can't create aliases longer than ${MAX_ALIAS_LENGTH} characters`);
  }

  // The name and topic events Synapse would refuse once the room half exists.
  if (b.name !== undefined) checkClientEvent({ type: 'm.room.name', state_key: '', content: { name: b.name } }, '1');
  if (b.topic !== undefined) checkClientEvent({ type: 'm.room.topic', state_key: '', content: { topic: b.topic } }, '1');

  const out: CreateRoomRequest = {};
  if (b.visibility !== undefined) out.visibility = b.visibility as 'public' | 'private';
  if (aliasName !== undefined) out.room_alias_name = aliasName;
  if (b.name !== undefined) out.name = b.name as string;
  if (b.topic !== undefined) out.topic = b.topic as string;
  if (invite !== undefined) out.invite = invite as string[];
  if (invite3pid !== undefined) out.invite_3pid = invite3pid as Invite3pid[];
  if (b.room_version !== undefined) out.room_version = b.room_version as string;
  if (creationContent !== undefined) out.creation_content = creationContent;
  if (initialState !== undefined) out.initial_state = initialState as InitialStateEvent[];
  if (b.preset !== undefined) out.preset = b.preset as RoomPreset;
  if (b.is_direct !== undefined) out.is_direct = b.is_direct as boolean;
  if (plOverride !== undefined) out.power_level_content_override = plOverride;
  return out;
}
