import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

export const userRoomRoutes = (ctx: Context): RouteDef[] => [
  // GET /_synapse/admin/v1/users/<user_id>/joined_rooms (catalogue §3.9). Like Synapse, no check
  // that the ID is well formed, local or known: anyone else is simply in no room.
  {
    method: 'GET',
    path: '/_synapse/admin/v1/users/:userId/joined_rooms',
    auth: 'admin',
    handler: async (req) => {
      const rooms = await ctx.services.rooms.joinedRooms((req.params as { userId: string }).userId);
      return { joined_rooms: rooms, total: rooms.length };
    },
  },
];
