import type { Context } from '../../context.js';
import { clientPaths, type RouteDef } from '../../http/route.js';

/** Room versions Axon advertises: the stable ones Synapse 1.94 knows, default "10" as there. */
export const DEFAULT_ROOM_VERSION = '10';
export const STABLE_ROOM_VERSIONS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'] as const;

// GET /_matrix/client/v3/capabilities (spec §6.5): what this server lets the caller change.
export const capabilitiesRoutes = (ctx: Context): RouteDef[] => {
  const cfg = ctx.config;
  const capabilities = {
    capabilities: {
      'm.room_versions': {
        default: DEFAULT_ROOM_VERSION,
        available: Object.fromEntries(STABLE_ROOM_VERSIONS.map((v) => [v, 'stable'])),
      },
      // Synapse's can_change_password: password auth (also "only_for_reauth") and the local db.
      'm.change_password': { enabled: cfg.password.enabled && cfg.password.localdbEnabled },
      'm.set_displayname': { enabled: cfg.enableSetDisplayname },
      'm.set_avatar_url': { enabled: cfg.enableSetAvatarUrl },
      'm.3pid_changes': { enabled: cfg.enable3pidChanges },
    },
  };
  return [
    {
      method: 'GET',
      path: clientPaths('/capabilities'),
      auth: 'user',
      allowGuests: true,
      handler: async () => capabilities,
    },
  ];
};
