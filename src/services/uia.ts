import { randomBytes } from 'node:crypto';
import { MatrixError } from '../errors.js';
import type { AccountsService } from './accounts.js';

export interface UiaFlow {
  stages: string[];
}

interface UiaSession {
  completed: string[];
  created: number;
}

/** The 401 that asks a client to (continue to) authenticate: flows, params, session, completed. */
export class UiaRequired extends MatrixError {
  constructor(
    readonly body: Record<string, unknown>,
    errcode?: string,
    message?: string,
  ) {
    super(401, errcode ?? '', message ?? 'User-interactive authentication required');
  }

  override toJSON(): Record<string, unknown> {
    return this.errcode ? { errcode: this.errcode, error: this.message, ...this.body } : { ...this.body };
  }
}

const SESSION_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * User-interactive authentication (spec §5.7) with in-memory sessions. Stages: m.login.dummy and
 * m.login.password (the password of the user the request acts for).
 */
export class UserInteractiveAuth {
  private readonly sessions = new Map<string, UiaSession>();

  constructor(private readonly accounts: AccountsService) {}

  /**
   * Resolves when the body's `auth` completes one of `flows`; otherwise throws the 401 for the
   * client to continue with. `userId` is who must prove their password for m.login.password.
   */
  async check(body: Record<string, unknown>, flows: UiaFlow[], userId?: string): Promise<void> {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (now - s.created > SESSION_TTL_MS) this.sessions.delete(id);

    const auth = body.auth as Record<string, unknown> | undefined;
    let sessionId = typeof auth?.session === 'string' ? auth.session : undefined;
    let session = sessionId ? this.sessions.get(sessionId) : undefined;
    if (sessionId && !session) throw new MatrixError(400, 'M_UNKNOWN', 'Unknown session ID');
    if (!session || !sessionId) {
      sessionId = randomBytes(18).toString('base64url');
      session = { completed: [], created: now };
      this.sessions.set(sessionId, session);
    }
    const incomplete = (errcode?: string, message?: string) =>
      new UiaRequired({ flows, params: {}, session: sessionId, ...(session!.completed.length ? { completed: session!.completed } : {}) }, errcode, message);

    if (auth && typeof auth === 'object' && typeof auth.type === 'string') {
      const stage = auth.type;
      if (!flows.some((f) => f.stages.includes(stage))) throw incomplete('M_UNRECOGNIZED', `Unrecognised login type ${stage}`);
      if (stage === 'm.login.password') {
        if (!(await this.checkPasswordStage(auth, userId))) throw incomplete('M_FORBIDDEN', 'Invalid username or password');
      }
      if (stage !== 'm.login.dummy' && stage !== 'm.login.password') throw incomplete('M_UNRECOGNIZED', `Unrecognised login type ${stage}`);
      if (!session.completed.includes(stage)) session.completed.push(stage);
    }
    if (flows.some((f) => f.stages.every((s) => session!.completed.includes(s)))) {
      this.sessions.delete(sessionId);
      return;
    }
    throw incomplete();
  }

  private async checkPasswordStage(auth: Record<string, unknown>, userId: string | undefined): Promise<boolean> {
    if (!userId || typeof auth.password !== 'string') return false;
    const identifier = auth.identifier as Record<string, unknown> | undefined;
    const named = typeof identifier?.user === 'string' ? identifier.user : typeof auth.user === 'string' ? auth.user : undefined;
    if (named !== undefined) {
      const full = named.startsWith('@') ? named : this.accounts.userId(named);
      if (full.toLowerCase() !== userId.toLowerCase()) return false;
    }
    return (await this.accounts.checkPassword(userId, auth.password)) !== null;
  }
}
