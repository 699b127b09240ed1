import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints off the event loop. SQLite normally checkpoints inside the COMMIT that crosses
 * `wal_autocheckpoint` pages: copying the WAL into the database file and syncing it, on the event
 * loop, every few dozen commits (it more than doubled the cost of a commit under a stream of room
 * events). Axon's writer turns that off and this worker thread, with a connection of its own,
 * runs passive checkpoints on a timer: they never block the writer or readers, and once one has
 * copied every frame the next commit rewinds the WAL, so it stays small.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
let timer = null;
const tick = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (e) { parentPort.postMessage({ error: String(e && e.message || e) }); }
  timer = setTimeout(tick, workerData.intervalMs);
};
timer = setTimeout(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearTimeout(timer);
  try { db.close(); } finally { parentPort.postMessage('stopped'); }
});
`;

export class Checkpointer {
  private readonly worker: Worker;

  private stopping = false;

  /**
   * `onLost` runs if the worker dies (it should not): the writer must then checkpoint again by
   * itself, or the WAL would grow without bound.
   */
  constructor(path: string, onLost: () => void, intervalMs = 250, onError: (message: string) => void = () => {}) {
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    // The worker only runs a pragma on a timer: a small heap keeps its memory to a few MB.
    const resourceLimits = { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 };
    this.worker = new Worker(WORKER, { eval: true, workerData: { module, path, intervalMs }, resourceLimits });
    this.worker.on('message', (m: unknown) => {
      if (m && typeof m === 'object' && 'error' in m) onError(String((m as { error: unknown }).error));
    });
    this.worker.on('error', (e) => onError(e.message));
    this.worker.on('exit', () => {
      if (!this.stopping) onLost();
    });
    // The worker never keeps the process alive on its own.
    this.worker.unref();
  }

  /** Closes the worker's connection, then the thread. */
  async stop(): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      const done = () => resolve();
      this.worker.once('message', done);
      this.worker.once('exit', done);
      setTimeout(done, 2000).unref();
    });
    this.stopping = true;
    // Keep the process alive until the worker has closed its connection.
    this.worker.ref();
    this.worker.postMessage('stop');
    await stopped;
    await this.worker.terminate();
  }
}
