// Checks on client-built events before signing (spec "Size limits", canonical JSON, event
// schemas), with the statuses, codes and texts Synapse answers.
import { describe, expect, it } from 'vitest';
import { MatrixError } from '../../src/errors.js';
import {
  MAX_PDU_SIZE,
  checkCanonicalAliasContent,
  checkClientEvent,
  checkEventFieldSizes,
  checkEventSize,
  checkPowerLevelsContent,
  isValidRoomAlias,
  parseRoomAlias,
  pyRepr,
  type ClientEventDraft,
} from '../../src/matrix/event-validation.js';
import { canonicalJsonBytes } from '../../src/matrix/canonical-json.js';

function errorOf(fn: () => void): { status: number; errcode: string; error: string } | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (!(e instanceof MatrixError)) throw e;
    return { status: e.status, errcode: e.errcode, error: e.message };
  }
}

const ROOM = '!r:a.test';
const check = (event: Partial<ClientEventDraft>, version = '10') =>
  errorOf(() => checkClientEvent({ type: 'org.example', content: {}, room_id: ROOM, sender: '@a:a.test', ...event }, version));

describe('field sizes', () => {
  it('type and state_key up to 255 bytes pass, 256 fail with 413 M_TOO_LARGE', () => {
    expect(check({ type: 'x'.repeat(255), state_key: 'y'.repeat(255) })).toBeNull();
    expect(check({ type: 'x'.repeat(256) })).toEqual({ status: 413, errcode: 'M_TOO_LARGE', error: "'type' too large" });
    expect(check({ state_key: 'y'.repeat(256) })).toEqual({ status: 413, errcode: 'M_TOO_LARGE', error: "'state_key' too large" });
  });

  it('counts UTF-8 bytes, not characters', () => {
    // 128 two-byte characters: 128 characters, 256 bytes
    expect(check({ state_key: 'é'.repeat(128) })?.error).toBe("'state_key' too large");
    expect(check({ state_key: 'é'.repeat(127) + 'x' })).toBeNull();
  });

  it('checks sender, room_id and event_id, sender first', () => {
    const long = '@' + 'u'.repeat(250) + ':a.test';
    expect(errorOf(() => checkEventFieldSizes({ sender: long, room_id: '!' + 'r'.repeat(300) }))?.error).toBe("'user_id' too large");
    expect(errorOf(() => checkEventFieldSizes({ room_id: '!' + 'r'.repeat(300) }))?.error).toBe("'room_id' too large");
    expect(errorOf(() => checkEventFieldSizes({ event_id: '$' + 'e'.repeat(300) }))?.error).toBe("'event_id' too large");
  });
});

describe('checkEventSize', () => {
  const pduOf = (n: number) => {
    const base = { type: 'm.room.message', content: { body: '' } };
    const overhead = canonicalJsonBytes(base).length;
    return { type: 'm.room.message', content: { body: 'a'.repeat(n - overhead) } };
  };
  it('accepts exactly 65,536 bytes of canonical JSON and refuses one more', () => {
    expect(canonicalJsonBytes(pduOf(MAX_PDU_SIZE)).length).toBe(65536);
    expect(errorOf(() => checkEventSize(pduOf(MAX_PDU_SIZE)))).toBeNull();
    expect(errorOf(() => checkEventSize(pduOf(MAX_PDU_SIZE + 1)))).toEqual({ status: 413, errcode: 'M_TOO_LARGE', error: 'event too large' });
  });
  it('measures canonical JSON (UTF-8 bytes, no whitespace), not JS string length', () => {
    const base = canonicalJsonBytes({ c: '' }).length;
    const text = 'é'.repeat((MAX_PDU_SIZE - base) / 2 + 1);
    expect(text.length).toBeLessThan(MAX_PDU_SIZE);
    expect(errorOf(() => checkEventSize({ c: text }))?.errcode).toBe('M_TOO_LARGE');
  });
});

describe('canonical JSON content', () => {
  it('v6+ refuses floats and out-of-range integers with 400 M_BAD_JSON', () => {
    expect(check({ content: { n: 1.5 } }, '6')).toEqual({ status: 400, errcode: 'M_BAD_JSON', error: 'Bad JSON value: float' });
    expect(check({ content: { deep: [{ n: 2 ** 53 }] } }, '10')).toEqual({ status: 400, errcode: 'M_BAD_JSON', error: 'JSON integer out of range' });
    expect(check({ content: { n: -(2 ** 53) } }, '11')?.error).toBe('JSON integer out of range');
    expect(check({ content: { n: 2 ** 53 - 1, m: -(2 ** 53) + 1 } }, '10')).toBeNull();
  });
  it('v1–v5 accept them, as Synapse does', () => {
    expect(check({ content: { n: 1.5 } }, '5')).toBeNull();
    expect(check({ content: { n: 2 ** 60 } }, '1')).toBeNull();
  });
  it('content must be an object', () => {
    expect(check({ content: [] })?.errcode).toBe('M_BAD_JSON');
    expect(check({ content: 'x' })?.errcode).toBe('M_BAD_JSON');
  });
});

