import fc from 'fast-check';
import type { TSchema } from '@sinclair/typebox';

/** Values that have broken servers: wrong types, edge numbers, huge and hostile strings. */

const MB_STRING = 'x'.repeat(1_000_000);

export const nastyStrings: string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\ud83d\ude00',
  '\u202e\ufeff',
  '%00',
  '%',
  '../../etc/passwd',
  "'; DROP TABLE users; --",
  '@',
  '@:',
  '@a:b:c',
  '@nobody:localhost',
  '@NOBODY:localhost',
  '!room:localhost',
  'm.login.password',
  'x'.repeat(256),
  'x'.repeat(5000),
  '-1',
  '0',
  '9'.repeat(30),
  'true',
  'null',
  '{}',
];

const nastyNumbers = [0, -1, 1, 1.5, -0.5, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, -1e308, Number.MAX_SAFE_INTEGER];

/** Any JSON value, weighted toward the ones that break things. */
export const nastyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>(...nastyStrings) },
  { weight: 3, arbitrary: fc.constantFrom<unknown>(...nastyNumbers) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(null, true, false, [], {}, [null], { '': null }, ['\u0000']) },
  { weight: 1, arbitrary: fc.constant(MB_STRING) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 90, max: 130 }).map((n) => nest(n)) },
);

/** An object nested `n` levels deep. */
export function nest(n: number): unknown {
  let v: unknown = {};
  for (let i = 1; i < n; i++) v = { a: v };
  return v;
}

/** A value that satisfies the schema node where it can (so the fuzz reaches past the first check). */
function fromSchema(s: any, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 6) return fc.constant(null);
  if (s.anyOf) return fc.oneof(...(s.anyOf as any[]).map((x) => fromSchema(x, depth + 1)));
  if (s.const !== undefined) return fc.constant(s.const);
  switch (s.type) {
    case 'string':
      return fc.oneof(fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 30, 30) }), fc.constantFrom('@alice:localhost', 'm.login.password', 'pw-alice'));
    case 'integer':
      return fc.integer({ min: s.minimum ?? -10, max: s.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ min: s.minimum ?? -10, max: s.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(s.items ? fromSchema(s.items, depth + 1) : fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 });
    case 'object': {
      const props = Object.entries((s.properties ?? {}) as Record<string, any>);
      if (props.length === 0) return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
      return fc.record(Object.fromEntries(props.map(([k, p]) => [k, fromSchema(p, depth + 1)])), { requiredKeys: s.required ?? [] });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A body that satisfies the schema. */
export const bodyValue = (schema: TSchema): fc.Arbitrary<unknown> => fromSchema(schema);

/** Field names the routes read, for bodies of routes that declare no schema. */
export const COMMON_FIELDS = [
  'type', 'identifier', 'user', 'password', 'new_password', 'logout_devices', 'auth', 'session', 'username', 'displayname',
  'avatar_url', 'display_name', 'devices', 'device_id', 'initial_device_display_name', 'inhibit_login', 'erase', 'admin',
  'deactivated', 'locked', 'user_type', 'threepids', 'external_ids', 'nonce', 'mac', 'token', 'uses_allowed', 'expiry_time',
  'length', 'features', 'messages_per_second', 'burst_count', 'pushkey', 'kind', 'app_id', 'app_display_name',
  'device_display_name', 'lang', 'data', 'append', 'user_id', 'expiration_ts', 'enable_renewal_emails', 'suspend', 'valid_until_ms',
];

/**
 * A request body as raw text: from the route's schema, mutated with hostile values; or hostile
 * objects over the fields routes read; duplicate keys; deep nesting; not JSON at all.
 */
export function bodyText(schema: TSchema | undefined): fc.Arbitrary<string | Uint8Array | undefined> {
  const declared = schema && (schema as any).properties ? Object.keys((schema as any).properties) : [];
  const fields = declared.length ? declared : COMMON_FIELDS;
  const valid = schema ? fromSchema(schema) : fc.constant({});
  const mutated = fc
    .tuple(valid, fc.dictionary(fc.constantFrom(...fields), nastyJson, { maxKeys: 3 }))
    .map(([v, bad]) => JSON.stringify(typeof v === 'object' && v !== null ? { ...v, ...bad } : bad));
  const duplicates = fc
    .array(fc.tuple(fc.constantFrom(...fields), nastyJson), { minLength: 2, maxLength: 5 })
    .map((pairs) => `{${[...pairs, pairs[0]!].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  const raw = fc.constantFrom<string | Uint8Array | undefined>(
    undefined,
    '',
    'null',
    '[]',
    '"x"',
    '{',
    '{"a":1,}',
    '\ufeff{}',
    '{"a":NaN}',
    '{"a":1e400}',
    '{"a":"\\ud800"}',
    '{"\\u0000":1}',
    '{"a":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}',
    '{"a":'.repeat(10_000) + '{}' + '}'.repeat(10_000),
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]),
  );
  return fc.oneof(
    { weight: 2, arbitrary: valid.map((v) => JSON.stringify(v)) },
    { weight: 5, arbitrary: mutated },
    { weight: 2, arbitrary: duplicates },
    { weight: 2, arbitrary: raw },
  );
}

/** A path segment, percent-encoded (lone surrogates as their CESU-8 escapes, which no decoder accepts). */
export function encodeSegment(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    out += c >= 0xd800 && c <= 0xdfff ? '%ED%A0%80' : encodeURIComponent(ch);
  }
  return out;
}

/** Query parameter names the routes read (plus the token's). */
export const QUERY_NAMES = [
  'from', 'limit', 'name', 'user_id', 'guests', 'admins', 'deactivated', 'locked', 'order_by', 'dir', 'not_user_type',
  'kind', 'username', 'token', 'valid', 'access_token', 'approved',
];
