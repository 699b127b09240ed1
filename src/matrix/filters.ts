/**
 * Event filters (Client-Server API "Filtering"; the `Filter`, `RoomFilter`, `EventFilter` and
 * `RoomEventFilter` schemas). `parseFilter` validates a filter as uploaded to
 * `POST /user/{userId}/filter` or given inline to `/sync?filter={...}`; `eventMatchesFilter` decides
 * whether an event passes an (event or room event) filter. Pure: no storage, no HTTP.
 *
 * Validation follows the spec's types with Synapse's tolerance: keys the spec does not define are
 * kept (Synapse allows them "for forward compatibility"); user and room IDs in `senders`/`rooms`
 * lists must look like IDs. Messages name the offending path, jsonschema-style.
 */
import { MatrixError } from '../errors.js';
import { isObject, pyRepr } from './event-validation.js';

export interface EventFilter {
  limit?: number;
  types?: string[];
  not_types?: string[];
  senders?: string[];
  not_senders?: string[];
  [key: string]: unknown;
}

export interface RoomEventFilter extends EventFilter {
  rooms?: string[];
  not_rooms?: string[];
  contains_url?: boolean;
  lazy_load_members?: boolean;
  include_redundant_members?: boolean;
  unread_thread_notifications?: boolean;
}

export interface RoomFilter {
  rooms?: string[];
  not_rooms?: string[];
  include_leave?: boolean;
  ephemeral?: RoomEventFilter;
  state?: RoomEventFilter;
  timeline?: RoomEventFilter;
  account_data?: RoomEventFilter;
  [key: string]: unknown;
}

export interface Filter {
  event_fields?: string[];
  event_format?: 'client' | 'federation';
  presence?: EventFilter;
  account_data?: EventFilter;
  room?: RoomFilter;
  [key: string]: unknown;
}

/** The limit a filter section has when it gives none (Synapse's default). */
export const DEFAULT_FILTER_LIMIT = 10;
/** Largest `room.timeline.limit` kept (Synapse's `filter_timeline_limit` default). */
export const MAX_TIMELINE_LIMIT = 100;

const bad = (path: string, message: string) => new MatrixError(400, 'M_BAD_JSON', path ? `${path}: ${message}` : message);
const typeError = (path: string, value: unknown, type: string) => bad(path, `${pyRepr(value)} is not of type '${type}'`);

const USER_ID = /^@[^:]*:.+$/s;
const ROOM_ID = /^![^:]*:.+$/s;

function checkBool(obj: Record<string, unknown>, key: string, path: string): void {
  if (obj[key] !== undefined && typeof obj[key] !== 'boolean') throw typeError(`${path}${key}`, obj[key], 'boolean');
}

function checkStrings(obj: Record<string, unknown>, key: string, path: string, format?: { re: RegExp; name: string }): void {
  const v = obj[key];
  if (v === undefined) return;
  if (!Array.isArray(v)) throw typeError(`${path}${key}`, v, 'array');
  v.forEach((s, i) => {
    if (typeof s !== 'string') throw typeError(`${path}${key}.${i}`, s, 'string');
    if (format && !format.re.test(s)) throw bad(`${path}${key}.${i}`, `${pyRepr(s)} is not a '${format.name}'`);
  });
}

const userIds = { re: USER_ID, name: 'matrix_user_id' };
const roomIds = { re: ROOM_ID, name: 'matrix_room_id' };

function checkEventFilter(v: unknown, path: string, room: boolean): void {
  if (!isObject(v)) throw typeError(path.slice(0, -1), v, 'object');
  if (v.limit !== undefined) {
    // The spec: an integer; Synapse takes any number. A negative or fractional limit means nothing.
    if (typeof v.limit !== 'number' || !Number.isInteger(v.limit)) throw typeError(`${path}limit`, v.limit, 'integer');
    if (v.limit < 0) throw bad(`${path}limit`, `${v.limit} is less than the minimum of 0`);
  }
  checkStrings(v, 'types', path);
  checkStrings(v, 'not_types', path);
  checkStrings(v, 'senders', path, userIds);
  checkStrings(v, 'not_senders', path, userIds);
  if (!room) return;
  checkStrings(v, 'rooms', path, roomIds);
  checkStrings(v, 'not_rooms', path, roomIds);
  for (const k of ['contains_url', 'lazy_load_members', 'include_redundant_members', 'unread_thread_notifications', 'org.matrix.msc3773.unread_thread_notifications']) {
    checkBool(v, k, path);
  }
}

/**
 * Validates a filter definition and returns it (the same JSON: unknown keys are kept, as Synapse
 * keeps them). `room.timeline.limit` above MAX_TIMELINE_LIMIT is lowered to it, as Synapse does
 * before storing. Throws 400 M_BAD_JSON naming the offending path.
 */
