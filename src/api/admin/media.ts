import type { FastifyRequest } from 'fastify';
import type { Context } from '../../context.js';
import { queryBool, queryEnum, queryInt, queryString } from '../../http/query.js';
import { requesterOf, type RouteDef } from '../../http/route.js';
import { USER_MEDIA_ORDER, USER_STATS_ORDER, type UserMediaPage } from '../../services/media-admin.js';

const param = (req: { params: unknown }, name: string) => (req.params as Record<string, string>)[name]!;

/**
 * A user's media page (catalogue §3.12): newest first when neither `order_by` nor `dir` is given;
 * otherwise the missing one defaults to `created_ts` / `f`.
 */
function userMediaPage(req: FastifyRequest): UserMediaPage {
  const from = queryInt(req, 'from', 0);
  const limit = queryInt(req, 'limit', 100);
  const orderBy = queryEnum(req, 'order_by', USER_MEDIA_ORDER);
  const dir = queryEnum(req, 'dir', ['b', 'f'] as const);
  if (orderBy === undefined && dir === undefined) return { from, limit, orderBy: 'created_ts', dir: 'b' };
  return { from, limit, orderBy: orderBy ?? 'created_ts', dir: dir ?? 'f' };
}

/** Bulk deletion's query parameters (catalogue §7.3); the body is ignored. */
function deleteByDateParams(req: FastifyRequest) {
  return {
    beforeTs: queryInt(req, 'before_ts', undefined, true)!,
    sizeGt: queryInt(req, 'size_gt', 0),
    keepProfiles: queryBool(req, 'keep_profiles', true),
  };
}

/**
 * The media Admin API (catalogue §3.12, §7, §8.1) and Axon's listing of unreferenced media.
 * Bodies are ignored, as Synapse ignores them (tools send `{}`).
 */
export const adminMediaRoutes = (ctx: Context): RouteDef[] => {
  const media = ctx.services.mediaAdmin;
  return [
    // GET /_synapse/admin/v1/room/<room_id>/media (§7.8): no 404 for an unknown room.
    {
      method: 'GET',
      path: '/_synapse/admin/v1/room/:roomId/media',
      auth: 'admin',
      handler: async (req) => media.mediaOfRoom(param(req, 'roomId')),
    },
    // GET and DELETE /_synapse/admin/v1/users/<user_id>/media (§3.12)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/users/:userId/media',
      auth: 'admin',
      handler: async (req) => media.listUserMedia(param(req, 'userId'), userMediaPage(req)),
    },
    {
      method: 'DELETE',
      path: '/_synapse/admin/v1/users/:userId/media',
      auth: 'admin',
      handler: async (req) => media.deleteUserMedia(param(req, 'userId'), userMediaPage(req)),
    },

    // Quarantine (§7.5)
    {
      method: 'POST',
      path: '/_synapse/admin/v1/media/quarantine/:serverName/:mediaId',
      auth: 'admin',
      handler: async (req) => {
        await media.quarantineOne(param(req, 'serverName'), param(req, 'mediaId'), requesterOf(req).userId);
        return {};
      },
    },
    {
      method: 'POST',
      path: '/_synapse/admin/v1/media/unquarantine/:serverName/:mediaId',
      auth: 'admin',
      handler: async (req) => {
        await media.quarantineOne(param(req, 'serverName'), param(req, 'mediaId'), null);
        return {};
      },
    },
    {
      method: 'POST',
      // The second path is Synapse's deprecated alias.
      path: ['/_synapse/admin/v1/room/:roomId/media/quarantine', '/_synapse/admin/v1/quarantine_media/:roomId'],
      auth: 'admin',
      handler: async (req) => ({ num_quarantined: await media.quarantineRoom(param(req, 'roomId'), requesterOf(req).userId) }),
    },
    {
      method: 'POST',
      path: '/_synapse/admin/v1/user/:userId/media/quarantine',
      auth: 'admin',
      handler: async (req) => ({ num_quarantined: await media.quarantineUser(param(req, 'userId'), requesterOf(req).userId) }),
    },

    // GET /_synapse/admin/v1/media/quarantine_changes (§7.7, Synapse 1.152)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/media/quarantine_changes',
      auth: 'admin',
      handler: async (req) => media.quarantineChanges(queryInt(req, 'from', 0)),
    },

    // Protection (§7.6): local media only; no 404 for unknown IDs.
    {
      method: 'POST',
      path: '/_synapse/admin/v1/media/protect/:mediaId',
      auth: 'admin',
      handler: async (req) => {
        await media.protect(param(req, 'mediaId'), true);
        return {};
      },
    },
    {
      method: 'POST',
      path: '/_synapse/admin/v1/media/unprotect/:mediaId',
      auth: 'admin',
      handler: async (req) => {
        await media.protect(param(req, 'mediaId'), false);
        return {};
      },
    },

    // Bulk deletion by age and size (§7.3). Registered before /media/<server_name>/<media_id>,
    // as in Synapse (find-my-way prefers the static segment anyway).
    {
      method: 'POST',
      path: '/_synapse/admin/v1/media/delete',
      auth: 'admin',
      handler: async (req) => media.deleteByDateAndSize(deleteByDateParams(req)),
    },
    {
      method: 'POST',
      path: '/_synapse/admin/v1/media/:serverName/delete',
      auth: 'admin',
      handler: async (req) => media.deleteByDateAndSize({ ...deleteByDateParams(req), serverName: param(req, 'serverName') }),
    },
    // POST /_synapse/admin/v1/purge_media_cache (§7.4)
    {
      method: 'POST',
      path: '/_synapse/admin/v1/purge_media_cache',
      auth: 'admin',
      handler: async (req) => media.purgeRemoteCache(queryInt(req, 'before_ts', undefined, true)!),
    },

    // Beyond Synapse: local media that no room event, profile or room avatar references.
    {
      method: 'GET',
      path: '/_synapse/admin/v1/axon/media/unreferenced',
      auth: 'admin',
      handler: async (req) => media.unreferenced(queryInt(req, 'from', 0), queryInt(req, 'limit', 100)),
    },

    // GET and DELETE /_synapse/admin/v1/media/<server_name>/<media_id> (§7.1, §7.2)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/media/:serverName/:mediaId',
      auth: 'admin',
      handler: async (req) => ({ media_info: await media.mediaInfo(param(req, 'serverName'), param(req, 'mediaId')) }),
    },
    {
      method: 'DELETE',
      path: '/_synapse/admin/v1/media/:serverName/:mediaId',
      auth: 'admin',
      handler: async (req) => media.deleteOne(param(req, 'serverName'), param(req, 'mediaId')),
    },

    // GET /_synapse/admin/v1/statistics/users/media (§8.1)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/statistics/users/media',
      auth: 'admin',
      handler: async (req) => {
        const orderBy = queryEnum(req, 'order_by', USER_STATS_ORDER, 'user_id');
        const from = queryInt(req, 'from', 0);
        const limit = queryInt(req, 'limit', 100);
        const fromTs = queryInt(req, 'from_ts', 0);
        const untilTs = queryInt(req, 'until_ts');
        const searchTerm = queryString(req, 'search_term');
        const dir = queryEnum(req, 'dir', ['b', 'f'] as const, 'f');
        return media.userMediaStatistics({ from, limit, orderBy, dir, fromTs, untilTs, searchTerm });
      },
    },
  ];
};
