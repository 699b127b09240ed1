import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminAuditService } from '../services/admin-audit.js';
import { redactUrl } from './logging.js';

const ADMIN_PREFIX = '/_synapse/admin/';
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The user or room a call acts on: the first path parameter shaped like a user, room or alias ID. */
function targetOf(req: FastifyRequest): string | null {
  const params = req.params as Record<string, unknown> | undefined;
  for (const v of Object.values(params ?? {})) {
    if (typeof v === 'string' && /^[@!#]/.test(v)) return v;
  }
  return null;
}

/**
 * Records every state-changing Admin API call in the audit log once its status is known: who
 * (the admin; for a "login as" token also who minted it), when, method and path (access token
 * redacted, no body), target and status. Calls by non-admins and unauthenticated calls change
 * nothing and are not recorded, so they cannot flood the log; shared-secret registration, which
 * is authenticated by its MAC rather than a token, is recorded when it succeeds.
 */
export function adminAuditHook(audit: AdminAuditService) {
  return function auditAdminCall(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
    if (!READS.has(req.method) && req.url.startsWith(ADMIN_PREFIX)) {
      const r = req.requester;
      const byAdmin = r !== null && r.admin;
      const byMac = r === null && req.routeOptions.config?.auth === 'none' && reply.statusCode < 400;
      if (byAdmin || byMac) {
        audit.record({
          ts: Date.now(),
          userId: r?.userId ?? null,
          authenticatedBy: r?.authenticatedBy && r.authenticatedBy !== r.userId ? r.authenticatedBy : null,
          method: req.method,
          path: redactUrl(req.url),
          target: targetOf(req),
          status: reply.statusCode,
          requestId: String(req.id),
        });
      }
    }
    done();
  };
}
