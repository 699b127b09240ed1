import type { Config } from '../config/schema.js';
import { MatrixError, badRequest, notFound } from '../errors.js';
import { parseUserId } from '../matrix/ids.js';
import type { Db } from '../storage/database.js';
import * as identities from '../storage/stores/identities.js';
import * as moderation from '../storage/stores/moderation.js';
import * as overrides from '../storage/stores/ratelimit.js';
import * as users from '../storage/stores/users.js';
import { isMineId } from './account-data.js';
import type { AccountsService } from './accounts.js';

/** Per-user experimental features an admin may switch (catalogue §15, current Synapse's list). */
export const EXPERIMENTAL_FEATURES = ['msc3881', 'msc3575', 'msc4222'] as const;


/**
 * Python's repr() of a JSON value, for the error texts Synapse builds with `%r` (a string shows
 * in single quotes, null as None, booleans as True/False).
 */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') {
    const q = v.includes("'") && !v.includes('"') ? '"' : "'";
    const body = v
      .replace(/\\/g, '\\\\')
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r')
      .replace(/\t/g, '\\t')
      .replace(q === "'" ? /'/g : /"/g, `\\${q}`);
    return `${q}${body}${q}`;
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
    .join(', ')}}`;
}

/** Python truthiness of a JSON value (Synapse reads some flags with `not body.get(...)`). */
const truthy = (v: unknown) =>
  !(v === null || v === undefined || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0));

const isNonNegativeInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * The Admin API's moderation switches: shadow-ban, rate-limit overrides, username checks,
 * reverse look-ups, experimental features and account validity.
 */
export class ModerationService {
  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly accounts: AccountsService,
  ) {}

  private isMine(userId: string): boolean {
    return isMineId(userId, this.config.serverName);
  }

  private async assertExists(userId: string): Promise<void> {
    if (!(await users.getUser(this.db, userId))) throw notFound('User not found');
  }

  /** POST/DELETE /_synapse/admin/v1/users/<user_id>/shadow_ban (catalogue §3.17). */
  async setShadowBanned(userId: string, banned: boolean): Promise<void> {
    if (!this.isMine(userId)) throw badRequest('Only local users can be shadow-banned');
    parseUserId(userId);
    // Synapse's single-row update fails with this store error when the user does not exist.
    if (!(await moderation.setShadowBanned(this.db, userId, banned))) throw new MatrixError(404, 'M_UNKNOWN', 'No row found');
  }

  /** GET …/override_ratelimit. */
  async getRatelimitOverride(userId: string): Promise<overrides.RatelimitOverride | undefined> {
    if (!this.isMine(userId)) throw badRequest('Can only look up local users');
    await this.assertExists(userId);
    return overrides.getOverride(this.db, userId);
  }

  /** Checks before POST …/override_ratelimit reads its body (Synapse's order). */
  async checkRatelimitTarget(userId: string): Promise<void> {
    if (!this.isMine(userId)) throw badRequest('Only local users can be ratelimited');
    await this.assertExists(userId);
  }

  /** POST …/override_ratelimit: both values default to 0 (0/0 = never limited). */
  async setRatelimitOverride(userId: string, body: Record<string, unknown>): Promise<overrides.RatelimitOverride> {
    await this.checkRatelimitTarget(userId);
    const mps = 'messages_per_second' in body ? body.messages_per_second : 0;
    const burst = 'burst_count' in body ? body.burst_count : 0;
    if (!isNonNegativeInt(mps)) throw new MatrixError(400, 'M_INVALID_PARAM', `${pyRepr(mps)} parameter must be a positive int`);
    if (!isNonNegativeInt(burst)) throw new MatrixError(400, 'M_INVALID_PARAM', `${pyRepr(burst)} parameter must be a positive int`);
    await overrides.setOverride(this.db, userId, mps, burst);
    return (await overrides.getOverride(this.db, userId))!;
  }

  /** DELETE …/override_ratelimit. */
  async deleteRatelimitOverride(userId: string): Promise<void> {
    await this.checkRatelimitTarget(userId);
    await overrides.deleteOverride(this.db, userId);
  }

  /** GET /_synapse/admin/v1/username_available: registration's checks; never `available: false`. */
  async usernameAvailable(username: string): Promise<void> {
    if (username === '') throw new MatrixError(400, 'M_INVALID_USERNAME', 'User ID cannot be empty');
    await this.accounts.checkUsername(username);
  }

  /** GET /_synapse/admin/v1/auth_providers/<provider>/users/<external_id>. */
  async userByExternalId(provider: string, externalId: string): Promise<string> {
    const userId = await identities.findUserByExternalId(this.db, provider, externalId);
    if (userId === undefined) throw notFound('User not found');
    return userId;
  }

  /** GET /_synapse/admin/v1/threepid/<medium>/users/<address> (exact match). */
  async userByThreepid(medium: string, address: string): Promise<string> {
    const userId = await identities.findUserByThreepid(this.db, medium, address);
    if (userId === undefined) throw notFound('User not found');
    return userId;
  }

  /** GET /_synapse/admin/v1/experimental_features/<user_id>: every known feature, on or off. */
  async features(userId: string): Promise<Record<string, boolean>> {
    if (parseUserId(userId).domain !== this.config.serverName) {
      throw badRequest('User must be local to check what experimental features are enabled.');
    }
    const enabled = new Set(await moderation.enabledFeatures(this.db, userId));
    return Object.fromEntries(EXPERIMENTAL_FEATURES.map((f) => [f, enabled.has(f)]));
  }

  /** PUT /_synapse/admin/v1/experimental_features/<user_id>: only the listed keys change. */
  async setFeatures(userId: string, body: Record<string, unknown>): Promise<void> {
    if (parseUserId(userId).domain !== this.config.serverName) throw badRequest('User must be local to enable experimental features.');
    const features = body.features;
    if (!truthy(features)) throw badRequest('You must provide features to set.');
    if (typeof features !== 'object' || Array.isArray(features)) throw new MatrixError(400, 'M_INVALID_PARAM', "'features' must be an object");
    const wanted = Object.entries(features as Record<string, unknown>);
    for (const [feature, enabled] of wanted) {
      if (!(EXPERIMENTAL_FEATURES as readonly string[]).includes(feature)) {
        throw badRequest(`${pyRepr(feature)} is not recognised as a valid experimental feature.`);
      }
      if (typeof enabled !== 'boolean') throw new MatrixError(400, 'M_INVALID_PARAM', `${pyRepr(feature)} must be set to true or false`);
    }
    await this.assertExists(userId);
    for (const [feature, enabled] of wanted) await moderation.setFeature(this.db, userId, feature, enabled as boolean);
  }

  /**
   * POST /_synapse/admin/v1/account_validity/validity (catalogue §14): sets the user's expiry to
   * `expiration_ts` or now + the configured period. Like Synapse, works whether or not the
   * feature is on and does not check that the user exists.
   */
  async renewAccount(body: Record<string, unknown>): Promise<number> {
    if (!('user_id' in body)) throw badRequest("Missing property 'user_id' in the request body");
    const userId = body.user_id;
    if (typeof userId !== 'string') throw new MatrixError(400, 'M_INVALID_PARAM', "'user_id' must be a string");
    const given = body.expiration_ts;
    if (given !== undefined && given !== null && !isNonNegativeInt(given)) {
      throw new MatrixError(400, 'M_INVALID_PARAM', "'expiration_ts' must be a non-negative integer (ms)");
    }
    const now = Date.now();
    let expiration: number;
    if (typeof given === 'number') expiration = given;
    else if (this.config.accountValidity.periodMs !== null) expiration = now + this.config.accountValidity.periodMs;
    // Synapse fails with a 500 here; a clear 400 tells the operator what is missing.
    else throw badRequest("'expiration_ts' is required: account_validity has no 'period' configured");
    await moderation.setAccountValidity(this.db, {
      userId,
      expirationTsMs: expiration,
      emailSent: !truthy('enable_renewal_emails' in body ? body.enable_renewal_emails : true),
      renewalToken: null,
      tokenUsedTsMs: now,
    });
    return expiration;
  }
}
