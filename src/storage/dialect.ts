import {
  PostgresAdapter,
  sql,
  type ColumnDefinitionBuilder,
  type CompiledQuery,
  type CreateTableBuilder,
  type Expression,
  type Kysely,
  type OperationNode,
  type RawBuilder,
} from 'kysely';

/**
 * The only place that knows how SQLite and PostgreSQL differ in the SQL we write. Everything
 * else goes through Kysely's one code path.
 */
export type DialectName = 'sqlite' | 'postgres';

/** Adds an auto-incrementing 64-bit primary key column named `id`. */
export function withIdColumn<T extends string, C extends string>(
  dialect: DialectName,
  table: CreateTableBuilder<T, C>,
): CreateTableBuilder<T, C | 'id'> {
  return dialect === 'sqlite'
    ? table.addColumn('id', 'integer', (c: ColumnDefinitionBuilder) => c.primaryKey().autoIncrement())
    : table.addColumn('id', 'bigserial', (c: ColumnDefinitionBuilder) => c.primaryKey());
}

/** True when an error from the driver is a unique-constraint violation. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string } | null;
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * A SELECT that locks the rows it reads until the transaction ends, against concurrent writers
 * (PostgreSQL FOR UPDATE). SQLite needs none: Axon's writes there run one transaction at a time,
 * each taking the write lock at BEGIN IMMEDIATE.
 */
export function lockingRows<Q extends { forUpdate(): Q }>(db: Kysely<any>, query: Q): Q {
  return dialectOf(db) === 'postgres' ? query.forUpdate() : query;
}

/**
 * Serialises the transactions that call it with the same key until they end (PostgreSQL's
 * transaction-scoped advisory lock), e.g. to hand out positions of a stream in commit order.
 * SQLite needs none: its writes run one transaction at a time. `shared` holders do not wait for
 * each other, only for (and hold off) the exclusive ones.
 */
export async function lockForTransaction(db: Kysely<any>, key: number, mode: 'exclusive' | 'shared' = 'exclusive'): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  if (mode === 'shared') await sql`SELECT pg_advisory_xact_lock_shared(${key})`.execute(db);
  else await sql`SELECT pg_advisory_xact_lock(${key})`.execute(db);
}

/** A writing statement (insert, update, delete) built but not yet run. */
export interface Statement {
  execute(): Promise<unknown>;
  compile(): CompiledQuery;
  toOperationNode(): OperationNode;
}

/** PostgreSQL's limit is 65,535 bind parameters per statement; stay well under it. */
const MAX_COMBINED_PARAMETERS = 30_000;

/**
 * Runs independent writing statements (none reads another's rows) in order. PostgreSQL gets them
 * as one statement, each a data-modifying WITH clause, so a batch costs one round trip instead of
 * one per statement (they all see the same snapshot, which is why they must be independent).
 * SQLite runs them one by one: its statements are calls, not round trips.
 */
export async function runStatements(db: Kysely<any>, statements: readonly Statement[], opts: { yieldBetween?: boolean } = {}): Promise<void> {
  if (dialectOf(db) !== 'postgres') {
    for (const s of statements) {
      await s.execute();
      // better-sqlite3's promises settle at once: without this a batch runs as one macrotask, and
      // no request is served until its last statement is done (bulk work asks for the pause).
      if (opts.yieldBetween) await new Promise<void>((r) => setImmediate(r));
    }
    return;
  }
  let group: Statement[] = [];
  let parameters = 0;
  const flush = async () => {
    if (group.length === 1) await group[0]!.execute();
    else if (group.length > 1) {
      // Kysely's WITH takes any query builder; the typed builder cannot express a chain of them.
      let query: any = db;
      group.forEach((s, i) => (query = query.with(`w${i}`, () => s)));
      await query.selectNoFrom(sql<number>`1`.as('done')).execute();
    }
    group = [];
    parameters = 0;
  };
  for (const s of statements) {
    const n = s.compile().parameters.length;
    if (parameters + n > MAX_COMBINED_PARAMETERS) await flush();
    group.push(s);
    parameters += n;
  }
  await flush();
}

