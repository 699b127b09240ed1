import { createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { randomLetters } from './access-token.js';

/** An ed25519 signing key in Synapse's file format: `ed25519 <key_id> <unpadded base64 seed>`. */
export interface SigningKey {
  algorithm: 'ed25519';
  version: string;
  keyId: string;
  privateKey: KeyObject;
  publicKeyBase64: string;
}

export const unpaddedBase64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

// PKCS#8 DER prefix of an ed25519 private key; the 32-byte seed follows it.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function newSigningKeyLine(): string {
  return `ed25519 a_${randomLetters(4)} ${unpaddedBase64(randomBytes(32))}\n`;
}

export function parseSigningKey(text: string): SigningKey {
  const line = text.split('\n').find((l) => l.trim().length > 0);
  const parts = line?.trim().split(/\s+/) ?? [];
  if (parts.length !== 3 || parts[0] !== 'ed25519') throw new Error('signing key file: expected "ed25519 <version> <base64 seed>"');
  const seed = Buffer.from(parts[2]!, 'base64');
  if (seed.length !== 32) throw new Error('signing key file: the seed must be 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return {
    algorithm: 'ed25519',
    version: parts[1]!,
    keyId: `ed25519:${parts[1]}`,
    privateKey,
    publicKeyBase64: unpaddedBase64(spki.subarray(spki.length - 32)),
  };
}

export function signBytes(key: SigningKey, data: Buffer): string {
  return unpaddedBase64(sign(null, data, key.privateKey));
}
