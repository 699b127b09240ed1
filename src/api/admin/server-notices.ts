import { Type } from '@sinclair/typebox';
import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { requesterOf, type RouteDef } from '../../http/route.js';

/** Descriptive only: the service checks the fields in Synapse's order (config, then locality, then the user). */
const sendServerNoticeBody = Type.Object({
  user_id: Type.String(),
  content: Type.Object({}),
  type: Type.Optional(Type.String()),
  state_key: Type.Optional(Type.String()),
});

export const serverNoticeRoutes = (ctx: Context): RouteDef[] => [
  // POST /_synapse/admin/v1/send_server_notice (catalogue §10)
  {
    method: 'POST',
    path: '/_synapse/admin/v1/send_server_notice',
    auth: 'admin',
    body: sendServerNoticeBody,
    handler: async (req) => ({ event_id: await ctx.services.serverNotices.send(requesterOf(req), jsonObject(req)) }),
  },
  // PUT /_synapse/admin/v1/send_server_notice/<txn_id>: a repeat with the same access token and
  // transaction ID answers the first event without sending again (catalogue §10).
  {
    method: 'PUT',
    path: '/_synapse/admin/v1/send_server_notice/:txnId',
    auth: 'admin',
    body: sendServerNoticeBody,
    handler: async (req) => {
      const txnId = (req.params as { txnId: string }).txnId;
      return { event_id: await ctx.services.serverNotices.send(requesterOf(req), jsonObject(req), txnId) };
    },
  },
];
