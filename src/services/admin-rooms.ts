import { MatrixError, badRequest, invalidParam, missingParam, notFound } from '../errors.js';
import { parseUserId } from '../matrix/ids.js';
import type { Notifier } from '../storage/changes.js';
import type { Db } from '../storage/database.js';
import * as store from '../storage/stores/admin-rooms.js';
import type { AdminRoomRow, RoomListQuery, RoomOrderKey } from '../storage/stores/admin-rooms.js';
import * as events from '../storage/stores/events.js';
import * as roomsStore from '../storage/stores/rooms.js';
import { getUser } from '../storage/stores/users.js';
import type { Requester } from './auth.js';
import type { ClientEvent } from './rooms/client-events.js';
import { UnknownRoom, type MessagesRequest, type RoomHistoryService } from './rooms/history.js';
import type { Persister } from './rooms/persister.js';
import type { RoomActor } from './rooms/room-actor.js';
import type { RoomsService } from './rooms/rooms.js';
import type { StreamPositions } from './rooms/stream-positions.js';

/** Synapse's `order_by` values, with the deprecated aliases, and their natural direction. */
const ORDER_KEYS: Record<string, { key: RoomOrderKey; descending: boolean }> = {
  name: { key: 'name', descending: false },
  alphabetical: { key: 'name', descending: false },
  canonical_alias: { key: 'canonical_alias', descending: false },
  joined_members: { key: 'joined_members', descending: true },
  size: { key: 'joined_members', descending: true },
  joined_local_members: { key: 'joined_local_members', descending: true },
  version: { key: 'version', descending: true },
  creator: { key: 'creator', descending: false },
  encryption: { key: 'encryption', descending: false },
  federatable: { key: 'federatable', descending: false },
  public: { key: 'public', descending: false },
  join_rules: { key: 'join_rules', descending: false },
  guest_access: { key: 'guest_access', descending: false },
  history_visibility: { key: 'history_visibility', descending: false },
  state_events: { key: 'state_events', descending: true },
};

/** In Synapse's order of its RoomSortOrder enum (its error text lists them so). */
export const ROOM_ORDER_BY = [
  'alphabetical',
  'size',
  'name',
  'canonical_alias',
  'joined_members',
  'joined_local_members',
  'version',
  'creator',
  'encryption',
  'federatable',
  'public',
  'join_rules',
  'guest_access',
  'history_visibility',
  'state_events',
] as const;

export interface RoomListRequest {
  from: number;
  limit: number;
  orderBy: string;
  dir: 'f' | 'b';
  searchTerm?: string;
  publicRooms?: boolean;
  emptyRooms?: boolean;
  blocked?: boolean;
}

/** A room as the list shows it (Synapse's field order and types: booleans, integers). */
export interface RoomSummary {
  room_id: string;
  name: string | null;
  canonical_alias: string | null;
  joined_members: number;
  joined_local_members: number;
  version: string | null;
  creator: string | null;
  encryption: string | null;
  federatable: boolean;
  public: boolean;
  join_rules: string | null;
  guest_access: string | null;
  history_visibility: string | null;
  state_events: number;
  room_type: string | null;
}

export interface RoomDetails extends RoomSummary {
  avatar: string | null;
  topic: string | null;
  joined_local_devices: number;
  forgotten: boolean;
  tombstoned: boolean;
  replacement_room: string | null;
  /** Axon only: how many forward extremities the room has (normally 1). */
  forward_extremities: number;
}

const ROOM_LIST_TABLES = ['rooms', 'room_stats_current', 'room_stats_state', 'blocked_rooms'];
/** Cached totals and pages of the room list (per filter, order and page) within one generation. */
const CACHE_ENTRIES = 512;

function summaryOf(r: AdminRoomRow): RoomSummary {
  return {
    room_id: r.room_id,
    name: r.name ?? null,
    canonical_alias: r.canonical_alias ?? null,
    joined_members: Number(r.joined_members ?? 0),
    joined_local_members: Number(r.local_users_in_room ?? 0),
    version: r.room_version ?? null,
    creator: r.creator ?? null,
    encryption: r.encryption ?? null,
    // Synapse: federatable unless m.federate is false; a room without statistics counts as neither.
    federatable: r.is_federatable === null || r.is_federatable === undefined ? false : Boolean(r.is_federatable),
    public: Boolean(r.is_public),
    join_rules: r.join_rules ?? null,
    guest_access: r.guest_access ?? null,
    history_visibility: r.history_visibility ?? null,
    state_events: Number(r.current_state_events ?? 0),
    room_type: r.room_type ?? null,
  };
}

