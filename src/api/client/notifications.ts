import type { Context } from '../../context.js';
import { queryInt, queryString } from '../../http/query.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';

// GET /notifications (spec "Listing Notifications").
export const notificationRoutes = (ctx: Context): RouteDef[] => [
  {
    method: 'GET',
    path: clientPaths('/notifications'),
    auth: 'user',
    handler: async (req) =>
      ctx.services.notifications.list(requesterOf(req).userId, {
        from: queryString(req, 'from'),
        limit: queryInt(req, 'limit'),
        only: queryString(req, 'only'),
      }),
  },
];
