import type { RouteDef } from '../../http/route.js';
import { AXON_VERSION, SYNAPSE_COMPAT_VERSION } from '../../version.js';

// GET /_synapse/admin/v1/server_version — no auth (synapse-admin probes it before login).
// The Synapse version comes first so that tools parsing it see the API level Axon answers.
export const serverVersionRoutes = (): RouteDef[] => [
  {
    method: 'GET',
    path: '/_synapse/admin/v1/server_version',
    auth: 'none',
    handler: async () => ({ server_version: `${SYNAPSE_COMPAT_VERSION} (Axon ${AXON_VERSION})` }),
  },
];
