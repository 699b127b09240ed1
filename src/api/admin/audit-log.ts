import type { Context } from '../../context.js';
import { queryEnum, queryInt, queryString } from '../../http/query.js';
import type { RouteDef } from '../../http/route.js';

export const auditLogRoutes = (ctx: Context): RouteDef[] => [
  // GET /_synapse/admin/v1/audit_log (Axon, beyond Synapse): state-changing Admin API calls,
  // newest first by default; user_id (the admin) and target (user or room) filter exactly.
  {
    method: 'GET',
    path: '/_synapse/admin/v1/audit_log',
    auth: 'admin',
    handler: async (req) => {
      const from = queryInt(req, 'from', 0);
      const limit = queryInt(req, 'limit', 100);
      const dir = queryEnum(req, 'dir', ['b', 'f'] as const, 'b');
      return ctx.services.adminAudit.list({ from, limit, dir, userId: queryString(req, 'user_id'), target: queryString(req, 'target') });
    },
  },
];
