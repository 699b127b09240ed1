import { invalidParam } from '../errors.js';

/** A parsed Matrix user ID `@localpart:domain`. */
export interface UserId {
  readonly localpart: string;
  readonly domain: string;
  readonly full: string;
}

/**
 * Parses a user ID the way Synapse's UserID.from_string does, with its error texts
 * (400 M_INVALID_PARAM), so admin tools see the same messages.
 */
export function parseUserId(s: string): UserId {
  if (!s.startsWith('@')) throw invalidParam("Expected UserID string to start with '@'");
  const colon = s.indexOf(':');
  if (colon < 0) throw invalidParam("Expected UserID string to be of the form '@localname:domain'");
  const localpart = s.slice(1, colon);
  const domain = s.slice(colon + 1);
  if (domain.length === 0) throw invalidParam("Expected UserID string to be of the form '@localname:domain'");
  return { localpart, domain, full: s };
}

export const userIdOf = (localpart: string, serverName: string) => `@${localpart}:${serverName}`;

/** Characters Synapse allows in a newly registered localpart. */
const LOCALPART_RE = /^[a-z0-9._=\-/+]+$/;

export type LocalpartProblem = 'invalid_chars' | 'underscore' | 'numeric' | 'too_long' | 'empty';

/** Checks a localpart for registration; returns the problem or null. */
export function localpartProblem(localpart: string, serverName: string): LocalpartProblem | null {
  if (localpart.length === 0) return 'empty';
  if (!LOCALPART_RE.test(localpart)) return 'invalid_chars';
  if (localpart.startsWith('_')) return 'underscore';
  if (/^[0-9]+$/.test(localpart)) return 'numeric';
  if (userIdOf(localpart, serverName).length > 255) return 'too_long';
  return null;
}
