import { randomInt } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { MatrixError, badRequest } from '../errors.js';
import { mintAccessToken } from '../matrix/access-token.js';
import { localpartProblem, parseUserId, userIdOf } from '../matrix/ids.js';
import { withTransaction, type Db } from '../storage/database.js';
import { inChunks } from '../storage/bulk.js';
import { isUniqueViolation } from '../storage/dialect.js';
import * as devices from '../storage/stores/devices.js';
import * as identities from '../storage/stores/identities.js';
import * as profiles from '../storage/stores/profiles.js';
import * as tokens from '../storage/stores/tokens.js';
import * as users from '../storage/stores/users.js';
import * as accountData from '../storage/stores/account-data.js';
import * as lifecycle from '../storage/stores/user-lifecycle.js';
import { setAccountValidity } from '../storage/stores/moderation.js';
import type { Passwords } from './passwords.js';
import type { UserRoomHooks } from './user-room-hooks.js';

export interface RegisterArgs {
  localpart: string;
  password: string | null;
  /** A hash computed earlier (off the transaction); wins over `password`. */
  passwordHash?: string | null;
  admin?: boolean;
  userType?: string | null;
  displayname?: string | null;
  /** Skip creating a device and token. */
  inhibitLogin?: boolean;
  deviceId?: string | null;
  initialDeviceDisplayName?: string | null;
  approved?: boolean | null;
  /** Writes that must commit or roll back with the account (e.g. a registration token's use). */
  alsoIn?: (tx: Db) => Promise<void>;
}

export interface Session {
  userId: string;
  accessToken: string;
  deviceId: string;
}

/** End-to-end state that goes with a device (keys, to-device inbox, a device-list change), removed in the removing transaction. */
export interface DeviceRemovalHooks {
  devicesRemovedIn(tx: Db, userId: string, deviceIds: string[]): Promise<void>;
  allDevicesRemovedIn(tx: Db, userId: string): Promise<void>;
}

const DEVICE_LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** Synapse's device IDs: ten upper-case letters. */
export const newDeviceId = () => Array.from({ length: 10 }, () => DEVICE_LETTERS[randomInt(26)]).join('');

