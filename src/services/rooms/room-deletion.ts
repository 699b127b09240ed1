import type { Logger } from 'pino';
import { badRequest, forbidden, notFound } from '../../errors.js';
import type { Db } from '../../storage/database.js';
import { getRoom } from '../../storage/stores/events.js';
import * as rooms from '../../storage/stores/rooms.js';
import { blockRoom, hasLocalJoinedMembers } from '../../storage/stores/room-purge.js';
import type { Requester } from '../auth.js';
import type { Task, TaskControl, TaskScheduler } from '../tasks.js';
import type { Draft, EventCreator } from './event-creator.js';
import { checkRoomId, purgeWholeRoom, type RoomMediaHook } from './purge.js';
import { StaleRoom } from './room-actor.js';
import type { RoomsService } from './rooms.js';

export const DELETE_ROOM_ACTION = 'shutdown_and_purge_room';
/** Synapse's automatic purge of forgotten rooms uses this action; its tasks show in the same status lists. */
export const PURGE_ROOM_ACTION = 'purge_room';

/** Members moved out per step. */
const KICK_BATCH = 100;
const DEFAULT_ROOM_NAME = 'Content Violation Notification';
const DEFAULT_MESSAGE = 'Sharing illegal content on this server is not permitted and rooms in violation will be blocked.';

export interface DeleteRoomParams {
  requester_user_id: string;
  new_room_user_id: string | null;
  room_name: string;
  message: string;
  block: boolean;
  purge: boolean;
  force_purge: boolean;
  /** Axon: delete the local media only this room's events referenced, with the purge. */
  axon_delete_media?: boolean;
}

export interface ShutdownResult {
  kicked_users: string[];
  failed_to_kick_users: string[];
  local_aliases: string[];
  new_room_id: string | null;
}

/** A deletion's progress as recorded in the task's `result`. */
export interface DeletionProgress extends Record<string, unknown> {
  shutdown_room: ShutdownResult;
  /** Where the deletion is: shutting the room down (members out), purging its rows, or done. */
  phase: 'shutting_down' | 'purging' | 'done';
  message_sent?: boolean;
  purged_events: number;
  /** Axon (`axon_delete_media`): local media the room's events referenced, read before the purge. */
  axon_media?: string[];
  /** Axon: what of it was deleted (nothing else referenced it). */
  axon_deleted_media?: string[];
}

/** The status of a deletion as Synapse documents it (never its task statuses). */
export type DeleteStatus = 'shutting_down' | 'purging' | 'complete' | 'failed';

export interface DeleteStatusView {
  delete_id: string;
  room_id: string;
  status: DeleteStatus;
  shutdown_room: ShutdownResult;
  /** Axon: how many events the purge has removed so far. */
  purged_events: number;
  /** Axon: media deleted with the room (`axon_delete_media`). */
  axon_deleted_media?: string[];
}

const emptyShutdown = (): ShutdownResult => ({ kicked_users: [], failed_to_kick_users: [], local_aliases: [], new_room_id: null });

/** A control for the synchronous v1 delete: nothing persisted, still yields between steps. */
const inlineControl = (task: Task): TaskControl => ({
  task,
  progress: async (result) => {
    task.result = result;
  },
  checkpoint: () => new Promise<void>((r) => setImmediate(r)),
});

/**
 * Room deletion (Synapse's shutdown and purge): block, move the local members out (each leaves
 * as themselves and forgets the room; those who were joined join a replacement room when one is
 * asked for), move the local aliases, take the room out of the directory, then purge every row of
 * it in short steps. While it runs the room is closed in the actor registry: every request finds
 * no room, so nothing half-deleted is seen and nothing new is sent into it.
 */
export class RoomDeletionService {
  /** One deletion per room at a time: a second v1 call waits behind the first (Synapse). */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Set by the composition root when media administration is built. */
  mediaHook?: RoomMediaHook;

