import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';
import { accountDataJson, adminPushersJson } from './mappers/user-data.js';

const userParam = (req: { params: unknown }) => (req.params as { userId: string }).userId;

export const userDataRoutes = (ctx: Context): RouteDef[] => {
  const { accountData, pushers } = ctx.services;
  return [
    // GET /_synapse/admin/v1/users/<user_id>/accountdata (catalogue §3.11)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/users/:userId/accountdata',
      auth: 'admin',
      handler: async (req) => accountDataJson(await accountData.dump(userParam(req))),
    },
    // GET /_synapse/admin/v1/users/<user_id>/pushers (catalogue §3.16)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/users/:userId/pushers',
      auth: 'admin',
      handler: async (req) => adminPushersJson(await pushers.adminList(userParam(req))),
    },
  ];
};
