import { badJson, badRequest, invalidParam, notFound } from '../../errors.js';
import type { Db } from '../../storage/database.js';
import * as purge from '../../storage/stores/room-purge.js';
import type { TaskControl, TaskScheduler } from '../tasks.js';
import type { RoomActors } from './room-actor.js';

export const PURGE_HISTORY_ACTION = 'purge_history';

/** A room ID as Synapse accepts one: `!opaque:server`. */
export function checkRoomId(roomId: string): void {
  if (!roomId.startsWith('!') || roomId.indexOf(':') < 2) throw invalidParam(`${roomId} is not a legal room ID`);
}

/**
 * Media that goes with a deleted room or purged history (the option `axon_delete_media`, beyond
 * Synapse): the local media its events reference is read before they go, and afterwards whatever
 * of it nothing references any more is deleted (implemented by MediaAdminService).
 */
export interface RoomMediaHook {
  localMediaOfRoom(roomId: string): Promise<string[]>;
  localMediaOfEvents(eventIds: readonly string[]): Promise<string[]>;
  deleteUnreferenced(mediaIds: readonly string[]): Promise<string[]>;
}

/** Events per step: each step is one short transaction of about a dozen statements. */
export const EVENTS_PER_STEP = 500;
const GROUPS_PER_STEP = 100;
const ROWS_PER_STEP = 1000;

/**
 * Removes every row of a room, in steps (see storage/stores/room-purge.ts): first what makes it
 * visible (room, statistics, aliases, extremities), then its events with their rows, its state
 * groups, and the room-keyed tables. `onEvents` hears how many events each step removed.
 * Event reports and `blocked_rooms` stay, as in Synapse.
 */
export async function purgeWholeRoom(db: Db, roomId: string, ctl: TaskControl, onEvents: (n: number) => Promise<void>): Promise<void> {
  const present = await purge.presentTables(db);
  await purge.detachRoom(db, roomId);
  // Resumed or not, the first step starts at the room's start: it only costs one scan.
  let after: number | null = null;
  for (;;) {
    await ctl.checkpoint();
    const step = await purge.purgeRoomEvents(db, roomId, after, EVENTS_PER_STEP);
    if (step.n === 0) break;
    after = step.last;
    await onEvents(step.n);
  }
  for (;;) {
    await ctl.checkpoint();
    if ((await purge.purgeRoomStateGroups(db, roomId, GROUPS_PER_STEP)) === 0) break;
  }
  for (;;) {
    await ctl.checkpoint();
    if ((await purge.purgeRoomKeyedRows(db, roomId, ROWS_PER_STEP, present)) === 0) break;
  }
}

interface HistoryParams {
  room_id: string;
  /** Events strictly below this depth may go. */
  before_topological: number;
  delete_local_events: boolean;
  /** Axon: delete the local media only the purged events referenced. */
  axon_delete_media?: boolean;
}

interface HistoryProgress extends Record<string, unknown> {
  /** Keyset position of the last event examined. */
  after: { topo: number; stream: number } | null;
  purged_events: number;
  phase: 'events' | 'state_groups';
  /** Axon: local media the purged events referenced (with `axon_delete_media`). */
  axon_media?: string[];
  axon_deleted_media?: string[];
}

export interface PurgeStatusView {
  status: 'active' | 'complete' | 'failed';
  error?: string;
  /** Axon: events removed so far. */
  purged_events: number;
  /** Axon: media deleted with the history (with `axon_delete_media`), once done. */
  axon_deleted_media?: string[];
}

/**
 * POST /_synapse/admin/v1/purge_history: removes a room's events before a point as a task.
 * As Synapse: the point event and everything at or after its depth stay; state events stay (the
 * room's state is never purged); local users' events stay unless `delete_local_events`; the
 * forward extremities (the latest events) never go. State groups nothing points at any more are
 * removed with them.
 */
export class PurgeHistoryService {
  /** Set by the composition root when media administration is built. */
  mediaHook?: RoomMediaHook;

  constructor(
    private readonly db: Db,
    private readonly serverName: string,
    private readonly actors: RoomActors,
    private readonly tasks: TaskScheduler,
  ) {
    tasks.register(PURGE_HISTORY_ACTION, (ctl) => this.run(ctl));
  }

