/**
 * Kysely type of `open_id_tokens` (migration 016), merged into `Database` here so the shared
 * tables.ts stays untouched by this area.
 */

export interface OpenIdTokensTable {
  token: string;
  ts_valid_until_ms: number;
  user_id: string;
}

declare module './tables.js' {
  interface Database {
    open_id_tokens: OpenIdTokensTable;
  }
}
