import type { Config } from '../config/schema.js';
import { MatrixError } from '../errors.js';
import type { Db } from '../storage/database.js';
import type { ChangeCache } from '../storage/change-cache.js';
import * as overrides from '../storage/stores/ratelimit.js';
import type { RatelimitOverride } from '../storage/stores/ratelimit.js';
import type { Requester } from './auth.js';
import type { LoginIdentifier } from './login.js';

/** Seconds since the epoch (fractional); injectable so tests can move time. */
export type Clock = () => number;
const systemClock: Clock = () => Date.now() / 1000;

export interface LimitSetting {
  per_second: number;
  burst_count: number;
}

/** Synapse's 429 body: `{errcode, error, retry_after_ms}`. */
export const limitExceeded = (retryAfterMs: number) =>
  new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too Many Requests', { retry_after_ms: retryAfterMs });

export interface LimitOptions {
  /** Overrides the configured rate for this call (the message limiter's per-user overrides). */
  rateHz?: number;
  burstCount?: number;
  /** Count this call as an action (default). `false` only asks whether one would be allowed. */
  update?: boolean;
  nActions?: number;
}

/** How often stale buckets are dropped (Synapse prunes once a minute too). */
const PRUNE_EVERY_S = 60;

/**
 * One rate limiter: a leaky bucket per key, in memory, with Synapse's arithmetic so clients see
 * the same `retry_after_ms`. A bucket holds the actions counted since it was last empty and the
 * time it was last empty; it drains at `per_second` and admits up to `burst_count` at once.
 */
export class Ratelimiter {
  /** key → [actions counted, time the bucket was last empty (s), drain rate] */
  private readonly buckets = new Map<string, [number, number, number]>();
  private lastPrune: number;

  constructor(
    readonly name: string,
    private readonly setting: LimitSetting,
    private readonly clock: Clock = systemClock,
  ) {
    this.lastPrune = clock();
  }

  /** Whether `key` may act now, and (when not) the time at which it may. */
  canDoAction(key: string, opts: LimitOptions = {}): { allowed: boolean; timeAllowed: number } {
    const now = this.clock();
    this.prune(now);
    const rate = opts.rateHz ?? this.setting.per_second;
    const burst = opts.burstCount ?? this.setting.burst_count;
    const n = opts.nActions ?? 1;
    let [count, start] = this.buckets.get(key) ?? [0, now, 0];

    const performed = count - (now - start) * rate;
    if (performed < 0) {
      // The bucket has drained: forget what was counted.
      count = 0;
      start = now;
    }
    // Written as Synapse does (not performed + n > burst) to avoid float rounding surprises.
    const allowed = !(Math.max(performed, 0) > burst - n);
    if (allowed) count += n;
    if (opts.update !== false) this.buckets.set(key, [count, start, rate]);

    let timeAllowed = -1;
    if (rate > 0) timeAllowed = Math.max(start + (count - burst + 1) / rate, now);
    return { allowed, timeAllowed };
  }

  /** Like canDoAction, but a refusal is thrown as 429 M_LIMIT_EXCEEDED. */
  ratelimit(key: string, opts: LimitOptions = {}): void {
    const now = this.clock();
    const { allowed, timeAllowed } = this.canDoAction(key, opts);
    if (!allowed) throw limitExceeded(Math.max(0, Math.trunc(1000 * (timeAllowed - now))));
  }

  private prune(now: number): void {
    if (now - this.lastPrune < PRUNE_EVERY_S) return;
    this.lastPrune = now;
    for (const [key, [count, start, rate]] of this.buckets) {
      if (count - (now - start) * rate <= 0) this.buckets.delete(key);
    }
  }
}

/**
 * The server's rate limiters, configured from `rc_*` (catalogue §3.18): logins per client IP
 * (`rc_login.address`), per account (`rc_login.account`) and failed logins per account
 * (`rc_login.failed_attempts`); registrations per client IP (`rc_registration`); events sent per
 * user (`rc_message`, with the per-user overrides of `ratelimit_override`).
 */
