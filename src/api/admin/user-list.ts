import type { FastifyRequest } from 'fastify';
import type { Context } from '../../context.js';
import { queryBool, queryEnum, queryInt, queryString, queryStrings } from '../../http/query.js';
import type { RouteDef } from '../../http/route.js';
import type { UserListQuery, UserSortKey } from '../../services/user-list.js';
import { userListBody } from './mappers/user-list.js';

const ORDER_BY: readonly UserSortKey[] = [
  'name',
  'displayname',
  'is_guest',
  'admin',
  'deactivated',
  'user_type',
  'avatar_url',
  'shadow_banned',
  'creation_ts',
  'last_seen_ts',
  'locked',
];
const DIRECTIONS = ['f', 'b'] as const;

/**
 * Query parameters in Synapse's parse order (so the first bad one is the one reported). Only
 * `deactivated` differs between versions: v2 hides deactivated accounts unless `true`; v3 is a
 * tri-state filter. `approved` is read only under MSC3866, which Axon does not implement.
 */
function parseListQuery(req: FastifyRequest, version: 'v2' | 'v3'): UserListQuery {
  const from = queryInt(req, 'from', 0);
  const limit = queryInt(req, 'limit', 100);
  const userId = queryString(req, 'user_id');
  const name = queryString(req, 'name');
  const guests = queryBool(req, 'guests', true);
  const deactivated = version === 'v2' ? queryBool(req, 'deactivated', false) : queryBool(req, 'deactivated');
  const locked = queryBool(req, 'locked', false);
  const admins = queryBool(req, 'admins');
  const orderBy = queryEnum(req, 'order_by', ORDER_BY, 'name');
  const dir = queryEnum(req, 'dir', DIRECTIONS, 'f');
  const notUserTypes = queryStrings(req, 'not_user_type');
  // Empty strings count as absent, and `user_id` only applies without `name` (as in Synapse).
  const search = name ? { field: 'name' as const, term: name } : userId ? { field: 'user_id' as const, term: userId } : undefined;
  return {
    from,
    limit,
    filter: {
      guests,
      admins,
      deactivated: version === 'v2' ? (deactivated ? 'any' : 'hide') : deactivated === undefined ? 'any' : deactivated ? 'only' : 'hide',
      locked,
      notUserTypes,
      search,
    },
    order: { key: orderBy, descending: dir === 'b' },
  };
}

export const userListRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.userList;
  const listRoute = (version: 'v2' | 'v3'): RouteDef => ({
    method: 'GET',
    path: `/_synapse/admin/${version}/users`,
    auth: 'admin',
    handler: async (req, reply) => {
      const page = await svc.list(parseListQuery(req, version));
      reply.type('application/json');
      return userListBody(page);
    },
  });
  // GET /_synapse/admin/v2/users (catalogue §3.1); /v3/users (Synapse 1.103, Δ1.103): `deactivated` filters both ways
  return [listRoute('v2'), listRoute('v3')];
};