/** The names of the tables that exist (features whose migrations may not have run yet ask). */
export async function existingTables(db: Kysely<any>): Promise<Set<string>> {
  const q =
    dialectOf(db) === 'postgres'
      ? sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()`
      : sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`;
  return new Set((await q.execute(db)).rows.map((r) => r.name));
}

/**
 * `column IN (values)` for a list of any length. PostgreSQL gets one array parameter
 * (`column = ANY($1)`): the statement text stays the same whatever the list's length, so it is
 * prepared and planned once, and no list reaches the bind-parameter limit. SQLite, whose
 * statements are calls, gets a plain IN list.
 */
export function inList(db: Kysely<any>, column: string, values: ReadonlyArray<string | number>): RawBuilder<boolean> {
  if (dialectOf(db) === 'postgres') return sql<boolean>`${sql.ref(column)} = ANY(${[...values]})`;
  return sql<boolean>`${sql.ref(column)} IN (${sql.join([...values])})`;
}

/** The engine behind a Kysely handle (the database or a transaction); stores receive only the handle. */
export function dialectOf(db: Kysely<any>): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/**
 * Whether NULL comes first in `ORDER BY x` (or `x DESC`) without NULLS FIRST/LAST. SQLite treats
 * NULL as the smallest value, PostgreSQL as the largest; we keep each engine's native order, as
 * Synapse does on it, and keyset seeks must know where the NULL block lies.
 */
export function nullsSortFirst(dialect: DialectName, descending: boolean): boolean {
  return dialect === 'sqlite' ? !descending : descending;
}

const LIKE_ESCAPE = sql.raw("ESCAPE '\\'");

/** `%term%` with LIKE's wildcards in the term taken literally (use with ESCAPE '\'). */
const containsPattern = (term: string) => `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * A subquery of the user IDs (`users.name`) that contain `term`, case-insensitively: in the
 * localpart or the display name (`field` 'name'), or anywhere in the full user ID ('user_id').
 * SQLite: the FTS5 trigram index of migration 003 narrows terms of 3+ characters to candidates,
 * then LIKE checks them exactly (so case folding is SQLite's LIKE's, ASCII only, at every term
 * length); shorter terms scan `user_search`. PostgreSQL: lower(...) LIKE, served by the pg_trgm
 * indexes of migration 003 (whose expressions these must match).
 */
export function userSearchSubquery(dialect: DialectName, field: 'name' | 'user_id', term: string): RawBuilder<unknown> {
  const pattern = containsPattern(term);
  if (dialect === 'postgres') {
    return field === 'name'
      ? sql`(SELECT su.name FROM users su WHERE lower(split_part(substr(su.name, 2), ':', 1)) LIKE lower(${pattern}) ${LIKE_ESCAPE}
             UNION SELECT sp.full_user_id FROM profiles sp WHERE lower(sp.displayname) LIKE lower(${pattern}) ${LIKE_ESCAPE})`
      : sql`(SELECT su.name FROM users su WHERE lower(su.name) LIKE lower(${pattern}) ${LIKE_ESCAPE})`;
  }
  const exact =
    field === 'name'
      ? sql`(lower(s.localpart) LIKE lower(${pattern}) ${LIKE_ESCAPE} OR lower(s.displayname) LIKE lower(${pattern}) ${LIKE_ESCAPE})`
      : sql`lower(s.name) LIKE lower(${pattern}) ${LIKE_ESCAPE}`;
  // The trigram index cannot answer substrings shorter than 3 characters.
  if ([...term].length < 3) return sql`(SELECT s.name FROM user_search s WHERE ${exact})`;
  const phrase = `"${term.replace(/"/g, '""')}"`;
  const match = field === 'name' ? `{localpart displayname} : ${phrase}` : `name : ${phrase}`;
  return sql`(SELECT s.name FROM user_search s WHERE s.id IN (SELECT rowid FROM user_search_fts WHERE user_search_fts MATCH ${match}) AND ${exact})`;
}

/**
 * A JSON object `{key: expr, …}` built by the database (PostgreSQL json_build_object, SQLite
 * json_object). A row read as one JSON value costs the driver far less than one column per field
 * (pg parses a row description and builds a parser per column on every query). Keys are our own
 * identifiers, inlined as literals. Read the value with `fromJson`.
 */
