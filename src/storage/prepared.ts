import type { CompiledQuery } from 'kysely';
import type { Db } from './database.js';

/** Stands for the i-th argument of a prepared query while it is compiled. */
class Slot {
  constructor(readonly index: number) {}
}

/**
 * A query built and compiled by Kysely once per database, then run with fresh parameters. Hot
 * paths (token look-up on every request, the admin user view) skip Kysely's builder and compiler,
 * which cost more than the SQLite query itself. The builder must have a fixed shape: each
 * argument becomes exactly one bound parameter (no `in (...)` lists of varying length).
 */
export function prepared<A extends unknown[], R>(build: (db: Db, ...args: A) => { compile(): CompiledQuery<R> }) {
  const compiled = new WeakMap<Db, CompiledQuery<R>>();
  return async (db: Db, ...args: A): Promise<R[]> => {
    let query = compiled.get(db);
    if (query === undefined) {
      query = build(db, ...(args.map((_, i) => new Slot(i)) as A)).compile();
      compiled.set(db, query);
    }
    const parameters = query.parameters.map((p) => (p instanceof Slot ? args[p.index] : p));
    return (await db.executeQuery<R>({ ...query, parameters })).rows;
  };
}
