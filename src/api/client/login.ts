import type { Context } from '../../context.js';
import { MatrixError, badJson, badRequest, forbidden, invalidParam, missingParam } from '../../errors.js';
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
        // Synapse's validate_login: a type or password of the wrong JSON type is M_INVALID_PARAM.
        if (body.type === undefined) throw missingParam("Missing params: ['type']");
        if (typeof body.type !== 'string') throw invalidParam('Bad parameter: type');
        if (body.type !== 'm.login.password') throw badRequest(`Unknown login type ${body.type}`);
        if (typeof body.password !== 'string') throw invalidParam('Bad parameter: password');
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
          ...(ctx.config.serveClientWellknown ? { well_known: { 'm.homeserver': { base_url: ctx.config.publicBaseUrl } } } : {}), // as /.well-known
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

/** A string field of a login: absent or empty is `missing`, another JSON type is M_INVALID_PARAM. */
function loginString(v: unknown, name: string, missing: () => MatrixError): string {
  if (v === undefined || v === null || v === '') throw missing();
  if (typeof v !== 'string') throw invalidParam(`Bad parameter: ${name}`);
  return v;
}

/** The `identifier` of a login (or the legacy top-level `user`/`medium`+`address`), with Synapse's texts. */
function identifierOf(body: Record<string, unknown>): LoginIdentifier {
  const id = body.identifier;
  if (id !== undefined && id !== null && (typeof id !== 'object' || Array.isArray(id))) throw invalidParam('Bad parameter: identifier');
  if (id && typeof id === 'object') {
    const ident = id as Record<string, unknown>;
    if (!('type' in ident)) throw missingParam("'identifier' dict has no key 'type'");
    if (ident.type === 'm.id.user') {
      return { kind: 'user', user: loginString(ident.user, 'user', () => badRequest("User identifier is missing 'user' key")) };
    }
    if (ident.type === 'm.id.thirdparty') {
      const missing = () => badRequest('Invalid thirdparty identifier');
      return { kind: 'threepid', medium: loginString(ident.medium, 'medium', missing), address: loginString(ident.address, 'address', missing) };
    }
    throw new MatrixError(400, 'M_UNKNOWN', 'Unknown login identifier type');
  }
  if (body.user !== undefined && body.user !== null && typeof body.user !== 'string') throw invalidParam('Bad parameter: user');
  if (typeof body.user === 'string') return { kind: 'user', user: body.user };
  if (typeof body.medium === 'string' && typeof body.address === 'string') return { kind: 'threepid', medium: body.medium, address: body.address };
  throw forbidden('Invalid username or password');
}
