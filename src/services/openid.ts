import { MatrixError, forbidden } from '../errors.js';
import { randomLetters } from '../matrix/access-token.js';
import type { Db } from '../storage/database.js';
import * as store from '../storage/stores/openid.js';
import type { Requester } from './auth.js';

/** Synapse's lifetime of an OpenID token: one hour. */
export const OPENID_TOKEN_LIFETIME_MS = 3600 * 1000;

/**
 * OpenID tokens (spec "OpenID"): a client asks for a token it hands to a third party (an
 * integration manager, a widget), which asks this server's federation API whose it is. Tokens are
 * random, kept in Synapse's `open_id_tokens` for an hour, and tell nothing but the user ID.
 */
export class OpenIdService {
  constructor(
    private readonly db: Db,
    private readonly serverName: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Tokens are for the caller's own user only. */
  checkOwn(requester: Requester, userId: string): void {
    if (userId !== requester.userId) throw forbidden('Cannot request tokens for other users.');
  }

  /** POST /user/{userId}/openid/request_token. */
  async requestToken(requester: Requester, userId: string): Promise<{ access_token: string; token_type: 'Bearer'; matrix_server_name: string; expires_in: number }> {
    this.checkOwn(requester, userId);
    const now = this.now();
    const token = randomLetters(24);
    await store.deleteExpired(this.db, now);
    await store.insertToken(this.db, token, userId, now + OPENID_TOKEN_LIFETIME_MS);
    return { access_token: token, token_type: 'Bearer', matrix_server_name: this.serverName, expires_in: OPENID_TOKEN_LIFETIME_MS / 1000 };
  }

  /** GET /_matrix/federation/v1/openid/userinfo: `{sub}` for a valid token, else 401 as Synapse. */
  async userInfo(token: string | undefined): Promise<{ sub: string }> {
    if (token === undefined || token === '') throw new MatrixError(401, 'M_MISSING_TOKEN', 'Access Token required');
    const userId = await store.userOfToken(this.db, token, this.now());
    if (userId === undefined) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Access Token unknown or expired');
    return { sub: userId };
  }
}
