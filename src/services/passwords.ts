import bcrypt from 'bcrypt';
import type { PasswordConfig } from '../config/schema.js';
import { MatrixError } from '../errors.js';

/**
 * bcrypt hashing as Synapse does it (password + pepper, `bcrypt_rounds`). The native bcrypt
 * module runs on libuv's thread pool, so hashing never blocks the event loop.
 */
export class Passwords {
  constructor(
    private readonly rounds: number,
    private readonly cfg: PasswordConfig,
  ) {}

  hash(password: string): Promise<string> {
    return bcrypt.hash(password + this.cfg.pepper, this.rounds);
  }

  async verify(password: string, hash: string | null): Promise<boolean> {
    if (!hash) return false;
    try {
      return await bcrypt.compare(password + this.cfg.pepper, hash);
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
