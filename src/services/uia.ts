import { randomBytes } from 'node:crypto';
import { MatrixError, forbidden } from '../errors.js';
import { withTransaction, type Db } from '../storage/database.js';
import { isUniqueViolation } from '../storage/dialect.js';
import * as store from '../storage/stores/uia-sessions.js';
import type { AccountsService } from './accounts.js';

/** The flow for acting on one's own account: prove the password. */
export const PASSWORD_FLOW: UiaFlow[] = [{ stages: ['m.login.password'] }];

export interface UiaFlow {
  stages: string[];
}

/** What a caller-defined stage sees of the session it runs in. */
export interface UiaStageContext {
  readonly sessionId: string;
  /** The stage's result from an earlier completion in this session, if any. */
  readonly previous: unknown;
  /** The transaction that records this completion: reservations made through it commit with it. */
  readonly db: Db;
}

/**
 * A stage validated by a registered checker (e.g. m.login.registration_token). `check` returns
 * the stage's result, or throws a MatrixError whose errcode and text are merged into the 401 so
 * the client can try again (Synapse answers 401 whatever the stage's own status). It runs inside a
 * short transaction, so it must not do slow work (no hashing).
 */
export interface UiaStage {
  check(auth: Record<string, unknown>, ctx: UiaStageContext): Promise<unknown>;
  /**
   * Undoes what a successful `check` reserved, when its session expires without the operation
   * having been settled (`settleIn`). Runs in the transaction that deletes the session.
   */
  release?(db: Db, result: unknown): Promise<void>;
}

/** The request a session is bound to: the one that started it. */
export interface UiaRequest {
  method: string;
  /** The request path, without the query string (which may carry an access token). */
  uri: string;
}

export interface UiaOptions {
  request: UiaRequest;
  /** Shown to nobody yet; stored as Synapse does ("remove a device from your account"). */
  description?: string;
  /**
   * Keep the session once complete, so the operation can be retried with it if it fails (Synapse
   * keeps every session until it expires). Default: the session is consumed on completion.
   */
  retain?: boolean;
  /**
   * Let later requests change the parameters (Synapse's behaviour for every operation; Axon allows
   * it only for registration, which authenticates nobody, so a client can pick another name after
   * a clash). Otherwise a session completes only the exact request (body apart from `auth`) that
   * started it.
   */
  paramsMayChange?: boolean;
  /**
   * Body fields that never enter the session in clear (a new password). They are bound by a bcrypt
   * hash kept in the session's server data: a later request may omit them, not change them.
   */
  secretParams?: string[];
}

export interface UiaResult {
  sessionId: string;
  /**
   * The client's parameters: this request's body without `auth` (and without secret params), or,
   * when it sent nothing else, the ones an earlier request of the session sent.
   */
  params: Record<string, unknown>;
  /** The result of each completed stage. */
  results: ReadonlyMap<string, unknown>;
  /** The session's server-side data. */
  data: Record<string, unknown>;
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

export const SESSION_TTL_MS = 24 * 60 * 60 * 1000;
/** A settled stage's result, as Synapse marks a registration token whose use completed. */
const SETTLED = 'true';
const SECRET_PREFIX = 'secret_hash:';
const SWEEP_BATCH = 100;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON with object keys sorted, so two bodies compare equal whatever their key order. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The method and path (no query string) a UIA session is bound to, from a request. */
export const uiaRequestOf = (req: { method: string; url: string }): UiaRequest => ({ method: req.method, uri: req.url.split('?')[0]! });

const changed = () => new MatrixError(403, 'M_UNKNOWN', 'Requested operation has changed during the UI authentication session.');
const unknownSession = (id: string) => new MatrixError(400, 'M_UNKNOWN', `Unknown session ID: ${id}`);

/**
 * User-interactive authentication (spec §5.7) with sessions in the database (Synapse's
 * `ui_auth_sessions` and `ui_auth_sessions_credentials`), so they survive a restart and are shared
 * by every process on the database. Built-in stages: m.login.dummy and m.login.password; others
 * are registered with `registerStage`. Sessions live 24 hours; expired ones are swept (releasing
 * what their unsettled stages reserved) by later requests.
 */
export class UserInteractiveAuth {
  private readonly stages = new Map<string, UiaStage>();

  constructor(
    private readonly db: Db,
    private readonly accounts: AccountsService,
    private readonly now: () => number = Date.now,
  ) {}

