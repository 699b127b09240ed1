// What a client's cryptography does to keys before uploading them: ed25519 key pairs and JSON
// signed with them (the spec's "Signing JSON"), for the end-to-end encryption tests.
import { generateKeyPairSync, sign } from 'node:crypto';
import { canonicalJsonBytes } from '../../src/matrix/canonical-json.js';

export interface Ed25519 {
  /** The public key, unpadded base64 (a key ID is `ed25519:<this>` for cross-signing keys). */
  pub: string;
  /** Adds this key's signature of `obj` as `signatures[userId][keyId]`. */
  sign<T extends object>(obj: T, userId: string, keyId: string): T & { signatures: Record<string, Record<string, string>> };
}

export function ed25519(): Ed25519 {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return {
    pub: raw.toString('base64').replace(/=+$/, ''),
    sign(obj, userId, keyId) {
      const { signatures, unsigned: _u, ...rest } = obj as Record<string, unknown>;
      const sig = sign(null, canonicalJsonBytes(rest), privateKey).toString('base64').replace(/=+$/, '');
      const all = { ...((signatures ?? {}) as Record<string, Record<string, string>>) };
      all[userId] = { ...(all[userId] ?? {}), [keyId]: sig };
      return { ...obj, signatures: all };
    },
  };
}

/** A device's signed `device_keys`, as a client uploads them; `ed` is its ed25519 identity key. */
export function deviceKeys(userId: string, deviceId: string, ed: Ed25519 = ed25519()) {
  return ed.sign(
    {
      user_id: userId,
      device_id: deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
      keys: { [`curve25519:${deviceId}`]: ed25519().pub, [`ed25519:${deviceId}`]: ed.pub },
    },
    userId,
    `ed25519:${deviceId}`,
  );
}

/** A cross-signing key of `usage`, signed by `signer` (the master key) when given. */
export function crossSigningKey(userId: string, usage: 'master' | 'self_signing' | 'user_signing', key: Ed25519, signer?: Ed25519) {
  const k = { user_id: userId, usage: [usage], keys: { [`ed25519:${key.pub}`]: key.pub } };
  return signer ? signer.sign(k, userId, `ed25519:${signer.pub}`) : k;
}