export function jsonObject(dialect: DialectName, fields: Record<string, Expression<unknown>>): RawBuilder<unknown> {
  const pairs = sql.join(Object.entries(fields).map(([k, v]) => sql`${sql.lit(k)}, ${v}`));
  return dialect === 'postgres' ? sql`json_build_object(${pairs})` : sql`json_object(${pairs})`;
}

/**
 * An aggregate collecting rows into one JSON array of objects `{key: expr, …}`, in `orderBy`
 * order, so a row's children come back with it. PostgreSQL: json_agg(json_build_object(…) ORDER
 * BY …), NULL over no rows; SQLite (ORDER BY inside an aggregate needs 3.44+):
 * json_group_array(json_object(…) ORDER BY …), '[]' over no rows. Read it with `jsonRows`.
 */
export function jsonArrayAgg(
  dialect: DialectName,
  fields: Record<string, Expression<unknown>>,
  orderBy: Expression<unknown>[],
): RawBuilder<unknown> {
  const order = sql.join(orderBy);
  return dialect === 'postgres'
    ? sql`json_agg(${jsonObject(dialect, fields)} ORDER BY ${order})`
    : sql`json_group_array(${jsonObject(dialect, fields)} ORDER BY ${order})`;
}

/**
 * A scalar subquery whose value is JSON, for use as a field of `jsonObject`. SQLite embeds a
 * value as JSON only while it carries the JSON subtype, which a subquery need not keep: json()
 * restores it (and passes NULL through).
 */
export function jsonSubquery(dialect: DialectName, query: Expression<unknown>): RawBuilder<unknown> {
  // Kysely parenthesises a subquery it interpolates.
  return dialect === 'postgres' ? sql`${query}` : sql`json(${query})`;
}

/** A JSON value as either driver returns it: parsed already (pg's json type) or as text (SQLite). */
export function fromJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** The rows of a `jsonArrayAgg` value (NULL, i.e. no rows, as an empty list). */
export function jsonRows<T>(value: unknown): T[] {
  return value === null || value === undefined ? [] : fromJson<T[]>(value);
}

/**
 * Bytes a table takes with its indexes, or null when it does not exist. PostgreSQL:
 * `pg_total_relation_size` (also TOAST). SQLite: the pages of its B-trees in the `dbstat` virtual
 * table, which walks them (a read proportional to the table's size).
 */
export async function tableBytes(db: Kysely<any>, table: string): Promise<number | null> {
  if (dialectOf(db) === 'postgres') {
    const r = await sql<{ n: string | null }>`SELECT pg_total_relation_size(to_regclass(${table}))::text AS n`.execute(db);
    const n = r.rows[0]?.n;
    return n === null || n === undefined ? null : Number(n);
  }
  const trees = await sql<{ name: string }>`SELECT name FROM sqlite_schema WHERE tbl_name = ${table} AND rootpage > 0`.execute(db);
  if (trees.rows.length === 0) return null;
  let total = 0;
  for (const { name } of trees.rows) {
    const r = await sql<{ n: number | null }>`SELECT sum(pgsize) AS n FROM dbstat WHERE name = ${name}`.execute(db);
    total += Number(r.rows[0]?.n ?? 0);
  }
  return total;
}

/**
 * The planner's most common `room_id` values of a table with the share of rows each holds
 * (PostgreSQL's `pg_stats`, filled by ANALYZE), as Synapse estimates room sizes. Null where no
 * such statistics exist: SQLite, or a table PostgreSQL has not analysed yet.
 */
export async function plannerRoomShares(db: Kysely<any>, table: string): Promise<Map<string, number> | null> {
  if (dialectOf(db) !== 'postgres') return null;
  const r = await sql<{ vals: string[] | null; freqs: string[] | null }>`
    SELECT most_common_vals::text::text[] AS vals, most_common_freqs::text::text[] AS freqs
    FROM pg_stats WHERE schemaname = current_schema() AND tablename = ${table} AND attname = 'room_id'`.execute(db);
  const row = r.rows[0];
  if (!row) return null;
  const out = new Map<string, number>();
  (row.vals ?? []).forEach((v, i) => out.set(v, Number(row.freqs?.[i] ?? 0)));
  return out;
}
