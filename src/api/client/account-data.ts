import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// account data client endpoints (to be written)
export const accountDataRoutes = (_ctx: Context): RouteDef[] => [];
