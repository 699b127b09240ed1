import type { AccountDataDump } from '../../../services/account-data.js';
import type { Pusher } from '../../../services/pushers.js';

/** A per-user rate-limit override (catalogue §3.18): NULL columns read as 0. */
export interface RatelimitOverride {
  messagesPerSecond: number | null;
  burstCount: number | null;
}

/** A pusher in the admin API: Synapse's `as_dict()`, including the undocumented `enabled` and `device_id` (catalogue §3.16). */
export const adminPusherJson = (p: Pusher) => ({
  app_display_name: p.appDisplayName,
  app_id: p.appId,
  data: p.data,
  device_display_name: p.deviceDisplayName,
  kind: p.kind,
  lang: p.lang,
  profile_tag: p.profileTag,
  pushkey: p.pushkey,
  enabled: p.enabled,
  device_id: p.deviceId,
});

/** GET …/pushers: the whole list and its length. */
export const adminPushersJson = (pushers: Pusher[]) => ({ pushers: pushers.map(adminPusherJson), total: pushers.length });

/** GET …/accountdata (catalogue §3.11). */
export const accountDataJson = (d: AccountDataDump) => ({ account_data: { global: d.global, rooms: d.rooms } });

/** GET/POST …/override_ratelimit: `{}` when the user has no override (catalogue §3.18). */
export const ratelimitOverrideJson = (o: RatelimitOverride | undefined) =>
  o ? { messages_per_second: o.messagesPerSecond ?? 0, burst_count: o.burstCount ?? 0 } : {};
