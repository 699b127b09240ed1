import { MatrixError } from '../../errors.js';
import { eventMatchesFilter, roomMatchesFilter, type EventFilter, type Filter } from '../../matrix/filters.js';
import type { Db } from '../../storage/database.js';
import * as store from '../../storage/stores/sync.js';
import type { MembershipRow } from '../../storage/stores/sync.js';
import type { Requester } from '../auth.js';
import type { E2eKeysService } from '../e2e-keys.js';
import type { FiltersService } from '../filters.js';
import type { PushRulesService } from '../push-rules.js';
import type { StreamPositions } from '../rooms/stream-positions.js';
import type { ToDeviceService } from '../to-device.js';
import { BuildSlots } from './build-slots.js';
import type { RoomSections, RoomSection } from './room-sections.js';
import { formatSyncToken, parseSyncToken, sameToken, ZERO_TOKEN, type SyncToken } from './token.js';
import type { SyncWaiters } from './waiters.js';

type Json = Record<string, unknown>;
type Ephemeral = { type: string; content: Json };
type Counts = { notification_count: number; highlight_count: number };
export type PresenceState = 'online' | 'offline' | 'unavailable';

/**
 * The per-user streams other services keep, as /sync reads them. Each is optional so that /sync
 * works (with that part empty) in a composition that has not wired it.
 */
export interface SyncSources {
  typing?: { readonly position: number; typingForSync(roomIds: readonly string[], from: number): Map<string, Ephemeral> };
  receipts?: {
    readonly position: number;
    /** Resolves once every position allocated so far is published (see SyncService.movedSince). */
    visible?(): Promise<void>;
    receiptsForSync(userId: string, roomIds: readonly string[], from: number, to: number): Promise<Map<string, Ephemeral>>;
  };
  presence?: {
    readonly position: number;
    visible?(): Promise<void>;
    readonly enabled: boolean;
    presenceForSync(userId: string, from: number, to: number): Promise<Array<{ type: string; sender: string; content: Json }>>;
    syncStarted(userId: string, setPresence: PresenceState): Promise<void>;
    syncEnded(userId: string): void;
  };
  accountData?: {
    readonly position: number;
    visible?(): Promise<void>;
    accountDataForSync(
      userId: string,
      from: number,
      to: number,
    ): Promise<{ global: Array<{ type: string; content: unknown }>; rooms: Map<string, Array<{ type: string; content: unknown }>> }>;
  };
  unreadCounts?: (userId: string, roomIds: readonly string[], threaded: boolean) => Promise<Map<string, Counts & { threads: Record<string, Counts> }>>;
}

export interface SyncDeps {
  db: Db;
  roomPositions: StreamPositions;
  sections: RoomSections;
  waiters: SyncWaiters;
  filters: FiltersService;
  pushRules: PushRulesService;
  e2eKeys: E2eKeysService;
  toDevice: ToDeviceService;
  sources: SyncSources;
}

export interface SyncRequest {
  since?: string;
  /** The filter parameter as given: inline JSON or a filter ID. */
  filter?: string;
  fullState: boolean;
  /** Milliseconds to hold the request open when there is nothing new. */
  timeout: number;
  setPresence: PresenceState;
}

/** Longest a /sync is held, whatever timeout it asks for (bounded resources per client). */
export const MAX_SYNC_TIMEOUT_MS = 10 * 60 * 1000;
/** /sync answers built at once; more wait their turn. */
const BUILD_SLOTS = 32;
/** To-device messages per sync (Synapse's limit). */
const TO_DEVICE_LIMIT = 100;

interface Built {
  body: Json;
  empty: boolean;
  /** The rooms the user is in (what a held poll listens to). */
  rooms: string[];
}

const invalidParam = (msg: string) => new MatrixError(400, 'M_INVALID_PARAM', msg);

/**
 * GET /sync (Client-Server API "Syncing"): initial, incremental and long-polling syncs.
 *
 * A sync reads every stream up to a position taken when it starts (the `next_batch` it answers
 * with), so what it misses the next one gets. An incremental sync with nothing new holds the
 * request in SyncWaiters until a commit concerns the user (or one of their rooms), then builds
 * again. Identical requests (same user, device, since, filter, full_state, set_presence) that
 * arrive while one is running share its answer.
 */
export class SyncService {
  private readonly inFlight = new Map<string, { result: Promise<Json>; abort: AbortController; refs: number }>();
  /** Builds running at once (see BuildSlots; 1,000 polls woken by one message queue here). */
  private readonly builds = new BuildSlots(BUILD_SLOTS);