  async start(roomId: string, pathEventId: string | undefined, body: Record<string, unknown>): Promise<string> {
    checkRoomId(roomId);
    if (!(await this.actors.exists(roomId))) throw notFound(`Room ${roomId} not found`);
    const deleteLocal = Boolean(body.delete_local_events ?? false);
    let eventId = pathEventId;
    if (eventId === undefined && body.purge_up_to_event_id !== undefined) {
      if (typeof body.purge_up_to_event_id !== 'string') throw badJson('purge_up_to_event_id must be a string');
      eventId = body.purge_up_to_event_id;
    }
    let depth: number;
    if (eventId !== undefined) {
      const at = await purge.eventPosition(this.db, eventId);
      if (!at) throw notFound(`Event ${eventId} not found`);
      if (at.roomId !== roomId) throw badRequest('Event is for wrong room.');
      depth = at.topologicalOrdering;
    } else if (body.purge_up_to_ts !== undefined) {
      const ts = body.purge_up_to_ts;
      if (typeof ts !== 'number' || !Number.isInteger(ts)) throw badJson('purge_up_to_ts must be an int');
      const before = await purge.lastEventBefore(this.db, roomId, ts);
      if (!before) throw notFound('there is no event to be purged');
      depth = before.topologicalOrdering;
    } else {
      throw badJson('must specify purge_up_to_event_id or purge_up_to_ts');
    }
    const params: HistoryParams = { room_id: roomId, before_topological: depth, delete_local_events: deleteLocal };
    if (body.axon_delete_media !== undefined) {
      if (typeof body.axon_delete_media !== 'boolean') throw badJson('axon_delete_media must be a boolean');
      params.axon_delete_media = body.axon_delete_media;
    }
    const task = await this.tasks.schedule(PURGE_HISTORY_ACTION, roomId, { ...params });
    return task.id;
  }

  async status(purgeId: string): Promise<PurgeStatusView> {
    const task = await this.tasks.get(purgeId);
    if (!task || task.action !== PURGE_HISTORY_ACTION) throw notFound(`purge id '${purgeId}' not found`);
    const result = task.result as Partial<HistoryProgress> | null;
    const purged = Number(result?.purged_events ?? 0);
    if (task.status === 'complete') return result?.axon_deleted_media ? { status: 'complete', purged_events: purged, axon_deleted_media: result.axon_deleted_media } : { status: 'complete', purged_events: purged };
    if (task.status === 'failed' || task.status === 'cancelled') return { status: 'failed', error: task.error ?? 'Unknown error', purged_events: purged };
    return { status: 'active', purged_events: purged };
  }

  private async run(ctl: TaskControl): Promise<HistoryProgress> {
    const params = ctl.task.params as unknown as HistoryParams;
    const roomId = params.room_id;
    const p: HistoryProgress = { after: null, purged_events: 0, phase: 'events', ...((ctl.task.result as Partial<HistoryProgress> | null) ?? {}) };
    const localSuffix = `:${this.serverName}`;
    const present = await purge.presentTables(this.db);
    if (p.phase === 'events') {
      for (;;) {
        await ctl.checkpoint();
        const candidates = await purge.historyCandidates(this.db, roomId, params.before_topological, p.after, EVENTS_PER_STEP);
        if (candidates.length === 0) break;
        // Read at each step: the room may have moved on meanwhile.
        const extremities = new Set(await purge.forwardExtremities(this.db, roomId));
        const doomed = candidates
          .filter((c) => !c.isState && !extremities.has(c.eventId))
          .filter((c) => params.delete_local_events || !(c.sender ?? '').endsWith(localSuffix));
        const media = params.axon_delete_media ? this.mediaHook : undefined;
        if (media && doomed.length) {
          const ids = await media.localMediaOfEvents(doomed.map((c) => c.eventId));
          p.axon_media = [...new Set([...(p.axon_media ?? []), ...ids])];
        }
        await purge.deleteHistoryEvents(this.db, roomId, doomed, present);
        const last = candidates.at(-1)!;
        p.after = { topo: last.topologicalOrdering, stream: last.streamOrdering };
        p.purged_events += doomed.length;
        await ctl.progress(p);
      }
      p.phase = 'state_groups';
      await ctl.progress(p, true);
    }
    for (;;) {
      await ctl.checkpoint();
      if ((await purge.purgeUnreferencedStateGroups(this.db, roomId, GROUPS_PER_STEP)) === 0) break;
    }
    if (params.axon_delete_media && this.mediaHook && p.axon_media?.length) p.axon_deleted_media = await this.mediaHook.deleteUnreferenced(p.axon_media);
    return p;
  }
}
