import { MatrixError, forbidden } from '../errors.js';
import type { Db } from '../storage/database.js';
import * as identities from '../storage/stores/identities.js';
import * as users from '../storage/stores/users.js';
import type { AccountsService, Session } from './accounts.js';

export type LoginIdentifier = { kind: 'user'; user: string } | { kind: 'threepid'; medium: string; address: string };

const invalidLogin = () => forbidden('Invalid username or password');

/** Password login: resolves the identifier, checks the account and password, opens a session. */
export class LoginService {
  constructor(
    private readonly db: Db,
    private readonly accounts: AccountsService,
  ) {}

  private async resolve(id: LoginIdentifier): Promise<string | undefined> {
    if (id.kind === 'threepid') {
      const address = id.medium === 'email' ? id.address.trim().toLowerCase() : id.address;
      return identities.findUserByThreepid(this.db, id.medium, address);
    }
    const full = id.user.startsWith('@') ? id.user : this.accounts.userId(id.user);
    if (!full.includes(':')) return undefined;
    const exact = await users.getUser(this.db, full);
    return exact ? exact.name : users.findUserCaseInsensitive(this.db, full);
  }

  async passwordLogin(id: LoginIdentifier, password: string, deviceId: string | null, deviceName: string | null): Promise<Session> {
    const userId = await this.resolve(id);
    const user = userId ? await users.getUser(this.db, userId) : undefined;
    // Hash even for unknown users so response time does not reveal which accounts exist.
    const ok = await this.accounts.passwords.verify(password, user?.password_hash ?? null);
    if (!user || !ok) {
      if (user?.deactivated) throw new MatrixError(403, 'M_USER_DEACTIVATED', 'This account has been deactivated');
      throw invalidLogin();
    }
    if (user.deactivated) throw new MatrixError(403, 'M_USER_DEACTIVATED', 'This account has been deactivated');
    if (user.locked) throw new MatrixError(401, 'M_USER_LOCKED', 'User account has been locked', { soft_logout: true });
    return this.accounts.createSession(user.name, deviceId, deviceName);
  }
}
