import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { presenceBody } from './ephemeral-bodies.js';

// GET/PUT /presence/{userId}/status (spec "Presence"); /sync delivers m.presence.
export const presenceRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.presence;
  const path = clientPaths('/presence/:userId/status');
  return [
    {
      method: 'GET',
      path,
      auth: 'user',
      handler: async (req) => svc.getStatus(requesterOf(req), (req.params as { userId: string }).userId),
    },
    {
      method: 'PUT',
      path,
      auth: 'user',
      body: presenceBody,
      handler: async (req) => {
        const r = requesterOf(req);
        const { userId } = req.params as { userId: string };
        // Ownership is checked before the body is read, as Synapse does.
        svc.checkPut(r, userId);
        await svc.setStatus(r, userId, jsonObject(req));
        return {};
      },
    },
  ];
};
