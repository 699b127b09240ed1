import type { Context } from '../../context.js';
import { queryString } from '../../http/query.js';
import type { RouteDef } from '../../http/route.js';

// GET /_matrix/federation/v1/openid/userinfo (server-server "OpenID"): a third party exchanges the
// token a user got from POST /user/{userId}/openid/request_token for that user's ID. No request
// signature: the token is the credential.
export const openIdFederationRoutes = (ctx: Context): RouteDef[] => [
  {
    method: 'GET',
    path: '/_matrix/federation/v1/openid/userinfo',
    auth: 'none',
    handler: async (req) => ctx.services.openId.userInfo(queryString(req, 'access_token')),
  },
];
