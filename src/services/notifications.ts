import { invalidParam } from '../errors.js';
import { EventMatcher, countsAsUnread, evaluatePushRules, type PushAction } from '../matrix/push-rules.js';
import { resolveRoomVersion } from '../matrix/room-versions.js';
import type { Db, Tx } from '../storage/database.js';
import type { EventWrite } from '../storage/stores/event-writes.js';
import { getEvents, getRoom } from '../storage/stores/events.js';
import * as store from '../storage/stores/push-actions.js';
import * as receipts from '../storage/stores/receipts.js';
import type { PushRulesService } from './push-rules.js';
import { toClientEvent, type ClientEvent } from './rooms/client-events.js';
import type { PersistHook, PendingWrite } from './rooms/persister.js';
import type { RoomActor } from './rooms/room-actor.js';

/** The room as push rules see it at one event: who is notified, the member count, power levels. */
interface RoomSnapshot {
  /** Local joined members with their display names in the room. */
  members: ReadonlyArray<{ userId: string; displayName: string | null }>;
  memberCount: number;
  powerLevels: Record<string, unknown> | null;
  creator: string | null;
}

/** What `onAppend` attaches to an event for `prepare`, and the rows `prepare` leaves for `write`. */
interface PushExt {
  room: RoomSnapshot;
  event: Record<string, unknown>;
  /** A local user invited by this event (not a member yet, but `.m.rule.invite_for_me` is theirs). */
  invitee: string | null;
  rows?: store.PushActionRow[];
}

const EXT = 'push';

/**
 * Evaluates push rules for every event the persister commits, for every local joined member but
 * the sender (and a local invitee), and writes `event_push_actions` rows in the event's own
 * transaction, so a notification count is never behind or ahead of the event it counts (the
 * spec: "the updated notification count from a new event MUST appear in the same /sync response
 * as the event itself"). An after-commit listener could not promise that, and would need the
 * room's membership as of each event, which only the actor has.
 *
 * Cost on the send path: the room's members are snapshotted once per membership or power-level
 * change (per actor), each member's compiled rules come from a cache, and conditions that do not
 * depend on the user are tested once per event.
 */
export class PushEvaluator implements PersistHook {
  private readonly snapshots = new WeakMap<RoomActor, RoomSnapshot>();

  constructor(
    private readonly rules: PushRulesService,
    private readonly isLocalUser: (userId: string) => boolean,
  ) {}

  /** EventCreator append hook: runs in the room's serial section, with the event applied. */
  onAppend = (actor: RoomActor, write: PendingWrite, event: Record<string, unknown>): void => {
    if (write.stateKey !== null && (write.type === 'm.room.member' || write.type === 'm.room.power_levels' || write.type === 'm.room.create')) {
      this.snapshots.delete(actor);
    }
    let room = this.snapshots.get(actor);
    if (!room) this.snapshots.set(actor, (room = this.snapshot(actor)));
    const invitee = write.member && write.member.membership === 'invite' && write.member.local ? write.member.userId : null;
    // Nobody to notify (the common case of a lone sender): nothing to carry to the persister.
    if (!invitee && room.members.every((m) => m.userId === write.sender)) return;
    (write.ext ??= {})[EXT] = { room, event, invitee } satisfies PushExt;
  };

  private snapshot(actor: RoomActor): RoomSnapshot {
    const members: Array<{ userId: string; displayName: string | null }> = [];
    for (const e of actor.stateEntries()) {
      if (e.type !== 'm.room.member' || e.content.membership !== 'join' || !this.isLocalUser(e.state_key)) continue;
      members.push({ userId: e.state_key, displayName: typeof e.content.displayname === 'string' ? e.content.displayname : null });
    }
    const create = actor.get('m.room.create', '');
    const creator = create ? (typeof create.content.creator === 'string' ? create.content.creator : create.sender) : null;
    return { members, memberCount: actor.counts.join, powerLevels: actor.get('m.room.power_levels', '')?.content ?? null, creator };
  }

