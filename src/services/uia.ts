import { randomBytes } from 'node:crypto';
import { MatrixError } from '../errors.js';
import type { AccountsService } from './accounts.js';

/** The flow for acting on one's own account: prove the password. */
export const PASSWORD_FLOW: UiaFlow[] = [{ stages: ['m.login.password'] }];

export interface UiaFlow {
  stages: string[];
}

/** What a stage's validator sees of the session it runs in. */
export interface UiaStageSession {
  readonly id: string;
  /** Server-side key/value data of the session; never sent to the client. */
  readonly data: Map<string, unknown>;
}

/**
 * A stage validated by the caller (e.g. m.login.registration_token). `check` returns the stage's
 * result, or throws a MatrixError whose errcode and text are merged into the 401 so the client
 * can try again (Synapse answers 401 whatever the stage's own status).
 */
export interface UiaStage {
  check(auth: Record<string, unknown>, session: UiaStageSession): Promise<unknown>;
  /**
   * Undoes what a successful `check` reserved, when its session expires without the operation
   * having been settled. Only meaningful with `retain: true`.
   */
  release?(result: unknown): Promise<void>;
}

export interface UiaOptions {
  /** Validators for stages beyond the built-in m.login.dummy and m.login.password. */
  stages?: Record<string, UiaStage>;
  /**
   * Binds a session to one operation: a session started by another operation is refused (403),
   * as Synapse refuses a session reused on another URI.
   */
  operation?: string;
  /**
   * Keep the session once complete, so the operation can be retried with it if it fails (Synapse
   * keeps every session until it expires). The caller calls `settle()` once the operation has
   * consumed what the stages reserved. Default: the session is deleted on completion.
   */
  retain?: boolean;
}

export interface UiaResult {
  sessionId: string;
  /**
   * The client's parameters: this request's body without `auth`, or, when it sent nothing else,
   * the ones an earlier request of the session sent (Synapse lets clients send them once).
   */
  params: Record<string, unknown>;
  /** The result of each completed stage. */
  results: ReadonlyMap<string, unknown>;
  /** The session's server-side data (shared with the stages). */
  data: Map<string, unknown>;
}

interface UiaSession {
  id: string;
  created: number;
  operation: string;
  /** Completed stage → its result, in completion order. */
  completed: Map<string, unknown>;
  data: Map<string, unknown>;
  params: Record<string, unknown>;
  /** Undo actions of completed stages, run if the session expires before `settle()`. */
  releases: Array<() => Promise<void>>;
}

/** The 401 that asks a client to (continue to) authenticate: flows, params, session, completed. */
export class UiaRequired extends MatrixError {
  constructor(
    readonly body: Record<string, unknown>,
    errcode?: string,
    message?: string,
    readonly errorExtra: Record<string, unknown> = {},
  ) {
    super(401, errcode ?? '', message ?? 'User-interactive authentication required');
  }

  get sessionId(): string {
    return this.body.session as string;
  }

  override toJSON(): Record<string, unknown> {
    return this.errcode ? { ...this.body, errcode: this.errcode, error: this.message, ...this.errorExtra } : { ...this.body };
  }
}

const SESSION_TTL_MS = 24 * 60 * 60 * 1000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * User-interactive authentication (spec §5.7) with in-memory sessions. Built-in stages:
 * m.login.dummy and m.login.password (the password of the user the request acts for); callers add
 * others through `UiaOptions.stages`. Sessions live for 24 hours; they do not survive a restart.
 */
export class UserInteractiveAuth {
  private readonly sessions = new Map<string, UiaSession>();

