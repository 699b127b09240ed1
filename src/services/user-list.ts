import type { Notifier } from '../storage/changes.js';
import type { Db } from '../storage/database.js';
import * as store from '../storage/stores/user-list.js';
import type { Anchor, UserListFilter, UserListOrder, UserListRow } from '../storage/stores/user-list.js';

export type { UserListFilter, UserListOrder, UserListRow, UserSortKey } from '../storage/stores/user-list.js';

export interface UserListQuery {
  from: number;
  limit: number;
  filter: UserListFilter;
  order: UserListOrder;
}

export interface UserListPage {
  users: UserListRow[];
  total: number;
  /** Offset of the next page, only when `from + limit < total` (Synapse's rule). */
  nextToken?: string;
}

/** Anchors every STRIDE rows: a seek then skips fewer than STRIDE rows. */
const STRIDE = 64;
/** Filter sets whose totals/anchors are kept (least recently used dropped). */
const MAX_ENTRIES = 64;
/** Orders kept per filter set. */
const MAX_ORDERS = 32;
/** Page-boundary anchors kept per order before starting over. */
const MAX_EXACT = 4096;
/** Pages kept, and the largest page worth keeping. */
const MAX_PAGES = 32;
const MAX_PAGE_ROWS = 500;

interface OrderCache {
  /** Sparse anchors, built on the first deep page and kept while their versions hold. */
  anchors?: Promise<Anchor[]>;
  /** Anchors at the positions where served pages ended, so following next_token needs no skip. */
  exact: Map<number, Anchor>;
}

interface FilterCache {
  total?: Promise<number>;
  /** Per order (and, for profile orders, per profiles version). */
  orders: Lru<OrderCache>;
}

/** Map insertion order as LRU order: get() refreshes, set() evicts the oldest beyond `max`. */
class Lru<V> extends Map<string, V> {
  constructor(private readonly max: number) {
    super();
  }
  override get(key: string): V | undefined {
    const v = super.get(key);
    if (v !== undefined) {
      super.delete(key);
      super.set(key, v);
    }
    return v;
  }
  override set(key: string, v: V): this {
    super.delete(key);
    super.set(key, v);
    if (this.size > this.max) this.delete(this.keys().next().value!);
    return this;
  }
}

/** Generation numbers of the tables behind the list, moved by their committed changes. */
interface ListVersions {
  /** Moves with every change to `users`. */
  users: number;
  /** Moves with every change to `devices`, `user_ips`, `erased_users` (behind last_seen_ts and erased). */
  activity: number;
  /** Moves with every change to `profiles`. */
  profiles: number;
}

/** What is cached under one set of generation numbers. */
interface Generation extends ListVersions {
  /**
   * Totals and anchors: valid while `users` holds. Those that read profiles (a name search, a
   * display name or avatar order) carry the `profiles` version in their key.
   */
  entries: Lru<FilterCache>;
  /** Whole pages: valid while every counter holds. */
  pages: Lru<UserListRow[]>;
}

/**
 * GET /_synapse/admin/v2|v3/users over a million accounts without OFFSET scans or COUNT(*) per
 * request. Totals and keyset anchors are cached per filter set (and order), whole pages per query.
 * The notification bus reports every committed change to the tables behind the list — by Axon or
 * by an operator's SQL — and moves the generation numbers here. A request works in the generation
 * current when it starts (before it reads any data, so nothing cached is older than its
 * generation); a change starts a new generation, and requests still running fill only the
 * discarded one. While the engine has no change signal, every request works in a throw-away one.
 */
