import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// GET /_matrix/client/v3/capabilities (to be written)
export const capabilitiesRoutes = (_ctx: Context): RouteDef[] => [];
