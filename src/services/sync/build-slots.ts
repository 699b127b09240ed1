/**
 * At most `size` /sync builds run at once; the rest wait their turn in order. A message to a
 * room of a thousand pollers wakes a thousand builds: on PostgreSQL each waits on the pool
 * between its queries, so without a bound all of them are in flight together, none answers
 * before nearly all are done, and all their intermediate results are alive at once.
 */
export class BuildSlots {
  private free: number;
  private readonly queue: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.queue.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.free++;
    }
  }
}
