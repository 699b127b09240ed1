import { badJson, badRequest, missingParam, notFound } from '../errors.js';
import { mintAccessToken } from '../matrix/access-token.js';
import { parseUserId } from '../matrix/ids.js';
import type { Db } from '../storage/database.js';
import * as devices from '../storage/stores/devices.js';
import * as tokens from '../storage/stores/tokens.js';
import * as users from '../storage/stores/users.js';
import type { AccountsService } from './accounts.js';
import { truthy } from './admin-users.js';
import { requireAdmin, type Requester } from './auth.js';
import type { ClientIpsService, Connection } from './client-ips.js';
import { checkDeviceDisplayName } from './devices.js';
import type { BodyReader } from './user-lifecycle.js';

export type AdminDevice = devices.DeviceRow;

/** The Admin API's view of a user's sessions: whois, "login as", devices (catalogue §3.8, §3.13, §3.15). */
export class AdminSessionsService {
  constructor(
    private readonly db: Db,
    private readonly accounts: AccountsService,
    private readonly clientIps: ClientIpsService,
  ) {}

  /**
   * GET /_synapse/admin/v1/whois/<user_id>: anyone may ask about themselves, admins about
   * anyone. Unknown local users just have no connections.
   */
  async whois(requester: Requester, userId: string): Promise<Connection[]> {
    if (userId !== requester.userId) requireAdmin(requester);
    if (!this.accounts.isLocal(userId)) throw badRequest('Can only whois a local user');
    return this.clientIps.connectionsOf(userId);
  }

  /**
   * POST /_synapse/admin/v1/users/<user_id>/login: a token owned by the admin that acts as the
   * target (`puppets_user_id`), with no device, so the target never sees it in their device list.
   * An expiry in the past is accepted; the token is then refused as expired.
   */
  async loginAs(requester: Requester, userId: string, readBody: BodyReader): Promise<string> {
    if (!this.accounts.isLocal(userId)) throw badRequest('Only local users can be logged in as');
    if (!(await users.getUser(this.db, userId))) throw notFound('User not found');
    const body = readBody();
    const validUntilMs = body.valid_until_ms ?? null;
    if (validUntilMs !== null && !(typeof validUntilMs === 'number' && Number.isSafeInteger(validUntilMs))) {
      throw badRequest("'valid_until_ms' parameter must be an int");
    }
    if (requester.userId === userId) throw badRequest('Cannot use admin API to login as self');
    const token = mintAccessToken(parseUserId(userId).localpart);
    await tokens.insertToken(this.db, { userId: requester.userId, deviceId: null, token, validUntilMs, puppetsUserId: userId });
    return token;
  }

  private async checkUser(userId: string, remoteMessage = 'Can only lookup local users'): Promise<void> {
    if (!this.accounts.isLocal(userId)) throw badRequest(remoteMessage);
    if (!(await users.getUser(this.db, userId))) throw notFound('Unknown user');
  }

  /** GET /_synapse/admin/v2/users/<user_id>/devices: visible devices with their last sighting. */
  async listDevices(userId: string): Promise<AdminDevice[]> {
    await this.checkUser(userId);
    return this.clientIps.withPendingLastSeen(userId, await devices.listDevices(this.db, userId));
  }

  /** GET /_synapse/admin/v2/users/<user_id>/devices/<device_id> */
  async getDevice(userId: string, deviceId: string): Promise<AdminDevice> {
    await this.checkUser(userId);
    const row = await devices.getDevice(this.db, userId, deviceId);
    if (!row || Boolean(row.hidden)) throw notFound('No device found');
    return this.clientIps.withPendingLastSeen(userId, [row])[0]!;
  }

  /** POST /_synapse/admin/v2/users/<user_id>/devices: creates the device if absent; no token. */
  async createDevice(userId: string, readBody: BodyReader): Promise<void> {
    await this.checkUser(userId, 'Can only create devices for local users');
    const deviceId = readBody().device_id;
    // Synapse tests Python truthiness first, so 0, false, "" and [] are all "missing".
    if (!truthy(deviceId)) throw badRequest('Missing device_id');
    if (typeof deviceId !== 'string') throw badRequest('device_id must be a string');
    const existing = await devices.getDevice(this.db, userId, deviceId);
    if (existing && Boolean(existing.hidden)) throw badRequest('The device ID is in use by another user');
    if (!existing) await devices.upsertDevice(this.db, userId, deviceId, null);
  }

  /**
   * PUT /_synapse/admin/v2/users/<user_id>/devices/<device_id>. Without `display_name` nothing
   * changes and the device is not even looked up (Synapse); with one, an unknown device is 404.
   */
  async renameDevice(userId: string, deviceId: string, readBody: BodyReader): Promise<void> {
    await this.checkUser(userId);
    const name = readBody().display_name;
    if (name === undefined || name === null) return;
    if (typeof name !== 'string') throw badJson("'display_name' must be a string");
    checkDeviceDisplayName(name);
    const row = await devices.getDevice(this.db, userId, deviceId);
    if (!row || Boolean(row.hidden)) throw notFound('Not found');
    await devices.setDeviceDisplayName(this.db, userId, deviceId, name);
  }

  /** DELETE …/devices/<device_id>: unknown devices are fine. */
  async deleteDevice(userId: string, deviceId: string): Promise<void> {
    await this.checkUser(userId);
    await this.accounts.deleteDevices(userId, [deviceId]);
  }

  /** POST …/delete_devices `{devices: [...]}`: devices, their tokens and pushers; unknown IDs ignored. */
  async deleteDevices(userId: string, readBody: BodyReader): Promise<void> {
    await this.checkUser(userId);
    const body = readBody();
    if (!('devices' in body)) throw missingParam("Missing params: ['devices']");
    const ids = body.devices;
    if (!Array.isArray(ids) || ids.some((d) => typeof d !== 'string')) throw badJson("'devices' must be a list of strings");
    await this.accounts.deleteDevices(userId, ids as string[]);
  }
}
