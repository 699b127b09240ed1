// The event model against the Matrix specification: the appendix's canonical JSON examples and
// cryptographic test vectors (content/appendices.md), event IDs per room version, and each
// version's redaction algorithm (content/rooms/*.md and rooms/fragments/*-redactions.md).
import { describe, expect, it } from 'vitest';
import {
  CanonicalJsonError,
  canonicalJson,
  checkCanonicalValue,
  compareCodePoints,
  isCanonicalValue,
} from '../../src/matrix/canonical-json.js';
import {
  checkContentHash,
  contentHash,
  eventIdFor,
  hashAndSignEvent,
  signEventWithId,
  newServerEventId,
  referenceHash,
  verifyEventSignature,
} from '../../src/matrix/event-hashing.js';
import { redact } from '../../src/matrix/redaction.js';
import { DEFAULT_ROOM_VERSION, ROOM_VERSIONS, roomVersion } from '../../src/matrix/room-versions.js';
import { signJson, verifyJson } from '../../src/matrix/signed-json.js';
import { parseSigningKey } from '../../src/matrix/signing-key.js';

// Appendix "Cryptographic Test Vectors": the seed, server name and key ID.
const SEED = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1';
const SERVER = 'domain';
const key = parseSigningKey(`ed25519 1 ${SEED}`);

describe('canonical JSON (appendix examples)', () => {
  const examples: Array<[string, string]> = [
    ['{}', '{}'],
    ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
    ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
    ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
    [
      `{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
}`,
      '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
    ],
    ['{\n    "a": "日本語"\n}', '{"a":"日本語"}'],
    ['{\n    "本": 2,\n    "日": 1\n}', '{"日":1,"本":2}'],
    ['{\n    "a": "\\u65E5"\n}', '{"a":"日"}'],
    ['{\n    "a": null\n}', '{"a":null}'],
    ['{\n    "a": -0,\n    "b": 1e10\n}', '{"a":0,"b":10000000000}'],
  ];
  for (const [input, expected] of examples) {
    it(`${input.replace(/\s+/g, ' ')} → ${expected}`, () => {
      const value: unknown = JSON.parse(input);
      expect(canonicalJson(value)).toBe(expected);
      expect(canonicalJson(value, { strict: true })).toBe(expected);
    });
  }

  it('sorts keys by code point, not by UTF-16 unit', () => {
    // U+FF21 (one UTF-16 unit, 0xFF21) sorts before U+1F600 (surrogates 0xD83D 0xDE00).
    expect(canonicalJson({ '\u{1F600}': 1, '\uFF21': 2, a: 3 })).toBe('{"a":3,"\uFF21":2,"\u{1F600}":1}');
    expect(compareCodePoints('\uE000', '\u{10000}')).toBeLessThan(0);
    expect(compareCodePoints('\u{10000}', '\u{10001}')).toBeLessThan(0);
    expect(compareCodePoints('ab', 'a')).toBeGreaterThan(0);
    expect(compareCodePoints('B', 'a')).toBeLessThan(0);
  });

  it('escapes only what the grammar escapes', () => {
    expect(canonicalJson({ s: '"\\\b\f\n\r\t\u0001\u000b\u001f/é\u2028' })).toBe('{"s":"\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u000b\\u001f/é\u2028"}');
  });

  it('writes integers without exponents and skips undefined members', () => {
    expect(canonicalJson({ a: 2 ** 53 - 1, b: -(2 ** 53) + 1, c: undefined, d: [undefined] })).toBe(
      '{"a":9007199254740991,"b":-9007199254740991,"d":[null]}',
    );
    expect(canonicalJson({ big: 1e21 })).toBe('{"big":1000000000000000000000}');
  });

  it('strict mode (v6+) refuses floats and integers outside [-(2^53)+1, 2^53-1]', () => {
    expect(() => canonicalJson({ a: 1.5 }, { strict: true })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ a: [{ b: 2 ** 53 }] }, { strict: true })).toThrow(/a\[0\]\.b/);
    expect(() => canonicalJson({ a: -(2 ** 53) }, { strict: true })).toThrow(CanonicalJsonError);
    expect(() => checkCanonicalValue({ a: 0.1 })).toThrow(CanonicalJsonError);
    expect(isCanonicalValue({ a: 2 ** 53 - 1 })).toBe(true);
    expect(isCanonicalValue({ a: 2 ** 53 })).toBe(false);
    // Lax mode (v1–v5) still encodes them.
    expect(canonicalJson({ a: 1.5, b: 2 ** 53 })).toBe('{"a":1.5,"b":9007199254740992}');
  });

  it('refuses values JSON cannot carry in either mode', () => {
    expect(() => canonicalJson({ a: NaN })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ a: Infinity })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(undefined)).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(CanonicalJsonError);
  });
});

