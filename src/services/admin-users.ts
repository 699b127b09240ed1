import type { Config } from '../config/schema.js';
import { MatrixError, badJson, badRequest, invalidParam, missingParam, notFound } from '../errors.js';
import { parseUserId } from '../matrix/ids.js';
import { withTransaction, type Db } from '../storage/database.js';
import type { ChangeCache } from '../storage/change-cache.js';
import { isUniqueViolation } from '../storage/dialect.js';
import * as identities from '../storage/stores/identities.js';
import * as profiles from '../storage/stores/profiles.js';
import * as users from '../storage/stores/users.js';
import type { AccountsService } from './accounts.js';
import type { Requester } from './auth.js';
import { checkDisplayname } from './profiles.js';

/** Everything the single-user admin view shows (catalogue §3.2). */
export interface UserDetails {
  user: users.UserRow;
  profile: profiles.ProfileRow | undefined;
  threepids: identities.ThreepidRow[];
  externalIds: identities.ExternalIdRow[];
  erased: boolean;
  lastSeenTs: number | null;
}

const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const missing = (keys: string[]) => missingParam(`Missing params: [${keys.map((k) => `'${k}'`).join(', ')}]`);

function checkItems(value: unknown, name: string, required: string[]): Array<Record<string, string>> {
  if (!Array.isArray(value)) throw badJson(`'${name}' must be a list`);
  return value.map((item) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw badJson(`'${name}' must be a list of objects`);
    const absent = required.filter((k) => !(k in item));
    if (absent.length > 0) throw missing(absent);
    for (const k of required) if (typeof (item as Record<string, unknown>)[k] !== 'string') throw badJson(`'${k}' must be a string`);
    return item as Record<string, string>;
  });
}

/** Synapse lower-cases e-mail addresses before storing them. */
const canonicalAddress = (medium: string, address: string) => (medium === 'email' ? address.trim().toLowerCase() : address);

/** Every table the single-user view reads (its cache drops a user when any of their rows change). */
export const USER_VIEW_TABLES = ['users', 'profiles', 'user_threepids', 'user_external_ids', 'erased_users', 'devices', 'user_ips'];

