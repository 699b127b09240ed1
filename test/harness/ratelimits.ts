/**
 * Config overrides that lift the login and registration rate limits, for test files that log in
 * or register many times in a row and are not about rate limiting.
 */
const generous = { per_second: 1000, burst_count: 1000 };

export const NO_RATE_LIMITS = {
  rc_login: { address: generous, account: generous, failed_attempts: generous },
  rc_registration: generous,
  rc_message: generous,
};
