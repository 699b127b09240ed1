import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// shadow_ban, override_ratelimit, username_available, lookups, experimental features, account validity (to be written)
export const moderationRoutes = (_ctx: Context): RouteDef[] => [];
