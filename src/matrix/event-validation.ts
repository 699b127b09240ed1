/**
 * Checks applied to every event a local client asks us to build, before it is signed: the
 * Matrix specification's size limits and format rules (client-server API "Size limits",
 * appendices "Canonical JSON", the `m.room.*` event schemas, the v10 power-level integers), with
 * the status codes, error codes and texts Synapse answers for them, so clients see the same
 * errors. Pure: the checks that need the room or the directory (an alias pointing at this room,
 * `m.room.create` after creation, ACLs denying this server) stay with the caller.
 *
 * What Synapse does, and so what this module does (verified against Synapse's event validator,
 * its size-limit check and its event-creation handler):
 * - type, state_key, sender, room_id and event_id longer than 255 bytes of UTF-8: 413
 *   M_TOO_LARGE "'<field>' too large" (Synapse's EventSizeError; the spec measures in bytes);
 * - a PDU whose canonical JSON exceeds 65,536 bytes: 413 M_TOO_LARGE "event too large";
 * - in room versions with strict canonical JSON (v6+): a float, NaN/Infinity or an integer
 *   outside ±(2^53-1) anywhere in the content: 400 M_BAD_JSON "Bad JSON value: float" or
 *   "JSON integer out of range". Earlier versions accept them (as Synapse does);
 * - `m.room.power_levels`: every level an integer within the canonical range, whatever the room
 *   version (Synapse validates locally built events with one schema for all versions; only
 *   remote events in v1–v9 may carry "50"): 400 M_BAD_JSON with the schema's message, e.g.
 *   `"ban": '50' is not of type 'integer'`; `users` keys must look like user IDs: 400 M_UNKNOWN
 *   "Not a valid user_id: <key>" (Synapse's auth-rule check);
 * - `m.room.member`: `membership` present (400 "Content has not membership key") and one of
 *   join/invite/leave/ban/knock (400 "Invalid membership key"); whether knock is allowed in the
 *   room version is the auth rules' decision;
 * - `m.room.canonical_alias`: `alias` and each `alt_aliases` entry must parse as `#local:domain`
 *   (400 M_INVALID_PARAM with Synapse's RoomAlias texts), `alt_aliases` must be a list;
 * - `m.room.message` needs string `body` and `msgtype`, `m.room.name` a string `name`,
 *   `m.room.topic` a string `topic`, `m.room.tombstone` a `replacement_room` (400 M_UNKNOWN);
 *   name, topic, member and tombstone must be state events;
 * - `m.mentions`, when present, must be an object with `user_ids` a list of strings and `room` a
 *   boolean (400 M_BAD_JSON); `m.room.retention` lifetimes must be integers (400 M_BAD_JSON).
 */
import { MatrixError, badJson, badRequest, invalidParam } from '../errors.js';
import { CanonicalJsonError, MAX_SAFE_CANONICAL_INT, MIN_SAFE_CANONICAL_INT, canonicalJsonBytes, checkCanonicalValue } from './canonical-json.js';
import { resolveRoomVersion, type RoomVersion } from './room-versions.js';

/** Largest PDU, in bytes of canonical JSON (spec: "Size limits"; Synapse's MAX_PDU_SIZE). */
export const MAX_PDU_SIZE = 65536;
/** Largest type, state_key, sender, room_id and event_id, in bytes of UTF-8. */
export const MAX_EVENT_FIELD_BYTES = 255;
/** Largest room alias, `#` and domain included (spec appendix "Room aliases"). */
export const MAX_ALIAS_LENGTH = 255;

export const MEMBERSHIPS: readonly string[] = Object.freeze(['join', 'invite', 'leave', 'ban', 'knock']);

/** The parts of a client-built event these checks read. */
export interface ClientEventDraft {
  readonly type: string;
  /** Absent for a message event; `''` is a state event with an empty key. */
  readonly state_key?: string;
  readonly content: unknown;
  readonly room_id?: string;
  readonly sender?: string;
}

const tooLarge = (message: string) => new MatrixError(413, 'M_TOO_LARGE', message);
const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');

/**
 * Throws 413 M_TOO_LARGE "event too large" when the PDU's canonical JSON is larger than
 * 65,536 bytes. Pass the whole PDU as it will be sent over federation (signatures and hashes
 * included), as Synapse measures it.
 */
export function checkEventSize(pdu: object): void {
  if (canonicalJsonBytes(pdu).length > MAX_PDU_SIZE) throw tooLarge('event too large');
}

/**
 * Throws 413 M_TOO_LARGE "'<field>' too large" when one of the identifier fields of an event is
 * longer than 255 bytes of UTF-8 (fields that are absent or not strings are skipped).
 */
