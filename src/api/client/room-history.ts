import type { FastifyRequest } from 'fastify';
import type { Context } from '../../context.js';
import { missingParam } from '../../errors.js';
import { queryBool, queryEnum, queryInt, queryString } from '../../http/query.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { MAX_LIMIT } from '../../services/rooms/history.js';
import { roomIdParam } from './rooms.js';

type Params = Record<string, string>;
const params = (req: FastifyRequest) => req.params as Params;
const v1 = (path: string) => [`/_matrix/client/v1${path}`];

/** A pagination limit: digits only (Synapse's message otherwise); values past the cap are lowered to it, as Synapse does. */
function limitParam(req: FastifyRequest, name = 'limit'): number | undefined {
  const v = queryString(req, name);
  if (v !== undefined && /^\d{16,}$/.test(v)) return MAX_LIMIT;
  return queryInt(req, name);
}

const MEMBERSHIPS = ['join', 'invite', 'knock', 'leave', 'ban'] as const;
const DIRS = ['b', 'f'] as const;

// The read paths of room history (spec "Getting events for a room", "Relationships", "Threading",
// "Spaces"): every one filters events by the requester's history visibility (services/rooms/history.ts).
export const roomHistoryRoutes = (ctx: Context): RouteDef[] => {
  const rh = ctx.services.roomHistory;

  const relations: RouteDef['handler'] = async (req) => {
    const roomId = roomIdParam(req);
    const p = params(req);
    return rh.relations(requesterOf(req), roomId, p.eventId!, {
      relType: p.relType,
      eventType: p.eventType,
      from: queryString(req, 'from'),
      to: queryString(req, 'to'),
      dir: queryEnum(req, 'dir', DIRS, 'b'),
      limit: limitParam(req),
      recurse: queryBool(req, 'recurse') ?? queryBool(req, 'org.matrix.msc3981.recurse', false),
    });
  };

  return [
    {
      method: 'GET',
      path: clientPaths('/rooms/:roomId/event/:eventId'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => rh.event(requesterOf(req), roomIdParam(req), params(req).eventId!),
    },
    {
      method: 'GET',
      path: clientPaths('/rooms/:roomId/messages'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => {
        const roomId = roomIdParam(req);
        // Synapse reads `dir` with forwards as its default (the spec makes it required).
        return rh.messages(requesterOf(req), roomId, {
          dir: queryEnum(req, 'dir', DIRS, 'f'),
          from: queryString(req, 'from'),
          to: queryString(req, 'to'),
          limit: limitParam(req),
          filter: queryString(req, 'filter'),
        });
      },
    },
    {
      method: 'GET',
      path: clientPaths('/rooms/:roomId/context/:eventId'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => {
        const roomId = roomIdParam(req);
        return rh.context(requesterOf(req), roomId, params(req).eventId!, { limit: limitParam(req), filter: queryString(req, 'filter') });
      },
    },
    {
      method: 'GET',
      path: clientPaths('/rooms/:roomId/members'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => {
        const roomId = roomIdParam(req);
        return rh.members(requesterOf(req), roomId, {
          at: queryString(req, 'at'),
          membership: queryEnum(req, 'membership', MEMBERSHIPS),
          notMembership: queryEnum(req, 'not_membership', MEMBERSHIPS),
        });
      },
    },
    {
      method: 'GET',
      path: clientPaths('/rooms/:roomId/joined_members'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => rh.joinedMembers(requesterOf(req), roomIdParam(req)),
    },
    { method: 'GET', path: v1('/rooms/:roomId/relations/:eventId'), auth: 'user', allowGuests: true, handler: relations },
    { method: 'GET', path: v1('/rooms/:roomId/relations/:eventId/:relType'), auth: 'user', allowGuests: true, handler: relations },
    { method: 'GET', path: v1('/rooms/:roomId/relations/:eventId/:relType/:eventType'), auth: 'user', allowGuests: true, handler: relations },
    {
      method: 'GET',
      path: v1('/rooms/:roomId/threads'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => {
        const roomId = roomIdParam(req);
        return rh.threads(requesterOf(req), roomId, {
          include: queryEnum(req, 'include', ['all', 'participated'] as const, 'all'),
          from: queryString(req, 'from'),
          limit: limitParam(req),
        });
      },
    },
    {
      method: 'GET',
      path: v1('/rooms/:roomId/timestamp_to_event'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => {
        const roomId = roomIdParam(req);
        const ts = queryInt(req, 'ts', undefined, true)!;
        if (queryString(req, 'dir') === undefined) throw missingParam("Missing string query parameter 'dir'");
        return rh.timestampToEvent(requesterOf(req), roomId, ts, queryEnum(req, 'dir', DIRS, 'f'));
      },
    },
    {
      method: 'GET',
      path: v1('/rooms/:roomId/hierarchy'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => {
        const roomId = roomIdParam(req);
        return rh.hierarchy(requesterOf(req), roomId, {
          suggestedOnly: queryBool(req, 'suggested_only', false),
          limit: limitParam(req),
          maxDepth: limitParam(req, 'max_depth'),
          from: queryString(req, 'from'),
        });
      },
    },
  ];
};
