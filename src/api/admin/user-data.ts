import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// admin accountdata, pushers (to be written)
export const userDataRoutes = (_ctx: Context): RouteDef[] => [];
