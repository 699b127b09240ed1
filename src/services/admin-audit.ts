import type { Logger } from 'pino';
import type { Db } from '../storage/database.js';
import { insertEntries, listEntries, type AuditEntry, type AuditFilter } from '../storage/stores/admin-audit.js';

export type { AuditEntry };

export interface AuditLogEntry {
  id: number;
  ts: number;
  user_id: string | null;
  authenticated_by?: string;
  method: string;
  path: string;
  target: string | null;
  status: number;
  request_id: string | null;
}

/**
 * The admin audit log (Axon, beyond Synapse): one row per state-changing Admin API call, written
 * once its answer is known, so a team of moderators can see who deleted, blocked, deactivated or
 * reset what, and whether it worked. Rows carry no request body (bodies hold passwords and
 * tokens). Writes are queued and go out together after the response; reads first wait for the
 * writes queued before them, so a caller always sees its own earlier calls.
 */
export class AdminAuditService {
  private queue: AuditEntry[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  /** Queues an entry; never throws (an audit failure must not fail the call it records). */
  record(entry: AuditEntry): void {
    this.queue.push(entry);
    void this.flush();
  }

  /** Writes everything queued so far; resolves once it is stored (or its failure logged). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.flushing = insertEntries(this.db, batch)
      .catch((err) => this.log.error({ err, entries: batch.length }, 'writing the admin audit log failed'))
      .finally(() => {
        this.flushing = null;
      });
    await this.flushing;
  }

  async list(f: AuditFilter): Promise<{ entries: AuditLogEntry[]; total: number; next_token?: number }> {
    await this.flush();
    const { rows, total } = await listEntries(this.db, f);
    const entries = rows.map((r): AuditLogEntry => {
      const e: AuditLogEntry = {
        id: Number(r.id),
        ts: Number(r.ts),
        user_id: r.user_id,
        method: r.method,
        path: r.path,
        target: r.target,
        status: Number(r.status),
        request_id: r.request_id,
      };
      if (r.authenticated_by !== null) e.authenticated_by = r.authenticated_by;
      return e;
    });
    return f.from + f.limit < total ? { entries, total, next_token: f.from + entries.length } : { entries, total };
  }
}