export function checkEventFieldSizes(event: {
  readonly type?: unknown;
  readonly state_key?: unknown;
  readonly sender?: unknown;
  readonly room_id?: unknown;
  readonly event_id?: unknown;
}): void {
  // Synapse's order: user_id (the sender), room_id, state_key, type, event_id.
  const fields: Array<[string, unknown]> = [
    ['user_id', event.sender],
    ['room_id', event.room_id],
    ['state_key', event.state_key],
    ['type', event.type],
    ['event_id', event.event_id],
  ];
  for (const [name, value] of fields) {
    if (typeof value === 'string' && utf8Length(value) > MAX_EVENT_FIELD_BYTES) throw tooLarge(`'${name}' too large`);
  }
}

/**
 * All the format checks of a client-built event, in Synapse's order: the per-type required
 * fields, canonical JSON (strict room versions), power levels, mentions, canonical alias, then
 * the field sizes. Throws the MatrixError Synapse answers; returns nothing when the event is fine.
 * The whole-PDU size is checked separately, on the signed PDU (checkEventSize).
 */
export function checkClientEvent(event: ClientEventDraft, version: RoomVersion | string): void {
  const v = resolveRoomVersion(version);
  const content = event.content;
  if (!isObject(content)) throw badJson('Content must be a JSON object.');
  const isState = event.state_key !== undefined;
  const mustBeState = () => {
    if (!isState) throw badRequest(`'${event.type}' must be state events`);
  };

  switch (event.type) {
    case 'm.room.message':
      ensureStrings(content, ['body', 'msgtype']);
      break;
    case 'm.room.topic':
      ensureStrings(content, ['topic']);
      mustBeState();
      break;
    case 'm.room.name':
      ensureStrings(content, ['name']);
      mustBeState();
      break;
    case 'm.room.member':
      if (!('membership' in content)) throw badRequest('Content has not membership key');
      if (typeof content.membership !== 'string' || !MEMBERSHIPS.includes(content.membership)) throw badRequest('Invalid membership key');
      mustBeState();
      break;
    case 'm.room.tombstone':
      if (!('replacement_room' in content)) throw badRequest('Content has no replacement_room key');
      if (event.room_id !== undefined && content.replacement_room === event.room_id) {
        throw badRequest('Tombstone cannot reference the room it was sent in');
      }
      mustBeState();
      break;
  }

  if (v.strictCanonicalJson) checkStrictContent(content);

  switch (event.type) {
    case 'm.room.aliases':
      if (Array.isArray(content.aliases)) {
        for (const alias of content.aliases) {
          if (typeof alias === 'string' && [...alias].length > MAX_ALIAS_LENGTH) {
            throw invalidParam(`Can't create aliases longer than ${MAX_ALIAS_LENGTH} characters`);
          }
        }
      }
      break;
    case 'm.room.retention':
      checkRetention(content, isState);
      break;
    case 'm.room.power_levels':
      checkPowerLevelsContent(content);
      break;
  }

  if ('m.mentions' in content) checkMentions(content['m.mentions']);
  if (event.type === 'm.room.canonical_alias') checkCanonicalAliasContent(content);
  checkEventFieldSizes(event);
}

/**
 * Strict canonical JSON (room versions 6+), with Synapse's texts: 400 M_BAD_JSON "Bad JSON
 * value: float" for a float (or NaN/Infinity), "JSON integer out of range" for an integer outside
 * ±(2^53-1).
 */
export function checkStrictContent(value: unknown): void {
  try {
    checkCanonicalValue(value);
  } catch (e) {
    if (!(e instanceof CanonicalJsonError)) throw e;
    throw badJson(/^integer/.test(e.message) ? 'JSON integer out of range' : 'Bad JSON value: float');
  }
}

// ---------------------------------------------------------------------------------------------
// m.room.power_levels

const LEVEL_KEYS = ['ban', 'events', 'events_default', 'invite', 'kick', 'notifications', 'redact', 'state_default', 'users', 'users_default'];
const MAP_KEYS = new Set(['events', 'notifications', 'users']);

interface SchemaError {
  depth: number;
  path: string | null;
  message: string;
}

function intError(value: unknown): string | null {
  if (typeof value !== 'number' || !Number.isInteger(value)) return `${pyRepr(value)} is not of type 'integer'`;
  if (value < MIN_SAFE_CANONICAL_INT) return `${pyRepr(value)} is less than the minimum of ${MIN_SAFE_CANONICAL_INT}`;
  if (value > MAX_SAFE_CANONICAL_INT) return `${pyRepr(value)} is greater than the maximum of ${MAX_SAFE_CANONICAL_INT}`;
  return null;
}

/**
 * The power-levels schema Synapse applies to locally built events: `ban`, `events_default`,
 * `invite`, `kick`, `redact`, `state_default`, `users_default` integers, `events`,
 * `notifications` and `users` objects of integers, all within the canonical JSON range. Other
 * keys are not looked at. Of several problems the shallowest, then the first in that key order,
 * is reported (jsonschema's best match), as `"<key>": <message>`. Then the `users` keys must look
 * like user IDs (400 M_UNKNOWN "Not a valid user_id: …").
 */