/** Accounts: registration, login sessions, passwords and deactivation, shared by the client and admin APIs. */
export class AccountsService {
  /** Room effects of account changes, run after they commit; set by src/context.ts. */
  roomHooks: UserRoomHooks | null = null;
  /** End-to-end state of removed devices; set by src/context.ts. */
  deviceHooks: DeviceRemovalHooks | null = null;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    readonly passwords: Passwords,
  ) {}

  userId(localpart: string): string {
    return userIdOf(localpart, this.config.serverName);
  }

  isLocal(userId: string): boolean {
    return parseUserId(userId).domain === this.config.serverName;
  }

  /** Valid user types: Synapse's built-ins plus `user_types.extra_user_types`. */
  isValidUserType(t: unknown): boolean {
    return t === null || t === undefined || (typeof t === 'string' && ['bot', 'support', ...this.config.extraUserTypes].includes(t));
  }

  /** Synapse's checks for a new localpart (M_INVALID_USERNAME / M_USER_IN_USE). */
  async checkUsername(localpart: string): Promise<void> {
    const problem = localpartProblem(localpart, this.config.serverName);
    const invalid = (msg: string) => new MatrixError(400, 'M_INVALID_USERNAME', msg);
    switch (problem) {
      case 'empty':
      case 'invalid_chars':
        throw invalid('User ID can only contain characters a-z, 0-9, or \'=_-./+\'');
      case 'underscore':
        throw invalid("User ID may not begin with '_'");
      case 'numeric':
        throw invalid('Numeric user IDs are reserved for guest users.');
      case 'too_long':
        throw invalid('User ID may not be longer than 255 characters');
    }
    if (await users.findUserCaseInsensitive(this.db, this.userId(localpart))) {
      throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken.');
    }
  }

  /** Creates an account with its profile (and a device + token unless inhibited), atomically. */
  async register(args: RegisterArgs): Promise<{ userId: string; session: Session | null }> {
    const userId = this.userId(args.localpart);
    const hash = args.passwordHash !== undefined ? args.passwordHash : args.password === null ? null : await this.passwords.hash(args.password);
    try {
      return await withTransaction(this.db, async (tx) => {
        await this.insertAccountIn(tx, args, hash);
        await args.alsoIn?.(tx);
        const session = args.inhibitLogin
          ? null
          : await this.createSessionIn(tx, userId, args.deviceId ?? null, args.initialDeviceDisplayName ?? null);
        return { userId, session };
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken.');
      throw e;
    }
  }

  /** Inserts the users and profiles rows of a new account inside the caller's transaction. */
  async insertAccountIn(tx: Db, args: RegisterArgs, hash: string | null): Promise<void> {
    const userId = this.userId(args.localpart);
    await users.insertUser(tx, {
      name: userId,
      passwordHash: hash,
      creationTs: Math.floor(Date.now() / 1000),
      admin: args.admin ?? false,
      userType: args.userType === undefined ? this.config.defaultUserType : args.userType,
      approved: args.approved ?? null,
    });
    // With account_validity on, every new account starts with a period of validity (as Synapse).
    const validity = this.config.accountValidity;
    if (validity.enabled && validity.periodMs !== null) {
      await setAccountValidity(tx, { userId, expirationTsMs: Date.now() + validity.periodMs, emailSent: false, renewalToken: null, tokenUsedTsMs: null });
    }
    await profiles.ensureProfile(tx, args.localpart, userId, args.displayname ?? args.localpart);
  }

  /** Creates (or reuses) a device and mints a token for it. */
  async createSession(userId: string, deviceId: string | null, displayName: string | null, validUntilMs?: number | null): Promise<Session> {
    return withTransaction(this.db, (tx) => this.createSessionIn(tx, userId, deviceId, displayName, validUntilMs));
  }

  private async createSessionIn(tx: Db, userId: string, deviceId: string | null, displayName: string | null, validUntilMs?: number | null): Promise<Session> {
    // Checked again under the row lock: a deactivation may have run since the caller looked, and
    // its device clean-up must not miss the session opened here.
    const user = await users.lockUser(tx, userId);
    if (!user || user.deactivated) throw new MatrixError(403, 'M_USER_DEACTIVATED', 'This account has been deactivated');
    const device = deviceId ?? newDeviceId();
    await devices.upsertDevice(tx, userId, device, displayName);
    const accessToken = mintAccessToken(parseUserId(userId).localpart);
    await tokens.insertToken(tx, { userId, deviceId: device, token: accessToken, validUntilMs });
    return { userId, accessToken, deviceId: device };
  }

  /** Verifies a local user's password; returns the canonical user ID or null. */
  async checkPassword(userId: string, password: string): Promise<string | null> {
    const user = (await users.getUser(this.db, userId)) ?? (await this.caseInsensitiveUser(userId));
    if (!user || user.deactivated) {
      await this.passwords.verify(password, null);
      return null;
    }
    return (await this.passwords.verify(password, user.password_hash)) ? user.name : null;
  }

  private async caseInsensitiveUser(userId: string) {
    const name = await users.findUserCaseInsensitive(this.db, userId);
    return name ? users.getUser(this.db, name) : undefined;
  }

  /** Logs out one device: its tokens and the device itself. */
  async logoutDevice(userId: string, deviceId: string | null, tokenId: number): Promise<void> {
    await withTransaction(this.db, async (tx) => {
      await users.lockUser(tx, userId);
      if (deviceId === null) {
        await lifecycle.deletePushersOfToken(tx, tokenId);
        await tokens.deleteTokenById(tx, tokenId);
        return;
      }
      await this.removeDevicesIn(tx, userId, [deviceId]);
    });
  }

  /** Deletes devices with their tokens and the pushers those tokens registered (Synapse's on-logout hook). */
  private async removeDevicesIn(tx: Db, userId: string, deviceIds: string[]): Promise<void> {
    await lifecycle.deletePushersOfDevices(tx, userId, deviceIds);
    await tokens.deleteTokensForDevices(tx, userId, deviceIds);
    await devices.deleteDevices(tx, userId, deviceIds);
    await this.deviceHooks?.devicesRemovedIn(tx, userId, deviceIds);
  }

  /** Deletes every token the user owns (and the pushers registered through them), optionally sparing one. */
  private async removeTokensIn(tx: Db, userId: string, exceptTokenId?: number): Promise<void> {
    await lifecycle.deletePushersOfTokens(tx, userId, exceptTokenId);
    await tokens.deleteUserTokens(tx, userId, { exceptTokenId });
  }

  /** Deletes devices (and their tokens), optionally sparing the caller's own. */
  async deleteDevices(userId: string, deviceIds: string[] | 'all', except?: { deviceId: string | null; tokenId: number }): Promise<void> {
    await withTransaction(this.db, async (tx) => {
      await users.lockUser(tx, userId);
      let ids = deviceIds === 'all' ? await devices.deviceIdsOf(tx, userId) : deviceIds;
      if (except?.deviceId) ids = ids.filter((d) => d !== except.deviceId);
      await this.removeDevicesIn(tx, userId, ids);
      if (deviceIds === 'all') await this.removeTokensIn(tx, userId, except?.tokenId);
    });
  }

  /**
   * Sets a new password. With `logoutDevices`, every device and token of the user goes, except
   * the caller's own session when given (Synapse's behaviour).
   */
  async setPassword(userId: string, newPassword: string, opts: { logoutDevices: boolean; except?: { deviceId: string | null; tokenId: number } }): Promise<void> {
    const hash = await this.passwords.hash(newPassword);
    await withTransaction(this.db, (tx) => this.setPasswordHashIn(tx, userId, hash, opts));
  }

  async setPasswordHashIn(tx: Db, userId: string, hash: string, opts: { logoutDevices: boolean; except?: { deviceId: string | null; tokenId: number } }): Promise<void> {
    await users.lockUser(tx, userId);
    await users.setPasswordHash(tx, userId, hash);
    if (opts.logoutDevices) {
      let ids = await devices.deviceIdsOf(tx, userId);
      if (opts.except?.deviceId) ids = ids.filter((d) => d !== opts.except!.deviceId);
      await this.removeDevicesIn(tx, userId, ids);
      await this.removeTokensIn(tx, userId, opts.except?.tokenId);
    }
  }

  /**
   * Deactivates an account (catalogue §3.5), in one transaction and Synapse's order: 3PIDs,
   * devices with their tokens, remaining tokens (puppet tokens an admin minted for this user are
   * the admin's and survive), password, every pusher, with `erase` the profile's name and avatar
   * plus the erased mark, account validity, the flag, then global and per-room account data.
   * Then, once that has committed, the user leaves every room and rejects every invite
   * (`roomHooks`; room events never go inside another transaction). Callers of `deactivateIn`
   * call `roomHooks.afterDeactivation` after their own commit.
   */
  async deactivate(userId: string, opts: { erase: boolean }): Promise<void> {
    await withTransaction(this.db, (tx) => this.deactivateIn(tx, userId, opts));
    await this.roomHooks?.afterDeactivation(userId);
  }

  async deactivateIn(tx: Db, userId: string, opts: { erase: boolean }): Promise<void> {
    // The user's row first (the lock order every session-changing transaction follows).
    await users.lockUser(tx, userId);
    await identities.deleteAllThreepids(tx, userId);
    // Every pusher, token and device of the user goes. A bot that logged in without ever logging
    // out can own 100,000 of them: delete in short steps, so the event loop serves other requests
    // between them (the transaction keeps it atomic).
    await lifecycle.deletePushersOfUser(tx, userId);
    await inChunks((n) => tokens.deleteSomeUserTokens(tx, userId, n));
    await inChunks((n) => devices.deleteSomeDevices(tx, userId, n));
    await this.deviceHooks?.allDevicesRemovedIn(tx, userId);
    await users.setPasswordHash(tx, userId, null);
    if (opts.erase) {
      await profiles.setDisplayname(tx, userId, null);
      await profiles.setAvatarUrl(tx, userId, null);
      await users.markErased(tx, userId);
    }
    await lifecycle.deleteAccountValidity(tx, userId);
    await users.setDeactivated(tx, userId, true);
    await accountData.deleteAllAccountData(tx, userId);
  }

  /** Reactivates a deactivated account: un-erased, profile row back, flag cleared. */
  async reactivateIn(tx: Db, userId: string): Promise<void> {
    const localpart = parseUserId(userId).localpart;
    await users.unmarkErased(tx, userId);
    await profiles.ensureProfile(tx, localpart, userId, localpart);
    await users.setDeactivated(tx, userId, false);
  }

  /** Synapse's can_change_password: password auth on (also `only_for_reauth`) and the local database enabled. */
  canChangePassword(): boolean {
    return this.config.password.enabled && this.config.password.localdbEnabled;
  }

  assertLocal(userId: string, message: string): void {
    if (!this.isLocal(userId)) throw badRequest(message);
  }
}