  /** Makes a stage known: its checker, and its release for sessions that expire unsettled. */
  registerStage(type: string, stage: UiaStage): void {
    this.stages.set(type, stage);
  }

  /**
   * Resolves when the body's `auth` completes one of `flows`; otherwise throws the 401 for the
   * client to continue with. `userId` is who the request acts for: the m.login.password stage
   * must prove that user's password (another user's correct password is 403, as in Synapse).
   */
  async check(body: Record<string, unknown>, flows: UiaFlow[], userId: string | undefined, opts: UiaOptions): Promise<UiaResult> {
    await this.sweep();
    const auth = isObject(body.auth) ? body.auth : {};
    const secrets = opts.secretParams ?? [];
    const sent: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) if (k !== 'auth' && !secrets.includes(k)) sent[k] = v;

    const sessionId = typeof auth.session === 'string' && auth.session ? auth.session : undefined;
    let params: Record<string, unknown>;
    let data: Record<string, unknown>;
    let id: string;
    if (sessionId !== undefined) {
      const row = await store.getSession(this.db, sessionId);
      if (!row || this.expired(row.creation_time)) throw unknownSession(sessionId);
      if (row.method !== opts.request.method || row.uri !== opts.request.uri) throw changed();
      id = sessionId;
      data = JSON.parse(row.serverdict) as Record<string, unknown>;
      const stored = JSON.parse(row.clientdict) as Record<string, unknown>;
      if (Object.keys(sent).length === 0) {
        // A request that carries only `auth` continues with the parameters given earlier.
        params = stored;
      } else if (canonicalJson(sent) === canonicalJson(stored)) {
        params = sent;
      } else {
        if (!opts.paramsMayChange) throw changed();
        params = sent;
        await store.setClientdict(this.db, id, JSON.stringify(sent));
      }
      await this.checkSecrets(body, secrets, data);
    } else {
      id = randomBytes(18).toString('base64url');
      params = sent;
      data = {};
      for (const k of secrets) {
        if (typeof body[k] === 'string') data[SECRET_PREFIX + k] = await this.accounts.passwords.hash(body[k]);
      }
      await store.insertSession(this.db, {
        session_id: id,
        creation_time: this.now(),
        serverdict: JSON.stringify(data),
        clientdict: JSON.stringify(sent),
        uri: opts.request.uri,
        method: opts.request.method,
        description: opts.description ?? '',
      });
    }

    const flowsBody = { flows, params: {}, session: id };
    // Without an `auth` dict Synapse answers the bare flows, without `completed`.
    if (Object.keys(auth).length === 0) throw new UiaRequired(flowsBody);

    let failure: MatrixError | undefined;
    if (typeof auth.type === 'string') {
      try {
        await this.runStage(auth.type, auth, id, flows, userId);
      } catch (e) {
        if (!(e instanceof MatrixError)) throw e;
        failure = e;
      }
    }
    const completed = new Map((await store.listCredentials(this.db, id)).map((c) => [c.stage_type, JSON.parse(c.result) as unknown]));
    const done = flows.some((f) => f.stages.every((s) => completed.has(s)));
    if (done && !failure) {
      // The password proven must be that of the user the request acts for (Synapse: "Invalid auth").
      if (userId !== undefined && completed.has('m.login.password') && completed.get('m.login.password') !== userId) {
        throw forbidden('Invalid auth');
      }
      // A consumed session completes one request only, even when two race with it.
      if (!opts.retain && (await withTransaction(this.db, (tx) => store.deleteSession(tx, id))) === undefined) throw unknownSession(id);
      return { sessionId: id, params, results: completed, data };
    }
    const order = flows.flatMap((f) => f.stages);
    const body401 = { ...flowsBody, completed: [...completed.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b)) };
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
  async sessionData(sessionId: string | undefined): Promise<Record<string, unknown> | undefined> {
    if (sessionId === undefined) return undefined;
    const row = await store.getSession(this.db, sessionId);
    return row && !this.expired(row.creation_time) ? (JSON.parse(row.serverdict) as Record<string, unknown>) : undefined;
  }

  /** Sets one key of a session's server-side data (in the caller's transaction when given). */
  async setSessionData(sessionId: string, key: string, value: unknown, db: Db = this.db): Promise<void> {
    const row = await store.getSession(db, sessionId);
    if (!row) throw unknownSession(sessionId);
    const data = JSON.parse(row.serverdict) as Record<string, unknown>;
    data[key] = value;
    await store.setServerdict(db, sessionId, JSON.stringify(data));
  }

