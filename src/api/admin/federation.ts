import type { Context } from '../../context.js';
import { queryEnum, queryInt, queryString } from '../../http/query.js';
import type { RouteDef } from '../../http/route.js';

const ORDER_BY = ['destination', 'retry_last_ts', 'retry_interval', 'failure_ts', 'last_successful_stream_ordering'] as const;
const destinationOf = (req: { params: unknown }) => (req.params as { destination: string }).destination;

/** Axon does not federate yet: no destination is known (catalogue §12). Parameters are still checked as Synapse does. */
export const federationAdminRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.federationAdmin;
  return [
    // GET /_synapse/admin/v1/federation/destinations
    {
      method: 'GET',
      path: '/_synapse/admin/v1/federation/destinations',
      auth: 'admin',
      handler: async (req) => {
        const from = queryInt(req, 'from', 0);
        const limit = queryInt(req, 'limit', 100);
        queryEnum(req, 'order_by', ORDER_BY, 'destination');
        queryEnum(req, 'dir', ['f', 'b'] as const, 'f');
        return svc.destinations({ from, limit, destination: queryString(req, 'destination') });
      },
    },
    // GET /_synapse/admin/v1/federation/destinations/<destination>
    {
      method: 'GET',
      path: '/_synapse/admin/v1/federation/destinations/:destination',
      auth: 'admin',
      handler: async (req) => svc.destination(destinationOf(req)),
    },
    // GET /_synapse/admin/v1/federation/destinations/<destination>/rooms
    {
      method: 'GET',
      path: '/_synapse/admin/v1/federation/destinations/:destination/rooms',
      auth: 'admin',
      handler: async (req) => {
        queryInt(req, 'from', 0);
        queryInt(req, 'limit', 100);
        queryEnum(req, 'dir', ['f', 'b'] as const, 'f');
        return svc.destinationRooms(destinationOf(req));
      },
    },
    // POST /_synapse/admin/v1/federation/destinations/<destination>/reset_connection (body ignored)
    {
      method: 'POST',
      path: '/_synapse/admin/v1/federation/destinations/:destination/reset_connection',
      auth: 'admin',
      handler: async (req) => svc.resetConnection(destinationOf(req)),
    },
  ];
};
