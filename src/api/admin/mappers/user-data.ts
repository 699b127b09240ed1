import type { AccountDataDump } from '../../../services/account-data.js';
import type { Pusher } from '../../../services/pushers.js';
import { adminPusherJson } from '../../mappers/pushers.js';

/** A per-user rate-limit override (catalogue §3.18): NULL columns read as 0. */
export interface RatelimitOverride {
  messagesPerSecond: number | null;
  burstCount: number | null;
}

/** GET …/pushers: the whole list and its length. */
export const adminPushersJson = (pushers: Pusher[]) => ({ pushers: pushers.map(adminPusherJson), total: pushers.length });

/** GET …/accountdata (catalogue §3.11). */
export const accountDataJson = (d: AccountDataDump) => ({ account_data: { global: d.global, rooms: d.rooms } });

/** GET/POST …/override_ratelimit: `{}` when the user has no override (catalogue §3.18). */
export const ratelimitOverrideJson = (o: RatelimitOverride | undefined) =>
  o ? { messages_per_second: o.messagesPerSecond ?? 0, burst_count: o.burstCount ?? 0 } : {};
