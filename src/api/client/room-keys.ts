import type { Context } from '../../context.js';
import { badJson } from '../../errors.js';
import { jsonObject, type JsonObject } from '../../http/body.js';
import { queryString } from '../../http/query.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { backupKeysBody, backupRoomBody, backupSessionBody, backupVersionBody, ignoredBody } from './e2e-bodies.js';

type Params = { version?: string; roomId?: string; sessionId?: string };
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{sessions: {id: key}}` of a room, checked to be objects (the keys themselves by the service). */
function sessionsOf(v: unknown, where: string): Record<string, unknown> {
  if (!isObject(v) || !isObject(v.sessions)) throw badJson(`${where} must be an object with a 'sessions' object`);
  return v.sessions;
}

// Server-side key backups (spec: "Server-side key backups"): versions and the keys in them.
export const roomKeysRoutes = (ctx: Context): RouteDef[] => {
  const backup = ctx.services.keyBackup;
  const user = (req: Parameters<typeof requesterOf>[0]) => requesterOf(req).userId;
  const p = (req: { params: unknown }) => req.params as Params;
  return [
    { method: 'POST', path: clientPaths('/room_keys/version'), auth: 'user', body: backupVersionBody, handler: async (req) => backup.createVersion(user(req), jsonObject(req)) },
    { method: 'GET', path: clientPaths('/room_keys/version'), auth: 'user', handler: async (req) => backup.getVersion(user(req)) },
    { method: 'GET', path: clientPaths('/room_keys/version/:version'), auth: 'user', handler: async (req) => backup.getVersion(user(req), p(req).version) },
    {
      method: 'PUT',
      path: clientPaths('/room_keys/version/:version'),
      auth: 'user',
      body: backupVersionBody,
      handler: async (req) => {
        await backup.updateVersion(user(req), p(req).version!, jsonObject(req));
        return {};
      },
    },
    {
      method: 'DELETE',
      path: clientPaths('/room_keys/version/:version'),
      auth: 'user',
      body: ignoredBody,
      handler: async (req) => {
        await backup.deleteVersion(user(req), p(req).version);
        return {};
      },
    },
    {
      method: 'PUT',
      path: clientPaths('/room_keys/keys'),
      auth: 'user',
      body: backupKeysBody,
      handler: async (req) => {
        const body = jsonObject(req);
        if (!isObject(body.rooms)) throw badJson("'rooms' must be a JSON object");
        const rooms: Record<string, Record<string, unknown>> = {};
        for (const [roomId, room] of Object.entries(body.rooms)) rooms[roomId] = sessionsOf(room, `rooms.${roomId}`);
        return backup.putKeys(user(req), queryString(req, 'version'), rooms);
      },
    },
    {
      method: 'PUT',
      path: clientPaths('/room_keys/keys/:roomId'),
      auth: 'user',
      body: backupRoomBody,
      handler: async (req) => backup.putKeys(user(req), queryString(req, 'version'), { [p(req).roomId!]: sessionsOf(jsonObject(req), 'body') }),
    },
    {
      method: 'PUT',
      path: clientPaths('/room_keys/keys/:roomId/:sessionId'),
      auth: 'user',
      body: backupSessionBody,
      handler: async (req) => backup.putKeys(user(req), queryString(req, 'version'), { [p(req).roomId!]: { [p(req).sessionId!]: jsonObject(req) } }),
    },
    { method: 'GET', path: clientPaths('/room_keys/keys'), auth: 'user', handler: async (req) => backup.getKeys(user(req), queryString(req, 'version')) },
    {
      method: 'GET',
      path: clientPaths('/room_keys/keys/:roomId'),
      auth: 'user',
      handler: async (req) => backup.getKeys(user(req), queryString(req, 'version'), p(req).roomId),
    },
    {
      method: 'GET',
      path: clientPaths('/room_keys/keys/:roomId/:sessionId'),
      auth: 'user',
      handler: async (req) => backup.getKeys(user(req), queryString(req, 'version'), p(req).roomId, p(req).sessionId),
    },
    { method: 'DELETE', path: clientPaths('/room_keys/keys'), auth: 'user', body: ignoredBody, handler: async (req) => backup.deleteKeys(user(req), queryString(req, 'version')) },
    {
      method: 'DELETE',
      path: clientPaths('/room_keys/keys/:roomId'),
      auth: 'user',
      body: ignoredBody,
      handler: async (req) => backup.deleteKeys(user(req), queryString(req, 'version'), p(req).roomId),
    },
    {
      method: 'DELETE',
      path: clientPaths('/room_keys/keys/:roomId/:sessionId'),
      auth: 'user',
      body: ignoredBody,
      handler: async (req) => backup.deleteKeys(user(req), queryString(req, 'version'), p(req).roomId, p(req).sessionId),
    },
  ];
};
