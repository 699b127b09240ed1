import { describe, expect, it } from 'vitest';
import { base62, crc32, hasValidChecksum, mintAccessToken } from '../../src/matrix/access-token.js';

describe('access token format (catalogue §1.3)', () => {
  it('reproduces the catalogue worked example', () => {
    expect(mintAccessToken('alice', 'QwErTyUiOpAsDfGhJkLz')).toBe('syt_YWxpY2U_QwErTyUiOpAsDfGhJkLz_3gUfi4');
  });

  it('validates tokens Synapse 1.94 minted', () => {
    expect(hasValidChecksum('syt_YWRtaW4_oxWLEuTBlxAHJObnzbeA_3JAYv0')).toBe(true);
    expect(hasValidChecksum('syt_YWxpY2U_TWCWNxUmYOqJCLNDrwEG_0dA6Zr')).toBe(true);
    expect(hasValidChecksum('syt_YWxpY2U_iWRcQJzhUysVVfpPUvNg_4TtqSB')).toBe(true);
    expect(hasValidChecksum('syt_YWxpY2U_iWRcQJzhUysVVfpPUvNg_4TtqSC')).toBe(false);
  });

  it('CRC-32 is zlib/IEEE and base62 is 0-9A-Za-z, padded to 6', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32('')).toBe(0);
    expect(base62(0)).toBe('000000');
    expect(base62(61)).toBe('00000z');
    expect(base62(62)).toBe('000010');
    expect(base62(0xffffffff)).toBe('4gfFC3');
  });

  it('mints syt_<unpadded base64 localpart>_<20 letters>_<checksum>', () => {
    for (const localpart of ['a', 'bob', 'admin', 'über.user', 'x/y+z']) {
      const token = mintAccessToken(localpart);
      const m = /^syt_([A-Za-z0-9+/]+)_([A-Za-z]{20})_([0-9A-Za-z]{6,})$/.exec(token);
      expect(m, token).not.toBeNull();
      expect(m![1]).not.toMatch(/=/);
      expect(Buffer.from(m![1]!, 'base64').toString('utf8')).toBe(localpart);
      expect(hasValidChecksum(token)).toBe(true);
    }
  });

  it('draws the random part fresh each time', () => {
    const tokens = new Set(Array.from({ length: 200 }, () => mintAccessToken('bob')));
    expect(tokens.size).toBe(200);
  });
});
