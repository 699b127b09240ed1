import type { Context } from '../../context.js';
import { missingParam } from '../../errors.js';
import { jsonObject } from '../../http/body.js';
import { queryString } from '../../http/query.js';
import type { RouteDef } from '../../http/route.js';
import { ratelimitOverrideJson } from './mappers/user-data.js';
import { experimentalFeaturesBody, ratelimitOverrideBody, renewAccountBody } from './bodies.js';

const param = (req: { params: unknown }, name: string) => (req.params as Record<string, string>)[name]!;

export const moderationRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.moderation;
  const shadowBan = (banned: boolean): RouteDef['handler'] => async (req) => {
    await svc.setShadowBanned(param(req, 'userId'), banned);
    return {};
  };
  return [
    // POST/DELETE /_synapse/admin/v1/users/<user_id>/shadow_ban (catalogue §3.17; body ignored)
    { method: 'POST', path: '/_synapse/admin/v1/users/:userId/shadow_ban', auth: 'admin', handler: shadowBan(true) },
    { method: 'DELETE', path: '/_synapse/admin/v1/users/:userId/shadow_ban', auth: 'admin', handler: shadowBan(false) },

    // GET/POST/DELETE /_synapse/admin/v1/users/<user_id>/override_ratelimit (catalogue §3.18)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/users/:userId/override_ratelimit',
      auth: 'admin',
      handler: async (req) => ratelimitOverrideJson(await svc.getRatelimitOverride(param(req, 'userId'))),
    },
    {
      method: 'POST',
      path: '/_synapse/admin/v1/users/:userId/override_ratelimit',
      auth: 'admin',
      body: ratelimitOverrideBody,
      handler: async (req) => {
        const userId = param(req, 'userId');
        // Synapse checks the user before it reads the (optional) body.
        await svc.checkRatelimitTarget(userId);
        return ratelimitOverrideJson(await svc.setRatelimitOverride(userId, jsonObject(req, { optional: true })));
      },
    },
    {
      method: 'DELETE',
      path: '/_synapse/admin/v1/users/:userId/override_ratelimit',
      auth: 'admin',
      handler: async (req) => {
        await svc.deleteRatelimitOverride(param(req, 'userId'));
        return {};
      },
    },

    // GET /_synapse/admin/v1/username_available?username= (catalogue §3.19)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/username_available',
      auth: 'admin',
      handler: async (req) => {
        const username = queryString(req, 'username');
        if (username === undefined) throw missingParam("Missing string query parameter 'username'");
        await svc.usernameAvailable(username);
        return { available: true };
      },
    },

    // GET /_synapse/admin/v1/auth_providers/<provider>/users/<external_id> (Synapse 1.68; catalogue §3.20)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/auth_providers/:provider/users/:externalId',
      auth: 'admin',
      handler: async (req) => ({ user_id: await svc.userByExternalId(param(req, 'provider'), param(req, 'externalId')) }),
    },
    // GET /_synapse/admin/v1/threepid/<medium>/users/<address> (Synapse 1.72; catalogue §3.20)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/threepid/:medium/users/:address',
      auth: 'admin',
      handler: async (req) => ({ user_id: await svc.userByThreepid(param(req, 'medium'), param(req, 'address')) }),
    },

    // GET/PUT /_synapse/admin/v1/experimental_features/<user_id> (Synapse 1.83; catalogue §15)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/experimental_features/:userId',
      auth: 'admin',
      handler: async (req) => ({ features: await svc.features(param(req, 'userId')) }),
    },
    {
      method: 'PUT',
      path: '/_synapse/admin/v1/experimental_features/:userId',
      auth: 'admin',
      body: experimentalFeaturesBody,
      handler: async (req) => {
        const body = jsonObject(req);
        await svc.setFeatures(param(req, 'userId'), body);
        return {};
      },
    },

    // POST /_synapse/admin/v1/account_validity/validity (catalogue §14)
    {
      method: 'POST',
      path: '/_synapse/admin/v1/account_validity/validity',
      auth: 'admin',
      body: renewAccountBody,
      handler: async (req) => ({ expiration_ts: await svc.renewAccount(jsonObject(req)) }),
    },
  ];
};
