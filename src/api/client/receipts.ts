import { Type } from '@sinclair/typebox';
import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';

/** Described only: the service checks `thread_id` and the event IDs with Synapse's texts. */
const receiptBody = Type.Object({ thread_id: Type.Optional(Type.String({ minLength: 1 })) });
const readMarkersBody = Type.Object({
  'm.fully_read': Type.Optional(Type.String()),
  'm.read': Type.Optional(Type.String()),
  'm.read.private': Type.Optional(Type.String()),
});

// POST /rooms/{roomId}/receipt/{receiptType}/{eventId} (spec "Receipts") and
// POST /rooms/{roomId}/read_markers (spec "Fully read markers").
export const receiptRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.receipts;
  return [
    {
      method: 'POST',
      path: clientPaths('/rooms/:roomId/receipt/:receiptType/:eventId'),
      auth: 'user',
      body: receiptBody,
      handler: async (req) => {
        const { roomId, receiptType, eventId } = req.params as { roomId: string; receiptType: string; eventId: string };
        const r = requesterOf(req);
        // Synapse checks the IDs and the type before it reads the body.
        svc.checkReceiptPath(roomId, receiptType, eventId);
        await svc.postReceipt(r, roomId, receiptType, eventId, jsonObject(req));
        // Reading is activity (Synapse bumps presence on receipts and read markers).
        ctx.services.presence.bumpActive(r.userId);
        return {};
      },
    },
    {
      method: 'POST',
      path: clientPaths('/rooms/:roomId/read_markers'),
      auth: 'user',
      body: readMarkersBody,
      handler: async (req) => {
        const { roomId } = req.params as { roomId: string };
        const r = requesterOf(req);
        await svc.postReadMarkers(r, roomId, jsonObject(req));
        ctx.services.presence.bumpActive(r.userId);
        return {};
      },
    },
  ];
};