  constructor(
    private readonly db: Db,
    private readonly serverName: string,
    private readonly creator: EventCreator,
    /** Room creation without the client-side rate limit (the replacement room). */
    private readonly rooms: RoomsService,
    private readonly tasks: TaskScheduler,
    private readonly log: Logger,
  ) {
    tasks.register(DELETE_ROOM_ACTION, (ctl) => this.runLocked(ctl.task.resourceId!, () => this.run(ctl)));
  }

  /** Body checks common to v1 and v2 (Synapse's texts). */
  parseParams(requester: Requester, body: Record<string, unknown>): DeleteRoomParams {
    const bool = (name: string, dflt: boolean) => {
      const v = body[name];
      if (v === undefined) return dflt;
      if (typeof v !== 'boolean') throw badRequest(`Param '${name}' must be a boolean, if given`, 'M_BAD_JSON');
      return v;
    };
    const str = (name: string, dflt: string) => {
      const v = body[name];
      if (v === undefined || v === null) return dflt;
      if (typeof v !== 'string') throw badRequest(`Param '${name}' must be a string, if given`, 'M_BAD_JSON');
      return v;
    };
    const block = bool('block', false);
    const purge = bool('purge', true);
    const forcePurge = bool('force_purge', false);
    let newRoomUserId: string | null = null;
    if (body.new_room_user_id !== undefined && body.new_room_user_id !== null) {
      if (typeof body.new_room_user_id !== 'string') throw badRequest("Param 'new_room_user_id' must be a string, if given", 'M_BAD_JSON');
      newRoomUserId = body.new_room_user_id;
      const colon = newRoomUserId.indexOf(':');
      if (!newRoomUserId.startsWith('@') || colon < 0 || newRoomUserId.slice(colon + 1) !== this.serverName) {
        throw badRequest(`User must be our own: ${newRoomUserId}`);
      }
    }
    const params: DeleteRoomParams = {
      requester_user_id: requester.userId,
      new_room_user_id: newRoomUserId,
      room_name: str('room_name', DEFAULT_ROOM_NAME),
      message: str('message', DEFAULT_MESSAGE),
      block,
      purge,
      force_purge: forcePurge,
    };
    if (bool('axon_delete_media', false)) params.axon_delete_media = true;
    return params;
  }

  /** DELETE /_synapse/admin/v1/rooms/{roomId}: the whole deletion before answering. */
  async deleteNow(roomId: string, params: DeleteRoomParams): Promise<ShutdownResult> {
    checkRoomId(roomId);
    const task: Task = { id: '', action: DELETE_ROOM_ACTION, status: 'active', timestamp: Date.now(), resourceId: roomId, params: { ...params }, result: null, error: null };
    const result = (await this.runLocked(roomId, () => this.run(inlineControl(task)))) as DeletionProgress;
    return result.shutdown_room;
  }

  /** DELETE /_synapse/admin/v2/rooms/{roomId}: a task; answers its ID. */
  async scheduleDelete(roomId: string, params: DeleteRoomParams): Promise<string> {
    checkRoomId(roomId);
    const running = await this.tasks.list({ actions: [DELETE_ROOM_ACTION, PURGE_ROOM_ACTION], resourceId: roomId, statuses: ['scheduled', 'active'] });
    if (running.length) throw badRequest(`Purge already in progress for ${roomId}`);
    const task = await this.tasks.schedule(DELETE_ROOM_ACTION, roomId, { ...params });
    // Sends are refused from the moment the deletion is accepted, not only once its task has
    // started (under load that can be later); the task reopens the room if it ends without a purge.
    this.creator.actors.close(roomId);
    return task.id;
  }

  /** GET /_synapse/admin/v2/rooms/{roomId}/delete_status. */
  async statusByRoom(roomId: string): Promise<DeleteStatusView[]> {
    checkRoomId(roomId);
    const tasks = await this.tasks.list({ actions: [DELETE_ROOM_ACTION, PURGE_ROOM_ACTION], resourceId: roomId });
    if (tasks.length === 0) throw notFound(`No delete task for room_id '${roomId}' found`);
    return tasks.map((t) => this.view(t));
  }

