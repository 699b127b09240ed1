/**
 * Kysely types of the receipts tables (migration 013), merged into `Database` here so the shared
 * tables.ts stays untouched by this area.
 */

export interface ReceiptsLinearizedTable {
  stream_id: number;
  room_id: string;
  receipt_type: string;
  user_id: string;
  event_id: string;
  /** NULL: unthreaded; 'main' or a thread root's event ID. */
  thread_id: string | null;
  event_stream_ordering: number | null;
  /** JSON text, e.g. {"ts": 1700000000000}. */
  data: string;
  instance_name: string | null;
}

export interface ReceiptsGraphTable {
  room_id: string;
  receipt_type: string;
  user_id: string;
  /** JSON text: an array of event IDs. */
  event_ids: string;
  thread_id: string | null;
  /** JSON text. */
  data: string;
}

declare module './tables.js' {
  interface Database {
    receipts_linearized: ReceiptsLinearizedTable;
    receipts_graph: ReceiptsGraphTable;
  }
}
