import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../database.js';
import { dialectOf, nullsSortFirst, userSearchSubquery, type DialectName } from '../dialect.js';

/**
 * The admin users list (GET /_synapse/admin/v2/users) as a read model: filtered counts, pages
 * reached by keyset seeks, and sparse anchors (sort keys of every Nth row) to seek from.
 */

export type UserSortKey =
  | 'name'
  | 'displayname'
  | 'is_guest'
  | 'admin'
  | 'deactivated'
  | 'user_type'
  | 'avatar_url'
  | 'shadow_banned'
  | 'creation_ts'
  | 'last_seen_ts'
  | 'locked';

export interface UserListFilter {
  /** false drops guest accounts. */
  guests: boolean;
  /** undefined: no filter; true: admins only; false: non-admins only. */
  admins?: boolean;
  deactivated: 'hide' | 'only' | 'any';
  /** false hides locked accounts; true includes them. */
  locked: boolean;
  /** user_type values to exclude; '' stands for "no type" (NULL). */
  notUserTypes: string[];
  /** Case-insensitive substring search. */
  search?: { field: 'name' | 'user_id'; term: string };
}

export interface UserListOrder {
  key: UserSortKey;
  descending: boolean;
}

/** A row's sort key and name: rows after it are those that sort after (k, name). */
export interface Anchor {
  k: unknown;
  name: string;
}

export interface UserListRow {
  name: string;
  user_type: string | null;
  is_guest: number;
  admin: number;
  deactivated: number;
  shadow_banned: boolean | number | null;
  displayname: string | null;
  avatar_url: string | null;
  /** Seconds, as stored. */
  creation_ts: number | null;
  approved: boolean | number | null;
  locked: boolean | number;
  /** ms */
  last_seen_ts: number | null;
  erased: boolean | number;
  /** The sort key's value (for anchors). */
  k: unknown;
}

const LAST_SEEN_OF = (user: string) =>
  `COALESCE((SELECT MAX(d.last_seen) FROM devices d WHERE d.user_id = ${user}), ` +
  `(SELECT MAX(i.last_seen) FROM user_ips i WHERE i.user_id = ${user}))`;

/** Sort keys as SQL over `users u LEFT JOIN profiles p` (a fixed whitelist, never user input). */
const KEYS: Record<UserSortKey, { expr: string; nullable: boolean; profile?: boolean }> = {
  name: { expr: 'u.name', nullable: false },
  displayname: { expr: 'p.displayname', nullable: true, profile: true },
  is_guest: { expr: 'u.is_guest', nullable: false },
  admin: { expr: 'u.admin', nullable: false },
  deactivated: { expr: 'u.deactivated', nullable: false },
  user_type: { expr: 'u.user_type', nullable: true },
  avatar_url: { expr: 'p.avatar_url', nullable: true, profile: true },
  shadow_banned: { expr: 'u.shadow_banned', nullable: true },
  creation_ts: { expr: 'u.creation_ts', nullable: true },
  last_seen_ts: { expr: LAST_SEEN_OF('u.name'), nullable: true },
  locked: { expr: 'u.locked', nullable: false },
};

const PROFILE_JOIN = sql`LEFT JOIN profiles p ON p.full_user_id = u.name`;

function whereSql(f: UserListFilter, dialect: DialectName): RawBuilder<unknown> {
  const c: RawBuilder<unknown>[] = [];
  if (!f.guests) c.push(sql`u.is_guest = 0`);
  if (f.admins !== undefined) c.push(f.admins ? sql`u.admin <> 0` : sql`u.admin = 0`);
  if (f.deactivated === 'hide') c.push(sql`u.deactivated = 0`);
  else if (f.deactivated === 'only') c.push(sql`u.deactivated <> 0`);
  if (!f.locked) c.push(sql`NOT u.locked`);
  // '' stands for "no type". No stored type holds a NUL (PostgreSQL text cannot): excluding one changes nothing.
  const withoutType = f.notUserTypes.includes('');
  const types = [...new Set(f.notUserTypes.filter((t) => t !== '' && !t.includes('\0')))];
  if (types.length === 0) {
    if (withoutType) c.push(sql`u.user_type IS NOT NULL`);
  } else if (withoutType) c.push(sql`(u.user_type IS NOT NULL AND u.user_type NOT IN (${sql.join(types)}))`);
  else c.push(sql`(u.user_type IS NULL OR u.user_type NOT IN (${sql.join(types)}))`);
  if (f.search) {
    // Nothing stored contains a NUL (and PostgreSQL refuses one in a parameter).
    if (f.search.term.includes('\0')) c.push(sql`1 = 0`);
    else c.push(sql`u.name IN ${userSearchSubquery(dialect, f.search.field, f.search.term)}`);
  }
  return c.length === 0 ? sql`1 = 1` : sql.join(c, sql` AND `);
}

export async function countUsers(db: Db, f: UserListFilter): Promise<number> {
  const { rows } = await sql<{ c: number | string }>`SELECT COUNT(*) AS c FROM users u WHERE ${whereSql(f, dialectOf(db))}`.execute(db);
  return Number(rows[0]?.c ?? 0);
}

/** Whether anchors stay valid while users and profiles do (last_seen_ts moves with activity). */
export const anchorable = (key: UserSortKey) => key !== 'last_seen_ts';

