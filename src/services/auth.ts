import { MatrixError } from '../errors.js';
import type { Db } from '../storage/database.js';
import type { ChangeCache } from '../storage/change-cache.js';
import { lookupToken, type TokenLookup } from '../storage/stores/tokens.js';

/** The authenticated caller of a request. */
export interface Requester {
  /** The effective user (for a puppet token: the puppeted user). */
  userId: string;
  deviceId: string | null;
  tokenId: number;
  isGuest: boolean;
  admin: boolean;
  shadowBanned: boolean;
  /** Suspended (Synapse ≥ 1.110): may read and leave, but not send, join, invite or knock. */
  suspended?: boolean;
  /** For "login as user" tokens: the admin who minted it. */
  authenticatedBy: string | null;
}

const missingToken = (msg: string) => new MatrixError(401, 'M_MISSING_TOKEN', msg);

/**
 * Pulls the access token out of a request exactly as Synapse does (catalogue §1.2): one
 * `Authorization: Bearer <token>` header or the `access_token` query parameter, never both.
 */
export function extractToken(authorization: string | string[] | undefined, queryToken: unknown): string | null {
  if (authorization !== undefined) {
    if (queryToken !== undefined) throw missingToken('Mixing Authorization headers and access_token query parameters.');
    if (Array.isArray(authorization)) {
      if (authorization.length !== 1) throw missingToken('Too many Authorization headers.');
      authorization = authorization[0]!;
    }
    const parts = authorization.split(' ');
    if (parts.length !== 2 || parts[0] !== 'Bearer') throw missingToken('Invalid Authorization header.');
    return parts[1]!;
  }
  if (queryToken === undefined) return null;
  return Array.isArray(queryToken) ? String(queryToken[0]) : String(queryToken);
}

/** What a cached token answer is read from: its row, its user's flags, the account's validity. */
export const TOKEN_CACHE_TABLES = ['access_tokens', 'users', 'account_validity'];

export class AuthService {
  constructor(
    private readonly db: Db,
    private readonly opts: { accountValidity?: boolean; cache?: ChangeCache<TokenLookup> } = {},
  ) {}

  /**
   * The token's row, from the cache unless the token's user (or the puppeted user) changed since
   * it was read: see TOKEN_CACHE_TABLES.
   */
  private async lookup(token: string): Promise<TokenLookup | undefined> {
    const cache = this.opts.cache;
    const epoch = cache?.begin() ?? null;
    const hit = cache?.get(epoch, token);
    if (hit) return hit;
    const row = await lookupToken(this.db, token, { withExpiry: this.opts.accountValidity });
    if (row) cache?.set(epoch, token, row, row.puppets_user_id ? [row.user_id, row.puppets_user_id] : [row.user_id]);
    return row;
  }

  /**
   * Validates a token and the account behind it, in Synapse's order of checks. First waits for
   * every change committed before the request arrived to reach the caches, so this request and
   * the cached reads it makes afterwards see the database at least as it was then.
   */
  async authenticate(token: string, opts: { allowGuest?: boolean; allowExpired?: boolean } = {}): Promise<Requester> {
    await this.opts.cache?.sync();
    const row = await this.lookup(token);
    if (!row || row.deactivated) {
      throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Invalid access token passed.', { soft_logout: false });
    }
    if (row.valid_until_ms !== null && row.valid_until_ms < Date.now()) {
      throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Access token has expired', { soft_logout: true });
    }
    if (row.locked) throw new MatrixError(401, 'M_USER_LOCKED', 'User account has been locked', { soft_logout: true });
    // Account validity (catalogue §1.2 step 5): no row means the account never expires.
    if (!opts.allowExpired && row.expiration_ts_ms != null && Date.now() > Number(row.expiration_ts_ms)) {
      throw new MatrixError(403, 'M_EXPIRED_ACCOUNT', 'User account has expired');
    }
    if (row.is_guest && !opts.allowGuest) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access not allowed');
    return {
      userId: row.puppets_user_id ?? row.user_id,
      deviceId: row.device_id,
      tokenId: row.token_id,
      isGuest: Boolean(row.is_guest),
      admin: Boolean(row.admin),
      shadowBanned: Boolean(row.shadow_banned),
      suspended: Boolean(row.suspended),
      authenticatedBy: row.puppets_user_id ? row.user_id : null,
    };
  }
}

export function requireAdmin(r: Requester): void {
  if (!r.admin) throw new MatrixError(403, 'M_FORBIDDEN', 'You are not a server admin');
}
