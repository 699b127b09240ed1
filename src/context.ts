import { readFileSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import type { Config } from './config/schema.js';
import { newSigningKeyLine, parseSigningKey, type SigningKey } from './matrix/signing-key.js';
import { AccountDataService } from './services/account-data.js';
import { PresenceService } from './services/presence.js';
import { TypingService } from './services/typing.js';
import { AccountsService } from './services/accounts.js';
import { AdminSessionsService } from './services/admin-sessions.js';
import { AdminUsersService, USER_VIEW_TABLES } from './services/admin-users.js';
import { AdminRoomsService } from './services/admin-rooms.js';
import { AdminAuditService } from './services/admin-audit.js';
import { AdminStatsService } from './services/admin-stats.js';
import { MediaAdminService } from './services/media-admin.js';
import { BackgroundUpdatesService } from './services/background-updates.js';
import { FederationAdminService } from './services/federation-admin.js';
import { ReportsService } from './services/reports.js';
import { ServerNoticesService } from './services/server-notices.js';
import { AuthService, TOKEN_CACHE_TABLES } from './services/auth.js';
import { ClientIpsService } from './services/client-ips.js';
import { DevicesService } from './services/devices.js';
import { E2eKeysService } from './services/e2e-keys.js';
import { KeyBackupService } from './services/key-backup.js';
import { ToDeviceService } from './services/to-device.js';
import { LoginService } from './services/login.js';
import { MediaService } from './services/media/media.js';
import { ModerationService } from './services/moderation.js';
import { Passwords } from './services/passwords.js';
import { ProfilesService } from './services/profiles.js';
import { PushersService } from './services/pushers.js';
import { FiltersService } from './services/filters.js';
import { NotificationsService, PushEvaluator } from './services/notifications.js';
import { ReceiptsService } from './services/receipts.js';
import { PusherQueue } from './services/pusher-queue.js';
import { PushRulesService } from './services/push-rules.js';
import { RateLimits } from './services/ratelimit.js';
import { RegistrationTokensService } from './services/registration-tokens.js';
import { ServerKeysService } from './services/server-keys.js';
import { SharedSecretRegistration } from './services/shared-secret.js';
import { UserInteractiveAuth } from './services/uia.js';
import { UserLifecycleService } from './services/user-lifecycle.js';
import { UserListService } from './services/user-list.js';
import { UserDirectoryService } from './services/user-directory.js';
import { OpenIdService } from './services/openid.js';
import { TurnService } from './services/turn.js';
import { RoomInitialSyncService } from './services/room-initial-sync.js';
import { EventCreator } from './services/rooms/event-creator.js';
import { Persister, ROOM_EVENTS_TOPIC } from './services/rooms/persister.js';
import { RoomActors, StateGroupIds } from './services/rooms/room-actor.js';
import { RoomHistoryService } from './services/rooms/history.js';
import { RoomsService } from './services/rooms/rooms.js';
import { RoomSections } from './services/sync/room-sections.js';
import { SyncService, type SyncSources } from './services/sync/sync.js';
import { SyncWaiters } from './services/sync/waiters.js';
import { joinedRoomsOf } from './storage/stores/sync.js';
import { RoomDirectoryService } from './services/rooms/directory.js';
import { RoomUpgradeService } from './services/rooms/upgrade.js';
import { MembershipEffects } from './services/rooms/membership-effects.js';
import { SendPolicy } from './services/rooms/send-policy.js';
import { StreamPositions } from './services/rooms/stream-positions.js';
import { RoomDeletionService } from './services/rooms/room-deletion.js';
import { PurgeHistoryService } from './services/rooms/purge.js';
import { UserRedactionService } from './services/rooms/user-redaction.js';
import { TaskScheduler } from './services/tasks.js';
import { allocatorStarts } from './storage/stores/events.js';
import { openStorage, type Storage } from './storage/database.js';
import { migrate } from './storage/migrations/index.js';
import { ChangeCache } from './storage/change-cache.js';

export interface Services {
  /** End-to-end keys and the device-list stream (`deviceListPosition`, topic 'device_lists'). */
  e2eKeys: E2eKeysService;
  /** Server-side key backups. */
  keyBackup: KeyBackupService;
  /** To-device messages: `send`, and for /sync `toDeviceSince`, `deleteToDeviceUpTo`, `position` (topic 'to_device'). */
  toDevice: ToDeviceService;
  auth: AuthService;
  accounts: AccountsService;
  adminUsers: AdminUsersService;
  sharedSecret: SharedSecretRegistration;
  logins: LoginService;
  uia: UserInteractiveAuth;
  /** In-memory rate limiters (rc_login, rc_registration, rc_message). */
  ratelimits: RateLimits;
  /** Client IP / user-agent sightings, buffered in memory and flushed every few seconds. */
  clientIps: ClientIpsService;
  /** The admin users list; holds its page and anchor caches, so one per process. */
  userList: UserListService;
  userLifecycle: UserLifecycleService;
  adminSessions: AdminSessionsService;
  moderation: ModerationService;
  registrationTokens: RegistrationTokensService;
  /** Account data and room tags (one stream; `accountDataForSync`, `position`, topic 'account_data'). */
  accountData: AccountDataService;
  /** Typing, in memory (`typingForSync`, `position`, topic 'typing' keyed by room). */
  typing: TypingService;
  /** Presence (`presenceForSync`, `syncStarted`/`syncEnded`, `position`, topic 'presence'). */
  presence: PresenceService;
  pushers: PushersService;
  filters: FiltersService;
  /** Push rules; caches each user's compiled rules for the send path. */
  pushRules: PushRulesService;
  /** GET /notifications and unread counts (rows written with each event by PushEvaluator). */
  notifications: NotificationsService;
  /** Read receipts and read markers; for /sync `receiptsForSync` and `position` (topic 'receipts', keyed by room ID). */
  receipts: ReceiptsService;
  /** Delivers what HTTP pushers are owed to their push gateways (docs/notifications.md). */
  pusherQueue: PusherQueue;
  devices: DevicesService;
  profiles: ProfilesService;
  serverKeys: ServerKeysService;
  rooms: RoomsService;
  /** Reads of room history (messages, context, members, relations, threads, hierarchy), visibility applied. */
  roomHistory: RoomHistoryService;
  /** Room aliases, the public room directory, forgetting rooms. */
  roomDirectory: RoomDirectoryService;
  roomUpgrades: RoomUpgradeService;
  /** Stream positions of room events: `current` is what readers may see. */
  streamPositions: StreamPositions;
  persister: Persister;
  /** Background tasks on `scheduled_tasks` (room deletion v2, history purges, user redactions). */
  tasks: TaskScheduler;
  roomDeletion: RoomDeletionService;
  purgeHistory: PurgeHistoryService;
  userRedaction: UserRedactionService;
  /** The Admin API's room views and actions, blocked rooms, a user's rooms; caches the room list. */
  adminRooms: AdminRoomsService;
  /** Event, room and user reports, and their admin views. */
  reports: ReportsService;
  serverNotices: ServerNoticesService;
  adminStats: AdminStatsService;
  backgroundUpdates: BackgroundUpdatesService;
  federationAdmin: FederationAdminService;
  /** The media repository for clients: uploads, downloads, thumbnails, URL previews (docs/media.md). */
  media: MediaService;
  /** The admin audit log (beyond Synapse), written by the HTTP layer after each admin call. */
  adminAudit: AdminAuditService;
  /** POST /user_directory/search with Synapse's visibility (`user_directory` config). */
  userDirectory: UserDirectoryService;
  /** OpenID tokens for third parties, and the federation /openid/userinfo check. */
  openId: OpenIdService;
  /** TURN credentials for /voip/turnServer. */
  turn: TurnService;
  /** The legacy GET /rooms/{roomId}/initialSync. */
  roomInitialSync: RoomInitialSyncService;
  /** The media Admin API: listings, quarantine, protection, deletion (rows, then files) and statistics. */
  mediaAdmin: MediaAdminService;
  /** GET /sync: initial, incremental and long-polling syncs (docs/sync.md). */
  sync: SyncService;
}

/** The composition root: configuration, logger, storage and the services built on them. */
export interface Context {
  config: Config;
  log: Logger;
  storage: Storage;
  signingKey: SigningKey;
  services: Services;
  close(): Promise<void>;
}

export interface ContextOptions {
  log?: Logger;
  /** Storage opened by the caller (tests); otherwise opened from the config. */
  storage?: Storage;
  /** Signing key text; otherwise read from `signing_key_path`. */
  signingKeyText?: string;
}

function loadSigningKey(config: Config, text: string | undefined): SigningKey {
  if (text !== undefined) return parseSigningKey(text);
  try {
    return parseSigningKey(readFileSync(config.signingKeyPath, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`signing key file not found: ${config.signingKeyPath}`);
    throw e;
  }
}

export async function createContext(config: Config, opts: ContextOptions = {}): Promise<Context> {
  const log = opts.log ?? pino({ level: process.env.AXON_LOG_LEVEL ?? 'info' });
  const signingKey = loadSigningKey(config, opts.signingKeyText);
  const storage = opts.storage ?? (await openStorage(config.database));
  await migrate(storage.db, storage.dialect);
  await storage.watchChanges();

  const db = storage.db;
  const passwords = new Passwords(config.bcryptRounds, config.password);
  const accounts = new AccountsService(db, config, passwords);
  const clientIps = new ClientIpsService(db, log);
  const profiles = new ProfilesService(db, config, accounts);
  // The room pipeline: actors build and check events, the persister writes them in group commits.
  const starts = await allocatorStarts(db);
  const streamPositions = new StreamPositions(starts.stream);
  const isLocalUser = (userId: string) => accounts.isLocal(userId);
  const actors = new RoomActors(db, isLocalUser);
  const persister = new Persister(db, streamPositions, log, (roomId, generation) => actors.invalidate(roomId, generation));
  const eventCreator = new EventCreator(db, config.serverName, signingKey, actors, persister, new StateGroupIds(starts.stateGroup), isLocalUser);
  // Push rules are evaluated for every event, in its own transaction (see PushEvaluator).
  const pushRules = new PushRulesService(db, storage.notifier, () => streamPositions.current);
  const pushEvaluator = new PushEvaluator(pushRules, isLocalUser);
  // `push.enabled: false` turns evaluation off, as in Synapse (no counts, nothing to push).
  if (config.push.enabled) {
    eventCreator.appendHooks.push(pushEvaluator.onAppend);
    persister.hooks.push(pushEvaluator);
  }
  const notifications = new NotificationsService(db, () => streamPositions.current);
  // Pushers are owed what their users' push actions name after their position (start_pushers: false records only).
  const pusherQueue = new PusherQueue(db, storage.notifier, streamPositions, notifications, log, {
    deliver: config.push.enabled && config.push.startPushers,
    includeContent: config.push.includeContent,
    groupUnreadCountByRoom: config.push.groupUnreadCountByRoom,
  });
  const ratelimits = new RateLimits(db, config.rateLimits, config.serverName, undefined, new ChangeCache(storage.notifier, ['ratelimit_override']));
  // Deactivation and profile changes reach the user's rooms (accounts are built before the rooms).
  accounts.roomHooks = new MembershipEffects(db, eventCreator, log);
  // Every service is built here, once, so route modules never see the database and every listener
  // shares one set of caches.
  // Reports and server notices (issue 9): notices are the server's events, outside rate limits.
  // Rooms as the server acts in them (server notices, a deletion's replacement room): outside any
  // client's rate limit and shadow-ban.
  const serverRooms = new RoomsService(db, { serverName: config.serverName, defaultRoomVersion: config.defaultRoomVersion }, eventCreator, profiles);
  const roomHistory = new RoomHistoryService(db, actors, streamPositions);
  // Account data and room tags: one in-memory stream (topic 'account_data'); server notices tag their room.
  const accountData = await AccountDataService.open(db, config.serverName);
  // Presence and typing (docs/presence-typing.md): typing stops when a membership leaves 'join'; typing is activity.
  const presence = await PresenceService.open(db, config.presence, log);
  const typing = new TypingService(db, config.serverName, storage.notifier);
  typing.onActivity = (userId) => presence.bumpActive(userId);
  // Sending an event is activity too, as in Synapse (a sender reads as online and currently active).
  eventCreator.appendHooks.push((_actor, write) => {
    if (isLocalUser(write.sender)) presence.bumpActive(write.sender);
  });
  persister.hooks.push(typing);
  const issue9 = {
    reports: new ReportsService(db, config.serverName, roomHistory),
    serverNotices: new ServerNoticesService(db, config, accounts, serverRooms, log, accountData),
    adminStats: new AdminStatsService(db, log),
    backgroundUpdates: new BackgroundUpdatesService(),
    federationAdmin: new FederationAdminService(),
    adminAudit: new AdminAuditService(db, log),
  };
  // End-to-end encryption: keys and to-device messages, each with its own in-memory stream.
  const e2e = {
    e2eKeys: await E2eKeysService.open(db, config.serverName),
    keyBackup: new KeyBackupService(db),
    toDevice: await ToDeviceService.open(db, config.serverName),
  };
  accounts.deviceHooks = e2e.e2eKeys;
  const rooms = new RoomsService(db, { serverName: config.serverName, defaultRoomVersion: config.defaultRoomVersion }, eventCreator, profiles, new SendPolicy(ratelimits, actors, config.serverName));
  const adminRooms = new AdminRoomsService(db, storage.notifier, { serverName: config.serverName }, rooms, roomHistory, persister, streamPositions);
  rooms.isBlocked = (roomId) => adminRooms.isBlocked(roomId);
  // Tasks: room deletions, history purges and user redactions (started below: interrupted ones resume).
  const tasks = new TaskScheduler(db, log);
  const filters = new FiltersService(db, config.serverName);
  // What /sync reads from the services below (filled in once they are built).
  const syncSources: SyncSources = {};
  const sync = new SyncService({
    db,
    roomPositions: streamPositions,
    sections: new RoomSections(db, actors, roomHistory),
    waiters: new SyncWaiters(storage.notifier, {
      roomEventsTopic: ROOM_EVENTS_TOPIC,
      roomEventsVisible: () => streamPositions.caughtUp(),
      roomsOf: (userId) => joinedRoomsOf(db, userId),
    }),
    filters,
    pushRules,
    e2eKeys: e2e.e2eKeys,
    toDevice: e2e.toDevice,
    sources: syncSources,
  });
  const services: Services = {
    tasks,
    sync,
    roomDeletion: new RoomDeletionService(db, config.serverName, eventCreator, serverRooms, tasks, log),
    purgeHistory: new PurgeHistoryService(db, config.serverName, actors, tasks),
    userRedaction: new UserRedactionService(db, config.serverName, eventCreator, tasks),
    ...e2e,
    ...issue9,
    auth: new AuthService(db, { accountValidity: config.accountValidity.enabled, cache: new ChangeCache(storage.notifier, TOKEN_CACHE_TABLES) }),
    accounts,
    adminUsers: new AdminUsersService(db, config, accounts, new ChangeCache(storage.notifier, USER_VIEW_TABLES)),
    sharedSecret: new SharedSecretRegistration(db, config.registrationSharedSecret, accounts),
    logins: new LoginService(db, accounts),
    uia: new UserInteractiveAuth(db, accounts),
    ratelimits,
    clientIps,
    userList: new UserListService(db, storage.notifier),
    userLifecycle: new UserLifecycleService(db, accounts),
    adminSessions: new AdminSessionsService(db, accounts, clientIps),
    moderation: new ModerationService(db, config, accounts),
    registrationTokens: new RegistrationTokensService(db),
    accountData,
    typing,
    presence,
    pushers: new PushersService(db, config.serverName, () => streamPositions.current),
    filters,
    pushRules,
    notifications,
    pusherQueue,
    receipts: await ReceiptsService.open(db, roomHistory.visibility, accountData),
    devices: new DevicesService(db, accounts, clientIps),
    profiles,
    serverKeys: new ServerKeysService(config.serverName, signingKey),
    rooms,
    roomDirectory: new RoomDirectoryService(db, { serverName: config.serverName }, eventCreator),
    roomUpgrades: new RoomUpgradeService(db, { serverName: config.serverName }, eventCreator, profiles),
    roomHistory,
    streamPositions,
    persister,
    adminRooms,
    userDirectory: new UserDirectoryService(db, config.userDirectory, config.serverName),
    openId: new OpenIdService(db, config.serverName),
    turn: new TurnService(config.turn),
    roomInitialSync: new RoomInitialSyncService(db, roomHistory),
    mediaAdmin: new MediaAdminService(db, config.serverName, config.mediaStorePath, log),
    media: new MediaService(db, config, log, new ChangeCache(storage.notifier, ['local_media_repository'])),
  };
  // Room deletion and history purges may take the room's media with them (axon_delete_media).
  services.roomDeletion.mediaHook = services.mediaAdmin;
  services.purgeHistory.mediaHook = services.mediaAdmin;
  Object.assign(syncSources, {
    typing,
    presence,
    accountData,
    receipts: services.receipts,
    unreadCounts: (userId, roomIds, threaded) => notifications.unreadCountsForSync(userId, roomIds, threaded),
  } satisfies SyncSources);
  services.clientIps.start();
  services.receipts.listeners.push((userIds) => pusherQueue.onReceipts(userIds));
  pusherQueue.start();
  // Half-written uploads a crash left behind are removed before anything is served.
  await services.media.start();
  presence.start();
  await tasks.start();
  const close = async () => {
    // Running tasks stop after their current step and resume on the next start.
    await tasks.stop();
    typing.close();
    await presence.close();
    // Pending client IPs are written before the database goes away.
    await services.clientIps.close();
    await pusherQueue.stop();
    await services.adminAudit.flush();
    // Thumbnails in progress finish and download times are written.
    await services.media.close();
    await persister.drained();
    await storage.close();
  };
  return { config, log, storage, signingKey, services, close };
}

/** A fresh signing key, for tests and first starts. */
export const generateSigningKeyText = newSigningKeyLine;
