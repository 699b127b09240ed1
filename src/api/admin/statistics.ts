import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

export const statisticsRoutes = (ctx: Context): RouteDef[] => [
  // GET /_synapse/admin/v1/statistics/database/rooms (Synapse 1.83; catalogue §8.2). Answered on
  // SQLite too, where Synapse says "Endpoint requires using PostgreSQL".
  {
    method: 'GET',
    path: '/_synapse/admin/v1/statistics/database/rooms',
    auth: 'admin',
    handler: async () => ({ rooms: await ctx.services.adminStats.largestRooms() }),
  },
];
