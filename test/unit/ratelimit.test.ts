import { describe, expect, it } from 'vitest';
import { normalizeConfig, parseDuration } from '../../src/config/load.js';
import { MatrixError } from '../../src/errors.js';
import { Ratelimiter } from '../../src/services/ratelimit.js';
import { pyRepr } from '../../src/services/moderation.js';

/** A limiter on a clock the test moves by hand. */
function limiter(perSecond: number, burst: number) {
  let now = 1_000_000;
  const rl = new Ratelimiter('test', { per_second: perSecond, burst_count: burst }, () => now);
  return { rl, advance: (s: number) => (now += s), now: () => now };
}

describe('Ratelimiter (Synapse leaky bucket)', () => {
  it('admits burst_count actions at once, then refuses with the time until one has drained', () => {
    const { rl } = limiter(0.5, 3);
    for (let i = 0; i < 3; i++) expect(rl.canDoAction('k').allowed).toBe(true);
    const denied = rl.canDoAction('k');
    expect(denied.allowed).toBe(false);
    let err: unknown;
    try {
      rl.ratelimit('k');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MatrixError);
    expect((err as MatrixError).status).toBe(429);
    expect((err as MatrixError).toJSON()).toEqual({ errcode: 'M_LIMIT_EXCEEDED', error: 'Too Many Requests', retry_after_ms: 2000 });
  });

  it('drains at per_second: one more action per 1/rate seconds', () => {
    const { rl, advance } = limiter(0.5, 2);
    rl.ratelimit('k');
    rl.ratelimit('k');
    expect(() => rl.ratelimit('k')).toThrow(MatrixError);
    advance(1.9);
    expect(rl.canDoAction('k').allowed).toBe(false);
    advance(0.1);
    expect(rl.canDoAction('k').allowed).toBe(true);
    expect(rl.canDoAction('k').allowed).toBe(false);
    // Fully drained: a whole burst again.
    advance(100);
    expect(rl.canDoAction('k').allowed).toBe(true);
    expect(rl.canDoAction('k').allowed).toBe(true);
  });

  it('retry_after_ms shrinks as time passes and is truncated to whole ms', () => {
    const { rl, advance } = limiter(0.3, 1);
    rl.ratelimit('k');
    advance(1.0005);
    try {
      rl.ratelimit('k');
      expect.unreachable();
    } catch (e) {
      // 1/0.3 s = 3333.33 ms after the first action, 1000.5 ms of which have passed.
      expect((e as MatrixError).extra.retry_after_ms).toBe(2332);
    }
  });

  it('update: false asks without counting; keys are independent; nActions counts several', () => {
    const { rl } = limiter(0.1, 2);
    for (let i = 0; i < 10; i++) expect(rl.canDoAction('a', { update: false }).allowed).toBe(true);
    expect(rl.canDoAction('a', { nActions: 2 }).allowed).toBe(true);
    expect(rl.canDoAction('a').allowed).toBe(false);
    expect(rl.canDoAction('b').allowed).toBe(true);
    expect(rl.canDoAction('c', { nActions: 3 }).allowed).toBe(false);
  });

  it('per-call rate and burst override the configured ones (the message limiter\'s overrides)', () => {
    const { rl } = limiter(0.1, 1);
    for (let i = 0; i < 5; i++) expect(rl.canDoAction('k', { rateHz: 10, burstCount: 5 }).allowed).toBe(true);
    expect(rl.canDoAction('k', { rateHz: 10, burstCount: 5 }).allowed).toBe(false);
  });

  it('forgets drained buckets after a minute', () => {
    const { rl, advance } = limiter(1, 1);
    rl.ratelimit('k');
    advance(61);
    rl.ratelimit('other');
    expect((rl as unknown as { buckets: Map<string, unknown> }).buckets.has('k')).toBe(false);
  });
});

describe('config: account_validity and durations', () => {
  const base = { server_name: 'example.org', database: { name: 'sqlite3', args: { database: ':memory:' } } };

  it('parses Synapse durations', () => {
    expect(parseDuration(1500, 'x')).toBe(1500);
    expect(parseDuration('1500', 'x')).toBe(1500);
    expect(parseDuration('30s', 'x')).toBe(30_000);
    expect(parseDuration('6w', 'x')).toBe(6 * 7 * 86_400_000);
    expect(parseDuration('1y', 'x')).toBe(365 * 86_400_000);
    expect(() => parseDuration('soon', 'x')).toThrow(/duration/);
  });

  it('defaults to off; needs a period when on', () => {
    expect(normalizeConfig(base).accountValidity).toEqual({ enabled: false, periodMs: null, renewAtMs: null });
    expect(normalizeConfig({ ...base, account_validity: { enabled: true, period: '2d', renew_at: '1d' } }).accountValidity).toEqual({
      enabled: true,
      periodMs: 2 * 86_400_000,
      renewAtMs: 86_400_000,
    });
    expect(() => normalizeConfig({ ...base, account_validity: { enabled: true } })).toThrow(/period/);
  });

  it('rc_* defaults are Synapse\'s', () => {
    const rl = normalizeConfig(base).rateLimits;
    expect(rl.message).toEqual({ per_second: 0.2, burst_count: 10 });
    expect(rl.registration).toEqual({ per_second: 0.17, burst_count: 3 });
    expect(rl.loginAddress).toEqual({ per_second: 0.003, burst_count: 5 });
    expect(rl.loginFailedAttempts).toEqual({ per_second: 0.17, burst_count: 3 });
  });
});

describe('pyRepr (Synapse error texts built with %r)', () => {
  it('prints JSON values as Python would', () => {
    expect(pyRepr('abc')).toBe("'abc'");
    expect(pyRepr("it's")).toBe('"it\'s"');
    expect(pyRepr(-1)).toBe('-1');
    expect(pyRepr(1.5)).toBe('1.5');
    expect(pyRepr(true)).toBe('True');
    expect(pyRepr(null)).toBe('None');
    expect(pyRepr([1, 'a'])).toBe("[1, 'a']");
    expect(pyRepr({ a: false })).toBe("{'a': False}");
  });
});
