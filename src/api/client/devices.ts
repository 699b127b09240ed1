import type { Context } from '../../context.js';
import { PASSWORD_FLOW, uiaRequestOf } from '../../services/uia.js';
import { MatrixError, badJson } from '../../errors.js';
import { jsonObject, type JsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import type { DeviceInfo } from '../../services/devices.js';
import { deleteDeviceBody, deleteDevicesBody, renameDeviceBody } from './bodies.js';

/**
 * The spec's Device object. Synapse also sends `user_id` and sends unset fields as null; the spec
 * types them as string/integer, "absent if not set", so Axon omits them instead.
 */
export function clientDevice(d: DeviceInfo): Record<string, unknown> {
  return {
    user_id: d.userId,
    device_id: d.deviceId,
    ...(d.displayName !== null ? { display_name: d.displayName } : {}),
    ...(d.lastSeenIp !== null ? { last_seen_ip: d.lastSeenIp } : {}),
    ...(d.lastSeenTs !== null ? { last_seen_ts: d.lastSeenTs } : {}),
  };
}

/** Synapse validates these bodies with pydantic v1 and returns its error text as M_BAD_JSON. */
const pydanticError = (model: string, loc: string, msg: string, type: string) =>
  badJson(`1 validation error for ${model}\n${loc}\n  ${msg} (type=${type})`);

/** A body that may be empty (older clients send none): an empty body reads as `{}`. */
function optionalBody(req: Parameters<typeof jsonObject>[0]): JsonObject {
  try {
    return jsonObject(req);
  } catch (e) {
    if (e instanceof MatrixError && e.errcode === 'M_NOT_JSON') return {};
    throw e;
  }
}

function checkAuthField(body: JsonObject, model: string): void {
  if (body.auth !== undefined && body.auth !== null && (typeof body.auth !== 'object' || Array.isArray(body.auth))) {
    throw pydanticError(model, 'auth', 'value is not a valid dict', 'type_error.dict');
  }
}


// GET/PUT/DELETE /_matrix/client/v3/devices[/{deviceId}], POST /delete_devices (spec §10.10).
export const deviceRoutes = (ctx: Context): RouteDef[] => {
  const devices = ctx.services.devices;
  const { uia } = ctx.services;
  return [
    {
      method: 'GET',
      path: clientPaths('/devices'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => ({ devices: (await devices.list(requesterOf(req).userId)).map(clientDevice) }),
    },
    {
      method: 'GET',
      path: clientPaths('/devices/:deviceId'),
      auth: 'user',
      allowGuests: true,
      handler: async (req) => {
        const { deviceId } = req.params as { deviceId: string };
        return clientDevice(await devices.get(requesterOf(req).userId, deviceId));
      },
    },
    {
      method: 'PUT',
      path: clientPaths('/devices/:deviceId'),
      auth: 'user',
      body: renameDeviceBody,
      allowGuests: true,
      handler: async (req) => {
        const { deviceId } = req.params as { deviceId: string };
        const body = jsonObject(req);
        const name = body.display_name;
        if (name !== undefined && name !== null && typeof name !== 'string') {
          throw pydanticError('PutBody', 'display_name', 'str type expected', 'type_error.str');
        }
        await devices.rename(requesterOf(req).userId, deviceId, name ?? undefined);
        return {};
      },
    },
    {
      method: 'DELETE',
      path: clientPaths('/devices/:deviceId'),
      auth: 'user',
      body: deleteDeviceBody,
      handler: async (req) => {
        const r = requesterOf(req);
        const { deviceId } = req.params as { deviceId: string };
        const body = optionalBody(req);
        checkAuthField(body, 'DeleteBody');
        await uia.check(body, PASSWORD_FLOW, r.userId, { request: uiaRequestOf(req), description: 'remove a device from your account' });
        await devices.delete(r.userId, [deviceId]);
        return {};
      },
    },
    {
      method: 'POST',
      path: clientPaths('/delete_devices'),
      auth: 'user',
      body: deleteDevicesBody,
      handler: async (req) => {
        const r = requesterOf(req);
        const body = optionalBody(req);
        checkAuthField(body, 'PostBody');
        const ids = body.devices;
        if (ids === undefined) throw pydanticError('PostBody', 'devices', 'field required', 'value_error.missing');
        if (ids === null) throw pydanticError('PostBody', 'devices', 'none is not an allowed value', 'type_error.none.not_allowed');
        if (!Array.isArray(ids)) throw pydanticError('PostBody', 'devices', 'value is not a valid list', 'type_error.list');
        const bad = ids.findIndex((d) => typeof d !== 'string');
        if (bad >= 0) throw pydanticError('PostBody', `devices -> ${bad}`, 'str type expected', 'type_error.str');
        await uia.check(body, PASSWORD_FLOW, r.userId, { request: uiaRequestOf(req), description: 'remove device(s) from your account' });
        await devices.delete(r.userId, ids as string[]);
        return {};
      },
    },
  ];
};
