/**
 * Server names (spec appendix "Server Name"): `host[:port]`, where host is a DNS name, an IPv4
 * address or a bracketed IPv6 literal.
 */

export interface ServerName {
  host: string;
  port: number | null;
}

const DNS_NAME = /^[0-9A-Za-z.-]{1,255}$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IPV6 = /^\[[0-9A-Fa-f:.]{2,45}\]$/;

/** Splits and validates a server name; null when it is not one. */
export function parseServerName(s: string): ServerName | null {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(s);
  if (!m) return null;
  const host = m[1]!;
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && port > 65535) return null;
  if (host.startsWith('[')) return IPV6.test(host) ? { host, port } : null;
  if (IPV4.test(host)) return host.split('.').every((o) => Number(o) <= 255) ? { host, port } : null;
  return DNS_NAME.test(host) ? { host, port } : null;
}

/** True for `@localpart:server_name` with a valid server name (Synapse's UserID.is_valid). */
export function isValidUserId(s: string): boolean {
  if (!s.startsWith('@')) return false;
  const colon = s.indexOf(':');
  if (colon < 0) return false;
  return parseServerName(s.slice(colon + 1)) !== null;
}
