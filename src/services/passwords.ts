import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import type { PasswordConfig } from '../config/schema.js';
import { MatrixError } from '../errors.js';

/**
 * Synapse normalises passwords to NFKC before hashing and before comparing, so the same password
 * typed in another normalisation form (NFD from some keyboards and platforms) still matches.
 */
const normalise = (password: string) => password.normalize('NFKC');

/**
 * bcrypt hashing as Synapse does it (NFKC password + pepper, `bcrypt_rounds`). The native bcrypt
 * module runs on libuv's thread pool, so hashing never blocks the event loop.
 */
export class Passwords {
  /** A hash nobody's password matches, checked instead when there is no hash to check. */
  private readonly dummyHash: Promise<string>;

  constructor(
    private readonly rounds: number,
    private readonly cfg: PasswordConfig,
  ) {
    this.dummyHash = bcrypt.hash(randomBytes(32).toString('hex'), rounds);
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(normalise(password) + this.cfg.pepper, this.rounds);
  }

  /**
   * Whether `password` matches `hash`. Without a hash (unknown user, no password, deactivated) it
   * still runs one bcrypt comparison of the same cost, so the answer's timing does not tell which
   * accounts exist.
   */
  async verify(password: string, hash: string | null): Promise<boolean> {
    try {
      const ok = await bcrypt.compare(normalise(password) + this.cfg.pepper, hash || (await this.dummyHash));
      return ok && Boolean(hash);
    } catch {
      return false; // a malformed hash in the database is a failed login, not a crash
    }
  }

  /** Checks `password_config.policy` for a user-chosen password (Synapse's errcodes). */
  checkPolicy(password: string): void {
    const p = this.cfg.policy;
    if (!p.enabled) return;
    const weak = (errcode: string, msg: string) => new MatrixError(400, errcode, msg);
    if (password.length < p.minimumLength)
      throw weak('M_PASSWORD_TOO_SHORT', `The password must be at least ${p.minimumLength} characters long`);
    if (p.requireDigit && !/[0-9]/.test(password)) throw weak('M_PASSWORD_NO_DIGIT', 'The password must include at least one digit');
    if (p.requireSymbol && !/[^a-zA-Z0-9]/.test(password)) throw weak('M_PASSWORD_NO_SYMBOL', 'The password must include at least one symbol');
    if (p.requireUppercase && !/[A-Z]/.test(password))
      throw weak('M_PASSWORD_NO_UPPERCASE', 'The password must include at least one uppercase letter');
    if (p.requireLowercase && !/[a-z]/.test(password))
      throw weak('M_PASSWORD_NO_LOWERCASE', 'The password must include at least one lowercase letter');
  }
}
