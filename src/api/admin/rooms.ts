import type { FastifyRequest } from 'fastify';
import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { queryBool, queryEnum, queryInt, queryString } from '../../http/query.js';
import { requesterOf, type RouteDef } from '../../http/route.js';
import { MAX_LIMIT } from '../../services/rooms/history.js';
import { blockRoomBody, joinRoomBody, makeRoomAdminBody } from './bodies.js';
import { legacyClientEvent, legacyContext, legacyMessages } from './mappers/rooms.js';

/**
 * The JSON of a room-list page, kept per page object: the service hands out the same cached page
 * until the room tables change, so a repeated list request is not serialised again (100 rooms
 * are most of its cost).
 */
const pageJson = new WeakMap<object, string>();
function listJson(body: Record<string, unknown>): string {
  const rooms = body.rooms as object;
  let json = pageJson.get(rooms);
  if (json === undefined) pageJson.set(rooms, (json = JSON.stringify(rooms)));
  const rest = Object.entries(body)
    .filter(([k]) => k !== 'rooms' && k !== 'offset')
    .map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`)
    .join('');
  return `{"offset":${JSON.stringify(body.offset)},"rooms":${json}${rest}}`;
}

const param = (req: FastifyRequest, name: string) => (req.params as Record<string, string>)[name]!;
const DIRS = ['f', 'b'] as const;

/** A pagination limit: digits only; values past Synapse's cap are lowered to it. */
function limitParam(req: FastifyRequest, name = 'limit'): number | undefined {
  const v = queryString(req, name);
  if (v !== undefined && /^\d{16,}$/.test(v)) return MAX_LIMIT;
  return queryInt(req, name);
}

// The room views and actions of the Synapse Admin API (catalogue §6.1-6.9, 6.13-6.15, §16).
// Room deletion, purges and their statuses live elsewhere (issue 9, deletion).
export const adminRoomRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.adminRooms;
  return [
    // GET /_synapse/admin/v1/rooms (catalogue §6.1; public_rooms / empty_rooms Δ1.110). Axon only:
    // `blocked=true|false` lists only blocked (known or not) or only unblocked rooms (#11283).
    {
      method: 'GET',
      path: '/_synapse/admin/v1/rooms',
      auth: 'admin',
      handler: async (req, reply) => {
        const body = await svc.list({
          from: queryInt(req, 'from', 0),
          limit: queryInt(req, 'limit', 100),
          orderBy: queryString(req, 'order_by') ?? 'name',
          searchTerm: queryString(req, 'search_term'),
          publicRooms: queryBool(req, 'public_rooms'),
          emptyRooms: queryBool(req, 'empty_rooms'),
          dir: queryEnum(req, 'dir', DIRS, 'f'),
          blocked: queryBool(req, 'blocked'),
        });
        reply.type('application/json');
        return listJson(body);
      },
    },
    // GET /_synapse/admin/v1/rooms/<room_id> (catalogue §6.2; tombstoned, replacement_room Δ1.153)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/rooms/:roomId',
      auth: 'admin',
      handler: async (req) => svc.details(param(req, 'roomId')),
    },
    // GET /_synapse/admin/v1/rooms/<room_id>/members (catalogue §6.3)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/rooms/:roomId/members',
      auth: 'admin',
      handler: async (req) => svc.members(param(req, 'roomId')),
    },
    // GET /_synapse/admin/v1/rooms/<room_id>/state[?type=] (catalogue §6.4; type Δ1.123)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/rooms/:roomId/state',
      auth: 'admin',
      handler: async (req) => {
        const state = await svc.state(requesterOf(req), param(req, 'roomId'), queryString(req, 'type') || undefined);
        return { state: state.map(legacyClientEvent) };
      },
    },
    // GET /_synapse/admin/v1/rooms/<room_id>/messages (catalogue §6.5): forwards by default.
    {
      method: 'GET',
      path: '/_synapse/admin/v1/rooms/:roomId/messages',
      auth: 'admin',
      handler: async (req) =>
        legacyMessages(
          await svc.messages(requesterOf(req), param(req, 'roomId'), {
            dir: queryEnum(req, 'dir', DIRS, 'f'),
            from: queryString(req, 'from'),
            to: queryString(req, 'to'),
            limit: limitParam(req),
            filter: queryString(req, 'filter'),
          }),
        ),
    },
    // GET /_synapse/admin/v1/rooms/<room_id>/context/<event_id> (catalogue §6.7)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/rooms/:roomId/context/:eventId',
      auth: 'admin',
      handler: async (req) =>
        legacyContext(await svc.context(requesterOf(req), param(req, 'roomId'), param(req, 'eventId'), { limit: limitParam(req), filter: queryString(req, 'filter') })),
    },
    // GET /_synapse/admin/v1/rooms/<room_id>/timestamp_to_event?ts=&dir= (catalogue §6.6)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/rooms/:roomId/timestamp_to_event',
      auth: 'admin',
      handler: async (req) => {
        const ts = queryInt(req, 'ts', undefined, true)!;
        return svc.timestampToEvent(requesterOf(req), param(req, 'roomId'), ts, queryEnum(req, 'dir', DIRS, 'f'));
      },
    },
    // GET /_synapse/admin/v1/rooms/<room_id>/hierarchy (Synapse 1.142; catalogue §6.8)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/rooms/:roomId/hierarchy',
      auth: 'admin',
      handler: async (req) =>
        svc.hierarchy(requesterOf(req), param(req, 'roomId'), { limit: limitParam(req), maxDepth: limitParam(req, 'max_depth'), from: queryString(req, 'from') }),
    },
    // GET/PUT /_synapse/admin/v1/rooms/<room_id>/block (catalogue §6.9): rooms the server never saw too.
    {
      method: 'GET',
      path: '/_synapse/admin/v1/rooms/:roomId/block',
      auth: 'admin',
      handler: async (req) => svc.blockStatus(param(req, 'roomId')),
    },
    {
      method: 'PUT',
      path: '/_synapse/admin/v1/rooms/:roomId/block',
      auth: 'admin',
      body: blockRoomBody,
      handler: async (req) => {
        const body = jsonObject(req);
        return svc.setBlocked(requesterOf(req), param(req, 'roomId'), body);
      },
    },
    // POST /_synapse/admin/v1/rooms/<room_id_or_alias>/make_room_admin (catalogue §6.13; body optional)
    {
      method: 'POST',
      path: '/_synapse/admin/v1/rooms/:roomId/make_room_admin',
      auth: 'admin',
      body: makeRoomAdminBody,
      handler: async (req) => {
        const body = jsonObject(req, { optional: true });
        return svc.makeRoomAdmin(requesterOf(req), param(req, 'roomId'), body);
      },
    },
    // GET/DELETE /_synapse/admin/v1/rooms/<room_id_or_alias>/forward_extremities (catalogue §6.14)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/rooms/:roomId/forward_extremities',
      auth: 'admin',
      handler: async (req) => svc.forwardExtremities(param(req, 'roomId')),
    },
    {
      method: 'DELETE',
      path: '/_synapse/admin/v1/rooms/:roomId/forward_extremities',
      auth: 'admin',
      handler: async (req) => svc.deleteForwardExtremities(param(req, 'roomId')),
    },
    // POST /_synapse/admin/v1/join/<room_id_or_alias> {user_id} (catalogue §6.15)
    {
      method: 'POST',
      path: '/_synapse/admin/v1/join/:roomIdOrAlias',
      auth: 'admin',
      body: joinRoomBody,
      handler: async (req) => {
        const body = jsonObject(req);
        return svc.joinUser(requesterOf(req), param(req, 'roomIdOrAlias'), body);
      },
    },
    // GET /_synapse/admin/v1/fetch_event/<event_id> (Synapse 1.140; catalogue §16)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/fetch_event/:eventId',
      auth: 'admin',
      handler: async (req) => svc.fetchEvent(param(req, 'eventId')),
    },
  ];
};
