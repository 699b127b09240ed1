import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import type { RouteDef } from '../../http/route.js';
import { sharedSecretRegisterBody } from './bodies.js';

// GET/POST /_synapse/admin/v1/register — shared-secret registration (Synapse ≥1.0; catalogue §4).
export const sharedSecretRegisterRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.sharedSecret;
  return [
    {
      method: 'GET',
      path: '/_synapse/admin/v1/register',
      auth: 'none',
      handler: async () => ({ nonce: await svc.newNonce() }),
    },
    {
      method: 'POST',
      path: '/_synapse/admin/v1/register',
      auth: 'none',
      body: sharedSecretRegisterBody,
      handler: async (req) => {
        const { userId, session } = await svc.register(jsonObject(req));
        return {
          user_id: userId,
          home_server: ctx.config.serverName,
          ...(session ? { access_token: session.accessToken, device_id: session.deviceId } : {}),
        };
      },
    },
  ];
};