  constructor(private readonly d: SyncDeps) {}

  /** Ends every held long-poll now, and any started later at once (shutdown). */
  wakeAll(): void {
    this.closing = true;
    this.d.waiters.wakeAll();
  }

  private closing = false;

  /** Runs a sync, sharing the answer of an identical one in flight. `signal`: the client went away. */
  async sync(requester: Requester, req: SyncRequest, signal?: AbortSignal): Promise<Json> {
    const key = JSON.stringify([requester.userId, requester.deviceId, req.since ?? null, req.filter ?? null, req.fullState, req.setPresence]);
    let entry = this.inFlight.get(key);
    if (!entry) {
      const abort = new AbortController();
      const created = { result: this.run(requester, req, abort.signal), abort, refs: 0 };
      entry = created;
      this.inFlight.set(key, created);
      const forget = () => {
        if (this.inFlight.get(key) === created) this.inFlight.delete(key);
      };
      created.result.then(forget, forget);
    }
    const shared = entry;
    shared.refs++;
    // When every client waiting on it has gone, the held poll ends at once.
    const leave = () => {
      if (--shared.refs === 0) shared.abort.abort();
    };
    if (signal?.aborted) leave();
    else signal?.addEventListener('abort', leave, { once: true });
    try {
      return await shared.result;
    } finally {
      signal?.removeEventListener('abort', leave);
    }
  }

  private async run(requester: Requester, req: SyncRequest, signal: AbortSignal): Promise<Json> {
    const filter = await this.d.filters.resolve(requester.userId, req.filter);
    const since = req.since !== undefined ? await this.checkSince(parseSyncToken(req.since)) : undefined;
    const presence = this.d.sources.presence;
    if (presence) await presence.syncStarted(requester.userId, req.setPresence);
    try {
      const deadline = Date.now() + Math.min(req.timeout, MAX_SYNC_TIMEOUT_MS);
      let last: Built | undefined;
      for (;;) {
        const now = await this.currentToken();
        // Nothing anywhere has moved since the token: wait without building anything.
        const quiet = since !== undefined && !req.fullState && sameToken(since, now);
        if (!quiet) {
          last = await this.builds.run(() => this.build(requester, filter, since, now, req.fullState));
          if (!since || req.fullState || !last.empty) return last.body;
        }
        if (Date.now() >= deadline || signal.aborted || this.closing) return last?.body ?? (await this.emptyAnswer(requester, since!));
        const rooms = last?.rooms ?? (await store.currentMemberships(this.d.db, requester.userId)).map((m) => m.roomId);
        // A commit between reading `now` and the wait being registered was announced to nobody
        // (the poll slept to its timeout with the change unseen): once registered, look again,
        // and build again at once if anything has moved since `now`.
        const moved = new AbortController();
        const woken = this.d.waiters.wait(requester.userId, rooms, deadline - Date.now(), AbortSignal.any([signal, moved.signal]));
        this.movedSince(now).then(
          (yes) => yes && moved.abort(),
          () => moved.abort(),
        );
        await woken;
      }
    } finally {
      presence?.syncEnded(requester.userId);
    }
  }

  /**
   * Whether any stream is past `t`. Positions allocated so far are waited for first: commits land
   * out of order, so a change can be announced while a lower position still holds it back from
   * readers. A poll woken by it then builds nothing and waits again; it sees the change here, once
   * published. (Without it, the poll slept to its timeout: concurrent /sendToDevice calls did
   * that to their recipients on PostgreSQL.)
   */
  private async movedSince(t: SyncToken): Promise<boolean> {
    const rp = this.d.roomPositions;
    const s = this.d.sources;
    await Promise.all([
      rp.caughtUp(),
      this.d.toDevice.visible(),
      this.d.e2eKeys.deviceListVisible(),
      s.accountData?.visible?.(),
      s.receipts?.visible?.(),
      s.presence?.visible?.(),
    ]);
    return !sameToken(await this.currentToken(), t);
  }

  /** The position of every stream now, as a token. */
  async currentTokenText(): Promise<string> {
    return formatSyncToken(await this.currentToken());
  }

  /** The position of every stream now. */
  async currentToken(): Promise<SyncToken> {
    const s = this.d.sources;
    const pushRules = await this.d.pushRules.streamPosition();
    return {
      room: this.d.roomPositions.current,
      presence: s.presence?.position ?? 0,
      typing: s.typing?.position ?? 0,
      receipt: s.receipts?.position ?? 0,
      accountData: s.accountData?.position ?? 0,
      pushRules,
      toDevice: this.d.toDevice.position,
      deviceList: this.d.e2eKeys.deviceListPosition,
    };
  }