export class RateLimits {
  readonly loginAddress: Ratelimiter;
  readonly loginAccount: Ratelimiter;
  readonly loginFailedAttempts: Ratelimiter;
  readonly registration: Ratelimiter;
  private readonly messages: Ratelimiter;
  private readonly messageDefaults: LimitSetting;

  constructor(
    private readonly db: Db,
    limits: Config['rateLimits'],
    private readonly serverName: string,
    clock: Clock = systemClock,
    /** Overrides read per send: cached, dropped when `ratelimit_override` changes (any writer). */
    private readonly overrideCache: ChangeCache<RatelimitOverride | null> | null = null,
  ) {
    this.loginAddress = new Ratelimiter('rc_login.address', limits.loginAddress, clock);
    this.loginAccount = new Ratelimiter('rc_login.account', limits.loginAccount, clock);
    this.loginFailedAttempts = new Ratelimiter('rc_login.failed_attempts', limits.loginFailedAttempts, clock);
    this.registration = new Ratelimiter('rc_registration', limits.registration, clock);
    this.messages = new Ratelimiter('rc_message', limits.message, clock);
    this.messageDefaults = limits.message;
  }

  /**
   * Wraps a password login with the per-account limiters. Synapse checks the failed-attempts
   * bucket before verifying the password, counts a failure on "Invalid username or password",
   * and counts a success against the account bucket. We ask the account bucket before the
   * attempt too (Synapse asks after the password check), so a refused login never opens a session.
   */
  async guardPasswordLogin<T extends { userId: string }>(id: LoginIdentifier, attempt: () => Promise<T>): Promise<T> {
    const key =
      id.kind === 'user'
        ? (id.user.startsWith('@') ? id.user : `@${id.user}:${this.serverName}`).toLowerCase()
        : `${id.medium}\u0000${id.address}`;
    this.loginFailedAttempts.ratelimit(key, { update: false });
    if (id.kind === 'user') this.loginAccount.ratelimit(key, { update: false });
    let result: T;
    try {
      result = await attempt();
    } catch (e) {
      if (e instanceof MatrixError && e.errcode === 'M_FORBIDDEN') this.loginFailedAttempts.canDoAction(key);
      throw e;
    }
    this.loginAccount.ratelimit(result.userId.toLowerCase());
    return result;
  }

  /**
   * The event-sending limiter (Synapse's RequestRatelimiter), for the send paths: a per-user
   * override of 0 (or NULL) messages per second disables limiting, other values replace
   * `rc_message`; for a "login as" token an override on the admin behind it exempts too.
   * `exempt` is for server-initiated sends (server notices, admin room actions), which Synapse
   * runs with ratelimiting off; admins sending as themselves are limited like anyone, as Synapse.
   */
  async checkMessage(requester: Pick<Requester, 'userId' | 'authenticatedBy'>, opts: { update?: boolean; nActions?: number; exempt?: boolean } = {}): Promise<void> {
    if (opts.exempt) return;
    let rateHz = this.messageDefaults.per_second;
    let burstCount = this.messageDefaults.burst_count;
    const own = await this.override(requester.userId);
    if (own) {
      if (!own.messagesPerSecond) return;
      rateHz = own.messagesPerSecond;
      burstCount = own.burstCount ?? 0;
    }
    if (requester.authenticatedBy) {
      const behind = await this.override(requester.authenticatedBy);
      if (behind && !behind.messagesPerSecond) return;
    }
    this.messages.ratelimit(requester.userId, { rateHz, burstCount, update: opts.update, nActions: opts.nActions });
  }

  private async override(userId: string): Promise<RatelimitOverride | undefined> {
    const cache = this.overrideCache;
    const epoch = cache?.begin() ?? null;
    const hit = cache?.get(epoch, userId);
    if (hit !== undefined) return hit ?? undefined;
    const row = await overrides.getOverride(this.db, userId);
    cache?.set(epoch, userId, row ?? null, [userId]);
    return row;
  }
}
