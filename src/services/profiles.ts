import type { Config } from '../config/schema.js';
import { MatrixError, badRequest, invalidParam, notFound } from '../errors.js';
import { parseUserId } from '../matrix/ids.js';
import { isValidUserId } from '../matrix/server-name.js';
import type { Db } from '../storage/database.js';
import * as profiles from '../storage/stores/profiles.js';
import type { AccountsService } from './accounts.js';
import type { Requester } from './auth.js';
import { assertNotSuspended } from './user-lifecycle.js';

/** Synapse's limits, counted in code points as Python's len() does. */
export const MAX_DISPLAYNAME_LEN = 256;
export const MAX_AVATAR_URL_LEN = 1000;

export interface Profile {
  displayname: string | null;
  avatarUrl: string | null;
}

type Field = 'displayname' | 'avatar_url';

const codePoints = (s: string) => [...s].length;

/**
 * The one display-name rule of every path (client PUT, admin PUT, shared-secret registration): a
 * string of at most MAX_DISPLAYNAME_LEN code points, as Synapse counts with Python's len() (an
 * emoji is one, not two UTF-16 units).
 */
export function checkDisplayname(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw invalidParam("'displayname' must be a string");
  if (codePoints(value) > MAX_DISPLAYNAME_LEN) throw badRequest(`Displayname is too long (max ${MAX_DISPLAYNAME_LEN})`);
}
const profileNotFound = () => notFound('Profile was not found');
/** Synapse answers refusals here with status 400 but errcode M_FORBIDDEN. */
const forbiddenAt400 = (message: string) => new MatrixError(400, 'M_FORBIDDEN', message);

/**
 * Profiles of local users (client API §10.2) with Synapse 1.94's rules and texts. Remote profiles
 * would need a federation query, which Axon does not make yet: they read as not found.
 */
export class ProfilesService {
  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly accounts: AccountsService,
  ) {}

  /** A user's profile; 404 when the user has no profile row (unknown user). */
  async get(userId: string): Promise<Profile> {
    if (!isValidUserId(userId)) throw invalidParam('Invalid user id');
    if (!this.accounts.isLocal(userId)) throw profileNotFound();
    const row = await profiles.getProfile(this.db, userId);
    if (!row) throw profileNotFound();
    return { displayname: row.displayname, avatarUrl: row.avatar_url };
  }

  /** PUT displayname: "" clears it; surrounding whitespace is trimmed (Synapse ≥ 1.90). */
  async setDisplayname(requester: Requester, userId: string, value: unknown): Promise<void> {
    await assertNotSuspended(this.db, requester.userId, 'Updating displayname while account is suspended is not allowed.');
    await this.checkCanSet(requester, userId, 'displayname');
    checkDisplayname(value);
    await profiles.setDisplayname(this.db, userId, value === '' ? null : value.trim());
    await this.propagate(requester, userId);
  }

  /** PUT avatar_url: "" clears it. */
  async setAvatarUrl(requester: Requester, userId: string, value: unknown): Promise<void> {
    await assertNotSuspended(this.db, requester.userId, 'Updating avatar URL while account is suspended is not allowed.');
    await this.checkCanSet(requester, userId, 'avatar_url');
    if (typeof value !== 'string') throw invalidParam("'avatar_url' must be a string");
    if (codePoints(value) > MAX_AVATAR_URL_LEN) throw badRequest(`Avatar URL is too long (max ${MAX_AVATAR_URL_LEN})`);
    await profiles.setAvatarUrl(this.db, userId, value === '' ? null : value);
    await this.propagate(requester, userId);
  }

  /**
   * The new profile goes into the user's member events in their joined rooms (after the write).
   * Synapse does not do it for a shadow-banned user changing their own profile (an admin's change
   * is made as the target and is sent).
   */
  private async propagate(requester: Requester, userId: string): Promise<void> {
    if (requester.shadowBanned && !requester.admin) return;
    await this.accounts.roomHooks?.afterProfileChange(userId);
  }

  /** Synapse's order: local target, own profile (or admin), then the enable_set_* switches. */
  private async checkCanSet(requester: Requester, userId: string, field: Field): Promise<void> {
    parseUserId(userId);
    if (!this.accounts.isLocal(userId)) throw badRequest('User is not hosted on this homeserver');
    const byAdmin = requester.admin;
    if (!byAdmin && userId !== requester.userId) throw forbiddenAt400(`Cannot set another user's ${field}`);
    if (byAdmin) return;
    if (field === 'displayname' && !this.config.enableSetDisplayname) {
      const row = await profiles.getProfile(this.db, userId);
      if (row?.displayname) throw forbiddenAt400('Changing display name is disabled on this server');
    }
    if (field === 'avatar_url' && !this.config.enableSetAvatarUrl) {
      const row = await profiles.getProfile(this.db, userId);
      if (row?.avatar_url) throw forbiddenAt400('Changing avatar is disabled on this server');
    }
  }
}
