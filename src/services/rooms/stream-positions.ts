/**
 * Stream positions (Synapse's `stream_ordering`) handed out in memory and published in order.
 *
 * Positions are allocated before their events are written. A reader may only be shown position n
 * once every position up to n has finished (committed, or abandoned after a failure): otherwise a
 * /sync that saw n could miss a lower position that commits later. `current` is that boundary.
 */
export class StreamPositions {
  private last: number;
  private published: number;
  private readonly finished = new Set<number>();
  private readonly waiters: Array<{ position: number; resolve: () => void }> = [];

  /** `start`: the highest position already stored. */
  constructor(start: number) {
    this.last = start;
    this.published = start;
  }

  /** The highest position readers may see: every position up to it has finished. */
  get current(): number {
    return this.published;
  }

  /** The highest position handed out (committed or not). */
  get allocated(): number {
    return this.last;
  }

  /** The next `count` positions, in order. */
  allocate(count: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push(++this.last);
    return out;
  }

  /** Marks positions finished (committed or abandoned) and publishes what is now contiguous. */
  finish(positions: Iterable<number>): void {
    for (const p of positions) if (p > this.published) this.finished.add(p);
    while (this.finished.delete(this.published + 1)) this.published++;
    if (this.waiters.length === 0) return;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.position <= this.published) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** Resolves once every position handed out so far is published (commits land out of order). */
  caughtUp(): Promise<void> {
    return this.reached(this.last);
  }

  /** Resolves once `position` is published. */
  reached(position: number): Promise<void> {
    if (position <= this.published) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ position, resolve }));
  }
}
