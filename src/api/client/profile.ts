import type { Context } from '../../context.js';
import { badJson, missingParam } from '../../errors.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { parseUserId } from '../../matrix/ids.js';
import type { Profile } from '../../services/profiles.js';
import { avatarUrlBody, displaynameBody } from './bodies.js';

/** Unset fields are omitted, as Synapse and the spec do. */
function profileBody(p: Profile, fields: Array<'displayname' | 'avatar_url'>): Record<string, string> {
  const out: Record<string, string> = {};
  if (fields.includes('displayname') && p.displayname !== null) out.displayname = p.displayname;
  if (fields.includes('avatar_url') && p.avatarUrl !== null) out.avatar_url = p.avatarUrl;
  return out;
}

const userIdParam = (req: { params: unknown }) => (req.params as { userId: string }).userId;

// GET /_matrix/client/v3/profile/{userId}[/displayname|/avatar_url], PUT of either field (spec §10.2).
export const profileRoutes = (ctx: Context): RouteDef[] => {
  const profiles = ctx.services.profiles;
  return [
    {
      method: 'GET',
      path: clientPaths('/profile/:userId'),
      auth: 'none',
      handler: async (req) => profileBody(await profiles.get(userIdParam(req)), ['displayname', 'avatar_url']),
    },
    {
      method: 'GET',
      path: clientPaths('/profile/:userId/displayname'),
      auth: 'none',
      handler: async (req) => profileBody(await profiles.get(userIdParam(req)), ['displayname']),
    },
    {
      method: 'GET',
      path: clientPaths('/profile/:userId/avatar_url'),
      auth: 'none',
      handler: async (req) => profileBody(await profiles.get(userIdParam(req)), ['avatar_url']),
    },
    {
      method: 'PUT',
      path: clientPaths('/profile/:userId/displayname'),
      auth: 'user',
      body: displaynameBody,
      allowGuests: true,
      handler: async (req) => {
        const userId = userIdParam(req);
        parseUserId(userId);
        const body = jsonObject(req);
        if (!('displayname' in body)) throw badJson('Unable to parse name');
        await profiles.setDisplayname(requesterOf(req), userId, body.displayname);
        return {};
      },
    },
    {
      method: 'PUT',
      path: clientPaths('/profile/:userId/avatar_url'),
      auth: 'user',
      body: avatarUrlBody,
      handler: async (req) => {
        const userId = userIdParam(req);
        parseUserId(userId);
        const body = jsonObject(req);
        if (!('avatar_url' in body)) throw missingParam("Missing key 'avatar_url'");
        await profiles.setAvatarUrl(requesterOf(req), userId, body.avatar_url);
        return {};
      },
    },
  ];
};
