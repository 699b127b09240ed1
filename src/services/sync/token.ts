import { MatrixError } from '../../errors.js';

/**
 * A /sync position: one number per stream. Opaque to clients; written in Synapse's shape
 * `s<room>_<presence>_<typing>_<receipt>_<account_data>_<push_rules>_<to_device>_<device_list>_0_0`
 * so that tools which peek at it (and `/keys/changes`, `/messages?from=`) read it as Synapse's.
 * Every stream but typing is persisted, so tokens stay valid across restarts; typing is held in
 * memory and restarts from 0, which a token from before the restart simply runs ahead of.
 */
export interface SyncToken {
  room: number;
  presence: number;
  typing: number;
  receipt: number;
  accountData: number;
  pushRules: number;
  toDevice: number;
  deviceList: number;
}

export const STREAMS = ['room', 'presence', 'typing', 'receipt', 'accountData', 'pushRules', 'toDevice', 'deviceList'] as const;
export type Stream = (typeof STREAMS)[number];

export const ZERO_TOKEN: SyncToken = { room: 0, presence: 0, typing: 0, receipt: 0, accountData: 0, pushRules: 0, toDevice: 0, deviceList: 0 };

export function formatSyncToken(t: SyncToken): string {
  return `s${t.room}_${t.presence}_${t.typing}_${t.receipt}_${t.accountData}_${t.pushRules}_${t.toDevice}_${t.deviceList}_0_0`;
}

// Synapse answers an unparsable stream token with 400 and its default errcode.
const invalid = () => new MatrixError(400, 'M_UNKNOWN', 'Invalid stream token');

/**
 * Parses a token of ours. A bare room token (`s123`, as /messages hands out) is accepted with
 * every other stream at 0; fields past the eighth are ignored (Synapse's later streams).
 */
export function parseSyncToken(text: string): SyncToken {
  const parts = text.split('_');
  const head = /^s(\d{1,15})$/.exec(parts[0] ?? '');
  if (!head) throw invalid();
  const nums = [Number(head[1])];
  for (let i = 1; i < STREAMS.length; i++) {
    const p = parts[i];
    if (p === undefined) {
      if (parts.length === 1) {
        nums.push(0);
        continue;
      }
      throw invalid();
    }
    if (!/^\d{1,15}$/.test(p)) throw invalid();
    nums.push(Number(p));
  }
  const out = {} as SyncToken;
  STREAMS.forEach((s, i) => (out[s] = nums[i]!));
  return out;
}

/** Whether `a` has every position of `b` (nothing new between them). */
export function sameToken(a: SyncToken, b: SyncToken): boolean {
  return STREAMS.every((s) => a[s] === b[s]);
}
