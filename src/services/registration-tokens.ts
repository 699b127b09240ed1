import { randomInt } from 'node:crypto';
import { MatrixError, invalidParam, notFound } from '../errors.js';
import type { Db } from '../storage/database.js';
import { isUniqueViolation } from '../storage/dialect.js';
import * as store from '../storage/stores/registration-tokens.js';
import type { UiaStage } from './uia.js';

export type RegistrationToken = store.RegistrationTokenRow;

/** The characters a token may hold (the spec's `[A-Za-z0-9._~-]`). */
const TOKEN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-';
const TOKEN_RE = /^[A-Za-z0-9._~-]*$/;
/** `uses_allowed` is an INTEGER column: keep it within 32 bits so PostgreSQL never overflows. */
const MAX_USES = 2 ** 31 - 1;
const GENERATION_ATTEMPTS = 3;

export const REGISTRATION_TOKEN_STAGE = 'm.login.registration_token';

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const noSuchToken = (token: string) => notFound(`No such registration token: ${token}`);

/**
 * Registration tokens (catalogue §5): the admin CRUD and the use counting behind the
 * m.login.registration_token UIA stage. A use is reserved (`pending`) when the stage passes and
 * becomes `completed` in the transaction that creates the account; an abandoned session gives it
 * back when the session expires.
 */
export class RegistrationTokensService {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  list(valid?: boolean): Promise<RegistrationToken[]> {
    return store.listTokens(this.db, { valid, now: this.now() });
  }

  async get(token: string): Promise<RegistrationToken> {
    const row = await store.getToken(this.db, token);
    if (!row) throw noSuchToken(token);
    return row;
  }

  /** POST /registration_tokens/new: Synapse's checks, in its order, with its messages. */
  async create(body: Record<string, unknown>): Promise<RegistrationToken> {
    let token: string | undefined;
    let length = 16;
    if ('token' in body) {
      if (typeof body.token !== 'string') throw invalidParam('token must be a string');
      if (body.token.length === 0 || body.token.length > 64) {
        throw invalidParam('token must not be empty and must not be longer than 64 characters');
      }
      if (!TOKEN_RE.test(body.token)) throw invalidParam('token must consist only of characters matched by the regex [A-Za-z0-9-_]');
      token = body.token;
    } else if (body.length !== undefined) {
      if (!isInt(body.length)) throw invalidParam('length must be an integer');
      if (body.length <= 0 || body.length > 64) throw invalidParam('length must be greater than zero and not greater than 64');
      length = body.length;
    }
    const usesAllowed = body.uses_allowed === undefined ? null : this.usesAllowed(body.uses_allowed);
    const expiryTime = body.expiry_time === undefined ? null : this.expiryTime(body.expiry_time);

    if (token !== undefined) {
      if (!(await this.insert(token, usesAllowed, expiryTime))) throw invalidParam(`Token already exists: ${token}`);
      return { token, uses_allowed: usesAllowed, pending: 0, completed: 0, expiry_time: expiryTime };
    }
    for (let i = 0; i < GENERATION_ATTEMPTS; i++) {
      const generated = Array.from({ length }, () => TOKEN_CHARS[randomInt(TOKEN_CHARS.length)]).join('');
      if (await this.insert(generated, usesAllowed, expiryTime)) {
        return { token: generated, uses_allowed: usesAllowed, pending: 0, completed: 0, expiry_time: expiryTime };
      }
    }
    // Synapse's text once a short length has run out of fresh tokens; a 400, not its 500: the
    // requested length is what cannot be served.
    throw new MatrixError(400, 'M_UNKNOWN', 'Unable to generate a unique registration token. Try again with a greater length');
  }

  /** PUT /registration_tokens/<token>: omitted fields stay, null means unlimited / never. */
  async update(token: string, body: Record<string, unknown>): Promise<RegistrationToken> {
    const values: { uses_allowed?: number | null; expiry_time?: number | null } = {};
    if ('uses_allowed' in body) values.uses_allowed = this.usesAllowed(body.uses_allowed);
    if ('expiry_time' in body) values.expiry_time = this.expiryTime(body.expiry_time);
    const row = Object.keys(values).length ? await store.updateToken(this.db, token, values) : await store.getToken(this.db, token);
    if (!row) throw noSuchToken(token);
    return row;
  }

  async delete(token: string): Promise<void> {
    if (!(await store.deleteToken(this.db, token))) throw noSuchToken(token);
  }

  /** Whether a registration could use the token now (GET …/registration_token/validity). */
  async isValid(token: string): Promise<boolean> {
    const row = await store.getToken(this.db, token);
    if (!row) return false;
    const now = this.now();
    return (row.uses_allowed === null || row.pending + row.completed < row.uses_allowed) && (row.expiry_time === null || row.expiry_time > now);
  }

  /** Takes a use for a registration in progress; false if the token is unknown, used up or expired. */
  reserve(token: string): Promise<boolean> {
    return store.reserveUse(this.db, token, this.now());
  }

  /** Gives back a reserved use (its registration was abandoned). */
  release(token: string): Promise<void> {
    return store.releaseUse(this.db, token);
  }

  /** Completes a reserved use inside the transaction that creates the account. */
  completeIn(tx: Db, token: string): Promise<void> {
    return store.completeUse(tx, token);
  }

  /**
   * The m.login.registration_token stage (spec §5.7; Synapse's checker): validates the token,
   * reserves a use once per session, and refuses another token later in the same session. The
   * reservation is made in the transaction that records the stage, so concurrent requests of one
   * session take a single use between them.
   */
  stage(): UiaStage {
    return {
      check: async (auth, { previous, db }) => {
        if (!('token' in auth)) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing registration token');
        const token = auth.token;
        if (typeof token !== 'string') throw new MatrixError(400, 'M_INVALID_PARAM', 'Registration token must be a string');
        if (!('session' in auth)) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing UIA session');
        if (previous !== undefined) {
          if (previous !== token) throw new MatrixError(400, 'M_INVALID_PARAM', 'Registration token has changed');
          return token;
        }
        if (!(await store.reserveUse(db, token, this.now()))) throw new MatrixError(401, 'M_UNAUTHORIZED', 'Invalid registration token');
        return token;
      },
      release: (db, token) => store.releaseUse(db, token as string),
    };
  }

  private async insert(token: string, usesAllowed: number | null, expiryTime: number | null): Promise<boolean> {
    try {
      await store.insertToken(this.db, { token, usesAllowed, expiryTime });
      return true;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }

  private usesAllowed(v: unknown): number | null {
    if (v === null) return null;
    if (!isInt(v) || v < 0 || v > MAX_USES) throw invalidParam('uses_allowed must be a non-negative integer or null');
    return v;
  }

  private expiryTime(v: unknown): number | null {
    if (v === null) return null;
    if (!isInt(v)) throw invalidParam('expiry_time must be an integer or null');
    if (v < this.now()) throw invalidParam('expiry_time must not be in the past');
    return v;
  }
}
