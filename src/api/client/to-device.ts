import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { sendToDeviceBody } from './e2e-bodies.js';

// PUT /sendToDevice/{eventType}/{txnId} (spec: "Send-to-Device messaging"); /sync delivers.
export const toDeviceRoutes = (ctx: Context): RouteDef[] => [
  {
    method: 'PUT',
    path: clientPaths('/sendToDevice/:eventType/:txnId'),
    auth: 'user',
    body: sendToDeviceBody,
    allowGuests: true,
    handler: async (req) => {
      const r = requesterOf(req);
      const { eventType, txnId } = req.params as { eventType: string; txnId: string };
      await ctx.services.toDevice.send(r.userId, r.deviceId, eventType, txnId, jsonObject(req));
      return {};
    },
  },
];
