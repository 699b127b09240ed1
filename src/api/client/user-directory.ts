import { Type } from '@sinclair/typebox';
import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { UserDirectoryService } from '../../services/user-directory.js';

// POST /user_directory/search (spec "User directory"). Guests are refused, as Synapse; with
// `user_directory.enabled: false` the answer is empty before the body is read, as Synapse.
export const userDirectoryRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.userDirectory;
  return [
    {
      method: 'POST',
      path: clientPaths('/user_directory/search'),
      auth: 'user',
      // Described only: the service checks `limit` then `search_term` with Synapse's texts.
      body: Type.Object({ search_term: Type.String(), limit: Type.Optional(Type.Integer({ minimum: 0 })) }),
      handler: async (req) => {
        const requester = requesterOf(req);
        if (!svc.enabled) return { limited: false, results: [] };
        const { term, limit } = UserDirectoryService.parseBody(jsonObject(req));
        return svc.search(requester.userId, term, limit);
      },
    },
  ];
};
