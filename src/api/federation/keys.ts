import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// GET /_matrix/key/v2/server (server-server §2.3.1) and the deprecated /_matrix/key/v2/server/{keyId},
// whose key ID Synapse ignores: both return every current key.
export const keyServerRoutes = (ctx: Context): RouteDef[] => {
  const keys = ctx.services.serverKeys;
  return [
    {
      method: 'GET',
      path: ['/_matrix/key/v2/server', '/_matrix/key/v2/server/:keyId'],
      auth: 'none',
      handler: async () => keys.current(),
    },
  ];
};
