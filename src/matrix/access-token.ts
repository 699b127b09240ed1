import { randomInt } from 'node:crypto';

/**
 * Access tokens in Synapse's shape: `syt_<base64 localpart>_<20 random letters>_<base62 CRC-32>`
 * (catalogue §1.3). The checksum only lets secret scanners recognise a token.
 */

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (zlib/IEEE), unsigned, as Python's binascii.crc32. */
export function crc32(data: Buffer | string): number {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let crc = 0xffffffff;
  for (const byte of buf) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function base62(n: number, minWidth = 6): string {
  let out = '';
  do {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  } while (n > 0);
  return out.padStart(minWidth, '0');
}

export function randomLetters(count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += LETTERS[randomInt(LETTERS.length)];
  return out;
}

export function tokenWithChecksum(prefix: string): string {
  return `${prefix}_${base62(crc32(prefix))}`;
}

/** Mints an access token for `localpart` (for a puppet token: the puppeted user's localpart). */
export function mintAccessToken(localpart: string, random = randomLetters(20)): string {
  const b64 = Buffer.from(localpart, 'utf8').toString('base64').replace(/=+$/, '');
  return tokenWithChecksum(`syt_${b64}_${random}`);
}

/** True when `token` has the syt_ shape and a matching checksum. */
export function hasValidChecksum(token: string): boolean {
  const cut = token.lastIndexOf('_');
  if (cut < 0) return false;
  return base62(crc32(token.slice(0, cut))) === token.slice(cut + 1);
}