export function parseFilter(json: unknown): Filter {
  if (!isObject(json)) throw typeError('', json, 'object');
  checkStrings(json, 'event_fields', '');
  if (json.event_format !== undefined && json.event_format !== 'client' && json.event_format !== 'federation') {
    throw bad('event_format', `${pyRepr(json.event_format)} is not one of ['client', 'federation']`);
  }
  if (json.presence !== undefined) checkEventFilter(json.presence, 'presence.', false);
  if (json.account_data !== undefined) checkEventFilter(json.account_data, 'account_data.', false);
  if (json.room !== undefined) {
    const room = json.room;
    if (!isObject(room)) throw typeError('room', room, 'object');
    checkStrings(room, 'rooms', 'room.', roomIds);
    checkStrings(room, 'not_rooms', 'room.', roomIds);
    checkBool(room, 'include_leave', 'room.');
    for (const k of ['ephemeral', 'state', 'timeline', 'account_data']) {
      if (room[k] !== undefined) checkEventFilter(room[k], `room.${k}.`, true);
    }
    const timeline = room.timeline as RoomEventFilter | undefined;
    if (timeline?.limit !== undefined && timeline.limit > MAX_TIMELINE_LIMIT) timeline.limit = MAX_TIMELINE_LIMIT;
  }
  return json as Filter;
}

const globCache = new Map<string, RegExp>();

/** A filter's `types` entry: `*` matches any sequence of characters (anywhere, as the spec says). */
function typeMatches(actual: string, pattern: string): boolean {
  if (!pattern.includes('*')) return actual === pattern;
  let re = globCache.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
    if (globCache.size > 1000) globCache.clear();
    globCache.set(pattern, re);
  }
  return re.test(actual);
}

/** Exact match, with a lone `*` standing for everything (so `not_senders: ["*"]` blocks all). */
const exactOrAll = (actual: string | undefined, v: string) => v === '*' || actual === v;

function passes(actual: string | undefined, allowed: readonly string[] | undefined, denied: readonly string[] | undefined, match: (a: string, v: string) => boolean): boolean {
  if (denied && actual !== undefined && denied.some((v) => match(actual, v))) return false;
  if (denied && actual === undefined && denied.includes('*')) return false;
  if (allowed) return actual !== undefined && allowed.some((v) => match(actual, v));
  return true;
}

/** What a filter looks at in an event, account data entry or presence update. */
export interface FilterableEvent {
  type?: unknown;
  sender?: unknown;
  room_id?: unknown;
  content?: unknown;
}

/**
 * Whether `event` passes `filter` (an EventFilter or RoomEventFilter): excluded by any
 * `not_types`/`not_senders`/`not_rooms` entry it matches, then kept only if it matches some
 * entry of each `types`/`senders`/`rooms` list that is present; `contains_url` compares with
 * whether `content.url` is a string. `limit` is the caller's business.
 */
export function eventMatchesFilter(event: FilterableEvent, filter: RoomEventFilter | EventFilter | undefined): boolean {
  if (!filter) return true;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const content = isObject(event.content) ? event.content : {};
  // Presence and old-style events carry their sender in content.user_id.
  const sender = str(event.sender) ?? str(content.user_id);
  if (!passes(str(event.type), filter.types, filter.not_types, typeMatches)) return false;
  if (!passes(sender, filter.senders, filter.not_senders, (a, v) => exactOrAll(a, v))) return false;
  const rf = filter as RoomEventFilter;
  if ((rf.rooms || rf.not_rooms) && !passes(str(event.room_id), rf.rooms, rf.not_rooms, (a, v) => exactOrAll(a, v))) return false;
  if (typeof rf.contains_url === 'boolean' && rf.contains_url !== (typeof content.url === 'string')) return false;
  return true;
}

/** Whether a room passes a filter's `rooms`/`not_rooms` (the RoomFilter's, applied before the rest). */
export function roomMatchesFilter(roomId: string, filter: { rooms?: string[]; not_rooms?: string[] } | undefined): boolean {
  if (!filter) return true;
  return passes(roomId, filter.rooms, filter.not_rooms, (a, v) => exactOrAll(a, v));
}

/** Whether a filter lets nothing through (an empty allow list, or `*` in a deny list). */
export function filtersEverything(filter: RoomEventFilter | EventFilter | undefined): boolean {
  if (!filter) return false;
  const rf = filter as RoomEventFilter;
  const none = (allow?: string[], deny?: string[]) => (allow !== undefined && allow.length === 0) || (deny?.includes('*') ?? false);
  return none(filter.types, filter.not_types) || none(filter.senders, filter.not_senders) || none(rf.rooms, rf.not_rooms);
}

/** A section's limit, or the default. */
export const filterLimit = (filter: EventFilter | undefined): number => filter?.limit ?? DEFAULT_FILTER_LIMIT;

/** Splits a dot-separated property path (`content.m\.relates_to`) into its keys. */
export function splitPropertyPath(path: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === '\\' && i + 1 < path.length && (path[i + 1] === '.' || path[i + 1] === '\\')) {
      cur += path[++i];
    } else if (c === '.') {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

/**
 * The event reduced to the filter's `event_fields` (dot-separated paths; an absent list keeps
 * everything). Fields that are missing from the event are simply not copied.
 */
export function pickEventFields(event: Record<string, unknown>, fields: readonly string[] | undefined): Record<string, unknown> {
  if (!fields) return event;
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const keys = splitPropertyPath(field);
    let src: unknown = event;
    let dst = out;
    for (let i = 0; i < keys.length; i++) {
      if (!isObject(src) || !(keys[i]! in src)) break;
      const v = src[keys[i]!];
      if (i === keys.length - 1) {
        dst[keys[i]!] = v;
      } else {
        if (!isObject(dst[keys[i]!])) dst[keys[i]!] = {};
        dst = dst[keys[i]!] as Record<string, unknown>;
        src = v;
      }
    }
  }
  return out;
}
