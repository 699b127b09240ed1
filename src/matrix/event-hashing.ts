/**
 * Content hash, reference hash, event IDs and event signing (Matrix specification:
 * server-server-api "Calculating the content hash for an event", "Calculating the reference hash
 * for an event", "Signing events"; rooms/fragments v1-event-ids and v4-event-ids; rooms/v3.md).
 */
import { createHash, randomBytes } from 'node:crypto';
import { canonicalJsonBytes } from './canonical-json.js';
import { redact } from './redaction.js';
import { resolveRoomVersion, type RoomVersion } from './room-versions.js';
import { signableBytes, signJson, verifyJson, type Signatures } from './signed-json.js';
import { signBytes, unpaddedBase64, type SigningKey } from './signing-key.js';

type Json = Record<string, unknown>;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

/** Strict canonical JSON for v6+ when the version is known; lax otherwise. */
const strictFor = (version?: RoomVersion | string) => (version === undefined ? false : resolveRoomVersion(version).strictCanonicalJson);

/**
 * SHA-256 of the canonical JSON of the event without `unsigned`, `signatures` and `hashes`: the
 * raw digest. Pass the room version to enforce strict canonical JSON (v6+).
 */
export function contentHashBytes(event: object, version?: RoomVersion | string): Buffer {
  const { unsigned: _u, signatures: _s, hashes: _h, ...rest } = event as Json;
  return sha256(canonicalJsonBytes(rest, { strict: strictFor(version) }));
}

/** The content hash as it goes in `hashes.sha256`: unpadded base64. */
export function contentHash(event: object, version?: RoomVersion | string): string {
  return unpaddedBase64(contentHashBytes(event, version));
}

/** SHA-256 of the canonical JSON of the redacted event without `signatures` and `unsigned`. */
export function referenceHash(event: object, version: RoomVersion | string): Buffer {
  const v = resolveRoomVersion(version);
  const { signatures: _s, unsigned: _u, ...rest } = redact(event, v);
  return sha256(canonicalJsonBytes(rest, { strict: v.strictCanonicalJson }));
}

/**
 * The event ID of a v3+ event, derived from its reference hash: `$` + unpadded base64 (v3) or
 * unpadded URL-safe base64 (v4+). Throws for v1–v2, whose IDs are chosen by the origin server
 * (see newServerEventId); the event ID is not part of a v3+ event, so any `event_id` member is
 * ignored.
 */
export function eventIdFor(event: object, version: RoomVersion | string): string {
  const v = resolveRoomVersion(version);
  const { event_id: _id, ...rest } = event as Json;
  switch (v.eventIdFormat) {
    case 'base64':
      return `$${unpaddedBase64(referenceHash(rest, v))}`;
    case 'url-safe-base64':
      return `$${referenceHash(rest, v).toString('base64url')}`;
    case 'server-random':
      throw new Error(`room version ${v.id} event IDs are chosen by the server: use newServerEventId`);
  }
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A v1–v2 event ID, `$<18 random letters>:<server name>` (rooms/fragments/v1-event-ids). */
export function newServerEventId(serverName: string): string {
  const bytes = randomBytes(18);
  let s = '';
  for (const b of bytes) s += ID_ALPHABET[b % ID_ALPHABET.length];
  return `$${s}:${serverName}`;
}

/**
 * Hashes and signs an event the way the specification's "Signing events" describes: sets
 * `hashes.sha256` to the content hash, then signs the redacted event (so the signature survives
 * redaction) and adds that signature to the full event. Returns a new object.
 */
export function hashAndSignEvent<T extends object>(
  event: T,
  version: RoomVersion | string,
  serverName: string,
  key: SigningKey,
): T & { hashes: { sha256: string }; signatures: Signatures } {
  const v = resolveRoomVersion(version);
  const hashed = { ...event, hashes: { sha256: contentHash(event, v) } };
  const signedRedacted = signJson(redact(hashed, v), serverName, key, { strict: v.strictCanonicalJson });
  const existing = ((event as Json)['signatures'] ?? {}) as Signatures;
  const signature = signedRedacted.signatures[serverName]![key.keyId]!;
  const signatures: Signatures = { ...existing, [serverName]: { ...(existing[serverName] ?? {}), [key.keyId]: signature } };
  return { ...hashed, signatures };
}

/**
 * `hashAndSignEvent` and (v3+) `eventIdFor` in one pass. The bytes the signature covers — the
 * canonical JSON of the redacted, hashed event without `signatures` and `unsigned` — are exactly
 * the bytes the reference hash is taken of, so they are encoded once and used twice. `eventId`
 * is null for v1–v2, whose IDs the server chooses.
 */
export function signEventWithId<T extends object>(
  event: T,
  version: RoomVersion | string,
  serverName: string,
  key: SigningKey,
): { signed: T & { hashes: { sha256: string }; signatures: Signatures }; eventId: string | null } {
  const v = resolveRoomVersion(version);
  const hashed = { ...event, hashes: { sha256: contentHash(event, v) } };
  const bytes = signableBytes(redact(hashed, v), { strict: v.strictCanonicalJson });
  const existing = ((event as Json)['signatures'] ?? {}) as Signatures;
  const signatures: Signatures = { ...existing, [serverName]: { ...(existing[serverName] ?? {}), [key.keyId]: signBytes(key, bytes) } };
  const signed = { ...hashed, signatures };
  if (v.eventIdFormat === 'server-random') return { signed, eventId: null };
  const ref = sha256(bytes);
  return { signed, eventId: `$${v.eventIdFormat === 'base64' ? unpaddedBase64(ref) : ref.toString('base64url')}` };
}

/** True when the event's signature by `serverName` under `keyId` is valid (checked on the redacted event). */
export function verifyEventSignature(
  event: object,
  version: RoomVersion | string,
  serverName: string,
  keyId: string,
  publicKeyBase64: string,
): boolean {
  const v = resolveRoomVersion(version);
  try {
    return verifyJson(redact(event, v), serverName, keyId, publicKeyBase64, { strict: v.strictCanonicalJson });
  } catch {
    return false;
  }
}

/** True when `hashes.sha256` matches the event's content (false means it was redacted or tampered with). */
export function checkContentHash(event: object, version?: RoomVersion | string): boolean {
  const hashes = (event as Json)['hashes'];
  const claimed = typeof hashes === 'object' && hashes !== null ? (hashes as Json)['sha256'] : undefined;
  if (typeof claimed !== 'string') return false;
  try {
    return claimed.replace(/=+$/, '') === contentHash(event, version);
  } catch {
    return false;
  }
}