describe('m.room.power_levels', () => {
  const pl = (content: Record<string, unknown>, version = '10') => check({ type: 'm.room.power_levels', state_key: '', content }, version);

  it('accepts integer levels', () => {
    expect(pl({ ban: 50, users: { '@a:a.test': 100 }, events: { 'm.room.name': 50 }, notifications: { room: 50 }, users_default: -5 })).toBeNull();
  });
  it("refuses string levels with jsonschema's message, in every room version for local events", () => {
    const err = { status: 400, errcode: 'M_BAD_JSON', error: `"ban": '50' is not of type 'integer'` };
    expect(pl({ ban: '50' }, '10')).toEqual(err);
    expect(pl({ ban: '50' }, '1')).toEqual(err);
  });
  it('refuses floats, booleans and null as levels', () => {
    expect(pl({ kick: 1.5 }, '5')?.error).toBe(`"kick": 1.5 is not of type 'integer'`);
    expect(pl({ kick: true })?.error).toBe(`"kick": True is not of type 'integer'`);
    expect(pl({ kick: null })?.error).toBe(`"kick": None is not of type 'integer'`);
  });
  it('checks values inside users, events and notifications, naming the inner key', () => {
    expect(pl({ users: { '@a:a.test': '100' } })?.error).toBe(`"@a:a.test": '100' is not of type 'integer'`);
    expect(pl({ events: { 'm.room.name': [] } })?.error).toBe(`"m.room.name": [] is not of type 'integer'`);
    expect(pl({ notifications: { room: 'x' } })?.error).toBe(`"room": 'x' is not of type 'integer'`);
    expect(pl({ users: [] })?.error).toBe(`"users": [] is not of type 'object'`);
  });
  it('refuses levels outside the canonical integer range (v1 too)', () => {
    expect(pl({ invite: 2 ** 53 }, '1')?.error).toBe(`"invite": 9007199254740992 is greater than the maximum of 9007199254740991`);
    expect(pl({ invite: -(2 ** 53) }, '1')?.error).toBe(`"invite": -9007199254740992 is less than the minimum of -9007199254740991`);
  });
  it('reports the shallowest problem first (jsonschema best match)', () => {
    expect(pl({ users: { '@a:a.test': 'x' }, users_default: 'y' })?.error).toBe(`"users_default": 'y' is not of type 'integer'`);
    expect(pl({ kick: 'k', ban: 'b' })?.error).toBe(`"ban": 'b' is not of type 'integer'`);
  });
  it('ignores keys it does not know', () => {
    expect(pl({ historical: 100, 'm.call.invite': 'x' })).toBeNull();
  });
  it('users keys must look like user IDs: 400 M_UNKNOWN', () => {
    expect(errorOf(() => checkPowerLevelsContent({ users: { alice: 100 } }))).toEqual({
      status: 400,
      errcode: 'M_UNKNOWN',
      error: 'Not a valid user_id: alice',
    });
    expect(errorOf(() => checkPowerLevelsContent({ users: { '@alice': 100 } }))?.error).toBe('Not a valid user_id: @alice');
  });
});

describe('m.room.member', () => {
  const member = (content: Record<string, unknown>, stateKey: string | null = '@b:a.test') =>
    check({ type: 'm.room.member', ...(stateKey === null ? {} : { state_key: stateKey }), content });
  it('accepts the five memberships', () => {
    for (const m of ['join', 'invite', 'leave', 'ban', 'knock']) expect(member({ membership: m })).toBeNull();
  });
  it('refuses a missing or unknown membership', () => {
    expect(member({})).toEqual({ status: 400, errcode: 'M_UNKNOWN', error: 'Content has not membership key' });
    expect(member({ membership: 'kick' })).toEqual({ status: 400, errcode: 'M_UNKNOWN', error: 'Invalid membership key' });
    expect(member({ membership: 5 })?.error).toBe('Invalid membership key');
  });
  it('must be a state event', () => {
    expect(member({ membership: 'join' }, null)?.error).toBe("'m.room.member' must be state events");
  });
});

