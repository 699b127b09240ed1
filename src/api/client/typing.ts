import type { Context } from '../../context.js';
import { badJson } from '../../errors.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { typingBody } from './ephemeral-bodies.js';

// PUT /rooms/{roomId}/typing/{userId} (spec "Typing Notifications"); /sync delivers m.typing.
export const typingRoutes = (ctx: Context): RouteDef[] => [
  {
    method: 'PUT',
    path: clientPaths('/rooms/:roomId/typing/:userId'),
    auth: 'user',
    body: typingBody,
    handler: async (req) => {
      const { roomId, userId } = req.params as { roomId: string; userId: string };
      const body = jsonObject(req);
      const { typing, timeout } = body;
      // Synapse fails these with a 500; a client error is what they are.
      if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isFinite(timeout))) throw badJson("'timeout' must be a number of milliseconds");
      if (typeof typing !== 'boolean') throw badJson("'typing' must be a boolean");
      await ctx.services.typing.setTyping(requesterOf(req), roomId, userId, typing, timeout);
      return {};
    },
  },
];
