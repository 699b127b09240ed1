import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../storage/database.js';
import * as store from '../storage/stores/scheduled-tasks.js';
import type { TaskRow } from '../storage/stores/scheduled-tasks.js';

export type TaskStatus = 'scheduled' | 'active' | 'complete' | 'cancelled' | 'failed';
export const TASK_STATUSES: readonly TaskStatus[] = ['scheduled', 'active', 'complete', 'cancelled', 'failed'];
export type Task = TaskRow;

/** Thrown out of `checkpoint` when the scheduler stops: the task stays active and resumes on the next start. */
export class TaskInterrupted extends Error {}

/** What a running task sees of the scheduler. */
export interface TaskControl {
  readonly task: Task;
  /**
   * Records the task's result so far (what status endpoints show while it runs, and where a
   * resumed run starts from). Written at most every PROGRESS_INTERVAL_MS unless `force`.
   */
  progress(result: Record<string, unknown>, force?: boolean): Promise<void>;
  /** Between two steps: lets other work run, and throws TaskInterrupted when the scheduler stops. */
  checkpoint(): Promise<void>;
}

/**
 * Runs a task to its end and answers its final result. It must be resumable: started again on a
 * task whose `result` holds the progress it recorded, it carries on from there.
 */
export type TaskHandler = (ctl: TaskControl) => Promise<Record<string, unknown> | null>;

/** Synapse runs at most five tasks at once. */
const MAX_RUNNING = 5;
/** Finished tasks are kept a week after their last change (Synapse). */
const RETENTION_MS = 7 * 24 * 3600 * 1000;
const PROGRESS_INTERVAL_MS = 250;

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Task IDs are 16 random letters, as Synapse makes them. */
function newTaskId(): string {
  let s = '';
  for (const b of randomBytes(16)) s += LETTERS[b % LETTERS.length];
  return s;
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The task scheduler on Synapse's `scheduled_tasks` table. A task is a row (action, resource,
 * params) run by the handler registered for its action, in bounded steps that yield to the event
 * loop; its progress is written to `result` as it goes. On start, tasks left `active` by a stop or
 * a crash run again from their recorded progress, and `scheduled` ones start.
 */
export class TaskScheduler {
  private readonly handlers = new Map<string, TaskHandler>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly waiting: string[] = [];
  private stopping = false;
  private started = false;
  private gcTimer: NodeJS.Timeout | null = null;
  /** Test hook: a pause at every checkpoint, to catch a task mid-way. */
  stepDelayMs = 0;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  register(action: string, handler: TaskHandler): void {
    this.handlers.set(action, handler);
  }

  /** Resumes interrupted tasks, starts scheduled ones, and drops week-old finished ones (hourly). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.collectGarbage();
    this.gcTimer = setInterval(() => void this.collectGarbage(), 3600 * 1000);
    this.gcTimer.unref();
    const pending = await store.listTasks(this.db, { statuses: ['active', 'scheduled'] });
    // Interrupted tasks first: they were already under way.
    pending.sort((a, b) => Number(b.status === 'active') - Number(a.status === 'active'));
    for (const t of pending) this.enqueue(t.id);
  }

  /** Stops: running tasks finish their current step and stay `active` for the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.gcTimer) clearInterval(this.gcTimer);
    await Promise.all([...this.running.values()]);
  }

  /** Creates a task and starts it as soon as a slot is free. */
  async schedule(action: string, resourceId: string | null, params: Record<string, unknown>, result: Record<string, unknown> | null = null): Promise<Task> {
    if (!this.handlers.has(action)) throw new Error(`no handler for task action ${action}`);
    const task: Task = { id: newTaskId(), action, status: 'scheduled', timestamp: Date.now(), resourceId, params, result, error: null };
    await store.insertTask(this.db, task);
    this.enqueue(task.id);
    return task;
  }

  get(id: string): Promise<Task | undefined> {
    return store.getTask(this.db, id);
  }

  list(filter: store.TaskFilter): Promise<Task[]> {
    return store.listTasks(this.db, filter);
  }

  private enqueue(id: string): void {
    if (this.running.has(id) || this.waiting.includes(id)) return;
    this.waiting.push(id);
    this.pump();
  }

  private pump(): void {
    while (!this.stopping && this.running.size < MAX_RUNNING && this.waiting.length) {
      const id = this.waiting.shift()!;
      const run = this.run(id)
        .catch((err) => this.log.error({ err, taskId: id }, 'task bookkeeping failed'))
        .finally(() => {
          this.running.delete(id);
          this.pump();
        });
      this.running.set(id, run);
    }
  }

  private async run(id: string): Promise<void> {
    const task = await store.getTask(this.db, id);
    if (!task || (task.status !== 'scheduled' && task.status !== 'active')) return;
    const handler = this.handlers.get(task.action);
    if (!handler) {
      this.log.warn({ taskId: id, action: task.action }, 'no handler for this task action; left as it is');
      return;
    }
    task.status = 'active';
    await store.updateTask(this.db, id, { status: 'active', timestamp: Date.now() });
    let lastWrite = 0;
    const ctl: TaskControl = {
      task,
      progress: async (result, force = false) => {
        task.result = result;
        const now = Date.now();
        if (!force && now - lastWrite < PROGRESS_INTERVAL_MS) return;
        lastWrite = now;
        await store.updateTask(this.db, id, { result, timestamp: now });
      },
      checkpoint: async () => {
        if (this.stepDelayMs > 0) await sleep(this.stepDelayMs);
        else await yieldToEventLoop();
        if (this.stopping) throw new TaskInterrupted(id);
      },
    };
    try {
      const result = await handler(ctl);
      await store.updateTask(this.db, id, { status: 'complete', result: result ?? task.result, timestamp: Date.now() });
    } catch (err) {
      if (err instanceof TaskInterrupted) {
        // Keep what it got to: the next start resumes from there.
        if (task.result) await store.updateTask(this.db, id, { result: task.result, timestamp: Date.now() });
        return;
      }
      this.log.error({ err, taskId: id, action: task.action }, 'task failed');
      const message = err instanceof Error ? err.message : String(err);
      await store.updateTask(this.db, id, { status: 'failed', result: task.result, error: message, timestamp: Date.now() });
    }
  }

  private async collectGarbage(): Promise<void> {
    try {
      await store.deleteFinishedBefore(this.db, Date.now() - RETENTION_MS);
    } catch (err) {
      this.log.warn({ err }, 'could not remove old finished tasks');
    }
  }
}
