import type { TSchema } from '@sinclair/typebox';

/**
 * The first error of a value against the config's TypeBox schema, with TypeBox's paths and
 * messages ("Expected integer", "Expected required property", ...). TypeBox's Value module did
 * this, but the config is checked once at start-up and Value then stayed resident (≈1 MB of the
 * idle server); this walks only the JSON Schema keywords the config schema uses, and throws on any
 * other so that a schema change cannot be silently unchecked.
 */
export interface SchemaError {
  /** JSON pointer of the bad value, e.g. `/listeners/0/port`. */
  path: string;
  message: string;
}

interface Node {
  type?: string;
  properties?: Record<string, Node>;
  required?: string[];
  items?: Node;
  anyOf?: Node[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
}

const KEYWORDS = new Set(['type', 'properties', 'required', 'items', 'anyOf', 'const', 'minimum', 'maximum', 'minLength']);

export function firstError(schema: TSchema, value: unknown, path = ''): SchemaError | undefined {
  return visit(schema as Node, value, path);
}

function visit(s: Node, v: unknown, path: string): SchemaError | undefined {
  for (const k of Object.keys(s)) if (!KEYWORDS.has(k)) throw new Error(`config/check.ts does not support the schema keyword '${k}' (at '${path}')`);
  const fail = (message: string) => ({ path, message });
  if (s.anyOf) return s.anyOf.some((x) => visit(x, v, path) === undefined) ? undefined : fail('Expected union value');
  // A literal is {const, type}: the const decides.
  if (s.const !== undefined) return v === s.const ? undefined : fail(`Expected ${typeof s.const === 'string' ? `'${s.const}'` : String(s.const)}`);
  switch (s.type) {
    case undefined: // Type.Unknown()
      return undefined;
    case 'string':
      if (typeof v !== 'string') return fail('Expected string');
      if (s.minLength !== undefined && !(v.length >= s.minLength)) return fail(`Expected string length greater or equal to ${s.minLength}`);
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
      for (let i = 0; i < v.length; i++) {
        const e = visit(s.items!, v[i], `${path}/${i}`);
        if (e) return e;
      }
      return undefined;
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('Expected object');
      const o = v as Record<string, unknown>;
      const required = s.required ?? [];
      // As TypeBox: missing required keys first, then each property in schema order; an optional
      // property that is undefined is absent.
      for (const k of required) if (!Object.hasOwn(o, k)) return { path: `${path}/${k}`, message: 'Expected required property' };
      for (const [k, p] of Object.entries(s.properties ?? {})) {
        if (!required.includes(k) && o[k] === undefined) continue;
        const e = visit(p, o[k], `${path}/${k}`);
        if (e) return e;
      }
      return undefined;
    }
    default:
      throw new Error(`config/check.ts does not support the schema type '${s.type}' (at '${path}')`);
  }
}
