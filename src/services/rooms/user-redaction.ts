import { badJson, badRequest, missingParam, notFound } from '../../errors.js';
import { parseUserId } from '../../matrix/ids.js';
import type { Db } from '../../storage/database.js';
import { redactableEventsOf, roomsWithMembership } from '../../storage/stores/user-events.js';
import type { TaskControl, TaskScheduler } from '../tasks.js';
import type { Draft, EventCreator } from './event-creator.js';

export const REDACT_ACTION = 'redact_all_events';

interface RedactParams {
  user_id: string;
  admin_user_id: string;
  rooms: string[];
  reason: string | null;
  limit: number;
  use_admin: boolean;
}

interface RedactProgress extends Record<string, unknown> {
  failed_redactions: Record<string, string>;
  rooms_done: string[];
}

export type RedactStatusView = { status: 'scheduled' | 'active' } | { status: 'complete'; failed_redactions: Record<string, string> } | { status: 'failed'; error: string };

/**
 * POST /_synapse/admin/v1/user/{userId}/redact (Synapse 1.116): redacts a user's messages,
 * encrypted events and joins in the given rooms (or every room they are joined to or banned
 * from), newest first, as a task. A local user's events are redacted by the user themselves
 * unless `use_admin`; a remote user's by the admin (Synapse). Each redaction goes through the
 * EventCreator like any other event; one that is refused is recorded in `failed_redactions`.
 */
export class UserRedactionService {
  constructor(
    private readonly db: Db,
    private readonly serverName: string,
    private readonly creator: EventCreator,
    private readonly tasks: TaskScheduler,
  ) {
    tasks.register(REDACT_ACTION, (ctl) => this.run(ctl));
  }

  async start(adminUserId: string, userIdText: string, body: Record<string, unknown>): Promise<string> {
    const userId = parseUserId(userIdText).full;
    if (body.rooms === undefined) throw missingParam("Missing params: ['rooms']");
    if (!Array.isArray(body.rooms) || body.rooms.some((r) => typeof r !== 'string')) throw badJson('rooms must be a list of strings');
    if (body.reason !== undefined && body.reason !== null && typeof body.reason !== 'string') throw badJson('reason must be a string');
    if (body.use_admin !== undefined && typeof body.use_admin !== 'boolean') throw badJson('use_admin must be a boolean');
    let limit = 1000;
    if (body.limit !== undefined && body.limit !== null) {
      if (typeof body.limit !== 'number' || !Number.isInteger(body.limit)) throw badJson('limit must be an integer');
      if (body.limit <= 0) throw badRequest('If limit is provided it must be a non-negative integer greater than 0.');
      limit = body.limit;
    }
    const running = await this.tasks.list({ actions: [REDACT_ACTION], resourceId: userId, statuses: ['active'] });
    if (running.length) throw badRequest(`Redact already in progress for user ${userId}`);
    let rooms = body.rooms as string[];
    if (rooms.length === 0) rooms = await roomsWithMembership(this.db, userId, ['join', 'ban']);
    const params: RedactParams = {
      user_id: userId,
      admin_user_id: adminUserId,
      rooms,
      reason: typeof body.reason === 'string' ? body.reason : null,
      limit,
      use_admin: body.use_admin === true,
    };
    return (await this.tasks.schedule(REDACT_ACTION, userId, { ...params })).id;
  }

  async status(redactId: string): Promise<RedactStatusView> {
    const task = await this.tasks.get(redactId);
    if (!task || task.action !== REDACT_ACTION) throw notFound(`redact id '${redactId}' not found`);
    if (task.status === 'complete') return { status: 'complete', failed_redactions: ((task.result as RedactProgress | null)?.failed_redactions ?? {}) };
    if (task.status === 'failed' || task.status === 'cancelled') return { status: 'failed', error: task.error ?? 'Unknown error, please check the logs for more information.' };
    return { status: task.status as 'scheduled' | 'active' };
  }

  private async run(ctl: TaskControl): Promise<RedactProgress> {
    const params = ctl.task.params as unknown as RedactParams;
    const p: RedactProgress = { failed_redactions: {}, rooms_done: [], ...((ctl.task.result as Partial<RedactProgress> | null) ?? {}) };
    const local = parseUserId(params.user_id).domain === this.serverName;
    const sender = params.use_admin || !local ? params.admin_user_id : params.user_id;
    for (const roomId of params.rooms) {
      if (p.rooms_done.includes(roomId)) continue;
      const events = await redactableEventsOf(this.db, roomId, params.user_id, params.limit);
      for (const eventId of events) {
        await ctl.checkpoint();
        try {
          const actor = await this.creator.actors.get(roomId);
          if (!actor) throw notFound('Unknown room');
          const content: Record<string, unknown> = params.reason === null ? {} : { reason: params.reason };
          if (actor.version.redactsInContent) content.redacts = eventId;
          const draft: Draft = { type: 'm.room.redaction', content, redacts: eventId };
          await this.creator.send(roomId, sender, draft);
        } catch (err) {
          p.failed_redactions[eventId] = err instanceof Error ? err.message : String(err);
        }
        await ctl.progress(p);
      }
      p.rooms_done.push(roomId);
      await ctl.progress(p, true);
    }
    return p;
  }
}