export class UserListService {
  private gen: Generation = { users: -1, activity: -1, profiles: -1, entries: new Lru(MAX_ENTRIES), pages: new Lru(MAX_PAGES) };
  private readonly versions: ListVersions = { users: 0, activity: 0, profiles: 0 };

  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
  ) {
    notifier.subscribe(['users'], () => void this.versions.users++);
    notifier.subscribe(['devices', 'user_ips', 'erased_users'], () => void this.versions.activity++);
    notifier.subscribe(['profiles'], () => void this.versions.profiles++);
  }

  /** The current generation numbers; a fresh, never-matching set when changes can't be seen now. */
  private current(): ListVersions {
    if (this.notifier.fresh()) return { ...this.versions };
    this.versions.users++;
    return { ...this.versions };
  }

  private generation(v: ListVersions): Generation {
    const g = this.gen;
    if (g.users !== v.users) {
      this.gen = { ...v, entries: new Lru(MAX_ENTRIES), pages: new Lru(MAX_PAGES) };
    } else if (g.activity !== v.activity || g.profiles !== v.profiles) {
      // Totals and anchors that do not read profiles stay valid; pages go.
      this.gen = { ...v, entries: g.entries, pages: new Lru(MAX_PAGES) };
    }
    return this.gen;
  }

  async list(q: UserListQuery): Promise<UserListPage> {
    const g = this.generation(this.current());
    const filterKey = JSON.stringify([
      q.filter.guests,
      q.filter.admins ?? null,
      q.filter.deactivated,
      q.filter.locked,
      [...new Set(q.filter.notUserTypes)].sort(),
      q.filter.search ?? null,
      // A name search reads display names.
      q.filter.search ? g.profiles : null,
    ]);
    let entry = g.entries.get(filterKey);
    if (!entry) {
      entry = { orders: new Lru(MAX_ORDERS) };
      g.entries.set(filterKey, entry);
    }
    const e = entry;
    e.total ??= store.countUsers(this.db, q.filter).catch((err: unknown) => {
      e.total = undefined;
      throw err;
    });
    const total = await e.total;

    let users: UserListRow[] = [];
    if (q.limit > 0 && q.from < total) {
      const pageKey = `${filterKey}|${q.order.key}|${q.order.descending}|${q.from}|${q.limit}`;
      const cached = g.pages.get(pageKey);
      if (cached) users = cached;
      else {
        users = await this.page(e, q, g.profiles);
        if (users.length <= MAX_PAGE_ROWS) g.pages.set(pageKey, users);
      }
    }
    const page: UserListPage = { users, total };
    if (q.from + q.limit < total) page.nextToken = String(q.from + users.length);
    return page;
  }

  private async page(entry: FilterCache, q: UserListQuery, profiles: number): Promise<UserListRow[]> {
    const { filter, order, from, limit } = q;
    if (!store.anchorable(order.key)) return store.pageUsers(this.db, filter, order, null, from, limit);

    const orderKey = `${order.key}:${order.descending ? 'b' : 'f'}${store.sortsByProfile(order.key) ? `:${profiles}` : ''}`;
    let oc = entry.orders.get(orderKey);
    if (!oc) {
      oc = { exact: new Map() };
      entry.orders.set(orderKey, oc);
    }

    let anchor: Anchor | null = null;
    let offset = from;
    const exact = oc.exact.get(from);
    if (exact) {
      anchor = exact;
      offset = 0;
    } else if (from >= STRIDE) {
      const cache = oc;
      cache.anchors ??= store.buildAnchors(this.db, filter, order, STRIDE).catch((e: unknown) => {
        cache.anchors = undefined;
        throw e;
      });
      const anchors = await cache.anchors;
      const i = Math.min(Math.floor(from / STRIDE), anchors.length) - 1;
      if (i >= 0) {
        anchor = anchors[i]!;
        offset = from - (i + 1) * STRIDE;
      }
    }

    const rows = await store.pageUsers(this.db, filter, order, anchor, offset, limit);
    if (rows.length > 0) {
      if (oc.exact.size >= MAX_EXACT) oc.exact.clear();
      const last = rows[rows.length - 1]!;
      oc.exact.set(from + rows.length, { k: last.k, name: last.name });
    }
    return rows;
  }
}
