import { MatrixError, forbidden, invalidParam, notFound } from '../errors.js';
import { parseFilter, type Filter } from '../matrix/filters.js';
import { parseUserId } from '../matrix/ids.js';
import { isUniqueViolation } from '../storage/dialect.js';
import { withTransaction, type Db } from '../storage/database.js';
import { lockUser } from '../storage/stores/users.js';
import * as store from '../storage/stores/filters.js';
import type { Requester } from './auth.js';

/** A filter ID as Python's int() reads it (Synapse): optional sign and surrounding spaces. */
const FILTER_ID = /^\s*[+-]?[0-9]+\s*$/;

/**
 * Filters (spec "Filtering"): uploaded per user, stored in Synapse's `user_filters` with small
 * integer IDs counting from 0, validated by `parseFilter`. An upload identical to one the user
 * already has answers that filter's ID (as Synapse does), so clients that upload the same filter
 * on every start do not grow the table.
 */
export class FiltersService {
  constructor(
    private readonly db: Db,
    private readonly serverName: string,
  ) {}

  private owner(requester: Requester, userId: string, verb: 'create' | 'get'): { localpart: string; full: string } {
    const target = parseUserId(userId);
    if (target.full !== requester.userId) throw forbidden(`Cannot ${verb} filters for other users`);
    if (target.domain !== this.serverName) throw forbidden(`Can only ${verb} filters for local users`);
    return { localpart: target.localpart, full: target.full };
  }

  /** POST /user/{userId}/filter: answers the filter's ID. */
  async create(requester: Requester, userId: string, body: unknown): Promise<string> {
    const user = this.owner(requester, userId, 'create');
    const json = JSON.stringify(parseFilter(body));
    for (let attempt = 0; ; attempt++) {
      try {
        const id = await withTransaction(this.db, async (tx) => {
          // The user's row first (the house lock order): uploads by one user take the next ID in turn.
          await lockUser(tx, user.full);
          return (await store.findFilterId(tx, user.full, json)) ?? store.insertFilter(tx, user.localpart, user.full, json);
        });
        return String(id);
      } catch (e) {
        // Should two uploads still take the same next ID (no users row to lock), the loser tries again.
        if (!isUniqueViolation(e) || attempt >= 3) throw e;
      }
    }
  }

  /** GET /user/{userId}/filter/{filterId}. */
  async get(requester: Requester, userId: string, filterId: string): Promise<Filter> {
    const user = this.owner(requester, userId, 'get');
    if (!FILTER_ID.test(filterId)) throw invalidParam('Invalid filter_id');
    const json = await this.load(user.full, Number(filterId));
    if (json === undefined) throw notFound('No such filter');
    return json;
  }

  /**
   * The `filter` parameter of /sync (and /messages-like reads): inline JSON when it starts with
   * `{`, else the ID of one of the user's filters. No parameter: the empty filter.
   */
  async resolve(userId: string, param: string | undefined): Promise<Filter> {
    if (param === undefined || param === '') return {};
    if (param.trimStart().startsWith('{')) {
      let value: unknown;
      try {
        value = JSON.parse(param);
      } catch {
        throw new MatrixError(400, 'M_NOT_JSON', 'Invalid filter JSON');
      }
      return parseFilter(value);
    }
    const json = FILTER_ID.test(param) ? await this.load(userId, Number(param)) : undefined;
    if (json === undefined) throw invalidParam('No such filter');
    return json;
  }

  private async load(fullUserId: string, id: number): Promise<Filter | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    const text = await store.getFilter(this.db, fullUserId, id);
    return text === undefined ? undefined : (JSON.parse(text) as Filter);
  }
}
