import { Type } from '@sinclair/typebox';
import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';

const params = (req: { params: unknown }) => req.params as Record<string, string>;
const eventReportBody = Type.Object({ reason: Type.Optional(Type.String()), score: Type.Optional(Type.Integer()) });
const reasonBody = Type.Object({ reason: Type.String() });

/** Reporting content (spec "Reporting content"); reports are read by admins (src/api/admin/reports.ts). */
export const reportRoutes = (ctx: Context): RouteDef[] => [
  // POST /rooms/{roomId}/report/{eventId}
  {
    method: 'POST',
    path: clientPaths('/rooms/:roomId/report/:eventId'),
    auth: 'user',
    body: eventReportBody,
    handler: async (req) => {
      const { roomId, eventId } = params(req);
      await ctx.services.reports.reportEvent(requesterOf(req), roomId!, eventId!, jsonObject(req));
      return {};
    },
  },
  // POST /rooms/{roomId}/report (spec v1.13)
  {
    method: 'POST',
    path: clientPaths('/rooms/:roomId/report'),
    auth: 'user',
    body: reasonBody,
    handler: async (req) => {
      await ctx.services.reports.reportRoom(requesterOf(req), params(req).roomId!, jsonObject(req));
      return {};
    },
  },
  // POST /users/{userId}/report (spec v1.14)
  {
    method: 'POST',
    path: clientPaths('/users/:userId/report'),
    auth: 'user',
    body: reasonBody,
    handler: async (req) => {
      await ctx.services.reports.reportUser(requesterOf(req), params(req).userId!, jsonObject(req));
      return {};
    },
  },
];
