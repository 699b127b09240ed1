import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { requesterOf, type RouteDef, userIdParam } from '../../http/route.js';
import { userDetailsJson } from './mappers/user.js';
import { setAdminBody, upsertUserBody } from './bodies.js';

export const adminUserRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.adminUsers;
  return [
    // GET /_synapse/admin/v2/users/<user_id> (Synapse 1.x; catalogue §3.2)
    {
      method: 'GET',
      path: '/_synapse/admin/v2/users/:userId',
      auth: 'admin',
      handler: async (req) => userDetailsJson(await svc.get(userIdParam(req))),
    },
    // PUT /_synapse/admin/v2/users/<user_id>: 201 on create, 200 on modify (catalogue §3.3)
    {
      method: 'PUT',
      path: '/_synapse/admin/v2/users/:userId',
      auth: 'admin',
      body: upsertUserBody,
      handler: async (req, reply) => {
        const userId = userIdParam(req);
        const { created, details } = await svc.upsert(requesterOf(req), userId, jsonObject(req));
        reply.code(created ? 201 : 200);
        return userDetailsJson(details);
      },
    },
    // GET/PUT /_synapse/admin/v1/users/<user_id>/admin (catalogue §3.4)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/users/:userId/admin',
      auth: 'admin',
      handler: async (req) => ({ admin: await svc.isAdmin(userIdParam(req)) }),
    },
    {
      method: 'PUT',
      path: '/_synapse/admin/v1/users/:userId/admin',
      auth: 'admin',
      body: setAdminBody,
      handler: async (req) => {
        const userId = userIdParam(req);
        await svc.setAdmin(requesterOf(req), userId, jsonObject(req));
        return {};
      },
    },
  ];
};
