import { invalidParam } from '../errors.js';
import { EventMatcher, countsAsUnread, evaluatePushRules, type PushAction } from '../matrix/push-rules.js';
import { resolveRoomVersion } from '../matrix/room-versions.js';
import type { Db, Tx } from '../storage/database.js';
import type { EventWrite } from '../storage/stores/event-writes.js';
import { getEvents, getRoom } from '../storage/stores/events.js';
import * as store from '../storage/stores/push-actions.js';
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

/** Where a user has read up to in each room (stream orderings), from their read receipts. */
export type ReadPositions = (userId: string, roomIds: readonly string[]) => Promise<Map<string, number>>;

/** GET /notifications and the counts /sync reports (`unread_notifications`). */
export class NotificationsService {
  /** Set once read receipts exist (issue 8's receipts); until then every notification is unread. */
  readPositions: ReadPositions | null = null;

  constructor(
    private readonly db: Db,
    /** The published room event stream position: nothing beyond it is shown. */
    private readonly published: () => number,
  ) {}

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
    const read = this.readPositions ? await this.readPositions(userId, roomIds) : new Map<string, number>();
    const page: NotificationsPage = { notifications: [] };
    for (const r of rows) {
      const ev = events.get(r.event_id);
      if (!ev) continue;
      const readUpTo = read.get(r.room_id);
      const n: NotificationsPage['notifications'][number] = {
        actions: parseActions(r.actions),
        event: toClientEvent(ev, versions.get(r.room_id)!, null, ev.redactedBy ? redactions.get(ev.redactedBy) : undefined),
        read: readUpTo !== undefined && readUpTo >= r.stream_ordering,
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

  /**
   * A user's notification and highlight counts in a room after stream position `after` (where
   * their read receipt points), for /sync: the main timeline and each thread.
   */
  async unreadCounts(userId: string, roomId: string, after: number): Promise<{ notification_count: number; highlight_count: number; threads: Map<string, { notification_count: number; highlight_count: number }> }> {
    const counts = await store.countsInRoom(this.db, userId, roomId, after, this.published());
    const out = { notification_count: 0, highlight_count: 0, threads: new Map<string, { notification_count: number; highlight_count: number }>() };
    for (const c of counts) {
      out.notification_count += c.notifications;
      out.highlight_count += c.highlights;
      if (c.threadId !== 'main') out.threads.set(c.threadId, { notification_count: c.notifications, highlight_count: c.highlights });
    }
    return out;
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