export function checkPowerLevelsContent(content: Record<string, unknown>): void {
  const errors: SchemaError[] = [];
  for (const key of LEVEL_KEYS) {
    if (!(key in content)) continue;
    const value = content[key];
    if (MAP_KEYS.has(key)) {
      if (!isObject(value)) {
        errors.push({ depth: 1, path: key, message: `${pyRepr(value)} is not of type 'object'` });
        continue;
      }
      for (const [k, v] of Object.entries(value)) {
        const message = intError(v);
        if (message) errors.push({ depth: 2, path: k, message });
      }
    } else {
      const message = intError(value);
      if (message) errors.push({ depth: 1, path: key, message });
    }
  }
  if (errors.length > 0) {
    const best = errors.reduce((a, b) => (b.depth < a.depth ? b : a));
    throw badJson(best.path === null ? best.message : `"${best.path}": ${best.message}`);
  }
  const users = content.users;
  if (isObject(users)) {
    for (const userId of Object.keys(users)) {
      if (!looksLikeUserId(userId)) throw badRequest(`Not a valid user_id: ${userId}`);
    }
  }
}

/** Synapse's UserID.from_string: `@`, then a `:` somewhere after it. */
const looksLikeUserId = (s: string) => s.startsWith('@') && s.indexOf(':') > 0;

// ---------------------------------------------------------------------------------------------
// m.room.canonical_alias and room aliases

export interface RoomAlias {
  readonly localpart: string;
  readonly domain: string;
}

/**
 * Parses `#localpart:domain` as Synapse's RoomAlias.from_string does (the first colon separates
 * the domain), throwing 400 M_INVALID_PARAM with its texts.
 */
export function parseRoomAlias(s: unknown): RoomAlias {
  if (typeof s !== 'string' || !s.startsWith('#')) throw invalidParam("Expected RoomAlias string to start with '#'");
  const colon = s.indexOf(':');
  if (colon < 0) throw invalidParam("Expected RoomAlias of the form '#localname:domain'");
  return { localpart: s.slice(1, colon), domain: s.slice(colon + 1) };
}

export function isValidRoomAlias(s: unknown): s is string {
  try {
    parseRoomAlias(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * `alias` (when present and not empty) and every `alt_aliases` entry must be room aliases;
 * `alt_aliases` must be a list (400 M_INVALID_PARAM "The alt_aliases property must be a list.").
 * Whether each alias exists and points at this room is the caller's check (400 M_BAD_ALIAS).
 */
export function checkCanonicalAliasContent(content: Record<string, unknown>): void {
  const alias = content.alias;
  if (alias !== undefined && alias !== null && alias !== '') parseRoomAlias(alias);
  const alt = content.alt_aliases ?? [];
  if (!Array.isArray(alt)) throw invalidParam('The alt_aliases property must be a list.');
  for (const a of alt) parseRoomAlias(a);
}

// ---------------------------------------------------------------------------------------------
// Smaller per-type checks

function ensureStrings(content: Record<string, unknown>, keys: string[]): void {
  for (const k of keys) {
    if (!(k in content)) throw badRequest(`'${k}' not in content`);
    if (typeof content[k] !== 'string') throw badRequest(`'${k}' not a string type`);
  }
}

function checkMentions(mentions: unknown): void {
  if (!isObject(mentions)) throw badJson(`${pyRepr(mentions)} is not of type 'object'`);
  if ('user_ids' in mentions) {
    const ids = mentions.user_ids;
    if (!Array.isArray(ids)) throw badJson(`${pyRepr(ids)} is not of type 'array'`);
    for (const id of ids) if (typeof id !== 'string') throw badJson(`${pyRepr(id)} is not of type 'string'`);
  }
  if ('room' in mentions && typeof mentions.room !== 'boolean') throw badJson(`${pyRepr(mentions.room)} is not of type 'boolean'`);
}

function checkRetention(content: Record<string, unknown>, isState: boolean): void {
  if (!isState) throw badRequest('must be a state event');
  const min = content.min_lifetime;
  const max = content.max_lifetime;
  const isInt = (x: unknown) => typeof x === 'number' && Number.isInteger(x);
  if (min !== undefined && min !== null && !isInt(min)) throw badJson("'min_lifetime' must be an integer");
  if (max !== undefined && max !== null && !isInt(max)) throw badJson("'max_lifetime' must be an integer");
  if (isInt(min) && isInt(max) && (min as number) > (max as number)) throw badJson("'min_lifetime' can't be greater than 'max_lifetime");
}

// ---------------------------------------------------------------------------------------------
// Helpers

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A JSON value written as Python's repr() writes the parsed value, for the messages Synapse
 * takes from jsonschema ("'50' is not of type 'integer'", "True is not of type 'integer'").
 */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'nan';
    if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
    return String(value);
  }
  if (typeof value === 'string') return pyStr(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${pyStr(k)}: ${pyRepr(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

function pyStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${quote}${out}${quote}`;
}
