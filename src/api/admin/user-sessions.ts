import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { requesterOf, type RouteDef, userIdParam } from '../../http/route.js';
import { adminDeviceJson, whoisJson } from './mappers/sessions.js';
import { createDeviceBody, deleteDevicesBody, loginAsBody, renameDeviceBody } from './bodies.js';

type Params = { userId: string; deviceId: string };
const params = (req: { params: unknown }) => req.params as Params;

/** The spec'd client-API aliases of whois: `/_matrix/client/{api/v1,r0,v3,unstable}/admin/whois/…`. */
const WHOIS_PATHS = [
  '/_synapse/admin/v1/whois/:userId',
  ...['api/v1', 'r0', 'v3', 'unstable'].map((v) => `/_matrix/client/${v}/admin/whois/:userId`),
];

export const userSessionRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.adminSessions;
  return [
    // GET /_synapse/admin/v1/whois/<user_id> (catalogue §3.8): any user may whois themselves,
    // so the admin check happens in the service, only for other targets.
    {
      method: 'GET',
      path: WHOIS_PATHS,
      auth: 'user',
      handler: async (req) => {
        const userId = userIdParam(req);
        return whoisJson(userId, await svc.whois(requesterOf(req), userId));
      },
    },
    // POST /_synapse/admin/v1/users/<user_id>/login (catalogue §3.13); the body may be empty.
    {
      method: 'POST',
      path: '/_synapse/admin/v1/users/:userId/login',
      auth: 'admin',
      body: loginAsBody,
      handler: async (req) => {
        const userId = userIdParam(req);
        return { access_token: await svc.loginAs(requesterOf(req), userId, () => jsonObject(req, { optional: true })) };
      },
    },
    // GET /_synapse/admin/v2/users/<user_id>/devices (catalogue §3.15)
    {
      method: 'GET',
      path: '/_synapse/admin/v2/users/:userId/devices',
      auth: 'admin',
      handler: async (req) => {
        const devices = (await svc.listDevices(userIdParam(req))).map(adminDeviceJson);
        return { devices, total: devices.length };
      },
    },
    // POST /_synapse/admin/v2/users/<user_id>/devices: 201 {} (catalogue §3.15, §22 #13)
    {
      method: 'POST',
      path: '/_synapse/admin/v2/users/:userId/devices',
      auth: 'admin',
      body: createDeviceBody,
      handler: async (req, reply) => {
        await svc.createDevice(userIdParam(req), () => jsonObject(req));
        reply.code(201);
        return {};
      },
    },
    // POST /_synapse/admin/v2/users/<user_id>/delete_devices (catalogue §3.15)
    {
      method: 'POST',
      path: '/_synapse/admin/v2/users/:userId/delete_devices',
      auth: 'admin',
      body: deleteDevicesBody,
      handler: async (req) => {
        await svc.deleteDevices(userIdParam(req), () => jsonObject(req));
        return {};
      },
    },
    // GET /_synapse/admin/v2/users/<user_id>/devices/<device_id> (catalogue §3.15)
    {
      method: 'GET',
      path: '/_synapse/admin/v2/users/:userId/devices/:deviceId',
      auth: 'admin',
      handler: async (req) => adminDeviceJson(await svc.getDevice(userIdParam(req), params(req).deviceId)),
    },
    // PUT /_synapse/admin/v2/users/<user_id>/devices/<device_id>: body may be empty (catalogue §3.15)
    {
      method: 'PUT',
      path: '/_synapse/admin/v2/users/:userId/devices/:deviceId',
      auth: 'admin',
      body: renameDeviceBody,
      handler: async (req) => {
        await svc.renameDevice(userIdParam(req), params(req).deviceId, () => jsonObject(req, { optional: true }));
        return {};
      },
    },
    // DELETE /_synapse/admin/v2/users/<user_id>/devices/<device_id>: the body is ignored (catalogue §3.15)
    {
      method: 'DELETE',
      path: '/_synapse/admin/v2/users/:userId/devices/:deviceId',
      auth: 'admin',
      handler: async (req) => {
        await svc.deleteDevice(userIdParam(req), params(req).deviceId);
        return {};
      },
    },
  ];
};