describe('signing JSON (appendix test vectors)', () => {
  it('signs the empty object', () => {
    expect(signJson({}, SERVER, key)).toEqual({
      signatures: {
        domain: { 'ed25519:1': 'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ' },
      },
    });
  });

  it('signs an object with data values', () => {
    expect(signJson({ one: 1, two: 'Two' }, SERVER, key)).toEqual({
      one: 1,
      signatures: {
        domain: { 'ed25519:1': 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw' },
      },
      two: 'Two',
    });
  });

  it('ignores signatures and unsigned, and keeps other signatures', () => {
    const signed = signJson(
      { one: 1, two: 'Two', unsigned: { age_ts: 5 }, signatures: { other: { 'ed25519:x': 'abc' } } },
      SERVER,
      key,
    );
    expect(signed.signatures).toEqual({
      other: { 'ed25519:x': 'abc' },
      domain: { 'ed25519:1': 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw' },
    });
    expect(signed.unsigned).toEqual({ age_ts: 5 });
  });

  it('round trip: sign then verify; a tampered object, wrong key or wrong name fails', () => {
    const obj = { server_name: 'domain', valid_until_ts: 1_000_000, nested: { list: [1, 'x', null] } };
    const signed = signJson(obj, SERVER, key);
    expect(verifyJson(signed, SERVER, 'ed25519:1', key.publicKeyBase64)).toBe(true);
    expect(verifyJson({ ...signed, unsigned: { added: true } }, SERVER, 'ed25519:1', key.publicKeyBase64)).toBe(true);
    expect(verifyJson({ ...signed, valid_until_ts: 1_000_001 }, SERVER, 'ed25519:1', key.publicKeyBase64)).toBe(false);
    expect(verifyJson(signed, 'other', 'ed25519:1', key.publicKeyBase64)).toBe(false);
    expect(verifyJson(signed, SERVER, 'ed25519:2', key.publicKeyBase64)).toBe(false);
    const other = parseSigningKey(`ed25519 1 ${Buffer.alloc(32, 7).toString('base64')}`);
    expect(verifyJson(signed, SERVER, 'ed25519:1', other.publicKeyBase64)).toBe(false);
    expect(verifyJson(signed, SERVER, 'ed25519:1', 'not base64!')).toBe(false);
    const badSig = { ...signed, signatures: { domain: { 'ed25519:1': 'AAAA' } } };
    expect(verifyJson(badSig, SERVER, 'ed25519:1', key.publicKeyBase64)).toBe(false);
    expect(verifyJson({ one: 1 }, SERVER, 'ed25519:1', key.publicKeyBase64)).toBe(false);
  });
});

describe('signing events (appendix test vectors)', () => {
  it('hashes and signs the minimal event', () => {
    const event = {
      room_id: '!x:domain',
      sender: '@a:domain',
      origin: 'domain',
      origin_server_ts: 1000000,
      signatures: {},
      hashes: {},
      type: 'X',
      content: {},
      prev_events: [],
      auth_events: [],
      depth: 3,
      unsigned: { age_ts: 1000000 },
    };
    expect(contentHash(event)).toBe('5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos');
    const signed = hashAndSignEvent(event, '1', SERVER, key);
    expect(signed).toEqual({
      auth_events: [],
      content: {},
      depth: 3,
      hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' },
      origin: 'domain',
      origin_server_ts: 1000000,
      prev_events: [],
      room_id: '!x:domain',
      sender: '@a:domain',
      signatures: {
        domain: { 'ed25519:1': 'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg' },
      },
      type: 'X',
      unsigned: { age_ts: 1000000 },
    });
    expect(verifyEventSignature(signed, '1', SERVER, 'ed25519:1', key.publicKeyBase64)).toBe(true);
    expect(checkContentHash(signed)).toBe(true);
  });

  it('hashes and signs the event with redactable content', () => {
    const event = {
      content: { body: 'Here is the message content' },
      event_id: '$0:domain',
      origin: 'domain',
      origin_server_ts: 1000000,
      type: 'm.room.message',
      room_id: '!r:domain',
      sender: '@u:domain',
      signatures: {},
      unsigned: { age_ts: 1000000 },
    };
    expect(contentHash(event)).toBe('onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g');
    const signed = hashAndSignEvent(event, '1', SERVER, key);
    expect(signed).toEqual({
      content: { body: 'Here is the message content' },
      event_id: '$0:domain',
      hashes: { sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' },
      origin: 'domain',
      origin_server_ts: 1000000,
      type: 'm.room.message',
      room_id: '!r:domain',
      sender: '@u:domain',
      signatures: {
        domain: { 'ed25519:1': 'Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA' },
      },
      unsigned: { age_ts: 1000000 },
    });
    // The signature covers the redacted event, so it survives redaction...
    const redacted = redact(signed, '1');
    expect(redacted['content']).toEqual({});
    expect(verifyEventSignature(redacted, '1', SERVER, 'ed25519:1', key.publicKeyBase64)).toBe(true);
    // ...while the content hash tells the redacted copy apart, and catches tampering.
    expect(checkContentHash(signed)).toBe(true);
    expect(checkContentHash(redacted)).toBe(false);
    expect(checkContentHash({ ...signed, content: { body: 'changed' } })).toBe(false);
    // Changing a protected key breaks the signature.
    expect(verifyEventSignature({ ...signed, sender: '@v:domain' }, '1', SERVER, 'ed25519:1', key.publicKeyBase64)).toBe(false);
  });
});

describe('signEventWithId: one pass for signature and event ID', () => {
  it('gives exactly what hashAndSignEvent and eventIdFor give, in every room version', () => {
    for (const id of Object.keys(ROOM_VERSIONS)) {
      const event = {
        type: 'm.room.message',
        room_id: '!r:domain',
        sender: '@u:domain',
        content: { body: 'hello', msgtype: 'm.text', nested: { 'ü': [1, 2, { z: null }] } },
        origin_server_ts: 1000000,
        depth: 7,
        prev_events: ['$p'],
        auth_events: ['$a', '$b'],
        ...(roomVersion(id)!.eventIdFormat === 'server-random' ? { event_id: '$xyz:domain' } : {}),
      };
      const { signed, eventId } = signEventWithId(event, id, SERVER, key);
      expect(signed).toEqual(hashAndSignEvent(event, id, SERVER, key));
      if (roomVersion(id)!.eventIdFormat === 'server-random') expect(eventId).toBeNull();
      else expect(eventId).toBe(eventIdFor(signed, id));
      expect(verifyEventSignature(signed, id, SERVER, 'ed25519:1', key.publicKeyBase64)).toBe(true);
    }
  });
});

describe('room versions', () => {
  it('knows 1 to 11 and nothing else; new rooms default to 10', () => {
    expect(Object.keys(ROOM_VERSIONS).sort((a, b) => Number(a) - Number(b))).toEqual(
      ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'],
    );
    expect(DEFAULT_ROOM_VERSION).toBe('10');
    expect(roomVersion('12')).toBeUndefined();
    expect(roomVersion('0')).toBeUndefined();
    expect(roomVersion('toString')).toBeUndefined();
    expect(roomVersion('10')?.stability).toBe('stable');
  });

  it('has the properties each version introduced', () => {
    const ids = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'];
    const pick = <K extends keyof NonNullable<ReturnType<typeof roomVersion>>>(k: K) => ids.map((id) => roomVersion(id)![k]);
    expect(pick('eventIdFormat')).toEqual([
      'server-random', 'server-random', 'base64',
      ...Array(8).fill('url-safe-base64'),
    ]);
    expect(pick('stateResolution')).toEqual(['v1', ...Array(10).fill('v2')]);
    expect(pick('redactionRules')).toEqual(['v1', 'v1', 'v1', 'v1', 'v1', 'v6', 'v6', 'v8', 'v9', 'v9', 'v11']);
    expect(pick('strictCanonicalJson')).toEqual(ids.map((id) => Number(id) >= 6));
    expect(pick('knocking')).toEqual(ids.map((id) => Number(id) >= 7));
    expect(pick('restrictedJoins')).toEqual(ids.map((id) => Number(id) >= 8));
    expect(pick('knockRestricted')).toEqual(ids.map((id) => Number(id) >= 10));
    expect(pick('integerPowerLevels')).toEqual(ids.map((id) => Number(id) >= 10));
  });
});

describe('event IDs per room version', () => {
  // An event whose reference hash contains both '+' and '/' in standard base64 is found by
  // varying origin_server_ts; then v3 and v4+ must encode it differently.
  const base = {
    type: 'm.room.message',
    room_id: '!r:domain',
    sender: '@u:domain',
    content: { body: 'hello' },
    auth_events: [],
    prev_events: [],
    depth: 1,
    hashes: { sha256: 'x' },
  };
  let event: Record<string, unknown> = base;
  for (let ts = 0; ts < 10_000; ts++) {
    const candidate = { ...base, origin_server_ts: ts };
    const b64 = referenceHash(candidate, '3').toString('base64');
    if (b64.includes('+') && b64.includes('/')) {
      event = candidate;
      break;
    }
  }

  it('v3: $ + unpadded standard base64 of the reference hash', () => {
    const id = eventIdFor(event, '3');
    expect(id).toMatch(/^\$[A-Za-z0-9+/]{43}$/);
    expect(id).toMatch(/[+/]/);
    expect(id).toBe(`$${referenceHash(event, '3').toString('base64').replace(/=+$/, '')}`);
  });

  it('v4+: $ + unpadded URL-safe base64', () => {
    for (const v of ['4', '5', '6', '7', '8', '9', '10', '11']) {
      const id = eventIdFor(event, v);
      expect(id, v).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
      expect(id).toBe(`$${referenceHash(event, v).toString('base64url')}`);
    }
    // Same redaction rules, same ID: v3 and v4 differ only in the alphabet.
    expect(eventIdFor(event, '4')).toBe(eventIdFor(event, '3').replace(/\+/g, '-').replace(/\//g, '_'));
  });

  it('the ID covers the redacted event: unsigned, signatures and redactable content do not change it', () => {
    const id = eventIdFor(event, '10');
    expect(eventIdFor({ ...event, unsigned: { age: 5 }, signatures: { x: { 'ed25519:1': 'y' } } }, '10')).toBe(id);
    expect(eventIdFor({ ...event, content: { body: 'other' } }, '10')).toBe(id);
    expect(eventIdFor({ ...event, depth: 2 }, '10')).not.toBe(id);
    expect(eventIdFor({ ...event, hashes: { sha256: 'z' } }, '10')).not.toBe(id);
  });

  it('v11 drops origin from the hashed event; v10 keeps it', () => {
    const withOrigin = { ...event, origin: 'elsewhere' };
    expect(eventIdFor(withOrigin, '11')).toBe(eventIdFor(event, '11'));
    expect(eventIdFor(withOrigin, '10')).not.toBe(eventIdFor(event, '10'));
  });

  it('strict versions refuse floats; lax versions hash them', () => {
    const floaty = { ...event, depth: 1.5 };
    expect(() => eventIdFor(floaty, '6')).toThrow(CanonicalJsonError);
    expect(eventIdFor(floaty, '5')).toMatch(/^\$/);
  });

  it('v1–v2: $<random>:<server name>, never derived from the event', () => {
    expect(() => eventIdFor(event, '1')).toThrow();
    expect(() => eventIdFor(event, '2')).toThrow();
    const a = newServerEventId('example.org');
    expect(a).toMatch(/^\$[A-Za-z]{18}:example\.org$/);
    expect(newServerEventId('example.org')).not.toBe(a);
  });
});

describe('redaction algorithm per room version', () => {
  const common = {
    event_id: '$e',
    room_id: '!r:d',
    sender: '@u:d',
    origin: 'd',
    origin_server_ts: 5,
    depth: 4,
    prev_events: ['$p'],
    prev_state: [],
    auth_events: ['$a'],
    hashes: { sha256: 'h' },
    signatures: { d: { 'ed25519:1': 's' } },
    membership: 'join',
    unsigned: { age: 1 },
    redacts: '$target',
    extra_top: 'gone',
  };
  const ev = (type: string, content: Record<string, unknown>, stateKey?: string) => ({
    ...common,
    type,
    content,
    ...(stateKey === undefined ? {} : { state_key: stateKey }),
  });
  const all = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'];
  const upTo10 = all.slice(0, 10);

  it('top-level keys: v1–v10 keep origin, membership, prev_state; v11 drops them; all drop unsigned and unknown keys', () => {
    const e = ev('m.room.message', { body: 'hi' });
    const kept = ['event_id', 'type', 'room_id', 'sender', 'content', 'hashes', 'signatures', 'depth', 'prev_events', 'auth_events', 'origin_server_ts'];
    for (const v of upTo10) {
      expect(Object.keys(redact(e, v)).sort(), v).toEqual([...kept, 'origin', 'membership', 'prev_state'].sort());
    }
    expect(Object.keys(redact(e, '11')).sort()).toEqual([...kept].sort());
    expect(redact(ev('m.room.topic', { topic: 't' }, ''), '11')['state_key']).toBe('');
    for (const v of all) expect(redact(e, v)['content'], v).toEqual({});
  });

  it('does not change its argument', () => {
    const e = ev('m.room.member', { membership: 'join', displayname: 'U' }, '@u:d');
    const copy = JSON.parse(JSON.stringify(e)) as unknown;
    redact(e, '11');
    redact(e, '1');
    expect(e).toEqual(copy);
  });

  it('m.room.member: membership; v9+ also join_authorised_via_users_server; v11 also third_party_invite.signed', () => {
    const content = {
      membership: 'join',
      displayname: 'U',
      avatar_url: 'mxc://x/y',
      join_authorised_via_users_server: '@admin:d',
      third_party_invite: { display_name: 'x', signed: { mxid: '@u:d', token: 't', signatures: {} } },
    };
    const e = ev('m.room.member', content, '@u:d');
    for (const v of all.slice(0, 8)) expect(redact(e, v)['content'], v).toEqual({ membership: 'join' });
    for (const v of ['9', '10']) {
      expect(redact(e, v)['content'], v).toEqual({ membership: 'join', join_authorised_via_users_server: '@admin:d' });
    }
    expect(redact(e, '11')['content']).toEqual({
      membership: 'join',
      join_authorised_via_users_server: '@admin:d',
      third_party_invite: { signed: { mxid: '@u:d', token: 't', signatures: {} } },
    });
    // third_party_invite without `signed` is dropped entirely.
    expect(redact(ev('m.room.member', { membership: 'invite', third_party_invite: { display_name: 'x' } }, '@u:d'), '11')['content']).toEqual({
      membership: 'invite',
    });
  });

  it('m.room.create: creator until v10; v11 keeps all content', () => {
    const e = ev('m.room.create', { creator: '@u:d', room_version: '9', 'm.federate': false, predecessor: { room_id: '!o:d' } }, '');
    for (const v of upTo10) expect(redact(e, v)['content'], v).toEqual({ creator: '@u:d' });
    expect(redact(e, '11')['content']).toEqual({ creator: '@u:d', room_version: '9', 'm.federate': false, predecessor: { room_id: '!o:d' } });
  });

  it('m.room.join_rules: join_rule; v8+ also allow', () => {
    const allow = [{ type: 'm.room_membership', room_id: '!s:d' }];
    const e = ev('m.room.join_rules', { join_rule: 'restricted', allow, other: 1 }, '');
    for (const v of all.slice(0, 7)) expect(redact(e, v)['content'], v).toEqual({ join_rule: 'restricted' });
    for (const v of all.slice(7)) expect(redact(e, v)['content'], v).toEqual({ join_rule: 'restricted', allow });
  });

  it('m.room.power_levels: the listed keys; v11 also invite; never notifications or others', () => {
    const content = {
      ban: 50,
      events: { 'm.room.name': 50 },
      events_default: 0,
      invite: 0,
      kick: 50,
      notifications: { room: 50 },
      redact: 50,
      state_default: 50,
      users: { '@u:d': 100 },
      users_default: 0,
      historical: 100,
    };
    const e = ev('m.room.power_levels', content, '');
    const { invite: _i, notifications: _n, historical: _h, ...v1Kept } = content;
    for (const v of upTo10) expect(redact(e, v)['content'], v).toEqual(v1Kept);
    expect(redact(e, '11')['content']).toEqual({ ...v1Kept, invite: 0 });
  });

  it('m.room.aliases: aliases kept in v1–v5, dropped from v6', () => {
    const e = ev('m.room.aliases', { aliases: ['#a:d'] }, 'd');
    for (const v of all.slice(0, 5)) expect(redact(e, v)['content'], v).toEqual({ aliases: ['#a:d'] });
    for (const v of all.slice(5)) expect(redact(e, v)['content'], v).toEqual({});
  });

  it('m.room.history_visibility: history_visibility in every version', () => {
    const e = ev('m.room.history_visibility', { history_visibility: 'shared', x: 1 }, '');
    for (const v of all) expect(redact(e, v)['content'], v).toEqual({ history_visibility: 'shared' });
  });

  it('m.room.redaction: content.redacts kept only in v11; the top-level redacts is stripped in every version', () => {
    const e = ev('m.room.redaction', { redacts: '$target', reason: 'spam' });
    for (const v of upTo10) expect(redact(e, v)['content'], v).toEqual({});
    expect(redact(e, '11')['content']).toEqual({ redacts: '$target' });
    for (const v of all) expect(redact(e, v), v).not.toHaveProperty('redacts');
  });

  it('other types keep no content, whatever their keys', () => {
    for (const v of all) {
      expect(redact(ev('m.room.name', { name: 'n' }, ''), v)['content'], v).toEqual({});
      expect(redact(ev('m.room.topic', { topic: 't', membership: 'join' }, ''), v)['content'], v).toEqual({});
    }
  });
});
