import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// GET /.well-known/matrix/{client,server} (to be written)
export const wellKnownRoutes = (_ctx: Context): RouteDef[] => [];
