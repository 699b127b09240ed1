import type { AdminDevice } from '../../../services/admin-sessions.js';
import type { Connection } from '../../../services/client-ips.js';

/**
 * The Admin API's device object (catalogue §3.15), in Synapse 1.94's field order; unset
 * last-seen fields are null, `last_seen_ts` in ms.
 */
export function adminDeviceJson(d: AdminDevice) {
  return {
    user_id: d.user_id,
    device_id: d.device_id,
    display_name: d.display_name,
    last_seen_user_agent: d.user_agent,
    last_seen_ts: d.last_seen === null ? null : Number(d.last_seen),
    last_seen_ip: d.ip,
  };
}

/**
 * Whois (catalogue §3.8): Synapse puts every connection under one pseudo-device keyed "" holding
 * one session, whatever devices the user has (12_v1_whois.txt).
 */
export function whoisJson(userId: string, connections: Connection[]) {
  return {
    user_id: userId,
    devices: {
      '': {
        sessions: [{ connections: connections.map((c) => ({ ip: c.ip, last_seen: c.lastSeen, user_agent: c.userAgent })) }],
      },
    },
  };
}
