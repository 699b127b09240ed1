/** Kysely types of migration 015 (the media quarantine change feed), merged into `Database`. */
export interface AxonMediaQuarantineChangesTable {
  /** Stream position, allocated in the changing transaction. */
  stream_id: number;
  /** The media's server; '' for this server's own media. */
  origin: string;
  media_id: string;
  /** BOOLEAN: true/false on PostgreSQL, 0/1 on SQLite. */
  quarantined: boolean | number;
  ts: number;
}

declare module './tables.js' {
  interface Database {
    axon_media_quarantine_changes: AxonMediaQuarantineChangesTable;
  }
}
