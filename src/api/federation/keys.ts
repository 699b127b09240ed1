import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// GET /_matrix/key/v2/server (to be written)
export const keyServerRoutes = (_ctx: Context): RouteDef[] => [];
