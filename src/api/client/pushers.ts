import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';
import { PushersService, type Pusher } from '../../services/pushers.js';

/** A pusher as the client API shows it: without `enabled` and `device_id` (MSC3881 is off). */
const pusherJson = (p: Pusher) => ({
  app_display_name: p.appDisplayName,
  app_id: p.appId,
  data: p.data,
  device_display_name: p.deviceDisplayName,
  kind: p.kind,
  lang: p.lang,
  profile_tag: p.profileTag,
  pushkey: p.pushkey,
});

// GET /_matrix/client/v3/pushers, POST /_matrix/client/v3/pushers/set (spec "Push Notifications").
export const pusherRoutes = (ctx: Context): RouteDef[] => {
  const svc = new PushersService(ctx.storage.db, ctx.config.serverName);
  return [
    {
      method: 'GET',
      path: clientPaths('/pushers'),
      auth: 'user',
      handler: async (req) => ({ pushers: (await svc.list(requesterOf(req))).map(pusherJson) }),
    },
    {
      method: 'POST',
      path: clientPaths('/pushers/set'),
      auth: 'user',
      handler: async (req) => {
        await svc.set(requesterOf(req), jsonObject(req));
        return {};
      },
    },
  ];
};
