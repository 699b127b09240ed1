/**
 * The redaction algorithm of each room version (Matrix specification, content/rooms/fragments
 * v1-redactions, v6-redactions, v9-redactions, v11-redactions, and rooms/v8.md). Pure: returns a
 * new object and never changes its argument. Kept values are shared with the input, not copied:
 * treat events as immutable.
 */
import { resolveRoomVersion, type RedactionRules, type RoomVersion } from './room-versions.js';

type Json = Record<string, unknown>;

const TOP_LEVEL_V1 = [
  'event_id',
  'type',
  'room_id',
  'sender',
  'state_key',
  'content',
  'hashes',
  'signatures',
  'depth',
  'prev_events',
  'prev_state',
  'auth_events',
  'origin',
  'origin_server_ts',
  'membership',
];
// v11: the top-level `origin`, `membership` and `prev_state` are no longer protected.
const TOP_LEVEL_V11 = TOP_LEVEL_V1.filter((k) => k !== 'origin' && k !== 'membership' && k !== 'prev_state');

const POWER_LEVELS_V1 = ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'];

/** Content keys kept per event type; `'all'` keeps the whole content. */
type ContentRules = Readonly<Record<string, readonly string[] | 'all'>>;

const CONTENT_V1: ContentRules = {
  'm.room.member': ['membership'],
  'm.room.create': ['creator'],
  'm.room.join_rules': ['join_rule'],
  'm.room.power_levels': POWER_LEVELS_V1,
  'm.room.aliases': ['aliases'],
  'm.room.history_visibility': ['history_visibility'],
};
// v6: m.room.aliases loses its protection.
const { 'm.room.aliases': _aliases, ...CONTENT_V6 } = CONTENT_V1;
// v8: m.room.join_rules keeps `allow`.
const CONTENT_V8: ContentRules = { ...CONTENT_V6, 'm.room.join_rules': ['join_rule', 'allow'] };
// v9: m.room.member keeps `join_authorised_via_users_server`.
const CONTENT_V9: ContentRules = { ...CONTENT_V8, 'm.room.member': ['membership', 'join_authorised_via_users_server'] };
// v11: create keeps everything, power levels keep `invite`, m.room.redaction keeps `redacts`
// (m.room.member additionally keeps third_party_invite.signed, handled below).
const CONTENT_V11: ContentRules = {
  ...CONTENT_V9,
  'm.room.create': 'all',
  'm.room.power_levels': [...POWER_LEVELS_V1, 'invite'],
  'm.room.redaction': ['redacts'],
};

const RULES: Record<RedactionRules, { topLevel: readonly string[]; content: ContentRules }> = {
  v1: { topLevel: TOP_LEVEL_V1, content: CONTENT_V1 },
  v6: { topLevel: TOP_LEVEL_V1, content: CONTENT_V6 },
  v8: { topLevel: TOP_LEVEL_V1, content: CONTENT_V8 },
  v9: { topLevel: TOP_LEVEL_V1, content: CONTENT_V9 },
  v11: { topLevel: TOP_LEVEL_V11, content: CONTENT_V11 },
};

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function redactContent(type: unknown, content: unknown, rules: RedactionRules): Json {
  if (!isObject(content) || typeof type !== 'string') return {};
  const table = RULES[rules].content;
  const keep = Object.prototype.hasOwnProperty.call(table, type) ? table[type] : undefined;
  if (keep === undefined) return {};
  if (keep === 'all') return { ...content };
  const out: Json = {};
  for (const k of keep) if (Object.prototype.hasOwnProperty.call(content, k)) out[k] = content[k];
  if (rules === 'v11' && type === 'm.room.member') {
    const tpi = content['third_party_invite'];
    if (isObject(tpi) && Object.prototype.hasOwnProperty.call(tpi, 'signed')) out['third_party_invite'] = { signed: tpi['signed'] };
  }
  return out;
}

/** The event as the redaction algorithm of `version` leaves it. */
export function redact<T extends object>(event: T, version: RoomVersion | string): Json {
  const rules = resolveRoomVersion(version).redactionRules;
  const src = event as Json;
  const out: Json = {};
  for (const k of RULES[rules].topLevel) {
    if (!Object.prototype.hasOwnProperty.call(src, k)) continue;
    out[k] = k === 'content' ? redactContent(src['type'], src['content'], rules) : src[k];
  }
  return out;
}
