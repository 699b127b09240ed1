import { MatrixError, badJson, badRequest, forbidden, missingParam, notFound } from '../errors.js';
import { withTransaction, type Db } from '../storage/database.js';
import * as lifecycle from '../storage/stores/user-lifecycle.js';
import * as users from '../storage/stores/users.js';
import type { AccountsService } from './accounts.js';
import { truthy } from './admin-users.js';
import type { Requester } from './auth.js';

/**
 * Reads the request body when called. Synapse checks the target user before it parses the body
 * of these endpoints, so a bad body for an unknown user is still "User not found".
 */
export type BodyReader = () => Record<string, unknown>;

/** Synapse validates the suspend body with pydantic (v1 API) and sends its text back. */
const pydanticError = (loc: string, msg: string, type: string) => `1 validation error for PutBody\n${loc}\n  ${msg} (type=${type})`;

/** The Admin API's account lifecycle: deactivate (erase), reset password, suspend (catalogue §3.5–3.7). */
export class UserLifecycleService {
  constructor(
    private readonly db: Db,
    private readonly accounts: AccountsService,
  ) {}

  private async checkLocalUser(userId: string, remoteMessage: string): Promise<void> {
    if (!this.accounts.isLocal(userId)) throw badRequest(remoteMessage);
    if (!(await users.getUser(this.db, userId))) throw notFound('User not found');
  }

  /** POST /_synapse/admin/v1/deactivate/<user_id>: local and existing first, then `erase`. */
  async deactivate(userId: string, readBody: BodyReader): Promise<void> {
    await this.checkLocalUser(userId, 'Can only deactivate local users');
    const body = readBody();
    const erase = 'erase' in body ? body.erase : false;
    if (typeof erase !== 'boolean') throw badJson("Param 'erase' must be a boolean, if given");
    await this.accounts.deactivate(userId, { erase });
  }

  /**
   * POST /_synapse/admin/v1/reset_password/<user_id>. No locality check (a remote user simply has
   * no row) and no password policy. The logout spares the calling admin's device ID and token
   * even when the target is someone else, as Synapse does (catalogue §3.7's quirk).
   */
  async resetPassword(requester: Requester, userId: string, body: Record<string, unknown>): Promise<void> {
    if (!('new_password' in body)) throw missingParam("Missing params: ['new_password']");
    const newPassword = body.new_password;
    // Synapse would fail with a 500 on a non-string; a client error it is.
    if (typeof newPassword !== 'string') throw badRequest('Invalid password');
    // Python truthiness, as Synapse reads this flag; absent means true.
    const logoutDevices = 'logout_devices' in body ? truthy(body.logout_devices) : true;
    if (!this.accounts.canChangePassword()) throw forbidden('Password change disabled');
    if (!(await users.getUser(this.db, userId))) throw notFound('Unknown user');
    // bcrypt runs outside the transaction.
    const hash = await this.accounts.passwords.hash(newPassword);
    await withTransaction(this.db, (tx) =>
      this.accounts.setPasswordHashIn(tx, userId, hash, { logoutDevices, except: { deviceId: requester.deviceId, tokenId: requester.tokenId } }),
    );
  }

  /** PUT /_synapse/admin/v1/suspend/<user_id> (Δ1.110): `suspend` is a required strict boolean. */
  async suspend(userId: string, readBody: BodyReader): Promise<boolean> {
    await this.checkLocalUser(userId, 'Can only suspend local users');
    const body = readBody();
    const suspend = body.suspend;
    if (!('suspend' in body)) throw missingParam(pydanticError('suspend', 'field required', 'value_error.missing'));
    if (suspend === null) throw badJson(pydanticError('suspend', 'none is not an allowed value', 'type_error.none.not_allowed'));
    if (typeof suspend !== 'boolean') throw badJson(pydanticError('suspend', 'value is not a valid boolean', 'value_error.strictbool'));
    await lifecycle.setSuspended(this.db, userId, suspend);
    return suspend;
  }
}

/**
 * Suspended accounts may not change their profile (Synapse ≥ 1.110 checks the requester before
 * anything else about the change). Used by the profile service.
 */
export async function assertNotSuspended(db: Db, userId: string, message: string): Promise<void> {
  const user = await users.getUser(db, userId);
  if (user && Boolean(user.suspended)) throw new MatrixError(403, 'M_USER_SUSPENDED', message);
}
