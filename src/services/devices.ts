import { MatrixError, notFound } from '../errors.js';
import type { Db } from '../storage/database.js';
import * as devices from '../storage/stores/devices.js';
import type { AccountsService } from './accounts.js';

/** A device as the client API sees it (null columns are left to the mapper). */
export interface DeviceInfo {
  userId: string;
  deviceId: string;
  displayName: string | null;
  lastSeenIp: string | null;
  lastSeenTs: number | null;
}

/** Synapse's MAX_DEVICE_DISPLAY_NAME_LEN, counted in code points as Python's len() does. */
export const MAX_DEVICE_DISPLAY_NAME_LEN = 100;

const toInfo = (d: devices.DeviceRow): DeviceInfo => ({
  userId: d.user_id,
  deviceId: d.device_id,
  displayName: d.display_name,
  lastSeenIp: d.ip,
  lastSeenTs: d.last_seen === null ? null : Number(d.last_seen),
});

/** Rejects an over-long device display name (Synapse: 400 M_TOO_LARGE). */
export function checkDeviceDisplayName(name: string | null | undefined): void {
  if (name && [...name].length > MAX_DEVICE_DISPLAY_NAME_LEN) {
    throw new MatrixError(400, 'M_TOO_LARGE', `Device display name is too long (max ${MAX_DEVICE_DISPLAY_NAME_LEN})`);
  }
}

/** Merges client-IP sightings not yet written to `devices` (ClientIpsService does). */
export interface PendingLastSeen {
  withPendingLastSeen<T extends { device_id: string; ip: string | null; user_agent: string | null; last_seen: number | null }>(userId: string, rows: T[]): T[];
}

/** A user's own devices (client API §10.10): list, read, rename, delete with their tokens. */
export class DevicesService {
  constructor(
    private readonly db: Db,
    private readonly accounts: AccountsService,
    private readonly clientIps?: PendingLastSeen,
  ) {}

  private seen(userId: string, rows: devices.DeviceRow[]): devices.DeviceRow[] {
    return this.clientIps ? this.clientIps.withPendingLastSeen(userId, rows) : rows;
  }

  async list(userId: string): Promise<DeviceInfo[]> {
    return this.seen(userId, await devices.listDevices(this.db, userId)).map(toInfo);
  }

  /** One visible device; hidden ones do not exist as far as clients are concerned. */
  async get(userId: string, deviceId: string): Promise<DeviceInfo> {
    const row = await devices.getDevice(this.db, userId, deviceId);
    if (!row || Boolean(row.hidden)) throw notFound('No device found');
    return toInfo(this.seen(userId, [row])[0]!);
  }

  /**
   * Renames a device. As in Synapse, a body without `display_name` changes nothing and does not
   * even check that the device exists; with a name, an unknown device is 404 "Not found".
   */
  async rename(userId: string, deviceId: string, displayName: string | undefined): Promise<void> {
    checkDeviceDisplayName(displayName);
    if (displayName === undefined) return;
    const row = await devices.getDevice(this.db, userId, deviceId);
    if (!row || Boolean(row.hidden)) throw notFound('Not found');
    await devices.setDeviceDisplayName(this.db, userId, deviceId, displayName);
  }

  /** Deletes devices and their access tokens; unknown IDs are ignored (Synapse's behaviour). */
  async delete(userId: string, deviceIds: string[]): Promise<void> {
    await this.accounts.deleteDevices(userId, deviceIds);
  }
}
