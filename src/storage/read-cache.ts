import type { Storage } from './database.js';

/**
 * An exact cache of database reads: entries live only while the storage's change stamp stays the
 * same, and the stamp moves on every write — ours, or any other process's commit (an operator's
 * `UPDATE users SET admin = 1` in sqlite3 included). So a cached answer is always what the
 * database would say now. Where the engine gives no stamp (PostgreSQL) nothing is cached.
 */
export class ReadCache<V> {
  private stamp: string | null = null;
  private readonly entries = new Map<string, V>();

  constructor(
    private readonly storage: Pick<Storage, 'changeStamp'>,
    private readonly maxEntries = 10_000,
  ) {}

  /** The current stamp, dropping every entry if it moved. Take it before reading the database. */
  begin(): string | null {
    const now = this.storage.changeStamp();
    if (now !== this.stamp) {
      this.entries.clear();
      this.stamp = now;
    }
    return now;
  }

  get(stamp: string | null, key: string): V | undefined {
    return stamp === null ? undefined : this.entries.get(key);
  }

  /** Keeps a value read under `stamp`, unless anything was written meanwhile. */
  set(stamp: string | null, key: string, value: V): void {
    if (stamp === null || stamp !== this.stamp || this.storage.changeStamp() !== stamp) return;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, value);
  }
}
