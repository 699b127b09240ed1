import { createHmac } from 'node:crypto';
import type { Config } from '../config/schema.js';

export interface TurnServerAnswer {
  username?: string;
  password?: string;
  ttl?: number;
  uris?: string[];
}

/**
 * GET /voip/turnServer (spec "Voice over IP"): TURN credentials for calls, as Synapse makes them.
 * With `turn_shared_secret`, time-limited credentials in the TURN REST API's scheme that coturn's
 * `use-auth-secret` checks: username `<expiry in s>:<user ID>`, password the standard (padded)
 * base64 of HMAC-SHA1(secret, username). Otherwise the static `turn_username`/`turn_password`.
 * With neither, or without `turn_uris`, an empty object (clients then call without TURN).
 */
export class TurnService {
  constructor(
    private readonly turn: Config['turn'],
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether guests may ask (`turn_allow_guests`, default true). */
  get allowGuests(): boolean {
    return this.turn.allowGuests;
  }

  credentials(userId: string): TurnServerAnswer {
    const { uris, sharedSecret, username, password, userLifetimeMs } = this.turn;
    if (uris.length === 0 || userLifetimeMs <= 0) return {};
    const ttl = Math.floor(userLifetimeMs / 1000);
    if (sharedSecret) {
      const expiry = Math.floor((this.now() + userLifetimeMs) / 1000);
      const user = `${expiry}:${userId}`;
      const mac = createHmac('sha1', sharedSecret).update(user).digest('base64');
      return { username: user, password: mac, ttl, uris };
    }
    if (username && password) return { username, password, ttl, uris };
    return {};
  }
}
