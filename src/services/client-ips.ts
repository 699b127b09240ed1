import type { Logger } from 'pino';
import { withTransaction, type Db } from '../storage/database.js';
import * as clientIps from '../storage/stores/client-ips.js';
import type { ClientIpWrite, UserIpRow } from '../storage/stores/client-ips.js';

/** Synapse rewrites a (user, token, IP) row at most this often (LAST_SEEN_GRANULARITY). */
export const LAST_SEEN_GRANULARITY_MS = 120_000;
/** How often pending rows are written, as Synapse's client-IP looper. */
export const FLUSH_INTERVAL_MS = 5_000;
/** Bound on the memory of recently recorded keys (Synapse's LRU cache size). */
const RECENT_KEYS_MAX = 50_000;

/** A user agent Synapse never records: the sliding-sync proxy polls for users who are not there. */
const IGNORED_USER_AGENT = 'sync-v3-proxy-';

/** One connection as whois shows it. */
export interface Connection {
  accessToken: string;
  ip: string;
  userAgent: string;
  lastSeen: number;
}

/** The device columns the client-IP data overrides. */
export interface DeviceLastSeen {
  device_id: string;
  ip: string | null;
  user_agent: string | null;
  last_seen: number | null;
}

const keyOf = (userId: string, accessToken: string, ip: string) => `${userId}\u0000${accessToken}\u0000${ip}`;

/**
 * Records which IP and user agent each access token is used from (catalogue §3.8, §3.15).
 * Requests only touch memory; pending rows are written in one transaction every few seconds and on
 * shutdown, so a busy server never pays a database write per request. Reads merge the pending
 * rows in, as Synapse does, so nothing waits for the next flush.
 */
export class ClientIpsService {
  private pending = new Map<string, ClientIpWrite>();
  /** key → when it was last recorded, oldest first (a small LRU). */
  private readonly recent = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly flushIntervalMs = FLUSH_INTERVAL_MS,
  ) {}

  /** Starts the periodic flush (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush().catch(() => {}), this.flushIntervalMs);
    this.timer.unref();
  }

  /**
   * Notes one authenticated request. `userId` is the token's owner (for a "login as" token the
   * admin who minted it, as Synapse records it). Synchronous and I/O-free.
   */
  record(userId: string, accessToken: string, deviceId: string | null, ip: string | undefined, userAgent: string, now = Date.now()): void {
    if (!ip || userAgent === IGNORED_USER_AGENT) return;
    const key = keyOf(userId, accessToken, ip);
    const last = this.recent.get(key);
    if (last !== undefined && now - last < LAST_SEEN_GRANULARITY_MS) return;
    this.recent.delete(key);
    this.recent.set(key, now);
    if (this.recent.size > RECENT_KEYS_MAX) this.recent.delete(this.recent.keys().next().value!);
    this.pending.set(key, { userId, accessToken, deviceId, ip, userAgent, lastSeen: now });
  }

  /** Writes everything pending; concurrent calls queue so that each sees the earlier ones done. */
  flush(): Promise<void> {
    const run = this.chain.then(() => this.writePending());
    this.chain = run.catch(() => {});
    return run;
  }

  /** Stops the timer and writes what is left (before the database closes). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush().catch(() => {});
  }

  private async writePending(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const rows = [...batch.values()];
    // One devices update per device: the newest sighting wins.
    const byDevice = new Map<string, ClientIpWrite>();
    for (const r of rows) {
      if (r.deviceId === null) continue;
      const k = `${r.userId}\u0000${r.deviceId}`;
      const seen = byDevice.get(k);
      if (!seen || seen.lastSeen <= r.lastSeen) byDevice.set(k, r);
    }
    try {
      await withTransaction(this.db, async (tx) => {
        await clientIps.upsertUserIps(tx, rows);
        for (const r of byDevice.values()) {
          await clientIps.updateDeviceLastSeen(tx, { userId: r.userId, deviceId: r.deviceId!, ip: r.ip, userAgent: r.userAgent, lastSeen: r.lastSeen });
        }
      });
    } catch (err) {
      // Keep the rows for the next round unless newer ones for the same key arrived meanwhile.
      for (const [k, r] of batch) if (!this.pending.has(k)) this.pending.set(k, r);
      this.log.warn({ err }, 'could not write client IPs; will retry');
      throw err;
    }
  }

  private pendingOf(userId: string): ClientIpWrite[] {
    const out: ClientIpWrite[] = [];
    for (const r of this.pending.values()) if (r.userId === userId) out.push(r);
    return out;
  }

  /** Every (token, IP) a user was seen on, stored and pending merged, newest first. */
  async connectionsOf(userId: string): Promise<Connection[]> {
    const stored: UserIpRow[] = await clientIps.listUserIps(this.db, userId);
    const merged = new Map<string, Connection>();
    for (const r of stored) merged.set(`${r.access_token}\u0000${r.ip}`, { accessToken: r.access_token, ip: r.ip, userAgent: r.user_agent, lastSeen: r.last_seen });
    for (const r of this.pendingOf(userId)) merged.set(`${r.accessToken}\u0000${r.ip}`, { accessToken: r.accessToken, ip: r.ip, userAgent: r.userAgent, lastSeen: r.lastSeen });
    return [...merged.values()].sort((a, b) => b.lastSeen - a.lastSeen);
  }

  /** Device rows with not-yet-written sightings applied (device lists read through this). */
  withPendingLastSeen<T extends DeviceLastSeen>(userId: string, rows: T[]): T[] {
    const newest = new Map<string, ClientIpWrite>();
    for (const r of this.pendingOf(userId)) {
      if (r.deviceId === null) continue;
      const seen = newest.get(r.deviceId);
      if (!seen || seen.lastSeen <= r.lastSeen) newest.set(r.deviceId, r);
    }
    if (newest.size === 0) return rows;
    return rows.map((d) => {
      const p = newest.get(d.device_id);
      if (!p || (d.last_seen !== null && Number(d.last_seen) > p.lastSeen)) return d;
      return { ...d, ip: p.ip, user_agent: p.userAgent, last_seen: p.lastSeen };
    });
  }
}
