import type { Context } from '../../context.js';
import { MatrixError, badJson, badRequest, forbidden, missingParam } from '../../errors.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { checkDeviceDisplayName } from '../../services/devices.js';
import type { LoginIdentifier } from '../../services/login.js';
import { loginBody } from './bodies.js';

// GET/POST /_matrix/client/v3/login, POST /logout, /logout/all (spec §5.5).
export const loginRoutes = (ctx: Context): RouteDef[] => {
  const { accounts, logins } = ctx.services;
  return [
    {
      method: 'GET',
      path: clientPaths('/login'),
      auth: 'none',
      handler: async () => ({ flows: [{ type: 'm.login.password' }, { type: 'm.login.application_service' }] }),
    },
    {
      method: 'POST',
      path: clientPaths('/login'),
      auth: 'none',
      body: loginBody,
      handler: async (req) => {
        const body = jsonObject(req);
        if (typeof body.type === 'string') ctx.services.ratelimits.loginAddress.ratelimit(req.ip); // rc_login.address, per client IP
        if (body.type !== 'm.login.password') {
          if (typeof body.type !== 'string') throw missingParam("Missing params: ['type']");
          throw badRequest(`Unknown login type ${body.type}`);
        }
        if (typeof body.password !== 'string') throw missingParam("Missing params: ['password']");
        if (body.device_id !== undefined && body.device_id !== null && typeof body.device_id !== 'string') throw badJson('device_id must be a string');
        const name = typeof body.initial_device_display_name === 'string' ? body.initial_device_display_name : null;
        checkDeviceDisplayName(name);
        const id = identifierOf(body);
        const session = await ctx.services.ratelimits.guardPasswordLogin(id, () => logins.passwordLogin(id, body.password as string, (body.device_id as string | null) ?? null, name));
        return {
          user_id: session.userId,
          access_token: session.accessToken,
          home_server: ctx.config.serverName,
          device_id: session.deviceId,
          well_known: { 'm.homeserver': { base_url: ctx.config.publicBaseUrl } },
        };
      },
    },
    {
      method: 'POST',
      path: clientPaths('/logout'),
      auth: 'user',
      allowGuests: true,
      allowExpired: true,
      handler: async (req) => {
        const r = requesterOf(req);
        await accounts.logoutDevice(r.userId, r.deviceId, r.tokenId);
        return {};
      },
    },
    {
      method: 'POST',
      path: clientPaths('/logout/all'),
      auth: 'user',
      allowGuests: true,
      allowExpired: true,
      handler: async (req) => {
        await accounts.deleteDevices(requesterOf(req).userId, 'all');
        return {};
      },
    },
  ];
};

/** The `identifier` of a login (or the legacy top-level `user`/`medium`+`address`). */
function identifierOf(body: Record<string, unknown>): LoginIdentifier {
  const id = body.identifier as Record<string, unknown> | undefined;
  if (id && typeof id === 'object') {
    if (id.type === 'm.id.user' && typeof id.user === 'string') return { kind: 'user', user: id.user };
    if (id.type === 'm.id.thirdparty' && typeof id.medium === 'string' && typeof id.address === 'string')
      return { kind: 'threepid', medium: id.medium, address: id.address };
    if (id.type === 'm.id.user' || id.type === 'm.id.thirdparty') throw missingParam('Invalid identifier');
    throw new MatrixError(400, 'M_UNKNOWN', 'Unknown login identifier type');
  }
  if (typeof body.user === 'string') return { kind: 'user', user: body.user };
  if (typeof body.medium === 'string' && typeof body.address === 'string') return { kind: 'threepid', medium: body.medium, address: body.address };
  throw forbidden('Invalid username or password');
}
