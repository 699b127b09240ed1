import type { Context } from '../../context.js';
import { MatrixError, badJson, badRequest, forbidden, missingParam } from '../../errors.js';
import { jsonObject } from '../../http/body.js';
import { queryString } from '../../http/query.js';
import { clientPaths, type RouteDef } from '../../http/route.js';
import { randomLetters } from '../../matrix/access-token.js';
import { REGISTRATION_TOKEN_STAGE } from '../../services/registration-tokens.js';
import { UiaRequired, uiaRequestOf, type UiaFlow } from '../../services/uia.js';
import { registerBody } from './bodies.js';

// Server-side data a registration keeps in its UIA session (as Synapse's UIAuthSessionDataConstants).
const PASSWORD_HASH = 'password_hash';
const REGISTERED_USER_ID = 'registered_user_id';

/**
 * POST /_matrix/client/v3/register (UIA: m.login.dummy, preceded by m.login.registration_token
 * when `registration_requires_token`), GET /register/available, and GET
 * /_matrix/client/v1/register/m.login.registration_token/validity (spec §5.6, §5.7).
 */
export const registerRoutes = (ctx: Context): RouteDef[] => {
  const { accounts, uia } = ctx.services;
  const cfg = ctx.config;
  const tokens = ctx.services.registrationTokens;
  const disabled = () => forbidden('Registration has been disabled');

  // Synapse's flows without 3PIDs: dummy, with the token stage prepended when tokens are required.
  const flows: UiaFlow[] = [{ stages: cfg.registrationRequiresToken ? [REGISTRATION_TOKEN_STAGE, 'm.login.dummy'] : ['m.login.dummy'] }];
  // Known whatever the config: sessions from a run that required tokens are still released on expiry.
  uia.registerStage(REGISTRATION_TOKEN_STAGE, tokens.stage());

  return [
    {
      method: 'POST',
      path: clientPaths('/register'),
      auth: 'none',
      body: registerBody,
      handler: async (req) => {
        const kind = queryString(req, 'kind') ?? 'user';
        if (kind === 'guest') throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access is disabled');
        if (kind !== 'user') throw new MatrixError(400, 'M_UNKNOWN', 'Invalid guest/kind');
        const body = jsonObject(req);
        ctx.services.ratelimits.registration.ratelimit(req.ip, { update: false }); // rc_registration: counted below, on success
        if ('username' in body && (typeof body.username !== 'string' || body.username.length > 512)) throw badRequest('Invalid username');
        if (!cfg.enableRegistration) throw disabled();
        const desired = typeof body.username === 'string' ? body.username.toLowerCase() : undefined;

        // The password never enters the UIA session; only its hash does, once a stage is pending.
        const { password: rawPassword, ...clientBody } = body;
        const password = rawPassword ?? null;
        if (password !== null && (typeof password !== 'string' || password.length > 512)) throw badRequest('Invalid password');
        if (password !== null) accounts.passwords.checkPolicy(password);
        // Synapse ignores a lone display name (a client bug wiped the stored parameters with it).
        if ('initial_device_display_name' in clientBody && password === null) delete clientBody.initial_device_display_name;
        if (body.device_id !== undefined && body.device_id !== null && typeof body.device_id !== 'string') throw badJson('device_id must be a string');

        const earlier = await uia.sessionData(uia.sessionIdOf(body));
        const registeredUserId = earlier?.[REGISTERED_USER_ID] as string | undefined;
        let passwordHash = earlier?.[PASSWORD_HASH] as string | undefined;
        if (desired !== undefined && accounts.userId(desired) !== registeredUserId) await accounts.checkUsername(desired);

        let result;
        try {
          // Retained after completion: a failed registration (name taken meanwhile) can be retried
          // with the same session without spending the token again, and under another name (the
          // parameters may change: the session authenticates nobody), as in Synapse.
          result = await uia.check(clientBody, flows, undefined, {
            request: uiaRequestOf(req),
            description: 'register a new account',
            retain: true,
            paramsMayChange: true,
          });
        } catch (e) {
          // The client need not send the password again in later requests of the session.
          if (e instanceof UiaRequired && password !== null && passwordHash === undefined) {
            const hash = await accounts.passwords.hash(password);
            await uia.setSessionData(e.sessionId, PASSWORD_HASH, hash);
          }
          throw e;
        }
        const params = result.params;
        const deviceId = typeof params.device_id === 'string' ? params.device_id : null;
        const displayName = typeof params.initial_device_display_name === 'string' ? params.initial_device_display_name : null;
        const inhibitLogin = params.inhibit_login === true;

        let userId = registeredUserId;
        let session;
        if (userId !== undefined) {
          // This session already registered its account: log it in again (Synapse's retry answer).
          session = inhibitLogin ? null : await accounts.createSession(userId, deviceId, displayName);
        } else {
          if (password !== null) passwordHash = await accounts.passwords.hash(password);
          if (passwordHash === undefined) throw missingParam('Missing params: password');
          // The username may come from an earlier request of the session.
          const stored = typeof params.username === 'string' ? params.username.toLowerCase() : undefined;
          if (stored !== undefined && desired === undefined) await accounts.checkUsername(stored);
          const token = result.results.get(REGISTRATION_TOKEN_STAGE) as string | undefined;
          ctx.services.ratelimits.registration.ratelimit(req.ip);
          const localpart = stored ?? randomLetters(12).toLowerCase();
          const sessionId = result.sessionId;
          const registered = await accounts.register({
            localpart,
            password: null,
            passwordHash,
            inhibitLogin,
            deviceId,
            initialDeviceDisplayName: displayName,
            // The token's use completes, and the session records its account, in the account's own
            // transaction: a crash cannot leave a use both spent and released on expiry.
            alsoIn: async (tx) => {
              if (typeof token === 'string') await tokens.completeIn(tx, token);
              await uia.setSessionData(sessionId, REGISTERED_USER_ID, accounts.userId(localpart), tx);
              await uia.settleIn(tx, sessionId);
            },
          });
          userId = registered.userId;
          session = registered.session;
        }
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
    // GET /_matrix/client/v1/register/m.login.registration_token/validity (spec v1.2; v1 and unstable only)
    {
      method: 'GET',
      path: ['/_matrix/client/v1', '/_matrix/client/unstable'].map((p) => `${p}/register/${REGISTRATION_TOKEN_STAGE}/validity`),
      auth: 'none',
      handler: async (req) => {
        if (!cfg.enableRegistration) throw disabled();
        const token = queryString(req, 'token');
        if (token === undefined) throw missingParam("Missing string query parameter 'token'");
        return { valid: await tokens.isValid(token) };
      },
    },
  ];
};