  constructor(
    private readonly accounts: AccountsService,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Resolves when the body's `auth` completes one of `flows`; otherwise throws the 401 for the
   * client to continue with. `userId` is who must prove their password for m.login.password.
   */
  async check(body: Record<string, unknown>, flows: UiaFlow[], userId?: string, opts: UiaOptions = {}): Promise<UiaResult> {
    this.expireSessions();
    const operation = opts.operation ?? '';
    const auth = isObject(body.auth) ? body.auth : {};
    const { auth: _auth, ...sent } = body;

    let session: UiaSession;
    if (typeof auth.session === 'string' && auth.session) {
      const found = this.sessions.get(auth.session);
      if (!found) throw new MatrixError(400, 'M_UNKNOWN', `Unknown session ID: ${auth.session}`);
      if (found.operation !== operation) {
        throw new MatrixError(403, 'M_UNKNOWN', 'Requested operation has changed during the UI authentication session.');
      }
      session = found;
      // A request that carries only `auth` continues with the parameters given earlier.
      if (Object.keys(sent).length > 0) session.params = sent;
    } else {
      session = {
        id: randomBytes(18).toString('base64url'),
        created: this.now(),
        operation,
        completed: new Map(),
        data: new Map(),
        params: sent,
        releases: [],
      };
      this.sessions.set(session.id, session);
    }

    const flowsBody = { flows, params: {}, session: session.id };
    // Without an `auth` dict Synapse answers the bare flows, without `completed`.
    if (Object.keys(auth).length === 0) throw new UiaRequired(flowsBody);

    let failure: MatrixError | undefined;
    if (typeof auth.type === 'string') {
      try {
        await this.runStage(auth.type, auth, session, flows, userId, opts);
      } catch (e) {
        if (!(e instanceof MatrixError)) throw e;
        failure = e;
      }
    }
    const done = flows.some((f) => f.stages.every((s) => session.completed.has(s)));
    if (done && !failure) {
      if (!opts.retain) this.sessions.delete(session.id);
      return { sessionId: session.id, params: session.params, results: session.completed, data: session.data };
    }
    const body401 = { ...flowsBody, completed: [...session.completed.keys()] };
    if (!failure) throw new UiaRequired(body401);
    const { errcode: _c, error: _e, ...extra } = failure.toJSON();
    throw new UiaRequired(body401, failure.errcode, failure.message, extra);
  }

  /** The session ID a request body names in `auth.session`, if any. */
  sessionIdOf(body: Record<string, unknown>): string | undefined {
    const auth = isObject(body.auth) ? body.auth : undefined;
    return typeof auth?.session === 'string' && auth.session ? auth.session : undefined;
  }

  /** The server-side data of a live session (e.g. read before `check`, or after a 401). */
  sessionData(sessionId: string | undefined): Map<string, unknown> | undefined {
    return sessionId === undefined ? undefined : this.sessions.get(sessionId)?.data;
  }

  /** The operation has consumed what the session's stages reserved: nothing to undo on expiry. */
  settle(sessionId: string): void {
    const s = this.sessions.get(sessionId);
    if (s) s.releases = [];
  }

  private async runStage(stage: string, auth: Record<string, unknown>, session: UiaSession, flows: UiaFlow[], userId: string | undefined, opts: UiaOptions) {
    const unrecognised = () => new MatrixError(401, 'M_UNRECOGNIZED', `Unrecognised login type ${stage}`);
    if (!flows.some((f) => f.stages.includes(stage))) throw unrecognised();
    const custom = opts.stages?.[stage];
    let result: unknown;
    if (custom) {
      result = await custom.check(auth, { id: session.id, data: session.data });
    } else if (stage === 'm.login.dummy') {
      result = true;
    } else if (stage === 'm.login.password') {
      if (!(await this.checkPasswordStage(auth, userId))) throw new MatrixError(401, 'M_FORBIDDEN', 'Invalid username or password');
      result = userId;
    } else {
      throw unrecognised();
    }
    if (session.completed.has(stage)) return;
    session.completed.set(stage, result);
    if (custom?.release) {
      const release = custom.release.bind(custom);
      session.releases.push(() => release(result));
    }
  }

  /** Drops expired sessions, undoing what their unfinished stages reserved. */
  private expireSessions(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) {
      if (now - s.created <= SESSION_TTL_MS) continue;
      this.sessions.delete(id);
      // Best effort: a failed undo must not fail the unrelated request that triggered the sweep.
      for (const release of s.releases) void release().catch(() => {});
    }
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