  async prepare(writes: readonly EventWrite[]): Promise<void> {
    const users = new Set<string>();
    const work: Array<{ w: EventWrite; ext: PushExt }> = [];
    for (const w of writes) {
      const ext = w.ext?.[EXT] as PushExt | undefined;
      if (!ext || ext.rows) continue;
      work.push({ w, ext });
      for (const m of ext.room.members) if (m.userId !== w.sender) users.add(m.userId);
      if (ext.invitee && ext.invitee !== w.sender) users.add(ext.invitee);
    }
    if (work.length === 0) return;
    const compiled = await this.rules.compiledFor([...users]);
    const actionsJson = new Map<PushAction[], string>();
    for (const { w, ext } of work) {
      const rows: store.PushActionRow[] = [];
      const matcher = new EventMatcher(ext.event);
      const unread = countsAsUnread(ext.event) ? 1 : 0;
      const threadId = w.relation?.relType === 'm.thread' ? w.relation.relatesTo : 'main';
      const senderPowerLevel = ext.room.creator === w.sender ? 100 : 0;
      const targets = ext.invitee && !ext.room.members.some((m) => m.userId === ext.invitee) ? [...ext.room.members, { userId: ext.invitee, displayName: null }] : ext.room.members;
      for (const m of targets) {
        if (m.userId === w.sender) continue;
        const rules = compiled.get(m.userId);
        if (!rules) continue;
        const r = evaluatePushRules(rules, matcher, {
          userId: m.userId,
          displayName: m.displayName,
          memberCount: ext.room.memberCount,
          powerLevels: ext.room.powerLevels,
          senderPowerLevel,
        });
        if (!r.notify) continue;
        let json = actionsJson.get(r.actions);
        if (json === undefined) actionsJson.set(r.actions, (json = JSON.stringify(r.actions)));
        rows.push({
          room_id: w.roomId,
          event_id: w.eventId,
          user_id: m.userId,
          profile_tag: null,
          actions: json,
          topological_ordering: w.depth,
          stream_ordering: w.streamOrdering,
          notif: 1,
          highlight: r.highlight ? 1 : 0,
          unread,
          thread_id: threadId,
        });
      }
      ext.rows = rows;
    }
  }

  async write(tx: Tx, writes: readonly EventWrite[]): Promise<void> {
    const rows: store.PushActionRow[] = [];
    for (const w of writes) {
      const ext = w.ext?.[EXT] as PushExt | undefined;
      if (ext?.rows) rows.push(...ext.rows);
    }
    if (rows.length) await store.insertPushActions(tx, rows);
  }
}

export interface NotificationsPage {
  notifications: Array<{ actions: unknown[]; event: ClientEvent; profile_tag?: string; read: boolean; room_id: string; ts: number }>;
  next_token?: string;
}

/** Notification and highlight counts, as /sync shows them. */
export interface NotifCounts {
  notification_count: number;
  highlight_count: number;
}

/** A room's counts for /sync: the room (or main timeline) totals, and per thread root when threaded. */
export interface RoomNotifCounts extends NotifCounts {
  threads: Record<string, NotifCounts>;
}

/**
 * Where a user has read up to in one room, from their m.read and m.read.private receipts (the
 * higher of the two): `unthreaded` covers every thread, `threads` ('main' or a thread root) only
 * their own. An event is read when its stream ordering is at or before max(unthreaded, its thread's).
 */
export interface ReadThresholds {
  unthreaded: number;
  threads: Map<string, number>;
}

const readUpTo = (t: ReadThresholds | undefined, threadId: string | null): number =>
  t ? Math.max(t.unthreaded, t.threads.get(threadId ?? 'main') ?? 0) : 0;

/**
 * GET /notifications and the counts /sync reports (`unread_notifications`,
 * `unread_thread_notifications`), from `event_push_actions` rows (written with each event by
 * PushEvaluator) after the user's read receipts (`receipts_linearized`). Counts are read from
 * event_push_actions directly, one index seek per room and receipted thread; Synapse's
 * `event_push_summary` rotation is not used.
 */
export class NotificationsService {
  constructor(
    private readonly db: Db,
    /** The published room event stream position: nothing beyond it is shown. */
    private readonly published: () => number,
  ) {}

  /** The user's read thresholds in each of `roomIds` that has a receipt. */
  async readThresholds(userId: string, roomIds: readonly string[]): Promise<Map<string, ReadThresholds>> {
    const out = new Map<string, ReadThresholds>();
    if (roomIds.length === 0) return out;
    for (const r of await receipts.readPositions(this.db, userId, roomIds)) {
      let t = out.get(r.roomId);
      if (!t) out.set(r.roomId, (t = { unthreaded: 0, threads: new Map() }));
      if (r.threadId === null) t.unthreaded = Math.max(t.unthreaded, r.ordering);
      else t.threads.set(r.threadId, Math.max(t.threads.get(r.threadId) ?? 0, r.ordering));
    }
    return out;
  }