  /**
   * A since-token ahead of what this server has written is refused (another server's, or one
   * from a restored backup), as current Synapse does; one still being written is waited for.
   * Typing lives in memory and restarts from 0, so a token past it just means "after a restart".
   */
  private async checkSince(t: SyncToken): Promise<SyncToken> {
    const rp = this.d.roomPositions;
    if (t.room > rp.allocated) throw invalidParam('Invalid stream token: it is ahead of this server');
    if (t.room > rp.current) await Promise.race([rp.reached(t.room), new Promise((r) => setTimeout(r, 10_000))]);
    const now = await this.currentToken();
    const ahead = (['presence', 'receipt', 'accountData', 'toDevice', 'deviceList'] as const).filter((k) => t[k] > now[k] && now[k] > 0);
    if (ahead.length > 0) throw invalidParam('Invalid stream token: it is ahead of this server');
    return { ...t, typing: t.typing > now.typing ? 0 : t.typing };
  }

  private async emptyAnswer(requester: Requester, since: SyncToken): Promise<Json> {
    const body: Json = { next_batch: formatSyncToken(since) };
    await this.addKeyCounts(requester, body);
    return body;
  }

  private async addKeyCounts(requester: Requester, body: Json): Promise<void> {
    if (requester.deviceId === null) return;
    const { oneTimeKeys: counts, fallbackTypes: fallback } = await this.d.e2eKeys.deviceKeyCounts(requester.userId, requester.deviceId);
    body.device_one_time_keys_count = counts;
    body.device_unused_fallback_key_types = fallback;
    body['org.matrix.msc2732.device_unused_fallback_key_types'] = fallback;
  }

  /** One answer for the window (since, now]; `since` undefined: an initial sync. */
  private async build(requester: Requester, filter: Filter, since: SyncToken | undefined, nowIn: SyncToken, fullState: boolean): Promise<Built> {
    const userId = requester.userId;
    const from = since ?? ZERO_TOKEN;
    const now = { ...nowIn };
    // On an incremental sync a stream that has not moved has nothing to read: most woken polls
    // skip most streams. Independent reads run together (on PostgreSQL they are round trips).
    const moved = (k: keyof SyncToken) => !since || from[k] !== now[k];
    const [pushRules, firstMemberships] = await Promise.all([
      moved('pushRules') ? this.d.pushRules.changesSince(from.pushRules, [userId]) : { position: now.pushRules, users: [] as string[] },
      store.currentMemberships(this.d.db, userId),
    ]);
    now.pushRules = Math.max(now.pushRules, pushRules.position);

    let memberships = firstMemberships;
    // A membership committed but not yet visible to readers: wait for it rather than half-see it.
    const newest = Math.max(0, ...memberships.map((m) => m.stream));
    if (newest > now.room) {
      await this.d.roomPositions.reached(newest);
      now.room = this.d.roomPositions.current;
      memberships = await store.currentMemberships(this.d.db, userId);
    }
    const roomFilter = filter.room;
    const allRooms = memberships.map((m) => m.roomId);
    memberships = memberships.filter((m) => m.stream <= now.room && roomMatchesFilter(m.roomId, roomFilter));

    const presence = this.d.sources.presence;
    const [rooms, rules, presenceEvents, toDevice, lists] = await Promise.all([
      this.roomsPart(requester, filter, memberships, since ? from : undefined, now, fullState),
      !since || pushRules.users.includes(userId) ? this.d.pushRules.ruleset(userId) : undefined,
      presence?.enabled && moved('presence') ? presence.presenceForSync(userId, from.presence, now.presence) : [],
      this.toDevicePart(requester, since ? from : undefined, now),
      since && (moved('deviceList') || moved('room'))
        ? this.d.e2eKeys.deviceListChanges(userId, { room: from.room, deviceList: from.deviceList }, { room: now.room, deviceList: now.deviceList })
        : { changed: [] as string[], left: [] as string[] },
    ]);

    const body: Json = {};
    // Top-level account data: push rules when they changed (always on an initial sync), then the rest.
    const accountData: Array<{ type: string; content: unknown }> = [];
    if (rules) accountData.push({ type: 'm.push_rules', content: rules });
    if (rooms.accountData) accountData.push(...rooms.accountData.global.filter((e) => e.type !== 'm.push_rules'));
    const globalData = accountData.filter((e) => eventMatchesFilter(e, filter.account_data)).slice(0, limitOf(filter.account_data));
    if (globalData.length > 0) body.account_data = { events: globalData };

    const presenceShown = presenceEvents.filter((e) => eventMatchesFilter(e, filter.presence));
    if (presenceShown.length > 0) body.presence = { events: presenceShown.slice(0, limitOf(filter.presence)) };

    if (toDevice) {
      now.toDevice = toDevice.next;
      if (toDevice.messages.length > 0) body.to_device = { events: toDevice.messages };
    }

    const dl: Json = {};
    if (lists.changed.length > 0) dl.changed = lists.changed;
    if (lists.left.length > 0) dl.left = lists.left;
    if (Object.keys(dl).length > 0) body.device_lists = dl;

    if (Object.keys(rooms.sections).some((k) => Object.keys(rooms.sections[k]!).length > 0)) {
      body.rooms = Object.fromEntries(Object.entries(rooms.sections).filter(([, v]) => Object.keys(v).length > 0));
    }
    const empty = Object.keys(body).length === 0;
    await this.addKeyCounts(requester, body);
    body.next_batch = formatSyncToken(now);
    return { body, empty, rooms: allRooms };
  }

