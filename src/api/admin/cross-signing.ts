import type { Context } from '../../context.js';
import type { RouteDef } from '../../http/route.js';
import { ignoredBody } from '../client/e2e-bodies.js';

// POST /_synapse/admin/v1/users/<user_id>/_allow_cross_signing_replacement_without_uia
// (catalogue §3.14, Synapse 1.97): opens a 10-minute window in which the user may replace their
// master cross-signing key without user-interactive auth. Like Synapse, the ID is not checked:
// anyone without a master key is 404 "User has no master cross-signing key".
export const crossSigningAdminRoutes = (ctx: Context): RouteDef[] => [
  {
    method: 'POST',
    path: '/_synapse/admin/v1/users/:userId/_allow_cross_signing_replacement_without_uia',
    auth: 'admin',
    body: ignoredBody,
    handler: async (req) => ctx.services.e2eKeys.allowMasterKeyReplacement((req.params as { userId: string }).userId),
  },
];
