import type { Config } from '../config/schema.js';
import { MatrixError, badRequest } from '../errors.js';
import type { Db } from '../storage/database.js';
import * as store from '../storage/stores/user-directory.js';
import type { DirectoryCandidate } from '../storage/stores/user-directory.js';

export interface DirectoryResult {
  user_id: string;
  display_name?: string;
  avatar_url?: string;
}

/** Synapse's cap on `limit` (larger values are lowered to it, not refused). */
export const MAX_DIRECTORY_LIMIT = 50;
/** Matching users read before visibility ranking (Synapse's `LIMIT 10000` on matches). */
const MAX_CANDIDATES = 10_000;

/** Lower-cased, NFKC-normalised words of a text: runs of letters, digits, `_` and `-` (Synapse's `[\w-]+`). */
export function directoryWords(text: string): string[] {
  return [...text.toLowerCase().normalize('NFKC').matchAll(/[\p{L}\p{N}\p{M}_-]+/gu)].map((m) => m[0]);
}

interface Scored {
  c: DirectoryCandidate;
  score: number;
}

/**
 * GET-like search of the user directory (spec "User directory"), with Synapse's visibility: the
 * local users who share a room with the searcher or sit in a public room (join rule `public` or
 * history `world_readable`), or every local user with `user_directory.search_all_users` (then
 * never the searcher). Deactivated and support users never; locked users only with
 * `show_locked_users`. Every word of the search term must begin a word of the user's localpart,
 * server name or display name (case-insensitively, after NFKC), as Synapse's full-text query
 * does; exact words rank above prefixes, then users with a display name and an avatar.
 */
export class UserDirectoryService {
  constructor(
    private readonly db: Db,
    private readonly config: Config['userDirectory'],
    private readonly serverName: string,
  ) {}

  /** Validates the body as Synapse reads it (`limit` first, then `search_term`). */
  static parseBody(body: Record<string, unknown>): { term: string; limit: number } {
    let limit = 10;
    const l = body.limit;
    if (l !== undefined) {
      // Synapse applies int(): integers, floats (truncated) and digit strings pass.
      const n = typeof l === 'number' ? l : typeof l === 'string' && /^\s*[+-]?\d{1,15}\s*$/.test(l) ? Number(l) : NaN;
      if (!Number.isFinite(n)) throw new MatrixError(400, 'M_INVALID_PARAM', "'limit' must be an integer");
      limit = Math.max(Math.min(Math.trunc(n), MAX_DIRECTORY_LIMIT), 0);
    }
    if (!('search_term' in body)) throw badRequest('`search_term` is required field');
    if (typeof body.search_term !== 'string') throw new MatrixError(400, 'M_INVALID_PARAM', "'search_term' must be a string");
    return { term: body.search_term, limit };
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  async search(searcher: string, term: string, limit: number): Promise<{ limited: boolean; results: DirectoryResult[] }> {
    if (!this.config.enabled) return { limited: false, results: [] };
    const words = [...new Set(directoryWords(term))];
    if (words.length === 0) return { limited: false, results: [] };
    // The SQL narrows by the longest word (through its trigram index). SQLite's lower() folds ASCII
    // only, so a word with other letters does not narrow (on either engine: one code path); every
    // word is checked below anyway.
    const narrowing = words.filter((w) => /^[\x20-\x7e]*$/.test(w)).sort((a, b) => b.length - a.length)[0];
    const found = await store.candidates(this.db, {
      searcher,
      word: narrowing,
      searchAllUsers: this.config.searchAllUsers,
      showLockedUsers: this.config.showLockedUsers,
      limit: MAX_CANDIDATES,
    });
    const scored: Scored[] = [];
    for (const c of found) {
      const score = this.score(c, words);
      if (score > 0) scored.push({ c, score });
    }
    scored.sort(
      (a, b) =>
        b.score - a.score ||
        Number(a.c.displayName === null) - Number(b.c.displayName === null) ||
        Number(a.c.avatarUrl === null) - Number(b.c.avatarUrl === null) ||
        (a.c.userId < b.c.userId ? -1 : a.c.userId > b.c.userId ? 1 : 0),
    );
    const results = scored.slice(0, limit).map(({ c }) => {
      const r: DirectoryResult = { user_id: c.userId };
      if (c.displayName !== null) r.display_name = c.displayName;
      if (c.avatarUrl !== null) r.avatar_url = c.avatarUrl;
      return r;
    });
    return { limited: scored.length > limit, results };
  }

  /** 0 when some word begins no word of the user; otherwise higher for exact and better-placed matches. */
  private score(c: DirectoryCandidate, words: readonly string[]): number {
    const colon = c.userId.indexOf(':');
    const localpart = directoryWords(c.userId.slice(1, colon < 0 ? undefined : colon));
    const domain = colon < 0 ? [] : directoryWords(c.userId.slice(colon + 1));
    const display = c.displayName === null ? [] : directoryWords(c.displayName);
    let total = 0;
    for (const w of words) {
      let best = 0;
      const field = (tokens: string[], weight: number) => {
        for (const t of tokens) {
          if (t === w) best = Math.max(best, 3 * weight);
          else if (t.startsWith(w)) best = Math.max(best, weight);
        }
      };
      field(localpart, 1);
      field(display, 1);
      field(domain, 0.1);
      if (best === 0) return 0;
      total += best;
    }
    if (c.displayName !== null) total *= 1.2;
    if (c.avatarUrl !== null) total *= 1.2;
    // prefer_local_users: local users first (every user is local until federation arrives).
    if (this.config.preferLocalUsers && c.userId.endsWith(`:${this.serverName}`)) total *= 2;
    return total;
  }
}