  /**
   * The operation has consumed what the session's stages reserved, in the operation's own
   * transaction: nothing is released when the session expires.
   */
  async settleIn(tx: Db, sessionId: string): Promise<void> {
    const releasable = [...this.stages].filter(([, s]) => s.release).map(([t]) => t);
    await store.setCredentialResults(tx, sessionId, releasable, SETTLED);
  }

  private expired(creationTime: number): boolean {
    return this.now() - Number(creationTime) > SESSION_TTL_MS;
  }

  private async checkSecrets(body: Record<string, unknown>, secrets: string[], data: Record<string, unknown>): Promise<void> {
    for (const k of secrets) {
      if (body[k] === undefined) continue;
      const hash = data[SECRET_PREFIX + k];
      if (typeof body[k] !== 'string' || typeof hash !== 'string' || !(await this.accounts.passwords.verify(body[k], hash))) throw changed();
    }
  }

  private async runStage(stage: string, auth: Record<string, unknown>, sessionId: string, flows: UiaFlow[], userId: string | undefined): Promise<void> {
    const unrecognised = () => new MatrixError(401, 'M_UNRECOGNIZED', `Unrecognised login type ${stage}`);
    if (!flows.some((f) => f.stages.includes(stage))) throw unrecognised();
    const custom = this.stages.get(stage);
    if (custom) {
      // Two requests of one session may complete the stage at once: the credential's unique key
      // lets one win; the other rolls back what it reserved and sees the winner's result.
      for (let attempt = 0; ; attempt++) {
        try {
          await withTransaction(this.db, async (tx) => {
            const prior = await store.getCredential(tx, sessionId, stage);
            const previous = prior === undefined ? undefined : (JSON.parse(prior) as unknown);
            const result = JSON.stringify((await custom.check(auth, { sessionId, previous, db: tx })) ?? null);
            if (prior === undefined) await store.insertCredential(tx, sessionId, stage, result);
            else if (prior !== result) await store.upsertCredential(tx, sessionId, stage, result);
          });
          return;
        } catch (e) {
          if (attempt > 0 || !isUniqueViolation(e)) throw e;
        }
      }
    }
    let result: unknown;
    if (stage === 'm.login.dummy') {
      result = true;
    } else if (stage === 'm.login.password') {
      // bcrypt runs outside any transaction.
      result = await this.checkPasswordStage(auth, userId);
      if (result === null) throw new MatrixError(401, 'M_FORBIDDEN', 'Invalid username or password');
    } else {
      throw unrecognised();
    }
    await store.upsertCredential(this.db, sessionId, stage, JSON.stringify(result));
  }

  /** Drops expired sessions, releasing what their unsettled stages reserved. */
  private async sweep(): Promise<void> {
    try {
      const ids = await store.expiredSessionIds(this.db, this.now() - SESSION_TTL_MS, SWEEP_BATCH);
      for (const id of ids) {
        await withTransaction(this.db, async (tx) => {
          // Whoever deletes the rows releases; a concurrent sweep finds nothing left.
          for (const c of (await store.deleteSession(tx, id)) ?? []) {
            const release = this.stages.get(c.stage_type)?.release;
            if (release && c.result !== SETTLED) await release.call(this.stages.get(c.stage_type), tx, JSON.parse(c.result) as unknown);
          }
        });
      }
    } catch {
      // Best effort: a failed sweep must not fail the unrelated request that ran it; the next retries.
    }
  }

  /** The canonical ID of the user whose password `auth` proves (the named user, else `userId`), or null. */
  private async checkPasswordStage(auth: Record<string, unknown>, userId: string | undefined): Promise<string | null> {
    if (typeof auth.password !== 'string') return null;
    const identifier = auth.identifier as Record<string, unknown> | undefined;
    const named = typeof identifier?.user === 'string' ? identifier.user : typeof auth.user === 'string' ? auth.user : undefined;
    const target = named === undefined ? userId : named.startsWith('@') ? named : this.accounts.userId(named);
    if (!target) return null;
    try {
      return await this.accounts.checkPassword(target, auth.password);
    } catch (e) {
      if (e instanceof MatrixError) return null; // a malformed user ID proves nothing
      throw e;
    }
  }
}