  /** Devices whose to-device messages were acknowledged up to a position (no DELETE when nothing new is acknowledged). */
  private readonly acknowledged = new Map<string, number>();

  /**
   * The device's to-device messages after the token, acknowledging (deleting) those up to it.
   * Undefined for requests without a device.
   */
  private async toDevicePart(requester: Requester, since: SyncToken | undefined, now: SyncToken): Promise<{ messages: unknown[]; next: number } | undefined> {
    const deviceId = requester.deviceId;
    if (deviceId === null) return undefined;
    const userId = requester.userId;
    const from = since?.toDevice ?? 0;
    const key = `${userId}|${deviceId}`;
    // Syncing past a position acknowledges the messages up to it.
    if (since && from > 0 && (this.acknowledged.get(key) ?? 0) < from) {
      await this.d.toDevice.deleteToDeviceUpTo(userId, deviceId, from);
      this.acknowledged.delete(key);
      this.acknowledged.set(key, from);
      if (this.acknowledged.size > 100_000) this.acknowledged.delete(this.acknowledged.keys().next().value!);
    }
    // Nothing was published after the token: nothing to read.
    if (since && from >= now.toDevice) return { messages: [], next: from };
    const got = await this.d.toDevice.toDeviceSince(userId, deviceId, from, TO_DEVICE_LIMIT);
    return { messages: got.messages, next: Math.max(got.next, from) };
  }

