import { canonicalJson } from '../matrix/canonical-json.js';
import { signBytes, type SigningKey } from '../matrix/signing-key.js';

/** Synapse's default `key_refresh_interval`: how long a published key response stays valid. */
export const KEY_REFRESH_INTERVAL_MS = 24 * 60 * 60 * 1000;

export interface ServerKeysResponse {
  server_name: string;
  valid_until_ts: number;
  verify_keys: Record<string, { key: string }>;
  old_verify_keys: Record<string, { key: string; expired_ts: number }>;
  signatures: Record<string, Record<string, string>>;
}

/**
 * The homeserver's published signing key (server-server API §2.3.1), signed with itself over
 * canonical JSON. Like Synapse, the signed response is reused until less than half of its
 * validity remains, so repeated fetches cost no signing.
 */
export class ServerKeysService {
  private cached: ServerKeysResponse | null = null;

  constructor(
    private readonly serverName: string,
    private readonly key: SigningKey,
    private readonly now: () => number = Date.now,
  ) {}

  current(): ServerKeysResponse {
    const now = this.now();
    if (!this.cached || now + KEY_REFRESH_INTERVAL_MS / 2 > this.cached.valid_until_ts) this.cached = this.build(now);
    return this.cached;
  }

  private build(now: number): ServerKeysResponse {
    const unsigned = {
      server_name: this.serverName,
      valid_until_ts: now + KEY_REFRESH_INTERVAL_MS,
      verify_keys: { [this.key.keyId]: { key: this.key.publicKeyBase64 } },
      old_verify_keys: {},
    };
    const signature = signBytes(this.key, Buffer.from(canonicalJson(unsigned), 'utf8'));
    return { ...unsigned, signatures: { [this.serverName]: { [this.key.keyId]: signature } } };
  }
}