/** Whether the order reads `profiles`. */
export const sortsByProfile = (key: UserSortKey) => KEYS[key].profile === true;

/**
 * `ORDER BY` terms: the key in the asked direction, then name ascending (not repeated when the
 * key is the name: SQLite would add a sort step for it). Over `users u`, or over the `k`/`name`
 * columns of a derived table.
 */
function orderBySql(order: UserListOrder, derived?: string): RawBuilder<unknown> {
  const dir = order.descending ? 'DESC' : 'ASC';
  const key = derived ? `${derived}.k` : KEYS[order.key].expr;
  const name = derived ? `${derived}.name` : 'u.name';
  return sql.raw(order.key === 'name' ? `${name} ${dir}` : `${key} ${dir}, ${name} ASC`);
}

/**
 * The anchors at positions stride, 2·stride, …: element i is the sort key of row (i+1)·stride − 1,
 * so seeking past it lands on row (i+1)·stride. One ordered pass, numbered in the database.
 */
export async function buildAnchors(db: Db, f: UserListFilter, order: UserListOrder, stride: number): Promise<Anchor[]> {
  const key = KEYS[order.key];
  const k = sql.raw(key.expr);
  const { rows } = await sql<Anchor>`
    SELECT t.k AS k, t.name AS name FROM (
      SELECT ${k} AS k, u.name AS name, ROW_NUMBER() OVER (ORDER BY ${orderBySql(order)}) AS rn
      FROM users u ${key.profile ? PROFILE_JOIN : sql``}
      WHERE ${whereSql(f, dialectOf(db))}
    ) t
    WHERE t.rn % ${stride} = 0
    ORDER BY t.rn`.execute(db);
  return rows;
}

/**
 * The conditions, in output order, selecting the rows after `a`. A nullable key splits the order
 * into a NULL block and a non-NULL block; each seek stays a plain index range inside its block
 * (an `OR k IS NULL` would defeat the index).
 */
function seekArms(order: UserListOrder, a: Anchor, dialect: DialectName): RawBuilder<unknown>[] {
  const key = KEYS[order.key];
  const k = sql.raw(key.expr);
  const op = sql.raw(order.descending ? '<' : '>');
  const bound = sql.raw(order.descending ? '<=' : '>=');
  if (order.key === 'name') return [sql`u.name ${op} ${a.name}`];
  const within = sql`${k} ${bound} ${a.k} AND (${k} ${op} ${a.k} OR (${k} = ${a.k} AND u.name > ${a.name}))`;
  if (!key.nullable) return [within];
  const nullsFirst = nullsSortFirst(dialect, order.descending);
  if (a.k === null || a.k === undefined) {
    const inNulls = sql`${k} IS NULL AND u.name > ${a.name}`;
    return nullsFirst ? [inNulls, sql`${k} IS NOT NULL`] : [inNulls];
  }
  return nullsFirst ? [within] : [within, sql`${k} IS NULL`];
}

const COLUMNS = sql`u.name AS name, u.user_type AS user_type, u.is_guest AS is_guest, u.admin AS admin, u.deactivated AS deactivated,
  u.shadow_banned AS shadow_banned, u.creation_ts AS creation_ts, u.approved AS approved, u.locked AS locked`;

/**
 * One page: rows after `anchor` (or from the start), skipping `offset`, at most `limit`. Profiles
 * (unless the order needs them), activity and erasure are looked up only for the rows returned:
 * a join inside the LIMIT made PostgreSQL merge-join from the first profile on deep pages.
 */
export async function pageUsers(
  db: Db,
  f: UserListFilter,
  order: UserListOrder,
  anchor: Anchor | null,
  offset: number,
  limit: number,
): Promise<UserListRow[]> {
  const dialect = dialectOf(db);
  const key = KEYS[order.key];
  const k = sql.raw(key.expr);
  const where = whereSql(f, dialect);
  const arms = anchor ? seekArms(order, anchor, dialect) : [sql`1 = 1`];
  const select = (cond: RawBuilder<unknown>, blk: number) =>
    sql`SELECT ${sql.raw(String(blk))} AS blk, ${COLUMNS}, ${k} AS k FROM users u ${key.profile ? PROFILE_JOIN : sql``}
        WHERE ${where} AND ${cond} ORDER BY ${orderBySql(order)}`;
  const inner =
    arms.length === 1
      ? sql`${select(arms[0]!, 0)} LIMIT ${limit} OFFSET ${offset}`
      : sql`SELECT * FROM (${sql.join(
          arms.map((cond, i) => sql`SELECT * FROM (${select(cond, i)} LIMIT ${offset + limit}) a${sql.raw(String(i))}`),
          sql` UNION ALL `,
        )}) b ORDER BY b.blk, ${orderBySql(order, 'b')} LIMIT ${limit} OFFSET ${offset}`;
  const { rows } = await sql<UserListRow>`
    SELECT t.*, pp.displayname AS displayname, pp.avatar_url AS avatar_url, ${sql.raw(LAST_SEEN_OF('t.name'))} AS last_seen_ts,
      EXISTS (SELECT 1 FROM erased_users e WHERE e.user_id = t.name) AS erased
    FROM (${inner}) t LEFT JOIN profiles pp ON pp.full_user_id = t.name
    ORDER BY t.blk, ${orderBySql(order, 't')}`.execute(db);
  return rows;
}
