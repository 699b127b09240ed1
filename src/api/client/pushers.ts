import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { pusherJson } from '../mappers/pushers.js';
import { pusherBody } from './bodies.js';

// GET /_matrix/client/v3/pushers, POST /_matrix/client/v3/pushers/set (spec "Push Notifications").
export const pusherRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.pushers;
  return [
    {
      method: 'GET',
      path: clientPaths('/pushers'),
      auth: 'user',
      handler: async (req) => ({ pushers: (await svc.list(requesterOf(req))).map(pusherJson) }),
    },
    {
      method: 'POST',
      path: clientPaths('/pushers/set'),
      auth: 'user',
      body: pusherBody,
      handler: async (req) => {
        await svc.set(requesterOf(req), jsonObject(req));
        return {};
      },
    },
  ];
};
