import { Type } from '@sinclair/typebox';
import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { queryEnum, queryInt, queryString } from '../../http/query.js';
import { requesterOf, type RouteDef } from '../../http/route.js';
import { TASK_STATUSES } from '../../services/tasks.js';
import { scheduledTaskJson } from './mappers/tasks.js';

const param = (req: { params: unknown }, name: string) => (req.params as Record<string, string>)[name]!;

const str = Type.String();
const bool = Type.Boolean();
const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

// Bodies as Synapse reads them; the services check them with Synapse's texts.
export const deleteRoomBody = Type.Object({
  new_room_user_id: Type.Optional(nullable(str)),
  room_name: Type.Optional(nullable(str)),
  message: Type.Optional(nullable(str)),
  block: Type.Optional(bool),
  purge: Type.Optional(bool),
  force_purge: Type.Optional(bool),
  /** Axon: delete the local media only this room referenced. */
  axon_delete_media: Type.Optional(bool),
});
export const purgeHistoryBody = Type.Object({
  delete_local_events: Type.Optional(bool),
  purge_up_to_event_id: Type.Optional(str),
  purge_up_to_ts: Type.Optional(Type.Integer()),
  /** Axon: delete the local media only the purged events referenced. */
  axon_delete_media: Type.Optional(bool),
});
export const redactUserBody = Type.Object({
  rooms: Type.Array(str),
  reason: Type.Optional(nullable(str)),
  limit: Type.Optional(Type.Integer({ minimum: 1 })),
  use_admin: Type.Optional(bool),
});

/** Room deletion, history purges, user redaction and the task list (catalogue §6.10–6.12, §6.16, §3.21, §13). */
export const roomDeletionRoutes = (ctx: Context): RouteDef[] => {
  const deletion = ctx.services.roomDeletion;
  return [
    // DELETE /_synapse/admin/v1/rooms/<room_id>: the whole shutdown and purge before answering.
    {
      method: 'DELETE',
      path: '/_synapse/admin/v1/rooms/:roomId',
      auth: 'admin',
      body: deleteRoomBody,
      handler: async (req) => {
        const params = deletion.parseParams(requesterOf(req), jsonObject(req));
        return deletion.deleteNow(param(req, 'roomId'), params);
      },
    },
    // DELETE /_synapse/admin/v2/rooms/<room_id>: the same as a task; answers its delete_id.
    {
      method: 'DELETE',
      path: '/_synapse/admin/v2/rooms/:roomId',
      auth: 'admin',
      body: deleteRoomBody,
      handler: async (req) => {
        const params = deletion.parseParams(requesterOf(req), jsonObject(req));
        return { delete_id: await deletion.scheduleDelete(param(req, 'roomId'), params) };
      },
    },
    // GET /_synapse/admin/v2/rooms/<room_id>/delete_status
    {
      method: 'GET',
      path: '/_synapse/admin/v2/rooms/:roomId/delete_status',
      auth: 'admin',
      handler: async (req) => ({ results: await deletion.statusByRoom(param(req, 'roomId')) }),
    },
    // GET /_synapse/admin/v2/rooms/delete_status/<delete_id>
    {
      method: 'GET',
      path: '/_synapse/admin/v2/rooms/delete_status/:deleteId',
      auth: 'admin',
      handler: async (req) => deletion.statusById(param(req, 'deleteId')),
    },

    // POST /_synapse/admin/v1/purge_history/<room_id>[/<event_id>] (body optional)
    {
      method: 'POST',
      path: ['/_synapse/admin/v1/purge_history/:roomId', '/_synapse/admin/v1/purge_history/:roomId/:eventId'],
      auth: 'admin',
      body: purgeHistoryBody,
      handler: async (req) => {
        const eventId = (req.params as Record<string, string | undefined>).eventId;
        const purgeId = await ctx.services.purgeHistory.start(param(req, 'roomId'), eventId, jsonObject(req, { optional: true }));
        return { purge_id: purgeId };
      },
    },
    // GET /_synapse/admin/v1/purge_history_status/<purge_id>
    {
      method: 'GET',
      path: '/_synapse/admin/v1/purge_history_status/:purgeId',
      auth: 'admin',
      handler: async (req) => ctx.services.purgeHistory.status(param(req, 'purgeId')),
    },

    // POST /_synapse/admin/v1/user/<user_id>/redact (Synapse 1.116)
    {
      method: 'POST',
      path: '/_synapse/admin/v1/user/:userId/redact',
      auth: 'admin',
      body: redactUserBody,
      handler: async (req) => {
        const body = jsonObject(req);
        return { redact_id: await ctx.services.userRedaction.start(requesterOf(req).userId, param(req, 'userId'), body) };
      },
    },
    // GET /_synapse/admin/v1/user/redact_status/<redact_id> (Synapse 1.116)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/user/redact_status/:redactId',
      auth: 'admin',
      handler: async (req) => ctx.services.userRedaction.status(param(req, 'redactId')),
    },

    // GET /_synapse/admin/v1/scheduled_tasks (Synapse 1.130): oldest first, unpaginated. An
    // unknown status is a 400 here (Synapse answers 500).
    {
      method: 'GET',
      path: '/_synapse/admin/v1/scheduled_tasks',
      auth: 'admin',
      handler: async (req) => {
        const action = queryString(req, 'action_name');
        const resourceId = queryString(req, 'resource_id');
        const status = queryEnum(req, 'job_status', TASK_STATUSES) ?? queryEnum(req, 'status', TASK_STATUSES);
        const maxTimestamp = queryInt(req, 'max_timestamp');
        const tasks = await ctx.services.tasks.list({
          actions: action === undefined ? undefined : [action],
          resourceId,
          statuses: status === undefined ? undefined : [status],
          maxTimestamp,
        });
        return { scheduled_tasks: tasks.map(scheduledTaskJson) };
      },
    },
  ];
};
