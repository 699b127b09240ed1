import type { Context } from '../../context.js';
import { queryInt } from '../../http/query.js';
import type { RouteDef } from '../../http/route.js';

const userId = (req: { params: unknown }) => (req.params as { userId: string }).userId;

// A user's rooms (catalogue §3.9-3.10). Like Synapse, no check that the ID is well formed, local
// or known: anyone else is simply in no room.
export const userRoomRoutes = (ctx: Context): RouteDef[] => [
  // GET /_synapse/admin/v1/users/<user_id>/joined_rooms
  {
    method: 'GET',
    path: '/_synapse/admin/v1/users/:userId/joined_rooms',
    auth: 'admin',
    handler: async (req) => {
      const rooms = await ctx.services.rooms.joinedRooms(userId(req));
      return { joined_rooms: rooms, total: rooms.length };
    },
  },
  // GET /_synapse/admin/v1/users/<user_id>/memberships (Synapse 1.145)
  {
    method: 'GET',
    path: '/_synapse/admin/v1/users/:userId/memberships',
    auth: 'admin',
    handler: async (req) => ctx.services.adminRooms.memberships(userId(req)),
  },
  // GET /_synapse/admin/v1/users/<user_id>/sent_invite_count?from_ts= (Synapse 1.122)
  {
    method: 'GET',
    path: '/_synapse/admin/v1/users/:userId/sent_invite_count',
    auth: 'admin',
    handler: async (req) => ctx.services.adminRooms.sentInviteCount(userId(req), queryInt(req, 'from_ts', undefined, true)!),
  },
  // GET /_synapse/admin/v1/users/<user_id>/cumulative_joined_room_count?from_ts= (Synapse 1.122)
  {
    method: 'GET',
    path: '/_synapse/admin/v1/users/:userId/cumulative_joined_room_count',
    auth: 'admin',
    handler: async (req) => ctx.services.adminRooms.cumulativeJoinedRoomCount(userId(req), queryInt(req, 'from_ts', undefined, true)!),
  },
];
