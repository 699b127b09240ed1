import { Type } from '@sinclair/typebox';
import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';

type Params = { userId: string; filterId: string };

// POST /user/{userId}/filter, GET /user/{userId}/filter/{filterId} (spec "Filtering").
export const filterRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.filters;
  return [
    {
      method: 'POST',
      path: clientPaths('/user/:userId/filter'),
      auth: 'user',
      // Any object: the filter's own rules are checked by parseFilter, with the spec's errors.
      body: Type.Object({}),
      handler: async (req) => {
        const { userId } = req.params as Params;
        return { filter_id: await svc.create(requesterOf(req), userId, jsonObject(req)) };
      },
    },
    {
      method: 'GET',
      path: clientPaths('/user/:userId/filter/:filterId'),
      auth: 'user',
      handler: async (req) => {
        const { userId, filterId } = req.params as Params;
        return svc.get(requesterOf(req), userId, filterId);
      },
    },
  ];
};
