import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// deactivate, reset_password, suspend (to be written)
export const userLifecycleRoutes = (_ctx: Context): RouteDef[] => [];
