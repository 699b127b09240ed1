import type { ColumnDefinitionBuilder, CreateTableBuilder } from 'kysely';

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
