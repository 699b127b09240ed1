import { randomBytes, timingSafeEqual } from 'node:crypto';
import { MatrixError, badJson, badRequest } from '../errors.js';
import { registrationMac } from '../matrix/registration-mac.js';
import { withTransaction, type Db } from '../storage/database.js';
import * as nonces from '../storage/stores/registration-nonces.js';
import { truthy } from './admin-users.js';
import type { AccountsService, Session } from './accounts.js';
import { checkDisplayname } from './profiles.js';

/** Synapse's nonce lifetime. */
export const NONCE_TTL_MS = 60_000;
/** At most this many live nonces: beyond it the oldest go (an unauthenticated GET must not grow storage). */
export const MAX_NONCES = 10_000;

const validCredential = (v: unknown): v is string => typeof v === 'string' && v.length <= 512 && !v.includes('\u0000');

/**
 * Shared-secret registration (catalogue §4): single-use nonces that live 60 s in the database
 * (so they survive a restart and serve every process), at most MAX_NONCES of them, and a
 * constant-time MAC comparison.
 */
export class SharedSecretRegistration {
  constructor(
    private readonly db: Db,
    private readonly secret: string | null,
    private readonly accounts: AccountsService,
    private readonly now: () => number = Date.now,
    private readonly maxNonces = MAX_NONCES,
  ) {}

  async newNonce(): Promise<string> {
    const now = this.now();
    const nonce = randomBytes(64).toString('hex');
    await withTransaction(this.db, async (tx) => {
      await nonces.deleteNoncesBefore(tx, now - NONCE_TTL_MS);
      await nonces.insertNonce(tx, nonce, now);
      await nonces.trimNonces(tx, this.maxNonces);
    });
    return nonce;
  }

  async register(body: Record<string, unknown>): Promise<{ userId: string; session: Session | null }> {
    if (!this.secret) throw badRequest('Shared secret registration is not enabled');
    if (body.nonce === undefined) throw badJson('nonce must be specified');
    const nonce = String(body.nonce);
    // Taken (deleted) at once: consumed even if a later step fails, and by one request only.
    if (!(await nonces.takeNonce(this.db, nonce, this.now() - NONCE_TTL_MS))) throw badRequest('unrecognised nonce');

    if (body.username === undefined) throw badJson('username must be specified');
    if (!validCredential(body.username)) throw badRequest('Invalid username');
    if (body.password === undefined) throw badJson('password must be specified');
    if (!validCredential(body.password)) throw badRequest('Invalid password');
    const userType = body.user_type ?? null;
    if (!this.accounts.isValidUserType(userType)) throw badRequest('Invalid user type');
    if (body.mac === undefined) throw badJson('mac must be specified');
    const admin = truthy(body.admin);

    const want = Buffer.from(registrationMac(this.secret, nonce, body.username, body.password, admin, userType as string | null), 'utf8');
    const got = Buffer.from(String(body.mac), 'utf8');
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw new MatrixError(403, 'M_UNKNOWN', 'HMAC incorrect');
    if (body.refresh_token !== undefined && typeof body.refresh_token !== 'boolean') throw badRequest('refresh_token must be a boolean');
    // Validated before anything is created (a non-string used to create the user).
    const displayname = body.displayname ?? null;
    if (displayname !== null) checkDisplayname(displayname);

    const localpart = body.username.toLowerCase();
    await this.accounts.checkUsername(localpart);
    return this.accounts.register({
      localpart,
      password: body.password,
      admin,
      userType: userType as string | null,
      displayname: displayname as string | null,
      inhibitLogin: body.inhibit_login === true,
      deviceId: typeof body.device_id === 'string' ? body.device_id : null,
      initialDeviceDisplayName: typeof body.initial_device_display_name === 'string' ? body.initial_device_display_name : null,
      approved: true,
    });
  }
}