  /**
   * Per room: {notification_count, highlight_count} for the main timeline (with unthreaded
   * events) and per thread root, as /sync shows them (`unread_notifications`,
   * `unread_thread_notifications`). `threaded` false: everything is counted in the room totals
   * (no per-thread map). Every room of `roomIds` is in the answer (zeros when nothing is unread).
   */
  async unreadCountsForSync(userId: string, roomIds: readonly string[], threaded: boolean): Promise<Map<string, RoomNotifCounts>> {
    const [thresholds, joinedAt] = await Promise.all([this.readThresholds(userId, roomIds), store.membershipOrderings(this.db, userId, roomIds)]);
    // One range per room after its unthreaded receipt, and one per thread whose own receipt is later.
    // Without a receipt, counting starts at the user's membership event (Synapse's fallback): what
    // came before they joined (their invite included) is not unread.
    const ranges: store.CountRange[] = [];
    for (const roomId of roomIds) {
      const t = thresholds.get(roomId);
      const base = Math.max(t?.unthreaded ?? 0, joinedAt.get(roomId) ?? 0);
      ranges.push({ roomId, after: base });
      if (t) for (const [threadId, at] of t.threads) if (at > base) ranges.push({ roomId, after: at, threadId });
    }
    const perRoom = new Map<string, Map<string, NotifCounts>>();
    const rows = ranges.length ? await store.countRanges(this.db, userId, ranges, this.published()) : [];
    // Whole-room ranges first, then thread ranges replace their thread's figures (zero if no row).
    const roomRows = rows.filter((row) => ranges[row.range]!.threadId === undefined);
    const threadRows = rows.filter((row) => ranges[row.range]!.threadId !== undefined);
    const overridden = new Set(ranges.filter((r) => r.threadId !== undefined).map((r) => `${r.roomId}\u0000${r.threadId}`));
    for (const row of roomRows) {
      const roomId = ranges[row.range]!.roomId;
      if (overridden.has(`${roomId}\u0000${row.threadId}`)) continue;
      let m = perRoom.get(roomId);
      if (!m) perRoom.set(roomId, (m = new Map()));
      m.set(row.threadId, { notification_count: row.notifications, highlight_count: row.highlights });
    }
    for (const row of threadRows) {
      const roomId = ranges[row.range]!.roomId;
      let m = perRoom.get(roomId);
      if (!m) perRoom.set(roomId, (m = new Map()));
      m.set(row.threadId, { notification_count: row.notifications, highlight_count: row.highlights });
    }
    const out = new Map<string, RoomNotifCounts>();
    for (const roomId of roomIds) {
      const counts: RoomNotifCounts = { notification_count: 0, highlight_count: 0, threads: {} };
      for (const [threadId, c] of perRoom.get(roomId) ?? []) {
        if (!threaded || threadId === 'main') {
          counts.notification_count += c.notification_count;
          counts.highlight_count += c.highlight_count;
        } else if (c.notification_count > 0 || c.highlight_count > 0) {
          counts.threads[threadId] = c;
        }
      }
      out.set(roomId, counts);
    }
    return out;
  }

  /** GET /notifications: newest first; `from` is a previous page's `next_token`. */
  async list(userId: string, opts: { from?: string; limit?: number; only?: string }): Promise<NotificationsPage> {
    let before: number | undefined;
    if (opts.from !== undefined && opts.from !== '') {
      if (!/^[0-9]{1,15}$/.test(opts.from)) throw invalidParam("Invalid 'from' token");
      before = Number(opts.from);
    }
    // Synapse's default and ceiling.
    const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
    const rows = await store.listNotifications(this.db, userId, { before, upTo: this.published(), limit, onlyHighlight: opts.only === 'highlight' });
    const events = new Map((await getEvents(this.db, rows.map((r) => r.event_id))).map((e) => [e.eventId, e]));
    const redactions = new Map(
      (await getEvents(this.db, [...events.values()].flatMap((e) => (e.redactedBy ? [e.redactedBy] : [])))).map((e) => [e.eventId, e]),
    );
    const roomIds = [...new Set(rows.map((r) => r.room_id))];
    const versions = new Map<string, ReturnType<typeof resolveRoomVersion>>();
    for (const id of roomIds) versions.set(id, resolveRoomVersion((await getRoom(this.db, id))?.room_version ?? '1'));
    const read = await this.readThresholds(userId, roomIds);
    const page: NotificationsPage = { notifications: [] };
    for (const r of rows) {
      const ev = events.get(r.event_id);
      if (!ev) continue;
      const n: NotificationsPage['notifications'][number] = {
        actions: parseActions(r.actions),
        event: toClientEvent(ev, versions.get(r.room_id)!, null, ev.redactedBy ? redactions.get(ev.redactedBy) : undefined),
        read: r.stream_ordering <= readUpTo(read.get(r.room_id), r.thread_id),
        room_id: r.room_id,
        ts: r.received_ts ?? Number(ev.pdu.origin_server_ts ?? 0),
      };
      if (r.profile_tag !== null) n.profile_tag = r.profile_tag;
      page.notifications.push(n);
    }
    // As Synapse: a token after every non-empty page (the next page may be empty).
    if (rows.length > 0) page.next_token = String(rows[rows.length - 1]!.stream_ordering);
    return page;
  }
}

function parseActions(text: string): unknown[] {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}
