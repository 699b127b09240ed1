import { Type } from '@sinclair/typebox';
import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import type { RouteDef } from '../../http/route.js';

const enabledBody = Type.Object({ enabled: Type.Optional(Type.Boolean()) });
const startJobBody = Type.Object({ job_name: Type.String(), old_key: Type.Optional(Type.String()), before_ts: Type.Optional(Type.Integer()) });

/** Catalogue §11: Axon's migrations run before it listens, so no background update is ever pending. */
export const backgroundUpdateRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.backgroundUpdates;
  return [
    // GET /_synapse/admin/v1/background_updates/status
    { method: 'GET', path: '/_synapse/admin/v1/background_updates/status', auth: 'admin', handler: async () => svc.status() },
    // GET/POST /_synapse/admin/v1/background_updates/enabled (a body is required, as Synapse)
    { method: 'GET', path: '/_synapse/admin/v1/background_updates/enabled', auth: 'admin', handler: async () => ({ enabled: svc.isEnabled() }) },
    {
      method: 'POST',
      path: '/_synapse/admin/v1/background_updates/enabled',
      auth: 'admin',
      body: enabledBody,
      handler: async (req) => ({ enabled: svc.setEnabled(jsonObject(req)) }),
    },
    // POST /_synapse/admin/v1/background_updates/start_job
    {
      method: 'POST',
      path: '/_synapse/admin/v1/background_updates/start_job',
      auth: 'admin',
      body: startJobBody,
      handler: async (req) => {
        svc.startJob(jsonObject(req));
        return {};
      },
    },
  ];
};
