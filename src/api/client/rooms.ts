import type { FastifyRequest } from 'fastify';
import type { Context } from '../../context.js';
import { badRequest, invalidParam, missingParam } from '../../errors.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { refuseThirdPartyInvite, type MembershipAction } from '../../services/rooms/rooms.js';
import { createRoomBody, eventContentBody, reasonBody, redactBody, targetUserBody } from './room-bodies.js';

type Params = Record<string, string>;
const params = (req: FastifyRequest) => req.params as Params;

/** `:roomId` must look like a room ID (Synapse: 400 M_INVALID_PARAM before anything else). */
export function roomIdParam(req: FastifyRequest): string {
  const roomId = params(req).roomId!;
  if (!roomId.startsWith('!') || !roomId.includes(':')) throw invalidParam(`'${roomId}' is not a valid room ID`);
  return roomId;
}

const optionalReason = (body: Record<string, unknown>): string | undefined => {
  if (body.reason === undefined) return undefined;
  if (typeof body.reason !== 'string') throw badRequest('reason must be a string', 'M_BAD_JSON');
  return body.reason;
};

const targetUser = (body: Record<string, unknown>): string => {
  if (body.user_id === undefined) throw missingParam('Missing user_id key.');
  if (typeof body.user_id !== 'string' || !/^@[^:]+:.+$/.test(body.user_id)) throw invalidParam('user_id is not a valid user ID');
  return body.user_id;
};

// The room core of the client API (spec "Rooms", "Room membership", "Events"): create, membership,
// send, state and single events. Reads of history (messages, context, members …) live elsewhere.
export const roomRoutes = (ctx: Context): RouteDef[] => {
  const rooms = ctx.services.rooms;

  const membership = (action: Exclude<MembershipAction, 'join' | 'knock' | 'leave'>): RouteDef => ({
    method: 'POST',
    path: clientPaths(`/rooms/:roomId/${action}`),
    auth: 'user',
    body: targetUserBody,
    handler: async (req) => {
      const roomId = roomIdParam(req);
      const body = jsonObject(req);
      if (action === 'invite' && body.user_id === undefined && ('medium' in body || 'address' in body)) refuseThirdPartyInvite(body);
      await rooms.changeMembership(requesterOf(req), roomId, action, targetUser(body), { reason: optionalReason(body) });
      return {};
    },
  });

  const joinBy = async (req: FastifyRequest, roomIdOrAlias: string) => {
    const body = jsonObject(req, { optional: true });
    const roomId = await rooms.resolveRoom(roomIdOrAlias);
    const r = requesterOf(req);
    await rooms.changeMembership(r, roomId, 'join', r.userId, { reason: optionalReason(body) });
    return { room_id: roomId };
  };

  const putState: RouteDef['handler'] = async (req) => {
    const roomId = roomIdParam(req);
    const { type, stateKey } = params(req);
    const eventId = await rooms.setState(requesterOf(req), roomId, type!, stateKey ?? '', jsonObject(req));
    return { event_id: eventId };
  };
  const getState: RouteDef['handler'] = async (req) => {
    const roomId = roomIdParam(req);
    const { type, stateKey } = params(req);
    return rooms.getStateEvent(requesterOf(req), roomId, type!, stateKey ?? '');
  };

  return [
    // POST /createRoom
    { method: 'POST', path: clientPaths('/createRoom'), auth: 'user', body: createRoomBody, handler: async (req) => rooms.createRoom(requesterOf(req), jsonObject(req)) },
    // POST /join/{roomIdOrAlias}; server_name is ignored (local rooms only until federation).
    { method: 'POST', path: clientPaths('/join/:roomIdOrAlias'), auth: 'user', body: reasonBody, handler: (req) => joinBy(req, params(req).roomIdOrAlias!) },
    { method: 'POST', path: clientPaths('/rooms/:roomId/join'), auth: 'user', body: reasonBody, handler: (req) => joinBy(req, roomIdParam(req)) },
    {
      method: 'POST',
      path: clientPaths('/knock/:roomIdOrAlias'),
      auth: 'user',
      body: reasonBody,
      handler: async (req) => {
        const body = jsonObject(req, { optional: true });
        const roomId = await rooms.resolveRoom(params(req).roomIdOrAlias!);
        const r = requesterOf(req);
        await rooms.changeMembership(r, roomId, 'knock', r.userId, { reason: optionalReason(body) });
        return { room_id: roomId };
      },
    },
    {
      method: 'POST',
      path: clientPaths('/rooms/:roomId/leave'),
      auth: 'user',
      body: reasonBody,
      allowGuests: true,
      handler: async (req) => {
        const roomId = roomIdParam(req);
        const body = jsonObject(req, { optional: true });
        const r = requesterOf(req);
        await rooms.changeMembership(r, roomId, 'leave', r.userId, { reason: optionalReason(body) });
        return {};
      },
    },
    membership('invite'),
    membership('kick'),
    membership('ban'),
    membership('unban'),
    {
      method: 'PUT',
      path: clientPaths('/rooms/:roomId/send/:type/:txnId'),
      auth: 'user',
      body: eventContentBody,
      allowGuests: true,
      handler: async (req) => {
        const roomId = roomIdParam(req);
        const { type, txnId } = params(req);
        const eventId = await rooms.sendMessage(requesterOf(req), roomId, type!, txnId!, jsonObject(req));
        return { event_id: eventId };
      },
    },
    { method: 'PUT', path: clientPaths('/rooms/:roomId/state/:type/:stateKey'), auth: 'user', body: eventContentBody, handler: putState },
    { method: 'PUT', path: clientPaths('/rooms/:roomId/state/:type'), auth: 'user', body: eventContentBody, handler: putState },
    { method: 'PUT', path: clientPaths('/rooms/:roomId/state/:type/'), auth: 'user', body: eventContentBody, handler: putState },
    { method: 'GET', path: clientPaths('/rooms/:roomId/state/:type/:stateKey'), auth: 'user', allowGuests: true, handler: getState },
    { method: 'GET', path: clientPaths('/rooms/:roomId/state/:type'), auth: 'user', allowGuests: true, handler: getState },
    { method: 'GET', path: clientPaths('/rooms/:roomId/state/:type/'), auth: 'user', allowGuests: true, handler: getState },
    {
      method: 'GET',
      path: clientPaths('/rooms/:roomId/state'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => rooms.getState(requesterOf(req), roomIdParam(req)),
    },
    {
      method: 'PUT',
      path: clientPaths('/rooms/:roomId/redact/:eventId/:txnId'),
      auth: 'user',
      body: redactBody,
      handler: async (req) => {
        const roomId = roomIdParam(req);
        const { eventId, txnId } = params(req);
        const body = jsonObject(req, { optional: true });
        return { event_id: await rooms.redact(requesterOf(req), roomId, eventId!, txnId!, body) };
      },
    },
    {
      method: 'GET',
      path: clientPaths('/joined_rooms'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => ({ joined_rooms: await rooms.joinedRooms(requesterOf(req).userId) }),
    },
  ];
};
