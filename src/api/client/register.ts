import type { Context } from '../../context.js';
import { MatrixError, badJson, forbidden, missingParam } from '../../errors.js';
import { jsonObject } from '../../http/body.js';
import { queryString } from '../../http/query.js';
import { clientPaths, type RouteDef } from '../../http/route.js';
import { randomLetters } from '../../matrix/access-token.js';

// POST /_matrix/client/v3/register (UIA: m.login.dummy), GET /register/available (spec §5.6).
export const registerRoutes = (ctx: Context): RouteDef[] => {
  const { accounts, uia } = ctx.services;
  const cfg = ctx.config;
  const disabled = () => forbidden('Registration has been disabled');
  return [
    {
      method: 'POST',
      path: clientPaths('/register'),
      auth: 'none',
      handler: async (req) => {
        const kind = queryString(req, 'kind') ?? 'user';
        if (kind === 'guest') throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access is disabled');
        if (kind !== 'user') throw new MatrixError(400, 'M_UNKNOWN', 'Invalid guest/kind');
        const body = jsonObject(req);
        if (!cfg.enableRegistration) throw disabled();
        if (body.username !== undefined && typeof body.username !== 'string') throw badJson('Invalid username');
        if (body.password !== undefined && (typeof body.password !== 'string' || body.password.length > 512)) throw badJson('Invalid password');
        if (body.device_id !== undefined && body.device_id !== null && typeof body.device_id !== 'string') throw badJson('device_id must be a string');
        const localpart = typeof body.username === 'string' ? body.username.toLowerCase() : randomLetters(12).toLowerCase();
        await accounts.checkUsername(localpart);
        if (typeof body.password === 'string') accounts.passwords.checkPolicy(body.password);
        await uia.check(body, [{ stages: ['m.login.dummy'] }]);
        if (typeof body.password !== 'string') throw missingParam("Missing params: ['password']");
        const inhibitLogin = body.inhibit_login === true;
        const { userId, session } = await accounts.register({
          localpart,
          password: body.password,
          inhibitLogin,
          deviceId: (body.device_id as string | null | undefined) ?? null,
          initialDeviceDisplayName: typeof body.initial_device_display_name === 'string' ? body.initial_device_display_name : null,
        });
        return {
          user_id: userId,
          home_server: cfg.serverName,
          ...(session ? { access_token: session.accessToken, device_id: session.deviceId } : {}),
        };
      },
    },
    {
      method: 'GET',
      path: clientPaths('/register/available'),
      auth: 'none',
      handler: async (req) => {
        if (!cfg.enableRegistration) throw disabled();
        const username = queryString(req, 'username');
        if (username === undefined) throw missingParam("Missing string query parameter 'username'");
        await accounts.checkUsername(username);
        return { available: true };
      },
    },
  ];
};
