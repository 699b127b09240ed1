import type { Notifier } from './changes.js';

/**
 * An exact cache of database reads, invalidated by what changed: each entry carries tags (the user
 * IDs it was read for), and the notifier's row changes on the tables it depends on drop the
 * entries of the keys that changed ('*' drops everything). A read that overlapped a change of one
 * of its tags is not kept: `begin()` takes an epoch before the database is read, and `set` refuses
 * values whose tags were invalidated after it. Where the engine has no trustworthy change signal at
 * the moment (`Notifier.fresh()` false), nothing is served from or kept in the cache.
 */
export class ChangeCache<V> {
  private readonly entries = new Map<string, { value: V; tags: readonly string[] }>();
  private readonly keysByTag = new Map<string, Set<string>>();
  /** Epoch at which each tag was last invalidated (bounded; see `floor`). */
  private readonly invalidatedAt = new Map<string, number>();
  private epoch = 0;
  /** Reads begun before this epoch are not kept (set when everything, or a forgotten tag, changed). */
  private floor = 0;

  constructor(
    private readonly notifier: Notifier,
    tables: readonly string[],
    private readonly maxEntries = 10_000,
  ) {
    notifier.subscribe(tables, (n) => {
      if (n.keys === '*') this.clear();
      else for (const k of n.keys) this.invalidate(k);
    });
  }

  /** Waits for changes committed before now to arrive (once per request; see Notifier.sync). */
  sync(): Promise<void> {
    return this.notifier.sync();
  }

  /** The epoch to read under, or null when the cache must not be used now. Call before reading. */
  begin(): number | null {
    return this.notifier.fresh() ? this.epoch : null;
  }

  get(epoch: number | null, key: string): V | undefined {
    return epoch === null ? undefined : this.entries.get(key)?.value;
  }

  /** Keeps a value read under `epoch`, unless one of its tags changed meanwhile. */
  set(epoch: number | null, key: string, value: V, tags: readonly string[]): void {
    if (epoch === null || epoch < this.floor) return;
    for (const t of tags) if ((this.invalidatedAt.get(t) ?? -1) > epoch) return;
    if (this.entries.size >= this.maxEntries) this.clear();
    this.entries.set(key, { value, tags });
    for (const t of tags) {
      let keys = this.keysByTag.get(t);
      if (!keys) this.keysByTag.set(t, (keys = new Set()));
      keys.add(key);
    }
  }

  invalidate(tag: string): void {
    this.epoch++;
    const keys = this.keysByTag.get(tag);
    if (keys) {
      this.keysByTag.delete(tag);
      for (const k of keys) this.drop(k);
    }
    if (this.invalidatedAt.size >= this.maxEntries) {
      // Forget old invalidations, refusing every read begun before now instead.
      this.invalidatedAt.clear();
      this.floor = this.epoch;
    }
    this.invalidatedAt.set(tag, this.epoch);
  }

  clear(): void {
    this.epoch++;
    this.floor = this.epoch;
    this.entries.clear();
    this.keysByTag.clear();
    this.invalidatedAt.clear();
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    for (const t of e.tags) this.keysByTag.get(t)?.delete(key);
  }
}