describe('required string fields', () => {
  it('m.room.message needs body and msgtype', () => {
    expect(check({ type: 'm.room.message', content: { msgtype: 'm.text' } })?.error).toBe("'body' not in content");
    expect(check({ type: 'm.room.message', content: { body: 1, msgtype: 'm.text' } })?.error).toBe("'body' not a string type");
    expect(check({ type: 'm.room.message', content: { body: 'x' } })?.error).toBe("'msgtype' not in content");
    expect(check({ type: 'm.room.message', content: { body: 'x', msgtype: 'm.text' } })).toBeNull();
  });
  it('m.room.name and m.room.topic need strings and a state key', () => {
    expect(check({ type: 'm.room.name', state_key: '', content: { name: null } })?.error).toBe("'name' not a string type");
    expect(check({ type: 'm.room.topic', state_key: '', content: {} })?.error).toBe("'topic' not in content");
    expect(check({ type: 'm.room.name', content: { name: 'x' } })?.error).toBe("'m.room.name' must be state events");
    expect(check({ type: 'm.room.name', state_key: '', content: { name: '' } })).toBeNull();
  });
  it('m.room.tombstone needs a replacement room other than itself', () => {
    expect(check({ type: 'm.room.tombstone', state_key: '', content: {} })?.error).toBe('Content has no replacement_room key');
    expect(check({ type: 'm.room.tombstone', state_key: '', content: { replacement_room: ROOM } })?.error).toBe(
      'Tombstone cannot reference the room it was sent in',
    );
    expect(check({ type: 'm.room.tombstone', state_key: '', content: { replacement_room: '!new:a.test' } })).toBeNull();
  });
});

describe('m.room.canonical_alias and aliases', () => {
  const ca = (content: Record<string, unknown>) => check({ type: 'm.room.canonical_alias', state_key: '', content });
  it('accepts aliases, an empty content and an empty alias', () => {
    expect(ca({ alias: '#a:a.test', alt_aliases: ['#b:b.test', '##irc:c.test'] })).toBeNull();
    expect(ca({})).toBeNull();
    expect(ca({ alias: '' })).toBeNull();
  });
  it('refuses a malformed alias with 400 M_INVALID_PARAM', () => {
    expect(ca({ alias: 'a:a.test' })).toEqual({ status: 400, errcode: 'M_INVALID_PARAM', error: "Expected RoomAlias string to start with '#'" });
    expect(ca({ alias: '#nocolon' })).toEqual({ status: 400, errcode: 'M_INVALID_PARAM', error: "Expected RoomAlias of the form '#localname:domain'" });
    expect(ca({ alias: 5 })?.errcode).toBe('M_INVALID_PARAM');
    expect(ca({ alt_aliases: ['#ok:a.test', '!room:a.test'] })?.errcode).toBe('M_INVALID_PARAM');
  });
  it('alt_aliases must be a list', () => {
    expect(errorOf(() => checkCanonicalAliasContent({ alt_aliases: '#a:a.test' }))).toEqual({
      status: 400,
      errcode: 'M_INVALID_PARAM',
      error: 'The alt_aliases property must be a list.',
    });
  });
  it('parses the localpart up to the first colon', () => {
    expect(parseRoomAlias('#a:b.test:8448')).toEqual({ localpart: 'a', domain: 'b.test:8448' });
    expect(isValidRoomAlias('#x:y')).toBe(true);
    expect(isValidRoomAlias('x')).toBe(false);
  });
});

describe('mentions and retention', () => {
  it('m.mentions must be an object of user_ids (strings) and room (boolean)', () => {
    expect(check({ content: { 'm.mentions': { user_ids: ['@a:a.test'], room: true } } })).toBeNull();
    expect(check({ content: { 'm.mentions': [] } })).toEqual({ status: 400, errcode: 'M_BAD_JSON', error: "[] is not of type 'object'" });
    expect(check({ content: { 'm.mentions': { user_ids: '@a' } } })?.error).toBe("'@a' is not of type 'array'");
    expect(check({ content: { 'm.mentions': { user_ids: [1] } } })?.error).toBe("1 is not of type 'string'");
    expect(check({ content: { 'm.mentions': { room: 'yes' } } })?.error).toBe("'yes' is not of type 'boolean'");
  });
  it('m.room.retention lifetimes are integers, min not above max', () => {
    const ret = (content: Record<string, unknown>) => check({ type: 'm.room.retention', state_key: '', content });
    expect(ret({ min_lifetime: 1, max_lifetime: 2 })).toBeNull();
    expect(ret({ min_lifetime: '1' })?.error).toBe("'min_lifetime' must be an integer");
    expect(ret({ min_lifetime: 3, max_lifetime: 2 })?.errcode).toBe('M_BAD_JSON');
  });
});

describe('pyRepr', () => {
  it("writes values as Python's repr does", () => {
    expect(pyRepr('a')).toBe("'a'");
    expect(pyRepr("it's")).toBe('"it\'s"');
    expect(pyRepr({ a: [1, null, false] })).toBe("{'a': [1, None, False]}");
  });
});
