import { Type } from '@sinclair/typebox';
import type { Context } from '../../context.js';
import { MatrixError, notFound } from '../../errors.js';
import { jsonObject } from '../../http/body.js';
import { queryInt } from '../../http/query.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { ROOM_INITIAL_SYNC_DEFAULT_LIMIT } from '../../services/room-initial-sync.js';
import { roomIdParam } from './rooms.js';

// The smaller client endpoints real clients call: OpenID tokens, third-party protocol look-ups
// (no application services: nothing to list), TURN credentials, and the legacy room initialSync.
export const miscClientRoutes = (ctx: Context): RouteDef[] => {
  const { openId, turn, roomInitialSync } = ctx.services;
  return [
    {
      method: 'POST',
      path: clientPaths('/user/:userId/openid/request_token'),
      auth: 'user',
      // The body must be a JSON object; its contents are ignored (as Synapse).
      body: Type.Object({}),
      handler: async (req) => {
        const requester = requesterOf(req);
        const userId = (req.params as { userId: string }).userId;
        // Another user's ID is refused before the body is read, as Synapse.
        openId.checkOwn(requester, userId);
        jsonObject(req);
        return openId.requestToken(requester, userId);
      },
    },
    // Third-party networks come from application services, which Axon does not host: no protocols.
    { method: 'GET', path: clientPaths('/thirdparty/protocols'), auth: 'user', allowGuests: true, handler: async () => ({}) },
    {
      method: 'GET',
      path: clientPaths('/thirdparty/protocol/:protocol'),
      auth: 'user',
      allowGuests: true,
      handler: async () => {
        throw notFound('Unknown protocol');
      },
    },
    {
      method: 'GET',
      path: [...clientPaths('/thirdparty/location'), ...clientPaths('/thirdparty/location/:protocol')],
      auth: 'user',
      allowGuests: true,
      handler: async () => [],
    },
    {
      method: 'GET',
      path: [...clientPaths('/thirdparty/user'), ...clientPaths('/thirdparty/user/:protocol')],
      auth: 'user',
      allowGuests: true,
      handler: async () => [],
    },
    {
      method: 'GET',
      path: [...clientPaths('/voip/turnServer'), '/_matrix/client/api/v1/voip/turnServer'],
      auth: 'user',
      allowGuests: true,
      handler: async (req) => {
        const requester = requesterOf(req);
        if (requester.isGuest && !turn.allowGuests) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access not allowed');
        return turn.credentials(requester.userId);
      },
    },
    {
      method: 'GET',
      path: clientPaths('/rooms/:roomId/initialSync'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => {
        const roomId = roomIdParam(req);
        return roomInitialSync.roomInitialSync(requesterOf(req), roomId, queryInt(req, 'limit', ROOM_INITIAL_SYNC_DEFAULT_LIMIT));
      },
    },
  ];
};