  /** GET /_synapse/admin/v2/rooms/delete_status/{deleteId}. */
  async statusById(deleteId: string): Promise<DeleteStatusView> {
    const task = await this.tasks.get(deleteId);
    if (!task || (task.action !== DELETE_ROOM_ACTION && task.action !== PURGE_ROOM_ACTION)) throw notFound(`delete id '${deleteId}' not found`);
    return this.view(task);
  }

  private view(t: Task): DeleteStatusView {
    const progress = t.result as Partial<DeletionProgress> | null;
    let status: DeleteStatus;
    if (t.status === 'complete') status = 'complete';
    else if (t.status === 'failed' || t.status === 'cancelled') status = 'failed';
    else status = progress?.phase === 'purging' ? 'purging' : 'shutting_down';
    const view: DeleteStatusView = {
      delete_id: t.id,
      room_id: t.resourceId ?? '',
      status,
      shutdown_room: progress?.shutdown_room ?? emptyShutdown(),
      purged_events: progress?.purged_events ?? 0,
    };
    if (progress?.axon_deleted_media) view.axon_deleted_media = progress.axon_deleted_media;
    return view;
  }

  private async runLocked<T>(roomId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(roomId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(fn);
    const tail = next.catch(() => undefined);
    this.locks.set(roomId, tail);
    try {
      return await next;
    } finally {
      if (this.locks.get(roomId) === tail) this.locks.delete(roomId);
    }
  }

  /** The deletion itself, resumable from the progress in `ctl.task.result`. */
  private async run(ctl: TaskControl): Promise<DeletionProgress> {
    const roomId = ctl.task.resourceId!;
    const params = ctl.task.params as unknown as DeleteRoomParams;
    const p: DeletionProgress = {
      shutdown_room: emptyShutdown(),
      phase: 'shutting_down',
      purged_events: 0,
      ...((ctl.task.result as Partial<DeletionProgress> | null) ?? {}),
    } as DeletionProgress;
    const actors = this.creator.actors;
    // Synapse blocks before anything else, even a room it does not know.
    if (params.block) await blockRoom(this.db, roomId, params.requester_user_id);
    let purging = p.phase === 'purging';
    try {
      if (!purging) {
        if (!(await getRoom(this.db, roomId))) {
          // An unknown room: nothing to shut down. Its leftovers, if any, still go with purge.
          if (params.purge) await this.purge(ctl, roomId, p);
          p.phase = 'done';
          return p;
        }
        actors.close(roomId);
        await this.shutdown(ctl, roomId, params, p);
        if (!params.purge) {
          p.phase = 'done';
          return p;
        }
        if (!params.force_purge && (await hasLocalJoinedMembers(this.db, roomId))) throw badRequest('Users are still joined to this room');
        p.phase = 'purging';
        purging = true;
        await ctl.progress(p, true);
      }
      actors.close(roomId);
      await this.purge(ctl, roomId, p);
      p.phase = 'done';
      return p;
    } finally {
      // A shutdown without purge (or one that failed before purging) leaves a live room; a purged
      // room has no rows left, so it is unknown either way.
      if (!purging || p.phase === 'done') actors.reopen(roomId);
    }
  }

  private async purge(ctl: TaskControl, roomId: string, p: DeletionProgress): Promise<void> {
    this.creator.actors.forget(roomId);
    const media = (ctl.task.params as unknown as DeleteRoomParams).axon_delete_media ? this.mediaHook : undefined;
    if (media && !p.axon_media) {
      p.axon_media = await media.localMediaOfRoom(roomId);
      await ctl.progress(p, true);
    }
    await purgeWholeRoom(this.db, roomId, ctl, (events) => {
      p.purged_events += events;
      return ctl.progress(p);
    });
    this.creator.actors.forget(roomId);
    if (media && p.axon_media?.length) p.axon_deleted_media = await media.deleteUnreferenced(p.axon_media);
  }

  private async shutdown(ctl: TaskControl, roomId: string, params: DeleteRoomParams, p: DeletionProgress): Promise<void> {
    const result = p.shutdown_room;
    const newOwner = params.new_room_user_id;
    if (newOwner && !result.new_room_id) {
      const owner: Requester = { userId: newOwner, deviceId: null, tokenId: 0, isGuest: false, admin: false, shadowBanned: false, authenticatedBy: null };
      const created = await this.rooms.createRoom(owner, {
        preset: 'public_chat',
        name: params.room_name,
        power_level_content_override: { users_default: -10 },
      });
      result.new_room_id = created.room_id;
      await ctl.progress(p, true);
    }
    if (result.new_room_id && !p.message_sent) {
      await this.creator.send(result.new_room_id, newOwner!, { type: 'm.room.message', content: { msgtype: 'm.text', body: params.message } });
      p.message_sent = true;
      await ctl.progress(p, true);
    }

    const actor = await this.creator.actors.getEvenIfClosed(roomId);
    const members = actor
      ? [...actor.stateEntries()]
          .filter((e) => e.type === 'm.room.member' && this.isLocal(e.state_key))
          .map((e) => ({ userId: e.state_key, membership: String(e.content.membership) }))
          .filter((m) => m.membership === 'join' || m.membership === 'invite' || m.membership === 'knock')
      : [];
    // In batches: a batch's leaves are queued together and share commits (a 1,000-member room is
    // a few group commits, not 1,000 round trips); progress is recorded between batches.
    for (let i = 0; i < members.length; i += KICK_BATCH) {
      await ctl.checkpoint();
      const batch = members.slice(i, i + KICK_BATCH);
      const left = await Promise.all(
        batch.map((m) =>
          this.sendInClosedRoom(roomId, m.userId, { type: 'm.room.member', stateKey: m.userId, content: { membership: 'leave' } }).then(
            () => true,
            (err) => {
              this.log.warn({ err, roomId, userId: m.userId }, 'room deletion: could not make a member leave');
              return false;
            },
          ),
        ),
      );
      const gone = batch.filter((_, j) => left[j]);
      await rooms.forgetRoomForUsers(this.db, gone.map((m) => m.userId), roomId);
      const moved = await Promise.all(
        gone.map((m) =>
          m.membership === 'join' && result.new_room_id
            ? this.creator.send(result.new_room_id, m.userId, { type: 'm.room.member', stateKey: m.userId, content: { membership: 'join' } }).then(
                () => true,
                (err) => {
                  this.log.warn({ err, roomId, userId: m.userId }, 'room deletion: could not move a member to the new room');
                  return false;
                },
              )
            : true,
        ),
      );
      // As Synapse: kicked once out of the room (and into the new one when there is one).
      batch.forEach((m, j) => {
        const list = left[j] && moved[gone.indexOf(m)] ? result.kicked_users : result.failed_to_kick_users;
        if (!list.includes(m.userId)) list.push(m.userId);
      });
      await ctl.progress(p);
    }

    if (result.new_room_id) {
      const aliases = await rooms.aliasesOfRoom(this.db, roomId);
      for (const a of aliases) if (!result.local_aliases.includes(a)) result.local_aliases.push(a);
      await rooms.moveAliases(this.db, roomId, result.new_room_id);
    }
    await rooms.setPublic(this.db, roomId, false);
    await ctl.progress(p, true);
  }

  /** Sends the deletion's own event into the closed room (retried once if the room reloaded). */
  private async sendInClosedRoom(roomId: string, sender: string, draft: Draft): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const actor = await this.creator.actors.getEvenIfClosed(roomId);
      if (!actor) throw forbidden(`Room ${roomId} is gone`);
      try {
        const sent = await actor.run(() => this.creator.append(actor, sender, draft));
        await sent.committed;
        return;
      } catch (e) {
        if (!(e instanceof StaleRoom) || attempt >= 1) throw e;
      }
    }
  }

  private isLocal(userId: string): boolean {
    const colon = userId.indexOf(':');
    return colon > 0 && userId.slice(colon + 1) === this.serverName;
  }
}
