import type { RouteDef } from '../../http/route.js';

// GET /_matrix/client/versions — the spec versions Axon speaks (Synapse 1.94's list).
const VERSIONS = ['r0.0.1', 'r0.1.0', 'r0.2.0', 'r0.3.0', 'r0.4.0', 'r0.5.0', 'r0.6.0', 'r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6'];

export const versionsRoutes = (): RouteDef[] => [
  {
    method: 'GET',
    path: '/_matrix/client/versions',
    auth: 'none',
    handler: async () => ({ versions: VERSIONS, unstable_features: {} }),
  },
];
