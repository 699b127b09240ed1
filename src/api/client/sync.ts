import type { FastifyReply } from 'fastify';
import type { Context } from '../../context.js';
import { queryBool, queryEnum, queryInt, queryString } from '../../http/query.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';

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
  ];
};
