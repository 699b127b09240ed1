import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../../context.js';
import { MatrixError, badJson, invalidParam } from '../../errors.js';
import { jsonObject } from '../../http/body.js';
import { queryInt, queryString } from '../../http/query.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { parseServerName } from '../../matrix/server-name.js';
import type { PublicRoomsRequest } from '../../services/rooms/directory.js';
import { reasonBody } from './room-bodies.js';
import { roomIdParam } from './rooms.js';

// Bodies as declared (describing only, no `onError`): the services check each field in Synapse's
// order with its texts; the fuzz reads these to reach past the first check.
const str = Type.String();
const aliasBody = Type.Object({ room_id: str, servers: Type.Optional(Type.Array(str)) });
const noBody = Type.Object({});
const visibilityBody = Type.Object({ visibility: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('private')])) });
const publicRoomsBody_ = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
  since: Type.Optional(str),
  filter: Type.Optional(Type.Object({ generic_search_term: Type.Optional(str), room_types: Type.Optional(Type.Array(Type.Union([str, Type.Null()]))) })),
  include_all_networks: Type.Optional(Type.Boolean()),
  third_party_instance_id: Type.Optional(str),
});
const upgradeBody = Type.Object({ new_version: str });

type Params = Record<string, string>;
const params = (req: FastifyRequest) => req.params as Params;

/** POST /publicRooms body fields (Synapse reads them loosely; wrong types are 400 here, not 500). */
function publicRoomsBody(body: Record<string, unknown>): PublicRoomsRequest {
  const out: PublicRoomsRequest = {};
  const limit = body.limit ?? 100;
  if (limit !== null) {
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) throw invalidParam('limit must be a non-negative integer');
    out.limit = limit;
  }
  if (body.since !== undefined && body.since !== null) {
    if (typeof body.since !== 'string') throw badJson('since must be a string');
    out.since = body.since;
  }
  const filter = body.filter;
  if (filter !== undefined && filter !== null) {
    if (typeof filter !== 'object' || Array.isArray(filter)) throw badJson('filter must be an object');
    const f = filter as Record<string, unknown>;
    if (f.generic_search_term !== undefined && f.generic_search_term !== null) {
      if (typeof f.generic_search_term !== 'string') throw badJson('filter.generic_search_term must be a string');
      out.searchTerm = f.generic_search_term;
    }
    if (f.room_types !== undefined && f.room_types !== null) {
      if (!Array.isArray(f.room_types) || f.room_types.some((t) => t !== null && typeof t !== 'string')) {
        throw badJson('filter.room_types must be a list of strings or nulls');
      }
      out.roomTypes = f.room_types as (string | null)[];
    }
  }
  const all = body.include_all_networks ?? false;
  if (typeof all !== 'boolean') throw badJson('include_all_networks must be a boolean');
  const network = body.third_party_instance_id;
  if (network !== undefined && network !== null) {
    if (typeof network !== 'string') throw badJson('third_party_instance_id must be a string');
    if (all) throw new MatrixError(400, 'M_UNKNOWN', "Can't use include_all_networks with an explicit network");
    if (!network.includes('|')) throw new MatrixError(400, 'M_UNKNOWN', 'Cannot parse third party instance id');
    out.network = network;
  }
  return out;
}

// Room aliases, the public room directory, upgrades and forgetting (spec "Room aliases",
// "Listing rooms", "Room upgrades", "Leaving rooms").
export const roomDirectoryRoutes = (ctx: Context): RouteDef[] => {
  const dir = ctx.services.roomDirectory;
  const serverName = ctx.config.serverName;

  /**
   * `server`: this server's list, else a remote one, which needs federation (not yet in Axon):
   * 404 rather than Synapse's 502 for an unreachable server, so no client input answers a 5xx.
   */
  const checkServer = (req: FastifyRequest) => {
    const server = queryString(req, 'server');
    if (server === undefined || server === serverName) return;
    if (!parseServerName(server)) throw invalidParam(`Invalid server name: ${server}`);
    if (!req.requester) throw new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token.');
    throw new MatrixError(404, 'M_NOT_FOUND', `Unable to fetch the room list of ${server}`);
  };

  const alias = (req: FastifyRequest) => params(req).roomAlias!;

  return [
    { method: 'GET', path: clientPaths('/directory/room/:roomAlias'), auth: 'none', handler: async (req) => dir.getAlias(alias(req)) },
    {
      method: 'PUT',
      path: clientPaths('/directory/room/:roomAlias'),
      auth: 'user',
      body: aliasBody,
      handler: async (req) => {
        // The alias is checked before the body (Synapse's order).
        const a = alias(req);
        await dir.createAlias(requesterOf(req), a, jsonObject(req));
        return {};
      },
    },
    {
      method: 'DELETE',
      path: clientPaths('/directory/room/:roomAlias'),
      auth: 'user',
      body: noBody,
      handler: async (req) => {
        await dir.deleteAlias(requesterOf(req), alias(req));
        return {};
      },
    },
    {
      method: 'GET',
      path: clientPaths('/rooms/:roomId/aliases'),
      auth: 'user',
      handler: async (req) => ({ aliases: await dir.roomAliases(requesterOf(req), roomIdParam(req)) }),
    },
    {
      method: 'GET',
      path: clientPaths('/directory/list/room/:roomId'),
      auth: 'none',
      handler: async (req) => dir.visibility(params(req).roomId!),
    },
    {
      method: 'PUT',
      path: clientPaths('/directory/list/room/:roomId'),
      auth: 'user',
      body: visibilityBody,
      handler: async (req) => {
        await dir.setVisibility(requesterOf(req), params(req).roomId!, jsonObject(req));
        return {};
      },
    },
    {
      method: 'GET',
      path: clientPaths('/publicRooms'),
      // Synapse's allow_public_rooms_without_auth (default false: a token is needed).
      auth: ctx.config.allowPublicRoomsWithoutAuth ? 'optional' : 'user',
      allowGuests: true,
      handler: async (req) => {
        checkServer(req);
        const limit = queryInt(req, 'limit', 0);
        return dir.publicRooms({ limit, since: queryString(req, 'since') });
      },
    },
    {
      method: 'POST',
      path: clientPaths('/publicRooms'),
      auth: 'user',
      allowGuests: true,
      body: publicRoomsBody_,
      handler: async (req) => {
        checkServer(req);
        return dir.publicRooms(publicRoomsBody(jsonObject(req)));
      },
    },
    {
      method: 'POST',
      path: clientPaths('/rooms/:roomId/upgrade'),
      auth: 'user',
      body: upgradeBody,
      handler: async (req) => {
        const roomId = roomIdParam(req);
        return ctx.services.roomUpgrades.upgrade(requesterOf(req), roomId, jsonObject(req));
      },
    },
    {
      method: 'POST',
      path: clientPaths('/rooms/:roomId/forget'),
      auth: 'user',
      body: reasonBody,
      handler: async (req) => {
        await dir.forget(requesterOf(req), roomIdParam(req));
        return {};
      },
    },
  ];
};