const roomNotFound = () => notFound('Room not found');

/**
 * The Admin API's rooms (catalogue §6.1-6.9, 6.13-6.15, §16) and a user's rooms (§3.9-3.10).
 * Reads come from Synapse's tables, kept current by the room persister; actions go through the
 * room actors like any client's (auth rules, one piece of work at a time per room).
 */
export class AdminRoomsService {
  /** Moves whenever a table the room list reads changes (by anyone; see WATCHED_TABLES). */
  private generation = 0;
  private readonly cache = new Map<string, { generation: number; value: unknown }>();

  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
    private readonly opts: { serverName: string },
    private readonly rooms: RoomsService,
    private readonly history: RoomHistoryService,
    private readonly persister: Persister,
    private readonly positions: StreamPositions,
  ) {
    notifier.subscribe(ROOM_LIST_TABLES, () => {
      this.generation++;
      this.cache.clear();
    });
  }

  private isLocal(userId: string): boolean {
    return userId.endsWith(`:${this.opts.serverName}`) && userId.startsWith('@');
  }

  private actor(roomId: string): Promise<RoomActor | null> {
    return this.rooms.creator.actors.get(roomId);
  }

  /** A value computed once per generation of the room tables, when the change signal can be trusted. */
  private async cached<T>(key: string, compute: () => Promise<T>): Promise<T> {
    if (!this.notifier.fresh()) return compute();
    const generation = this.generation;
    const hit = this.cache.get(key);
    if (hit && hit.generation === generation) return hit.value as T;
    const value = await compute();
    // A read that overlapped a change is not kept: it may miss it.
    if (this.generation === generation) {
      if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, { generation, value });
    }
    return value;
  }

  // -------------------------------------------------------------------------------------------
  // Room views

  /** GET /_synapse/admin/v1/rooms. */
  async list(req: RoomListRequest): Promise<Record<string, unknown>> {
    const order = ORDER_KEYS[req.orderBy];
    if (!order) throw invalidParam(`Query parameter 'order_by' must be one of [${ROOM_ORDER_BY.map((o) => `'${o}'`).join(', ')}]`);
    if (req.searchTerm === '') throw invalidParam('search_term cannot be an empty string');
    const q: RoomListQuery = {
      orderBy: order.key,
      ascending: order.descending === (req.dir === 'b'),
      searchTerm: req.searchTerm,
      publicRooms: req.publicRooms,
      emptyRooms: req.emptyRooms,
      blocked: req.blocked,
    };
    const filterKey = JSON.stringify([q.searchTerm ?? null, q.publicRooms ?? null, q.emptyRooms ?? null, q.blocked ?? null]);
    const [total, rooms] = await Promise.all([
      this.cached(`total ${filterKey}`, () => store.countRooms(this.db, q)),
      this.cached(`page ${filterKey} ${q.orderBy} ${q.ascending} ${req.from} ${req.limit}`, async () => (await store.listRooms(this.db, q, req.from, req.limit)).map(summaryOf)),
    ]);
    const body: Record<string, unknown> = { offset: req.from, rooms, total_rooms: total };
    if (req.from + req.limit < total) body.next_batch = req.from + req.limit;
    if (req.from > 0) body.prev_batch = Math.max(req.from - req.limit, 0);
    return body;
  }

  /** GET /_synapse/admin/v1/rooms/<room_id>: 404 "Room not found" for unknown (or malformed) IDs, as Synapse. */
  async details(roomId: string): Promise<RoomDetails> {
    const row = await store.roomWithStats(this.db, roomId);
    if (!row) throw roomNotFound();
    const actor = await this.actor(roomId);
    const tombstone = actor?.get('m.room.tombstone', '');
    const replacement = tombstone?.content.replacement_room;
    const [devices, forgotten, extremities] = await Promise.all([
      store.joinedLocalDevices(this.db, roomId),
      store.isLocallyForgotten(this.db, roomId),
      store.countForwardExtremities(this.db, roomId),
    ]);
    const s = summaryOf(row);
    return {
      room_id: s.room_id,
      name: s.name,
      canonical_alias: s.canonical_alias,
      joined_members: s.joined_members,
      joined_local_members: s.joined_local_members,
      version: s.version,
      creator: s.creator,
      encryption: s.encryption,
      federatable: s.federatable,
      public: s.public,
      join_rules: s.join_rules,
      guest_access: s.guest_access,
      history_visibility: s.history_visibility,
      state_events: s.state_events,
      avatar: row.avatar ?? null,
      topic: row.topic ?? null,
      room_type: s.room_type,
      joined_local_devices: devices,
      forgotten,
      tombstoned: tombstone !== undefined,
      replacement_room: typeof replacement === 'string' ? replacement : null,
      forward_extremities: extremities,
    };
  }

  private async knownRoom(roomId: string): Promise<RoomActor> {
    const actor = await this.actor(roomId);
    if (!actor) throw roomNotFound();
    return actor;
  }

  /** GET …/members: currently joined users, local and remote. */
  async members(roomId: string): Promise<{ members: string[]; total: number }> {
    await this.knownRoom(roomId);
    const members = await store.joinedUsers(this.db, roomId);
    return { members, total: members.length };
  }

  /** GET …/state[?type=]: the current state in client format, ordered by type and state key. */
  async state(requester: Requester, roomId: string, type?: string): Promise<ClientEvent[]> {
    const actor = await this.knownRoom(roomId);
    const stored = await events.getEvents(this.db, await store.currentStateIds(this.db, roomId, type));
    const order = (e: events.StoredEvent) => `${String(e.pdu.type)}\u0000${String(e.pdu.state_key)}`;
    stored.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
    return this.rooms.toClient(stored, actor, requester);
  }

  /** GET …/messages: every event, no visibility applied. A room the server does not know has none. */
  async messages(requester: Requester, roomId: string, req: MessagesRequest): Promise<Record<string, unknown>> {
    try {
      return await this.history.messages(requester, roomId, req, true);
    } catch (e) {
      // Synapse pages an unknown room like an empty one.
      if (e instanceof UnknownRoom) return { chunk: [], start: req.from && req.from !== 'END' ? req.from : `s${this.positions.current}` };
      throw e;
    }
  }

  /** GET …/context/<event_id>. */
  async context(requester: Requester, roomId: string, eventId: string, opts: { limit?: number; filter?: string }): Promise<Record<string, unknown>> {
    try {
      return await this.history.context(requester, roomId, eventId, opts, true);
    } catch (e) {
      if (e instanceof UnknownRoom) throw notFound('Event not found.');
      throw e;
    }
  }

  /** GET …/timestamp_to_event. */
  async timestampToEvent(requester: Requester, roomId: string, ts: number, dir: 'f' | 'b'): Promise<{ event_id: string; origin_server_ts: number }> {
    try {
      return await this.history.timestampToEvent(requester, roomId, ts, dir, true);
    } catch (e) {
      if (e instanceof UnknownRoom) throw notFound(`Unable to find event from ${ts} in direction ${dir}`);
      throw e;
    }
  }

  /** GET …/hierarchy (Δ1.142): no access checks; rooms the server is not in are left out. */
  hierarchy(requester: Requester, roomId: string, opts: { limit?: number; maxDepth?: number; from?: string }) {
    return this.history.hierarchy(requester, roomId, { ...opts, suggestedOnly: false }, true);
  }

  // -------------------------------------------------------------------------------------------
  // Forward extremities

  /** Synapse's room identifier resolution: a room ID as given, or the room behind a local alias. */
  async resolveRoomIdOrAlias(identifier: string): Promise<string> {
    if (isRoomId(identifier)) return identifier;
    if (isRoomAlias(identifier)) {
      const roomId = await roomsStore.roomIdForAlias(this.db, identifier);
      if (!roomId) throw notFound(`Room alias ${identifier} not found`);
      return roomId;
    }
    throw badRequest(`${identifier} was not legal room ID or room alias`);
  }

  /** GET …/forward_extremities. */
  async forwardExtremities(identifier: string): Promise<{ count: number; results: store.ExtremityRow[] }> {
    const roomId = await this.resolveRoomIdOrAlias(identifier);
    const results = await store.forwardExtremities(this.db, roomId);
    return { count: results.length, results };
  }

  /**
   * DELETE …/forward_extremities: keeps only the newest. Runs on the room's actor, after its
   * queued events have committed, and leaves the actor's head on the kept event, so the next
   * event builds on exactly what the table holds.
   */
  async deleteForwardExtremities(identifier: string): Promise<{ deleted: number }> {
    const roomId = await this.resolveRoomIdOrAlias(identifier);
    const none = () => badRequest(`No forward extremity event found for room ${roomId}`);
    const actor = await this.actor(roomId);
    if (!actor) {
      const r = await store.keepNewestExtremity(this.db, roomId);
      if (!r) throw none();
      return { deleted: r.deleted };
    }
    return actor.run(async () => {
      await this.persister.drained();
      const r = await store.keepNewestExtremity(this.db, roomId);
      if (!r) throw none();
      actor.extremities = [r.kept];
      return { deleted: r.deleted };
    });
  }

  // -------------------------------------------------------------------------------------------
  // Blocking

  private checkBlockRoomId(roomId: string): void {
    if (!isRoomId(roomId)) throw badRequest(`${roomId} is not a legal room ID`);
  }

  /** GET …/block: works for rooms the server has never seen. */
  async blockStatus(roomId: string): Promise<{ block: boolean; user_id?: string }> {
    this.checkBlockRoomId(roomId);
    const by = await store.blockedBy(this.db, roomId);
    return by === undefined ? { block: false } : { block: true, user_id: by };
  }

  /** PUT …/block {block}: Synapse checks the room ID, then `block`. */
  async setBlocked(requester: Requester, roomId: string, body: Record<string, unknown>): Promise<{ block: boolean }> {
    this.checkBlockRoomId(roomId);
    if (!('block' in body)) throw missingParam("Missing params: ['block']");
    if (typeof body.block !== 'boolean') throw new MatrixError(400, 'M_BAD_JSON', "Param 'block' must be a boolean.");
    if (body.block) await store.blockRoom(this.db, roomId, requester.userId);
    else await store.unblockRoom(this.db, roomId);
    return { block: body.block };
  }

  /** Whether joins and invites to the room are refused. */
  async isBlocked(roomId: string): Promise<boolean> {
    return (await store.blockedBy(this.db, roomId)) !== undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Acting in rooms

  /**
   * POST …/make_room_admin (catalogue §6.13): the joined local user with the highest power level
   * (or the creator, without power levels) gives the target the same level, then invites them to
   * a non-public room they are neither in nor invited to.
   */
  async makeRoomAdmin(requester: Requester, identifier: string, body: Record<string, unknown>): Promise<Record<string, never>> {
    const roomId = await this.resolveRoomIdOrAlias(identifier);
    const target = body.user_id === undefined ? requester.userId : body.user_id;
    if (typeof target !== 'string') throw badRequest('user_id must be a string', 'M_INVALID_PARAM');
    parseUserId(target);
    const actor = await this.actor(roomId);
    const create = actor?.get('m.room.create', '');
    if (!actor || !create) throw badRequest('Server not in room');
    const noAdmin = () => badRequest('No local admin user in room');

    const pl = actor.get('m.room.power_levels', '');
    let adminUser: string | undefined;
    let content: Record<string, unknown>;
    if (pl) {
      const users = (pl.content.users ?? {}) as Record<string, unknown>;
      const local = Object.keys(users)
        .filter((u) => this.isLocal(u))
        .sort((a, b) => Number(users[b]) - Number(users[a]));
      if (local.length === 0) throw noAdmin();
      adminUser = local.find((u) => actor.membershipOf(u) === 'join');
      if (!adminUser) throw noAdmin();
      content = pl.content;
    } else {
      adminUser = create.sender;
      if (!this.isLocal(adminUser)) throw noAdmin();
      content = {};
    }
    const users = { ...((content.users ?? {}) as Record<string, unknown>) };
    users[target] = users[adminUser] ?? 100;
    const admin = adminUser;
    try {
      await this.rooms.creator.send(roomId, admin, { type: 'm.room.power_levels', stateKey: '', content: { ...content, users } });
    } catch (e) {
      // The admin found turned out not to have the power to change power levels.
      if (e instanceof MatrixError && e.status === 403) throw badRequest('No local admin user in room with power to update power levels.');
      throw e;
    }
    const membership = actor.membershipOf(target);
    if (membership === 'join' || membership === 'invite') return {};
    if (actor.get('m.room.join_rules', '')?.content.join_rule === 'public') return {};
    await this.rooms.changeMembership(actingAs(admin), roomId, 'invite', target, { admitted: true });
    return {};
  }

  /**
   * POST /_synapse/admin/v1/join/<room_id_or_alias> (catalogue §6.15): joins a local user; in a
   * room whose join rule is not public the calling admin invites them first (so the admin must be
   * in the room and allowed to invite: the normal auth rules decide).
   */
  async joinUser(requester: Requester, identifier: string, body: Record<string, unknown>): Promise<{ room_id: string }> {
    if (!('user_id' in body)) throw missingParam("Missing params: ['user_id']");
    if (typeof body.user_id !== 'string') throw invalidParam('user_id must be a string');
    const userId = parseUserId(body.user_id).full;
    if (!this.isLocal(userId)) throw badRequest('This endpoint can only be used with local users');
    if (!(await getUser(this.db, userId))) throw notFound('User not found');
    const roomId = await this.resolveRoomIdOrAlias(identifier);
    const actor = await this.actor(roomId);
    if (!actor) throw notFound('No known servers');
    const joinRule = actor.get('m.room.join_rules', '')?.content.join_rule;
    const current = actor.membershipOf(userId);
    // Synapse invites even a member who is already in (and then fails); Axon skips the needless invite.
    if (joinRule !== undefined && joinRule !== 'public' && current !== 'join' && current !== 'invite') {
      await this.rooms.changeMembership(requester, roomId, 'invite', userId, { admitted: true });
    }
    await this.rooms.changeMembership(actingAs(userId), roomId, 'join', userId, { admitted: true });
    return { room_id: roomId };
  }

  /** GET /_synapse/admin/v1/fetch_event/<event_id> (Δ1.140): the stored event as federation sees it, unredacted. */
  async fetchEvent(eventId: string): Promise<{ event: Record<string, unknown> }> {
    const ev = await events.getEvent(this.db, eventId);
    if (!ev) throw notFound('Event not found');
    const pdu: Record<string, unknown> = { ...ev.pdu, event_id: ev.eventId };
    pdu.unsigned = { ...((ev.pdu.unsigned ?? {}) as Record<string, unknown>) };
    return { event: pdu };
  }

  // -------------------------------------------------------------------------------------------
  // A user's rooms

  /** GET /_synapse/admin/v1/users/<user_id>/memberships (Δ1.145). */
  async memberships(userId: string): Promise<{ memberships: Record<string, string> }> {
    const out: Record<string, string> = {};
    for (const r of await store.membershipsOf(this.db, userId)) out[r.room_id] = r.membership;
    return { memberships: out };
  }

  /** GET …/sent_invite_count?from_ts= (Δ1.122). */
  async sentInviteCount(userId: string, fromTs: number): Promise<{ invite_count: number }> {
    return { invite_count: await store.sentInviteCount(this.db, userId, fromTs) };
  }

  /** GET …/cumulative_joined_room_count?from_ts= (Δ1.122). */
  async cumulativeJoinedRoomCount(userId: string, fromTs: number): Promise<{ cumulative_joined_room_count: number }> {
    return { cumulative_joined_room_count: await store.cumulativeJoinedRoomCount(this.db, userId, fromTs) };
  }
}

/** The server acting for a local user (Synapse's create_requester). */
function actingAs(userId: string): Requester {
  return { userId, deviceId: null, tokenId: 0, isGuest: false, admin: false, shadowBanned: false, authenticatedBy: null };
}

/** Synapse's RoomID.is_valid: `!` then an opaque part and `:` with a server name. */
export function isRoomId(s: string): boolean {
  return /^![^:]+:.+$/.test(s);
}

function isRoomAlias(s: string): boolean {
  return /^#[^:]+:.+$/.test(s);
}
