import type { RegistrationToken } from '../../../services/registration-tokens.js';

/** The token object every registration-token endpoint returns (catalogue §5), integers or null. */
export function registrationTokenJson(t: RegistrationToken) {
  return {
    token: t.token,
    uses_allowed: t.uses_allowed === null ? null : Number(t.uses_allowed),
    pending: Number(t.pending),
    completed: Number(t.completed),
    expiry_time: t.expiry_time === null ? null : Number(t.expiry_time),
  };
}
