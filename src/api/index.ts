import type { Context } from '../context.js';
import type { RouteDef } from '../http/route.js';
import { auditLogRoutes } from './admin/audit-log.js';
import { backgroundUpdateRoutes } from './admin/background-updates.js';
import { federationAdminRoutes } from './admin/federation.js';
import { adminMediaRoutes } from './admin/media.js';
import { moderationRoutes } from './admin/moderation.js';
import { adminReportRoutes } from './admin/reports.js';
import { serverNoticeRoutes } from './admin/server-notices.js';
import { statisticsRoutes } from './admin/statistics.js';
import { sharedSecretRegisterRoutes } from './admin/register.js';
import { registrationTokenRoutes } from './admin/registration-tokens.js';
import { roomDeletionRoutes } from './admin/room-deletion.js';
import { adminRoomRoutes } from './admin/rooms.js';
import { serverVersionRoutes } from './admin/server-version.js';
import { userDataRoutes } from './admin/user-data.js';
import { userLifecycleRoutes } from './admin/user-lifecycle.js';
import { userListRoutes } from './admin/user-list.js';
import { userRoomRoutes } from './admin/user-rooms.js';
import { userSessionRoutes } from './admin/user-sessions.js';
import { adminUserRoutes } from './admin/users.js';
import { crossSigningAdminRoutes } from './admin/cross-signing.js';
import { accountDataRoutes } from './client/account-data.js';
import { presenceRoutes } from './client/presence.js';
import { tagRoutes } from './client/tags.js';
import { typingRoutes } from './client/typing.js';
import { accountRoutes } from './client/account.js';
import { capabilitiesRoutes } from './client/capabilities.js';
import { deviceRoutes } from './client/devices.js';
import { filterRoutes } from './client/filters.js';
import { notificationRoutes } from './client/notifications.js';
import { pushRuleRoutes } from './client/push-rules.js';
import { keysRoutes } from './client/keys.js';
import { loginRoutes } from './client/login.js';
import { syncRoutes } from './client/sync.js';
import { mediaRoutes } from './client/media.js';
import { profileRoutes } from './client/profile.js';
import { pusherRoutes } from './client/pushers.js';
import { receiptRoutes } from './client/receipts.js';
import { registerRoutes } from './client/register.js';
import { reportRoutes } from './client/reports.js';
import { roomDirectoryRoutes } from './client/room-directory.js';
import { roomHistoryRoutes } from './client/room-history.js';
import { roomKeysRoutes } from './client/room-keys.js';
import { roomRoutes } from './client/rooms.js';
import { toDeviceRoutes } from './client/to-device.js';
import { versionsRoutes } from './client/versions.js';
import { userDirectoryRoutes } from './client/user-directory.js';
import { miscClientRoutes } from './client/misc.js';
import { openIdFederationRoutes } from './federation/openid.js';
import { wellKnownRoutes } from './client/well-known.js';
import { keyServerRoutes } from './federation/keys.js';

/** Every route of a listener resource, by area. */

export const clientRoutes = (ctx: Context): RouteDef[] => [
  ...versionsRoutes(),
  ...loginRoutes(ctx),
  ...registerRoutes(ctx),
  ...accountRoutes(ctx),
  ...deviceRoutes(ctx),
  ...profileRoutes(ctx),
  ...capabilitiesRoutes(ctx),
  ...accountDataRoutes(ctx),
  ...tagRoutes(ctx),
  ...typingRoutes(ctx),
  ...presenceRoutes(ctx),
  ...pusherRoutes(ctx),
  ...filterRoutes(ctx),
  ...pushRuleRoutes(ctx),
  ...notificationRoutes(ctx),
  ...receiptRoutes(ctx),
  ...roomRoutes(ctx),
  ...roomHistoryRoutes(ctx),
  ...roomDirectoryRoutes(ctx),
  ...keysRoutes(ctx),
  ...roomKeysRoutes(ctx),
  ...toDeviceRoutes(ctx),
  ...syncRoutes(ctx),
  ...reportRoutes(ctx),
  ...mediaRoutes(ctx),
  ...userDirectoryRoutes(ctx),
  ...miscClientRoutes(ctx),
];

export const adminRoutes = (ctx: Context): RouteDef[] => [
  ...serverVersionRoutes(),
  ...sharedSecretRegisterRoutes(ctx),
  ...adminUserRoutes(ctx),
  ...userListRoutes(ctx),
  ...userLifecycleRoutes(ctx),
  ...userSessionRoutes(ctx),
  ...userDataRoutes(ctx),
  ...moderationRoutes(ctx),
  ...registrationTokenRoutes(ctx),
  ...userRoomRoutes(ctx),
  ...roomDeletionRoutes(ctx),
  ...adminRoomRoutes(ctx),
  ...crossSigningAdminRoutes(ctx),
  ...adminReportRoutes(ctx),
  ...serverNoticeRoutes(ctx),
  ...statisticsRoutes(ctx),
  ...federationAdminRoutes(ctx),
  ...backgroundUpdateRoutes(ctx),
  ...auditLogRoutes(ctx),
  ...adminMediaRoutes(ctx),
];

export { wellKnownRoutes };

export const federationRoutes = (ctx: Context): RouteDef[] => [...keyServerRoutes(ctx), ...openIdFederationRoutes(ctx)];
