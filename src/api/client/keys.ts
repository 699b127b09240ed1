import type { Context } from '../../context.js';
import { missingParam } from '../../errors.js';
import { jsonObject } from '../../http/body.js';
import { queryString } from '../../http/query.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { PASSWORD_FLOW, uiaRequestOf } from '../../services/uia.js';
import { deviceSigningBody, keysClaimBody, keysQueryBody, keysUploadBody, signaturesUploadBody } from './e2e-bodies.js';

const requiredQuery = (req: Parameters<typeof queryString>[0], name: string): string => {
  const v = queryString(req, name);
  if (v === undefined) throw missingParam(`Missing string query parameter '${name}'`);
  return v;
};

// End-to-end encryption keys (spec: Client-Server API, "End-to-End Encryption"): device, one-time
// and fallback keys, cross-signing. Guests may use the device-key endpoints, as in Synapse.
export const keysRoutes = (ctx: Context): RouteDef[] => {
  const { e2eKeys, uia } = ctx.services;
  return [
    {
      // `/keys/upload/{deviceId}` is the r0 form; the device is always the requester's own.
      method: 'POST',
      path: [...clientPaths('/keys/upload'), ...clientPaths('/keys/upload/:deviceId')],
      auth: 'user',
      body: keysUploadBody,
      allowGuests: true,
      handler: async (req) => {
        const r = requesterOf(req);
        return e2eKeys.upload(r.userId, r.deviceId, jsonObject(req));
      },
    },
    {
      method: 'POST',
      path: clientPaths('/keys/query'),
      auth: 'user',
      body: keysQueryBody,
      allowGuests: true,
      handler: async (req) => e2eKeys.query(requesterOf(req).userId, jsonObject(req)),
    },
    {
      method: 'POST',
      path: clientPaths('/keys/claim'),
      auth: 'user',
      body: keysClaimBody,
      allowGuests: true,
      handler: async (req) => e2eKeys.claim(jsonObject(req)),
    },
    {
      method: 'GET',
      path: clientPaths('/keys/changes'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => e2eKeys.changes(requesterOf(req).userId, requiredQuery(req, 'from'), requiredQuery(req, 'to')),
    },
    {
      method: 'POST',
      path: [...clientPaths('/keys/device_signing/upload'), '/_matrix/client/unstable/keys/device_signing/upload'],
      auth: 'user',
      body: deviceSigningBody,
      handler: async (req) => {
        const r = requesterOf(req);
        const body = jsonObject(req);
        await e2eKeys.uploadSigningKeys(r.userId, body, async () => {
          await uia.check(body, PASSWORD_FLOW, r.userId, { request: uiaRequestOf(req), description: 'reset the device signing key on your account' });
        });
        return {};
      },
    },
    {
      method: 'POST',
      path: [...clientPaths('/keys/signatures/upload'), '/_matrix/client/unstable/keys/signatures/upload'],
      auth: 'user',
      body: signaturesUploadBody,
      handler: async (req) => e2eKeys.uploadSignatures(requesterOf(req).userId, jsonObject(req)),
    },
  ];
};
