import { randomBytes, timingSafeEqual } from 'node:crypto';
import { MatrixError, badJson, badRequest } from '../errors.js';
import { registrationMac } from '../matrix/registration-mac.js';
import { truthy } from './admin-users.js';
import type { AccountsService, Session } from './accounts.js';

const NONCE_TTL_MS = 60_000;

const validCredential = (v: unknown): v is string => typeof v === 'string' && v.length <= 512 && !v.includes('\u0000');

/**
 * Shared-secret registration (catalogue §4): single-use nonces that live 60 s in memory, and a
 * constant-time MAC comparison.
 */
export class SharedSecretRegistration {
  private readonly nonces = new Map<string, number>();

  constructor(
    private readonly secret: string | null,
    private readonly accounts: AccountsService,
  ) {}

  private purge(now: number): void {
    for (const [nonce, created] of this.nonces) if (now - created > NONCE_TTL_MS) this.nonces.delete(nonce);
  }

  newNonce(): string {
    const now = Date.now();
    this.purge(now);
    const nonce = randomBytes(64).toString('hex');
    this.nonces.set(nonce, now);
    return nonce;
  }

  async register(body: Record<string, unknown>): Promise<{ userId: string; session: Session | null }> {
    if (!this.secret) throw badRequest('Shared secret registration is not enabled');
    this.purge(Date.now());
    if (body.nonce === undefined) throw badJson('nonce must be specified');
    const nonce = String(body.nonce);
    if (!this.nonces.has(nonce)) throw badRequest('unrecognised nonce');
    this.nonces.delete(nonce); // consumed even if a later step fails

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

    const localpart = body.username.toLowerCase();
    await this.accounts.checkUsername(localpart);
    return this.accounts.register({
      localpart,
      password: body.password,
      admin,
      userType: userType as string | null,
      displayname: typeof body.displayname === 'string' ? body.displayname : null,
      inhibitLogin: body.inhibit_login === true,
      deviceId: typeof body.device_id === 'string' ? body.device_id : null,
      initialDeviceDisplayName: typeof body.initial_device_display_name === 'string' ? body.initial_device_display_name : null,
      approved: true,
    });
  }
}
