/**
 * Bulk writes in short steps. better-sqlite3 runs each statement synchronously on the event loop,
 * so one statement over 100,000 rows would stall every request for its whole length. Bulk work is
 * done as many statements of at most CHUNK_ROWS rows, yielding to the event loop between them:
 * inside one transaction it stays atomic (and on SQLite other requests' reads are served from the
 * reader connection in between), and no request waits longer than one step.
 */
export const CHUNK_ROWS = 1000;

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/**
 * Runs `step(limit)` until it reports fewer than `limit` rows done, yielding between steps;
 * returns the total of rows done.
 */
export async function inChunks(step: (limit: number) => Promise<number>, limit = CHUNK_ROWS): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await step(limit);
    total += n;
    if (n < limit) return total;
    await yieldToEventLoop();
  }
}
