import type { Logger } from 'pino';
import { badRequest } from '../errors.js';
import type { Db } from '../storage/database.js';
import { roomSizeEstimates } from '../storage/stores/admin-stats.js';

/** How many rooms the database-size statistic lists (Synapse: the 10 largest). */
const LARGEST_ROOMS = 10;

/**
 * GET /_synapse/admin/v1/statistics/database/rooms: the largest rooms by estimated database
 * size. On PostgreSQL, as Synapse, each table's total size (indexes and TOAST included) split
 * by the planner's per-room row shares (pg_stats), or by counted shares for a table not analysed
 * yet; on SQLite (where Synapse answers 400) by the `dbstat` page sizes split by counted shares.
 * An estimate either way; media is not counted.
 */
export class AdminStatsService {
  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  async largestRooms(): Promise<Array<{ room_id: string; estimated_size: number }>> {
    let sizes: Map<string, number>;
    try {
      sizes = await roomSizeEstimates(this.db);
    } catch (err) {
      // An SQLite built without the dbstat table: say so instead of failing.
      if (/dbstat/i.test(String((err as Error)?.message))) {
        this.log.warn({ err }, 'room size statistics need SQLite built with SQLITE_ENABLE_DBSTAT_VTAB');
        throw badRequest('Endpoint requires SQLite with the dbstat table, or PostgreSQL');
      }
      throw err;
    }
    return [...sizes]
      .filter(([, size]) => size > 0)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, LARGEST_ROOMS)
      .map(([room_id, estimated_size]) => ({ room_id, estimated_size }));
  }
}
