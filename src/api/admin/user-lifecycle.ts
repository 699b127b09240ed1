import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { requesterOf, type RouteDef, userIdParam } from '../../http/route.js';
import { deactivateUserBody, resetPasswordBody, suspendBody } from './bodies.js';

export const userLifecycleRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.userLifecycle;
  return [
    // POST /_synapse/admin/v1/deactivate/<user_id> (catalogue §3.5); the body may be empty.
    {
      method: 'POST',
      path: '/_synapse/admin/v1/deactivate/:userId',
      auth: 'admin',
      body: deactivateUserBody,
      handler: async (req) => {
        await svc.deactivate(userIdParam(req), () => jsonObject(req, { optional: true }));
        // Axon talks to no identity server, so there is never a failed unbind to report.
        return { id_server_unbind_result: 'success' };
      },
    },
    // POST /_synapse/admin/v1/reset_password/<user_id> (catalogue §3.7)
    {
      method: 'POST',
      path: '/_synapse/admin/v1/reset_password/:userId',
      auth: 'admin',
      body: resetPasswordBody,
      handler: async (req) => {
        const userId = userIdParam(req);
        await svc.resetPassword(requesterOf(req), userId, jsonObject(req));
        return {};
      },
    },
    // PUT /_synapse/admin/v1/suspend/<user_id> (Δ1.110, catalogue §3.6)
    {
      method: 'PUT',
      path: '/_synapse/admin/v1/suspend/:userId',
      auth: 'admin',
      body: suspendBody,
      handler: async (req) => {
        const userId = userIdParam(req);
        const suspended = await svc.suspend(userId, () => jsonObject(req));
        // The key embeds the MXID, e.g. {"user_@bob:example.org_suspended": true}.
        return { [`user_${userId}_suspended`]: suspended };
      },
    },
  ];
};
