import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { tagBody } from './ephemeral-bodies.js';

type Params = { userId: string; roomId: string; tag: string };

// GET /user/{userId}/rooms/{roomId}/tags, PUT/DELETE …/tags/{tag} (spec "Room Tagging").
export const tagRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.accountData;
  const one = clientPaths('/user/:userId/rooms/:roomId/tags/:tag');
  return [
    {
      method: 'GET',
      path: clientPaths('/user/:userId/rooms/:roomId/tags'),
      auth: 'user',
      handler: async (req) => {
        const { userId, roomId } = req.params as Params;
        return svc.getTags(requesterOf(req), userId, roomId);
      },
    },
    {
      method: 'PUT',
      path: one,
      auth: 'user',
      body: tagBody,
      handler: async (req) => {
        const r = requesterOf(req);
        const { userId, roomId, tag } = req.params as Params;
        svc.checkTagWrite(r, userId);
        await svc.putTag(r, userId, roomId, tag, jsonObject(req));
        return {};
      },
    },
    {
      method: 'DELETE',
      path: one,
      auth: 'user',
      handler: async (req) => {
        const { userId, roomId, tag } = req.params as Params;
        await svc.deleteTag(requesterOf(req), userId, roomId, tag);
        return {};
      },
    },
  ];
};
