import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// registration tokens CRUD (to be written)
export const registrationTokenRoutes = (_ctx: Context): RouteDef[] => [];
