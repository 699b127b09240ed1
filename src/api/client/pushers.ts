import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// GET /pushers, POST /pushers/set (to be written)
export const pusherRoutes = (_ctx: Context): RouteDef[] => [];
