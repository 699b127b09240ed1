import type { Context } from '../../context.js';
import { PASSWORD_FLOW, uiaRequestOf } from '../../services/uia.js';
import { badJson, forbidden, missingParam } from '../../errors.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { deactivateBody, passwordBody } from './bodies.js';

// /_matrix/client/v3/account/{whoami,password,deactivate} (spec §5.6, §5.8).
export const accountRoutes = (ctx: Context): RouteDef[] => {
  const { accounts, uia } = ctx.services;
  return [
    {
      method: 'GET',
      path: clientPaths('/account/whoami'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => {
        const r = requesterOf(req);
        return { user_id: r.userId, is_guest: r.isGuest, ...(r.deviceId !== null ? { device_id: r.deviceId } : {}) };
      },
    },
    {
      method: 'POST',
      path: clientPaths('/account/password'),
      auth: 'user',
      body: passwordBody,
      handler: async (req) => {
        const r = requesterOf(req);
        const body = jsonObject(req);
        if (!ctx.config.password.enabled || !ctx.config.password.localdbEnabled) throw forbidden('Password change disabled');
        const newPassword = body.new_password;
        if (newPassword !== undefined && (typeof newPassword !== 'string' || newPassword.length > 512)) throw badJson('Invalid password');
        // The body is validated before UIA, as Synapse's request model does.
        const logoutDevices = body.logout_devices ?? true;
        if (typeof logoutDevices !== 'boolean') throw badJson('logout_devices must be a boolean');
        if (typeof newPassword === 'string') accounts.passwords.checkPolicy(newPassword);
        // The new password never enters the session in clear; a later request may not change it.
        await uia.check(body, PASSWORD_FLOW, r.userId, {
          request: uiaRequestOf(req),
          description: 'modify your account password',
          secretParams: ['new_password'],
        });
        if (typeof newPassword !== 'string' || newPassword === '') throw missingParam('Missing params: password');
        await accounts.setPassword(r.userId, newPassword, { logoutDevices, except: { deviceId: r.deviceId, tokenId: r.tokenId } });
        return {};
      },
    },
    {
      method: 'POST',
      path: clientPaths('/account/deactivate'),
      auth: 'user',
      body: deactivateBody,
      handler: async (req) => {
        const r = requesterOf(req);
        const body = jsonObject(req);
        const erase = body.erase ?? false;
        if (typeof erase !== 'boolean') throw badJson("Param 'erase' must be a boolean, if given");
        await uia.check(body, PASSWORD_FLOW, r.userId, { request: uiaRequestOf(req), description: 'deactivate your account' });
        await accounts.deactivate(r.userId, { erase });
        return { id_server_unbind_result: 'success' };
      },
    },
  ];
};
