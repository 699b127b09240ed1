import type { FastifyReply } from 'fastify';
import type { Context } from '../../context.js';
import { queryBool, queryEnum, queryInt, queryString } from '../../http/query.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { EVENTS_DEFAULT_TIMEOUT_MS, LegacySync } from '../../services/sync/legacy.js';
import { parseSyncToken } from '../../services/sync/token.js';

const PRESENCE = ['online', 'offline', 'unavailable'] as const;

/** Aborts when the client closes the connection before the answer is sent (a dropped long-poll). */
function disconnectSignal(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

// GET /sync and the legacy event stream and initial sync (Client-Server API "Syncing", "Legacy").
export const syncRoutes = (ctx: Context): RouteDef[] => {
  const sync = ctx.services.sync;
  const legacy = new LegacySync(sync);
  return [
    {
      method: 'GET',
      path: clientPaths('/sync'),
      auth: 'user',
      allowGuests: true,
      handler: async (req, reply) =>
        sync.sync(
          requesterOf(req),
          {
            since: queryString(req, 'since'),
            filter: queryString(req, 'filter'),
            fullState: queryBool(req, 'full_state', false),
            timeout: queryInt(req, 'timeout', 0),
            setPresence: queryEnum(req, 'set_presence', PRESENCE, 'online'),
          },
          disconnectSignal(reply),
        ),
    },
    {
      method: 'GET',
      path: clientPaths('/events'),
      auth: 'user',
      allowGuests: true,
      handler: async (req, reply) => {
        const from = queryString(req, 'from');
        if (from !== undefined) parseSyncToken(from);
        return legacy.events(requesterOf(req), from, queryInt(req, 'timeout', EVENTS_DEFAULT_TIMEOUT_MS), disconnectSignal(reply));
      },
    },
    {
      method: 'GET',
      path: clientPaths('/initialSync'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => legacy.initialSync(requesterOf(req), Math.min(queryInt(req, 'limit', 10), 100), queryBool(req, 'archived', false)),
    },
  ];
};