  /** The `rooms` part (join, invite, leave, knock) and the account data read along the way. */
  private async roomsPart(
    requester: Requester,
    filter: Filter,
    memberships: MembershipRow[],
    since: SyncToken | undefined,
    now: SyncToken,
    fullState: boolean,
  ): Promise<{ sections: Record<string, Record<string, Json>>; accountData?: { global: Array<{ type: string; content: unknown }>; rooms: Map<string, Array<{ type: string; content: unknown }>> } }> {
    const userId = requester.userId;
    const from = since ?? ZERO_TOKEN;
    const rf = filter.room;
    const sections: Record<string, Record<string, Json>> = { join: {}, invite: {}, leave: {}, knock: {} };
    const s = this.d.sources;
    const accountData =
      s.accountData && (!since || from.accountData !== now.accountData) ? await s.accountData.accountDataForSync(userId, from.accountData, now.accountData) : undefined;

    // Membership changes in the window, per room (the last one wins; the first tells what it was before).
    const changes = new Map<string, MembershipRow[]>();
    if (since && from.room < now.room) for (const c of await store.membershipChanges(this.d.db, userId, from.room, now.room)) changes.set(c.roomId, [...(changes.get(c.roomId) ?? []), c]);

    const joined = memberships.filter((m) => m.membership === 'join');
    const moved = since ? await store.roomsWithEvents(this.d.db, joined.map((m) => m.roomId), from.room, now.room) : new Set<string>();
    const includeLeave = rf?.include_leave === true;

    const joinSections = new Map<string, RoomSection | null>();
    const jobs: Array<Promise<void>> = [];
    for (const m of memberships) {
      const changed = changes.get(m.roomId);
      if (m.membership === 'join') {
        // A room joined in the window is new to the client: everything, as on an initial sync.
        const newlyJoined = since !== undefined && changed !== undefined && (await this.membershipBefore(userId, m.roomId, changed)) !== 'join';
        const initial = !since || newlyJoined;
        if (!initial && !fullState && !moved.has(m.roomId)) continue;
        jobs.push(
          this.d.sections
            .build(requester, { roomId: m.roomId, from: initial ? 0 : from.room, to: now.room, fullState: fullState || initial, summary: true, joinedSince: m.stream }, rf)
            .then((sec) => void joinSections.set(m.roomId, sec)),
        );
      } else if (m.membership === 'invite' || m.membership === 'knock') {
        if (since && !changed) continue;
        const key = m.membership === 'invite' ? 'invite_state' : 'knock_state';
        jobs.push(
          this.d.sections.strippedStateAt(m.roomId, m.eventId).then((evs) => {
            sections[m.membership]![m.roomId] = { [key]: { events: evs } };
          }),
        );
      } else if (m.membership === 'leave' || m.membership === 'ban') {
        // Left in the window (a rejected invite too); on initial syncs only with include_leave.
        if (since) {
          if (!changed) continue;
          const before = await this.membershipBefore(userId, m.roomId, changed);
          if (before === 'leave' || before === 'ban') continue;
        } else if (!includeLeave) continue;
        const initial = !since;
        jobs.push(
          this.d.sections
            .build(requester, { roomId: m.roomId, from: initial ? 0 : from.room, to: Math.min(m.stream, now.room), fullState: fullState || initial, summary: false }, rf)
            .then((sec) => {
              if (!sec) return;
              sections.leave![m.roomId] = { timeline: sec.timeline, state: { events: sec.state }, account_data: { events: roomData(accountData, m.roomId, rf?.account_data) } };
            }),
        );
      }
    }
    await Promise.all(jobs);

    // Joined rooms: ephemeral events, room account data and unread counts join the sections.
    const joinedIds = joined.map((m) => m.roomId);
    const ephemeral = new Map<string, Ephemeral[]>();
    const addEphemeral = (m: Map<string, Ephemeral>) => {
      for (const [roomId, ev] of m) ephemeral.set(roomId, [...(ephemeral.get(roomId) ?? []), ev]);
    };
    const ef = rf?.ephemeral;
    if (s.typing) addEphemeral(s.typing.typingForSync(joinedIds, since ? from.typing : 0));
    if (s.receipts && (!since || from.receipt !== now.receipt)) addEphemeral(await s.receipts.receiptsForSync(userId, joinedIds, since ? from.receipt : 0, now.receipt));
    for (const roomId of joinedIds) {
      const evs = (ephemeral.get(roomId) ?? []).filter((e) => eventMatchesFilter({ ...e, room_id: roomId }, ef)).slice(0, limitOf(ef));
      const data = roomData(accountData, roomId, rf?.account_data);
      const sec = joinSections.get(roomId);
      if (sec === null) continue;
      if (!sec && evs.length === 0 && data.length === 0) continue;
      sections.join![roomId] = {
        timeline: sec?.timeline ?? { events: [], limited: false, prev_batch: `s${now.room}` },
        state: { events: sec?.state ?? [] },
        account_data: { events: data },
        ephemeral: { events: evs },
        ...(sec?.summary ? { summary: sec.summary } : {}),
      };
    }
    const shown = Object.keys(sections.join!);
    if (shown.length > 0) {
      const threaded = rf?.timeline?.unread_thread_notifications === true;
      const counts = s.unreadCounts ? await s.unreadCounts(userId, shown, threaded) : new Map<string, Counts & { threads: Record<string, Counts> }>();
      for (const roomId of shown) {
        const c = counts.get(roomId);
        const room = sections.join![roomId]!;
        room.unread_notifications = { notification_count: c?.notification_count ?? 0, highlight_count: c?.highlight_count ?? 0 };
        if (threaded) room.unread_thread_notifications = c?.threads ?? {};
      }
    }
    return { sections, accountData };
  }

  /** The user's membership in a room just before the window's first change of it (null: none). */
  private async membershipBefore(userId: string, roomId: string, changed: MembershipRow[]): Promise<string | null> {
    return store.membershipBefore(this.d.db, userId, roomId, changed[0]!.stream);
  }
}

const limitOf = (f: EventFilter | undefined): number => f?.limit ?? Number.MAX_SAFE_INTEGER;

function roomData(
  accountData: { rooms: Map<string, Array<{ type: string; content: unknown }>> } | undefined,
  roomId: string,
  filter: EventFilter | undefined,
): Array<{ type: string; content: unknown }> {
  const evs = accountData?.rooms.get(roomId) ?? [];
  return evs.filter((e) => eventMatchesFilter({ ...e, room_id: roomId }, filter)).slice(0, limitOf(filter));
}
