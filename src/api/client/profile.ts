import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// /_matrix/client/v3/profile/... (to be written)
export const profileRoutes = (_ctx: Context): RouteDef[] => [];
