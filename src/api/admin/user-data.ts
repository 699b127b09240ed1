import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';
import { AccountDataService } from '../../services/account-data.js';
import { PushersService } from '../../services/pushers.js';
import { accountDataJson, adminPushersJson } from './mappers/user-data.js';

const userParam = (req: { params: unknown }) => (req.params as { userId: string }).userId;

export const userDataRoutes = (ctx: Context): RouteDef[] => {
  const accountData = new AccountDataService(ctx.storage.db, ctx.config.serverName);
  const pushers = new PushersService(ctx.storage.db, ctx.config.serverName);
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
