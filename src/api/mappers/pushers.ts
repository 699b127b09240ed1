import type { Pusher } from '../../services/pushers.js';

/** A pusher as the client API shows it (spec "Push Notifications"; MSC3881 is off). */
export const pusherJson = (p: Pusher) => ({
  app_display_name: p.appDisplayName,
  app_id: p.appId,
  data: p.data,
  device_display_name: p.deviceDisplayName,
  kind: p.kind,
  lang: p.lang,
  profile_tag: p.profileTag,
  pushkey: p.pushkey,
});

/** A pusher in the admin API: Synapse's `as_dict()`, with the undocumented `enabled` and `device_id` (catalogue §3.16). */
export const adminPusherJson = (p: Pusher) => ({ ...pusherJson(p), enabled: p.enabled, device_id: p.deviceId });
