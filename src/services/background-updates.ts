import { badRequest, missingParam } from '../errors.js';

/** Jobs Synapse's start_job accepts, and what each would rebuild. */
const JOBS = new Set(['populate_stats_process_rooms', 'regenerate_directory', 'event_resign']);

/**
 * The background-updates admin API (catalogue §11), answered truthfully for Axon: its schema
 * changes are numbered migrations applied before the server listens, so no background update is
 * ever pending or running. The jobs Synapse can queue have nothing to do here: room statistics
 * are written in the same transaction as the events that change them, user search reads the
 * users and profiles tables through their indexes, and events are signed with the one key the
 * server has. `enabled` is kept in memory, as Synapse (not persisted across restarts).
 */
export class BackgroundUpdatesService {
  private enabled = true;

  status(): { enabled: boolean; current_updates: Record<string, never> } {
    return { enabled: this.enabled, current_updates: {} };
  }

  isEnabled(): boolean {
    return this.enabled;
  }

  setEnabled(body: Record<string, unknown>): boolean {
    const enabled = body.enabled ?? true;
    if (typeof enabled !== 'boolean') throw badRequest("'enabled' parameter must be a boolean");
    this.enabled = enabled;
    return enabled;
  }

  /** POST start_job: a known job completes at once (there is nothing to redo); others are refused. */
  startJob(body: Record<string, unknown>): void {
    if (!('job_name' in body)) throw missingParam("Missing params: ['job_name']");
    const job = body.job_name;
    if (typeof job !== 'string' || !JOBS.has(job)) throw badRequest('Invalid job_name');
    if (job === 'event_resign') {
      if (body.old_key !== undefined && typeof body.old_key !== 'string') throw badRequest("'old_key' must be a string", 'M_INVALID_PARAM');
      if (body.before_ts !== undefined && !Number.isInteger(body.before_ts)) throw badRequest("'before_ts' must be an integer", 'M_INVALID_PARAM');
    }
  }
}
