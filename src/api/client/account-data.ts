import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { accountDataBody } from './bodies.js';

type Params = { userId: string; roomId?: string; type: string };

// PUT/GET /_matrix/client/v3/user/{userId}[/rooms/{roomId}]/account_data/{type} (spec "Client Config").
export const accountDataRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.accountData;
  const put: RouteDef['handler'] = async (req) => {
    const r = requesterOf(req);
    const { userId, roomId, type } = req.params as Params;
    // Ownership, room ID and type are checked before the body is read, as Synapse does.
    svc.checkWrite(r, userId, type, roomId);
    await svc.put(r, userId, type, jsonObject(req), roomId);
    return {};
  };
  const get: RouteDef['handler'] = async (req) => {
    const { userId, roomId, type } = req.params as Params;
    return svc.get(requesterOf(req), userId, type, roomId);
  };
  const global = clientPaths('/user/:userId/account_data/:type');
  const room = clientPaths('/user/:userId/rooms/:roomId/account_data/:type');
  return [
    { method: 'PUT', path: global, auth: 'user', body: accountDataBody, handler: put },
    { method: 'GET', path: global, auth: 'user', handler: get },
    { method: 'PUT', path: room, auth: 'user', body: accountDataBody, handler: put },
    { method: 'GET', path: room, auth: 'user', handler: get },
  ];
};
