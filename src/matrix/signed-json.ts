/**
 * Signing JSON and checking for a signature (Matrix specification, appendices "Signing Details"
 * and "Checking for a Signature"): the signature covers the canonical JSON of the object without
 * its `signatures` and `unsigned` members, and is stored as
 * `signatures[<entity>][<algorithm>:<key version>]`, unpadded base64.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { canonicalJsonBytes, type CanonicalJsonOptions } from './canonical-json.js';
import { signBytes, type SigningKey } from './signing-key.js';

export type Signatures = Record<string, Record<string, string>>;

/** The bytes a signature covers: canonical JSON without `signatures` and `unsigned`. */
export function signableBytes(obj: object, options: CanonicalJsonOptions = {}): Buffer {
  const { signatures: _s, unsigned: _u, ...rest } = obj as Record<string, unknown>;
  return canonicalJsonBytes(rest, options);
}

/**
 * Returns a copy of `obj` signed by `serverName` with `key`: its signature is added under
 * `signatures[serverName][key.keyId]`, other signatures (and `unsigned`) are kept.
 */
export function signJson<T extends object>(
  obj: T,
  serverName: string,
  key: SigningKey,
  options: CanonicalJsonOptions = {},
): T & { signatures: Signatures } {
  const signature = signBytes(key, signableBytes(obj, options));
  const existing = ((obj as Record<string, unknown>)['signatures'] ?? {}) as Signatures;
  const signatures: Signatures = { ...existing, [serverName]: { ...(existing[serverName] ?? {}), [key.keyId]: signature } };
  return { ...obj, signatures };
}

// SPKI DER prefix of an ed25519 public key; the raw 32-byte key follows it.
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const publicKeys = new Map<string, KeyObject>();

/** Node's KeyObject for a raw ed25519 public key given as (unpadded or padded) base64. */
export function ed25519PublicKey(publicKeyBase64: string): KeyObject {
  let key = publicKeys.get(publicKeyBase64);
  if (key) return key;
  const raw = decodeBase64(publicKeyBase64);
  if (!raw || raw.length !== 32) throw new Error('an ed25519 public key is 32 bytes of base64');
  key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
  if (publicKeys.size >= 1024) publicKeys.clear();
  publicKeys.set(publicKeyBase64, key);
  return key;
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64_URL_RE = /^[A-Za-z0-9_-]*={0,2}$/;

/** Decodes standard or URL-safe base64, padded or not; undefined if it is not base64. */
export function decodeBase64(s: string): Buffer | undefined {
  if (BASE64_RE.test(s)) return Buffer.from(s, 'base64');
  if (BASE64_URL_RE.test(s)) return Buffer.from(s, 'base64url');
  return undefined;
}

/**
 * True when `obj` carries a valid signature by `serverName` under `keyId` for the ed25519 public
 * key `publicKeyBase64`. Any missing piece, unknown algorithm or malformed base64 is false.
 */
export function verifyJson(
  obj: object,
  serverName: string,
  keyId: string,
  publicKeyBase64: string,
  options: CanonicalJsonOptions = {},
): boolean {
  if (!keyId.startsWith('ed25519:')) return false;
  const signatures = (obj as Record<string, unknown>)['signatures'];
  if (typeof signatures !== 'object' || signatures === null) return false;
  const byServer = (signatures as Record<string, unknown>)[serverName];
  if (typeof byServer !== 'object' || byServer === null) return false;
  const sigB64 = (byServer as Record<string, unknown>)[keyId];
  if (typeof sigB64 !== 'string') return false;
  const sig = decodeBase64(sigB64);
  if (!sig || sig.length !== 64) return false;
  try {
    return verify(null, signableBytes(obj, options), ed25519PublicKey(publicKeyBase64), sig);
  } catch {
    return false;
  }
}
