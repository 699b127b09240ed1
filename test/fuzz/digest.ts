import { createHash } from 'node:crypto';
import pg from 'pg';
import type { TestServer } from '../harness/server.js';

/**
 * What a rejected request may still write, by design, left out of the digest:
 * - `user_ips`, and the `ip`/`user_agent`/`last_seen` columns of `devices`: Synapse records the
 *   client's IP for every authenticated request, answered or refused, and Axon flushes those
 *   sightings every few seconds in the background, so they also move between any two snapshots.
 * - `ui_auth_sessions*`: a user-interactive-auth request is refused with 401 precisely to create or
 *   advance its session (that 401 is how the protocol talks).
 * - `registration_nonces`: a shared-secret registration spends its nonce even when refused, as in
 *   Synapse (a nonce is single-use whatever the outcome).
 * - `admin_audit_log`: every state-changing admin call is recorded with its outcome, refusals
 *   included, and the records are written in batches, so they also land between snapshots.
 * - `presence_stream`: the presence sweep times users out and writes batched activity times every
 *   5 s in the background (docs/presence-typing.md), so rows move between any two snapshots.
 */
const EXCLUDED_TABLES = [/^user_ips$/, /^ui_auth_sessions/, /^registration_nonces$/, /^admin_audit_log$/, /^presence_stream$/];
const EXCLUDED_COLUMNS: Record<string, string[]> = { devices: ['ip', 'user_agent', 'last_seen'] };

export interface Digester {
  /** table → hash of its rows (order-independent). */
  digest(): Promise<Map<string, string>>;
  close(): Promise<void>;
}

const hashRows = (table: string, rows: Record<string, unknown>[]) => {
  const drop = EXCLUDED_COLUMNS[table] ?? [];
  const lines = rows.map((r) => JSON.stringify(Object.entries(r).filter(([k]) => !drop.includes(k)), (_k, v) => (typeof v === 'bigint' ? String(v) : Buffer.isBuffer(v) ? v.toString('hex') : v)));
  lines.sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
};

export async function openDigester(s: TestServer): Promise<Digester> {
  if (s.dialect === 'postgres') {
    const c = new pg.Client({ connectionString: s.databaseUrl });
    await c.connect();
    const tables = (await c.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)).rows
      .map((r) => r.table_name as string)
      .filter((t) => !EXCLUDED_TABLES.some((re) => re.test(t)));
    return {
      async digest() {
        const out = new Map<string, string>();
        for (const t of tables) out.set(t, hashRows(t, (await c.query(`SELECT * FROM "${t}"`)).rows));
        return out;
      },
      close: () => c.end(),
    };
  }
  const { default: Sqlite } = await import('better-sqlite3');
  const db = new Sqlite(s.database, { readonly: true });
  const all = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1`).all() as Array<{ name: string; sql: string }>;
  // A full-text index (and its shadow tables) follows its content table, which is digested.
  const virtual = all.filter((r) => /^CREATE VIRTUAL/i.test(r.sql)).map((r) => r.name);
  const tables = all
    .map((r) => r.name)
    .filter((t) => !EXCLUDED_TABLES.some((re) => re.test(t)) && !virtual.some((v) => t === v || t.startsWith(`${v}_`)));
  return {
    async digest() {
      const out = new Map<string, string>();
      for (const t of tables) out.set(t, hashRows(t, db.prepare(`SELECT * FROM "${t}"`).all() as Record<string, unknown>[]));
      return out;
    },
    close: async () => db.close(),
  };
}

/** The tables whose digest differs. */
export function changedTables(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after.keys()].filter((t) => before.get(t) !== after.get(t));
}