/** The Admin API's user resource: look-up, create-or-modify and the admin flag. */
export class AdminUsersService {
  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly accounts: AccountsService,
    /** Cache of the single-user view (see USER_VIEW_TABLES); only used outside transactions. */
    private readonly cache?: ChangeCache<UserDetails>,
  ) {}

  async details(userId: string, db: Db = this.db): Promise<UserDetails | undefined> {
    if (db !== this.db || !this.cache) return this.read(userId, db);
    const epoch = this.cache.begin();
    const hit = this.cache.get(epoch, userId);
    if (hit) return hit;
    const d = await this.read(userId, db);
    if (d) this.cache.set(epoch, userId, d, [userId]);
    return d;
  }

  private async read(userId: string, db: Db): Promise<UserDetails | undefined> {
    // One query: the user, profile, activity, 3PIDs and external IDs together.
    const view = await users.getUserView(db, userId);
    if (!view) return undefined;
    const { displayname, avatar_url, erased, device_last_seen, ip_last_seen, threepids, external_ids: externalIds, ...user } = view;
    // Newest device activity, else the newest client-IP sighting (as Synapse's list does).
    const lastSeenTs = device_last_seen ?? ip_last_seen;
    return {
      user,
      profile: { user_id: '', full_user_id: userId, displayname, avatar_url },
      threepids,
      externalIds,
      erased: erased !== null,
      lastSeenTs: lastSeenTs === null ? null : Number(lastSeenTs),
    };
  }

  /** GET /_synapse/admin/v2/users/<user_id>. */
  async get(userId: string): Promise<UserDetails> {
    if (!this.accounts.isLocal(userId)) throw badRequest('Can only look up local users');
    const d = await this.details(userId);
    if (!d) throw notFound('User not found');
    return d;
  }

  /**
   * PUT /_synapse/admin/v2/users/<user_id>: validates the whole body first (Synapse's order and
   * texts), then creates or modifies the account in one transaction.
   */
  async upsert(requester: Requester, userId: string, body: Record<string, unknown>): Promise<{ created: boolean; details: UserDetails }> {
    if (!this.accounts.isLocal(userId)) throw badRequest('This endpoint can only be used with local users');
    const localpart = parseUserId(userId).localpart;

    const threepids = body.threepids === undefined || body.threepids === null ? undefined : checkItems(body.threepids, 'threepids', ['medium', 'address']);
    const externalIds =
      body.external_ids === undefined || body.external_ids === null
        ? undefined
        : checkItems(body.external_ids, 'external_ids', ['auth_provider', 'external_id']);
    if ('user_type' in body && !this.accounts.isValidUserType(body.user_type)) throw badRequest('Invalid user type');
    if (body.admin !== undefined && !isBool(body.admin)) throw badJson("Param 'admin' must be a boolean, if given");
    const password = body.password;
    if (password !== undefined && password !== null && (typeof password !== 'string' || password.length > 512)) throw badRequest('Invalid password');
    const logoutDevices = body.logout_devices ?? true;
    if (!isBool(logoutDevices)) throw badRequest("'logout_devices' parameter is not of type boolean");
    if (body.deactivated !== undefined && !isBool(body.deactivated)) throw badRequest("'deactivated' parameter is not of type boolean");
    if (body.locked !== undefined && !isBool(body.locked)) throw badRequest("'locked' parameter is not of type boolean");
    if (body.deactivated === true && body.locked === true) throw badRequest("An user can't be deactivated and locked");
    const displayname = body.displayname;
    if (displayname !== undefined && displayname !== null) {
      checkDisplayname(displayname); // code points, as on every path
    }
    const avatarUrl = body.avatar_url;
    if (avatarUrl !== undefined && avatarUrl !== null) {
      if (typeof avatarUrl !== 'string') throw invalidParam("'avatar_url' must be a string");
      if (avatarUrl.length > 1000) throw badRequest('Avatar URL is too long (max 1000)');
    }

    // bcrypt runs before the transaction: never hold the database while hashing.
    const hash = typeof password === 'string' ? await this.accounts.passwords.hash(password) : null;
    const now = Date.now();

    // Concurrent requests may create the same user: the one that loses the insert race starts
    // again and modifies the account the winner created (200 instead of 201), as a later request would.
    for (let attempt = 1; ; attempt++) {
      const existing = await users.getUser(this.db, userId);
      const before = existing ? await profiles.getProfile(this.db, userId) : undefined;
      if (!existing) {
        try {
          await this.accounts.checkUsername(localpart);
        } catch (e) {
          // Created by a concurrent request since we looked: modify it instead.
          if (attempt < 3 && e instanceof MatrixError && e.errcode === 'M_USER_IN_USE' && (await users.getUser(this.db, userId))) continue;
          throw e;
        }
      } else if (body.deactivated === false && existing.deactivated && (password === undefined || password === null) && this.canChangePassword()) {
        throw badRequest('Must provide a password to re-activate an account.');
      }
      if (existing && typeof password === 'string' && !this.canChangePassword()) {
        throw new MatrixError(403, 'M_FORBIDDEN', 'Password change disabled');
      }
      if (externalIds) {
        for (const e of externalIds) {
          const owner = await identities.findUserByExternalId(this.db, e.auth_provider!, e.external_id!);
          if (owner !== undefined && owner !== userId) throw new MatrixError(409, 'M_UNKNOWN', 'External id is already in use.');
        }
      }
      if (existing && body.admin === false && existing.admin && requester.userId === userId) {
        throw badRequest('You may not demote yourself.');
      }
      try {
        const details = await withTransaction(this.db, async (tx) => {
          if (!existing) {
            await this.accounts.insertAccountIn(
              tx,
              {
                localpart,
                password: null,
                admin: body.admin === true,
                userType: 'user_type' in body ? (body.user_type as string | null) : undefined,
                displayname: typeof displayname === 'string' ? displayname : null,
              },
              hash,
            );
            for (const t of threepids ?? []) await identities.addThreepid(tx, userId, t.medium!, canonicalAddress(t.medium!, t.address!), now);
            if (externalIds) await identities.replaceExternalIds(tx, userId, externalIds as never);
            if (typeof avatarUrl === 'string') await profiles.setAvatarUrl(tx, userId, avatarUrl);
          } else {
            if (displayname !== undefined) {
              await profiles.ensureProfile(tx, localpart, userId, null);
              await profiles.setDisplayname(tx, userId, displayname === '' ? null : (displayname as string | null));
            }
            if (threepids) await this.replaceThreepids(tx, userId, threepids, now);
            if (externalIds) await identities.replaceExternalIds(tx, userId, externalIds as never);
            if (avatarUrl !== undefined) {
              await profiles.ensureProfile(tx, localpart, userId, null);
              await profiles.setAvatarUrl(tx, userId, avatarUrl === '' ? null : (avatarUrl as string | null));
            }
            if (isBool(body.admin) && body.admin !== Boolean(existing.admin)) await users.setAdmin(tx, userId, body.admin);
            if (hash !== null) {
              const except = requester.userId === userId ? { deviceId: requester.deviceId, tokenId: requester.tokenId } : undefined;
              await this.accounts.setPasswordHashIn(tx, userId, hash, { logoutDevices: logoutDevices as boolean, except });
            }
            if (body.deactivated === true && !existing.deactivated) await this.accounts.deactivateIn(tx, userId, { erase: false });
            if (body.deactivated === false && existing.deactivated) await this.accounts.reactivateIn(tx, userId);
            if (isBool(body.locked) && body.locked !== Boolean(existing.locked)) await users.setLocked(tx, userId, body.locked);
            if ('user_type' in body) await users.setUserType(tx, userId, (body.user_type as string | null) ?? null);
          }
          return (await this.details(userId, tx))!;
        });
        // Room effects once committed, as Synapse: a changed profile reaches the member events,
        // a deactivation leaves every room.
        if (existing) {
          const changed = (displayname !== undefined && (displayname === '' ? null : displayname) !== (before?.displayname ?? null)) ||
            (avatarUrl !== undefined && (avatarUrl === '' ? null : avatarUrl) !== (before?.avatar_url ?? null));
          if (body.deactivated === true && !existing.deactivated) await this.accounts.roomHooks?.afterDeactivation(userId);
          else if (changed) await this.accounts.roomHooks?.afterProfileChange(userId);
        }
        return { created: !existing, details };
      } catch (e) {
        if (existing || attempt >= 3 || !isUniqueViolation(e)) throw e;
      }
    }
  }

  private async replaceThreepids(tx: Db, userId: string, wanted: Array<Record<string, string>>, now: number): Promise<void> {
    const current = await identities.listThreepids(tx, userId);
    const want = wanted.map((t) => ({ medium: t.medium!, address: canonicalAddress(t.medium!, t.address!) }));
    const key = (t: { medium: string; address: string }) => `${t.medium}\u0000${t.address}`;
    const wantKeys = new Set(want.map(key));
    const haveKeys = new Set(current.map(key));
    for (const t of current) if (!wantKeys.has(key(t))) await identities.deleteThreepid(tx, userId, t.medium, t.address);
    for (const t of want) if (!haveKeys.has(key(t))) await identities.addThreepid(tx, userId, t.medium, t.address, now);
  }

  private canChangePassword(): boolean {
    return this.config.password.enabled && this.config.password.localdbEnabled;
  }

  /** GET /_synapse/admin/v1/users/<user_id>/admin: false for unknown local users, as Synapse. */
  async isAdmin(userId: string): Promise<boolean> {
    if (!this.accounts.isLocal(userId)) throw badRequest('Only local users can be admins of this homeserver');
    const user = await users.getUser(this.db, userId);
    return Boolean(user?.admin);
  }

  /** PUT /_synapse/admin/v1/users/<user_id>/admin: truthiness decides; no existence check. */
  async setAdmin(requester: Requester, userId: string, body: Record<string, unknown>): Promise<void> {
    if (!('admin' in body)) throw missing(['admin']);
    if (!this.accounts.isLocal(userId)) throw badRequest('Only local users can be admins of this homeserver');
    const admin = truthy(body.admin);
    if (!admin && requester.userId === userId) throw badRequest('You may not demote yourself.');
    await users.setAdmin(this.db, userId, admin);
  }
}

/** Python's truthiness, which Synapse applies to `admin` here. */
export function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}
