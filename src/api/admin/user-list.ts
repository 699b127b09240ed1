import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// GET /_synapse/admin/v2/users, /v3/users (to be written)
export const userListRoutes = (_ctx: Context): RouteDef[] => [];
