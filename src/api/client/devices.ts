import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';

// GET/PUT/DELETE /_matrix/client/v3/devices..., POST /delete_devices (to be written)
export const deviceRoutes = (_ctx: Context): RouteDef[] => [];
