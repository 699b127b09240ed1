/**
 * Canonical JSON as the Matrix specification defines it (appendices, "Canonical JSON"): the
 * shortest UTF-8 JSON encoding, no insignificant whitespace, object keys sorted by Unicode code
 * point, numbers as integers without exponent or decimal places, `-0` written as `0`. Used for
 * signatures, content hashes and reference hashes.
 *
 * Two modes:
 * - lax (the default): what room versions 1–5 need. Servers "SHOULD be capable of handling JSON
 *   which is considered invalid by these restrictions", so floats and integers outside the safe
 *   range are encoded (integers are never written with an exponent).
 * - strict (`{ strict: true }`): room versions 6 and later, where the format is enforced. A float,
 *   an integer outside [-(2^53)+1, 2^53-1], or any value JSON cannot carry throws
 *   CanonicalJsonError (the caller turns it into 400 M_BAD_JSON or drops the event).
 *
 * Values JSON cannot carry at all (NaN, Infinity, functions, symbols, a top-level `undefined`)
 * throw in both modes. `undefined` object members are skipped and `undefined` array items become
 * `null`, as JSON.stringify does.
 */

export class CanonicalJsonError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(path ? `${message} at ${path}` : message);
    this.name = 'CanonicalJsonError';
  }
}

export interface CanonicalJsonOptions {
  /** Enforce the integer range and refuse floats (room versions 6 and later). */
  strict?: boolean;
}

export const MAX_SAFE_CANONICAL_INT = 2 ** 53 - 1;
export const MIN_SAFE_CANONICAL_INT = -(2 ** 53) + 1;

/**
 * Orders two strings by Unicode code point, which is also the order of their UTF-8 bytes.
 * JavaScript's `<` compares UTF-16 code units, which puts U+E000–U+FFFF after the surrogate
 * pairs of U+10000 and above; remapping the differing unit fixes that: surrogates move above
 * U+FFFF's position, U+E000–U+FFFF move down into the gap. Everything else keeps its order.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

function encodeNumber(n: number, strict: boolean, path: string): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError(`${n} is not a JSON number`, path);
  if (Number.isInteger(n)) {
    if (strict && (n > MAX_SAFE_CANONICAL_INT || n < MIN_SAFE_CANONICAL_INT)) {
      throw new CanonicalJsonError(`integer ${n} is outside [-(2^53)+1, 2^53-1]`, path);
    }
    if (Object.is(n, -0)) return '0';
    // Large integers: JSON.stringify would write 1e+21; canonical JSON has no exponents.
    return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  }
  if (strict) throw new CanonicalJsonError(`float ${n} is not allowed in canonical JSON`, path);
  return JSON.stringify(n);
}

function encode(value: unknown, strict: boolean, path: string): string {
  switch (typeof value) {
    case 'string':
      // JSON.stringify escapes exactly what the grammar escapes: `"`, `\`, the short forms
      // \b \f \n \r \t and other control characters as lower-case \u00XX; the rest stays UTF-8.
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return encodeNumber(value, strict, path);
    case 'bigint':
      if (strict && (value > BigInt(MAX_SAFE_CANONICAL_INT) || value < BigInt(MIN_SAFE_CANONICAL_INT))) {
        throw new CanonicalJsonError(`integer ${value} is outside [-(2^53)+1, 2^53-1]`, path);
      }
      return value.toString();
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        const items = value.map((v, i) => (v === undefined ? 'null' : encode(v, strict, `${path}[${i}]`)));
        return `[${items.join(',')}]`;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort(compareCodePoints);
      const members = keys.map((k) => `${JSON.stringify(k)}:${encode(obj[k], strict, path ? `${path}.${k}` : k)}`);
      return `{${members.join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`a ${typeof value} is not a JSON value`, path);
  }
}

/** The canonical JSON text of `value` (encode it as UTF-8 to sign or hash it). */
export function canonicalJson(value: unknown, options: CanonicalJsonOptions = {}): string {
  return encode(value, options.strict === true, '');
}

/** The canonical JSON of `value` as UTF-8 bytes, ready to sign or hash. */
export function canonicalJsonBytes(value: unknown, options: CanonicalJsonOptions = {}): Buffer {
  return Buffer.from(canonicalJson(value, options), 'utf8');
}

/**
 * Throws CanonicalJsonError if `value` could not be encoded as strict canonical JSON (a float,
 * an integer outside the safe range, NaN/Infinity, or a non-JSON value anywhere inside it).
 */
export function checkCanonicalValue(value: unknown): void {
  encode(value, true, '');
}

/** True when `value` can be encoded as strict canonical JSON. */
export function isCanonicalValue(value: unknown): boolean {
  try {
    checkCanonicalValue(value);
    return true;
  } catch (e) {
    if (e instanceof CanonicalJsonError) return false;
    throw e;
  }
}
