import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// whois, login as user, admin devices (to be written)
export const userSessionRoutes = (_ctx: Context): RouteDef[] => [];
