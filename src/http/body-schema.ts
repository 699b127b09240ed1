import type { TSchema } from '@sinclair/typebox';
import { MatrixError } from '../errors.js';

/**
 * Request bodies checked against the TypeBox schema a route declares (`RouteDef.body`), so that the
 * validation, the fuzz test and a later OpenAPI description read one schema.
 *
 * A node is enforced when it, or a node above it, carries the error Synapse answers for it, as
 * `x-error` (an OpenAPI-style extension, made with `onError`). Nodes without one only describe:
 * the service checks them itself, because Synapse checks them in an order (after a locality or
 * config check, say) or with per-case texts a static schema cannot reproduce. So declaring a schema
 * never changes an answer; attaching `onError` is the decision to check from it.
 *
 * A small walker over the JSON Schema keywords bodies use rather than TypeBox's Value module,
 * which would stay resident (≈11 MB) for this; any other keyword throws at the first check, so
 * a schema change cannot go silently unchecked.
 */

export interface BodyError {
  status?: number;
  errcode: string;
  error: string;
}

/** The error a schema node answers when the value there does not match. */
export const onError = (errcode: string, error: string, status = 400): { 'x-error': BodyError } => ({ 'x-error': { status, errcode, error } });

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
  'x-error'?: BodyError;
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

interface Failure {
  path: string;
  message: string;
  error: BodyError;
}

/** Throws the Matrix error of the first place where `value` does not match `schema`. */
export function checkBody(schema: TSchema, value: unknown): void {
  const f = visit(schema as Node, value, '', undefined);
  if (!f) return;
  throw new MatrixError(f.error.status ?? 400, f.error.errcode, f.error.error);
}

const join = (path: string, key: string | number) => (path === '' ? String(key) : `${path}.${key}`);
// Code-point length, as Python's len() (and so Synapse's limits) counts.
const codePoints = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

function visit(s: Node, v: unknown, path: string, inherited: BodyError | undefined): Failure | undefined {
  for (const k of Object.keys(s)) if (!KEYWORDS.has(k)) throw new Error(`http/body-schema.ts does not support the schema keyword '${k}' (at '${path}')`);
  const error = s['x-error'] ?? inherited;
  // A mismatch where no error is named is the service's to find (see above).
  const fail = (message: string): Failure | undefined => (error ? { path, message, error } : undefined);
  if (s.anyOf) return s.anyOf.some((x) => visit(x, v, path, undefined) === undefined) ? undefined : fail('not one of the allowed types');
  if (s.const !== undefined) return v === s.const ? undefined : fail(`must be ${JSON.stringify(s.const)}`);
  switch (s.type) {
    case undefined: // Type.Unknown(): anything
      return undefined;
    case 'string':
      if (typeof v !== 'string') return fail('must be a string');
      if (s.minLength !== undefined && v.length < s.minLength) return fail(`must be at least ${s.minLength} characters`);
      if (s.maxLength !== undefined && v.length > s.maxLength && codePoints(v) > s.maxLength) return fail(`must be at most ${s.maxLength} characters`);
      return undefined;
    case 'integer':
    case 'number': {
      if (typeof v !== 'number' || (s.type === 'integer' && !Number.isInteger(v))) return fail(`must be ${s.type === 'integer' ? 'an integer' : 'a number'}`);
      if (s.minimum !== undefined && v < s.minimum) return fail(`must be at least ${s.minimum}`);
      if (s.maximum !== undefined && v > s.maximum) return fail(`must be at most ${s.maximum}`);
      return undefined;
    }
    case 'boolean':
      return typeof v === 'boolean' ? undefined : fail('must be a boolean');
    case 'null':
      return v === null ? undefined : fail('must be null');
    case 'array':
      if (!Array.isArray(v)) return fail('must be an array');
      if (s.maxItems !== undefined && v.length > s.maxItems) return fail(`must have at most ${s.maxItems} items`);
      if (s.items) {
        for (let i = 0; i < v.length; i++) {
          const f = visit(s.items, v[i], join(path, i), error);
          if (f) return f;
        }
      }
      return undefined;
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('must be an object');
      const o = v as Record<string, unknown>;
      for (const k of s.required ?? []) {
        const missing = s.properties?.[k]?.['x-error'] ?? error;
        if (!Object.hasOwn(o, k) && missing) return { path: join(path, k), message: 'is required', error: missing };
      }
      for (const [k, p] of Object.entries(s.properties ?? {})) {
        if (!Object.hasOwn(o, k)) continue;
        const f = visit(p, o[k], join(path, k), error);
        if (f) return f;
      }
      for (const [pattern, p] of Object.entries(s.patternProperties ?? {})) {
        const re = new RegExp(pattern);
        for (const k of Object.keys(o)) {
          if (!re.test(k)) continue;
          const f = visit(p, o[k], join(path, k), error);
          if (f) return f;
        }
      }
      return undefined;
    }
    default:
      throw new Error(`http/body-schema.ts does not support type '${s.type}' (at '${path}')`);
  }
}
