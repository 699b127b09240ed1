import type { TSchema } from '@sinclair/typebox';

/**
 * Checks a value against a TypeBox schema: the JSON Schema keywords our config and request-body
 * schemas use, with TypeBox's messages. TypeBox's Value module would do it but stays resident
 * (≈11 MB of the idle server); any other keyword throws at the first check, so a schema change
 * cannot go silently unchecked. Used by the config loader and by request bodies.
 *
 * Nodes may carry an `x-error` (the Matrix error a request-body mismatch answers; see
 * src/http/body-schema.ts), inherited by the nodes below. With `named: true` only mismatches
 * under such an error count, and the walk goes on past the others (their checks are a service's).
 */

export interface SchemaMismatch {
  /** JSON pointer of the bad value, e.g. `/listeners/0/port`. */
  path: string;
  message: string;
  /** The nearest `x-error` above the bad value, if any. */
  error?: unknown;
}

interface Node {
  type?: string;
  properties?: Record<string, Node>;
  patternProperties?: Record<string, Node>;
  required?: string[];
  items?: Node;
  anyOf?: Node[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  'x-error'?: unknown;
}

const KEYWORDS = new Set([
  'type',
  'properties',
  'patternProperties',
  'required',
  'items',
  'anyOf',
  'const',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'maxItems',
  'x-error',
  // annotations
  'description',
  'title',
  'examples',
  'default',
]);

/** The first mismatch of `value` against `schema` (with `named`, the first under an `x-error`). */
export function firstMismatch(schema: TSchema, value: unknown, opts: { named?: boolean } = {}): SchemaMismatch | undefined {
  return visit(schema as Node, value, '', undefined, opts.named === true);
}

// Code-point length, as Python's len() (and so Synapse's limits) counts.
const codePoints = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

function visit(s: Node, v: unknown, path: string, inherited: unknown, named: boolean): SchemaMismatch | undefined {
  for (const k of Object.keys(s)) if (!KEYWORDS.has(k)) throw new Error(`json-schema.ts does not support the schema keyword '${k}' (at '${path}')`);
  const error = s['x-error'] ?? inherited;
  // Unnamed mismatches are not reported in named mode (a service checks those itself).
  const fail = (message: string): SchemaMismatch | undefined => (named && error === undefined ? undefined : { path, message, error });
  // A branch matches only if nothing at all is wrong with it, named or not.
  if (s.anyOf) return s.anyOf.some((x) => visit(x, v, path, undefined, false) === undefined) ? undefined : fail('Expected union value');
  // A literal is {const, type}: the const decides.
  if (s.const !== undefined) return v === s.const ? undefined : fail(`Expected ${typeof s.const === 'string' ? `'${s.const}'` : String(s.const)}`);
  switch (s.type) {
    case undefined: // Type.Unknown(): anything
      return undefined;
    case 'string':
      if (typeof v !== 'string') return fail('Expected string');
      if (s.minLength !== undefined && !(v.length >= s.minLength)) return fail(`Expected string length greater or equal to ${s.minLength}`);
      if (s.maxLength !== undefined && v.length > s.maxLength && codePoints(v) > s.maxLength) return fail(`Expected string length less or equal to ${s.maxLength}`);
      return undefined;
    case 'integer':
    case 'number': {
      if (!(s.type === 'integer' ? Number.isInteger(v) : Number.isFinite(v))) return fail(`Expected ${s.type}`);
      const n = v as number;
      if (s.maximum !== undefined && !(n <= s.maximum)) return fail(`Expected ${s.type} to be less or equal to ${s.maximum}`);
      if (s.minimum !== undefined && !(n >= s.minimum)) return fail(`Expected ${s.type} to be greater or equal to ${s.minimum}`);
      return undefined;
    }
    case 'boolean':
      return typeof v === 'boolean' ? undefined : fail('Expected boolean');
    case 'null':
      return v === null ? undefined : fail('Expected null');
    case 'array':
      if (!Array.isArray(v)) return fail('Expected array');
      if (s.maxItems !== undefined && v.length > s.maxItems) return fail(`Expected array length to be less or equal to ${s.maxItems}`);
      if (s.items) {
        for (let i = 0; i < v.length; i++) {
          const e = visit(s.items, v[i], `${path}/${i}`, error, named);
          if (e) return e;
        }
      }
      return undefined;
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('Expected object');
      const o = v as Record<string, unknown>;
      const required = s.required ?? [];
      // As TypeBox: missing required keys first, then each property in schema order; an optional
      // property that is undefined is absent.
      for (const k of required) {
        if (Object.hasOwn(o, k)) continue;
        const missing = s.properties?.[k]?.['x-error'] ?? error;
        if (!named || missing !== undefined) return { path: `${path}/${k}`, message: 'Expected required property', error: missing };
      }
      for (const [k, p] of Object.entries(s.properties ?? {})) {
        if (!Object.hasOwn(o, k) || (o[k] === undefined && !required.includes(k))) continue;
        const e = visit(p, o[k], `${path}/${k}`, error, named);
        if (e) return e;
      }
      for (const [pattern, p] of Object.entries(s.patternProperties ?? {})) {
        const re = new RegExp(pattern);
        for (const k of Object.keys(o)) {
          if (!re.test(k)) continue;
          const e = visit(p, o[k], `${path}/${k}`, error, named);
          if (e) return e;
        }
      }
      return undefined;
    }
    default:
      throw new Error(`json-schema.ts does not support the schema type '${s.type}' (at '${path}')`);
  }
}
