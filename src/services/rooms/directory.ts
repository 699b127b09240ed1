import { MatrixError, badJson, badRequest, forbidden, invalidParam, notFound } from '../../errors.js';
import { MAX_ALIAS_LENGTH, checkCanonicalAliasContent, parseRoomAlias, pyRepr } from '../../matrix/event-validation.js';
import { parseServerName } from '../../matrix/server-name.js';
import type { Db } from '../../storage/database.js';
import * as rooms from '../../storage/stores/rooms.js';
import type { Requester } from '../auth.js';
import type { EventCreator } from './event-creator.js';
import type { RoomActor } from './room-actor.js';

/** Python's string.whitespace, which Synapse refuses in an alias localpart. */
const WHITESPACE = /[ \t\n\r\v\f]/;

const domainOf = (id: string) => id.slice(id.indexOf(':') + 1);

/** Synapse's RoomAlias.is_valid: `#local:domain` with a valid server name (400 M_INVALID_PARAM). */
export function checkAliasParam(alias: string): { localpart: string; domain: string } {
  let parsed;
  try {
    parsed = parseRoomAlias(alias);
  } catch {
    throw invalidParam('Room alias invalid');
  }
  if (!parseServerName(parsed.domain)) throw invalidParam('Room alias invalid');
  return parsed;
}

/** A user's power level in the room's current state (the auth rules' reading of power levels). */
export function userLevel(actor: RoomActor, userId: string): number {
  const pl = actor.get('m.room.power_levels', '');
  if (!pl) {
    const create = actor.get('m.room.create', '');
    const creator = create ? (create.content.creator ?? create.sender) : undefined;
    return creator === userId ? 100 : 0;
  }
  const users = (pl.content.users ?? {}) as Record<string, unknown>;
  return toLevel(users[userId] ?? pl.content.users_default, 0);
}

/** The level needed to send a state event of `type`. */
export function stateLevel(actor: RoomActor, type: string): number {
  const content = actor.get('m.room.power_levels', '')?.content ?? {};
  const events = (content.events ?? {}) as Record<string, unknown>;
  return toLevel(events[type] ?? content.state_default, 50);
}

function toLevel(v: unknown, dflt: number): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^[+-]?\d+$/.test(v.trim())) return Number(v);
  return dflt;
}

/**
 * `PUT /rooms/{id}/state/m.room.canonical_alias`: the content's shape, then every alias it adds
 * (the new `alias`, and `alt_aliases` entries not already there) must exist here and point at
 * this room (400 M_BAD_ALIAS, as Synapse checks only what changed: a deleted alias can stay).
 */
export async function checkCanonicalAliasChange(db: Db, actor: RoomActor | null, stateKey: string, content: Record<string, unknown>): Promise<void> {
  checkCanonicalAliasContent(content);
  if (!actor) return; // unknown room: the send answers 404
  const current = actor.get('m.room.canonical_alias', stateKey)?.content ?? {};
  const added: string[] = [];
  if (typeof content.alias === 'string' && content.alias !== '' && content.alias !== current.alias) added.push(content.alias);
  const oldAlt = Array.isArray(current.alt_aliases) ? (current.alt_aliases as unknown[]) : [];
  for (const a of (content.alt_aliases ?? []) as string[]) if (!oldAlt.includes(a) && !added.includes(a)) added.push(a);
  for (const alias of added) {
    if ((await rooms.roomIdForAlias(db, alias)) !== actor.roomId) {
      throw new MatrixError(400, 'M_BAD_ALIAS', `Room alias ${alias} does not point to the room`);
    }
  }
}

/** Synapse's pydantic text for a body field that does not match (400 M_BAD_JSON). */
const pydantic = (loc: string, msg: string, type: string) => badJson(`1 validation error for PutBody\n${loc}\n  ${msg} (type=${type})`);

/** The PUT /directory/room body: `room_id`, and the unspecified `servers` Synapse accepts. */
function aliasBody(body: Record<string, unknown>): { roomId: string; servers?: string[] } {
  if (body.room_id === undefined) throw pydantic('room_id', 'field required', 'value_error.missing');
  if (typeof body.room_id !== 'string') throw pydantic('room_id', 'str type expected', 'type_error.str');
  const servers = body.servers;
  if (servers === undefined || servers === null) return { roomId: body.room_id };
  if (!Array.isArray(servers)) throw pydantic('servers', 'value is not a valid list', 'type_error.list');
  const bad = servers.findIndex((s) => typeof s !== 'string');
  if (bad >= 0) throw pydantic(`servers -> ${bad}`, 'str type expected', 'type_error.str');
  return { roomId: body.room_id, servers: servers as string[] };
}

export interface PublicRoomsRequest {
  /** 0 or absent: no limit. */
  limit?: number;
  since?: string;
  searchTerm?: string;
  roomTypes?: (string | null)[];
  /** `third_party_instance_id`: a network's own list (none exist without application services). */
  network?: string;
}

export interface PublicRoomsChunkEntry {
  room_id: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  name?: string;
  topic?: string;
  canonical_alias?: string;
  avatar_url?: string;
  join_rule?: string;
  room_type?: string;
}

export interface PublicRoomsResponse {
  chunk: PublicRoomsChunkEntry[];
  next_batch?: string;
  prev_batch?: string;
  total_room_count_estimate: number;
}

/** `since` tokens: the edge room of a page and the direction to read from it, opaque to clients. */
function pageToken(forwards: boolean, joinedMembers: number, roomId: string): string {
  return Buffer.from(JSON.stringify([forwards ? 'f' : 'b', joinedMembers, roomId])).toString('base64url');
}

function readPageToken(token: string): { forwards: boolean; joinedMembers: number; roomId: string } {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 3 && (v[0] === 'f' || v[0] === 'b') && Number.isSafeInteger(v[1]) && typeof v[2] === 'string') {
      return { forwards: v[0] === 'f', joinedMembers: v[1] as number, roomId: v[2] };
    }
  } catch {
    // fall through
  }
  throw invalidParam('Invalid since token');
}

/**
 * Room aliases (`/directory/room/{alias}`, `/rooms/{id}/aliases`), the public room directory
 * (`/publicRooms`, `/directory/list/room/{id}`) and forgetting rooms, with Synapse's rules and
 * answers. Aliases live in room_aliases / room_alias_servers; the directory reads rooms.is_public
 * with the room statistics the persister keeps current.
 */
export class RoomDirectoryService {
  constructor(
    private readonly db: Db,
    private readonly opts: { serverName: string },
    private readonly creator: EventCreator,
  ) {}

  /** PUT /directory/room/{alias}: Synapse's checks in Synapse's order. */
  async createAlias(requester: Requester, alias: string, body: Record<string, unknown>): Promise<void> {
    const parsed = checkAliasParam(alias);
    const { roomId, servers } = aliasBody(body);
    const actor = await this.creator.actors.get(roomId);
    if (!actor) throw badRequest('Room does not exist');
    if (Buffer.byteLength(alias, 'utf8') > MAX_ALIAS_LENGTH) throw invalidParam(`Can't create aliases longer than ${MAX_ALIAS_LENGTH} characters`);
    if (!requester.admin && actor.membershipOf(requester.userId) !== 'join') throw forbidden('You must be in the room to create an alias for it');
    if (WHITESPACE.test(parsed.localpart)) throw badRequest('Invalid characters in room alias');
    if (parsed.domain !== this.opts.serverName) throw badRequest('Room alias must be local');
    const via = servers && servers.length > 0 ? [...new Set(servers)] : this.serversInRoom(actor);
    if (via.length === 0) throw badRequest('Failed to get server list');
    if (!(await rooms.insertAlias(this.db, alias, roomId, requester.userId, via))) throw new MatrixError(409, 'M_UNKNOWN', `Room alias ${alias} already exists`);
  }

  /** GET /directory/room/{alias}: the room and the servers to join it through (this one first). */
  async getAlias(alias: string): Promise<{ room_id: string; servers: string[] }> {
    const parsed = checkAliasParam(alias);
    // Remote aliases need a federation query, which Axon does not make yet: unknown here.
    const row = parsed.domain === this.opts.serverName ? await rooms.getAlias(this.db, alias) : undefined;
    if (!row) throw notFound(`Room alias ${alias} not found`);
    const actor = await this.creator.actors.get(row.room_id);
    const all = new Set([...row.servers, ...(actor ? this.serversInRoom(actor) : [])]);
    const servers = all.has(this.opts.serverName) ? [this.opts.serverName, ...[...all].filter((s) => s !== this.opts.serverName)] : [...all];
    return { room_id: row.room_id, servers };
  }

  /**
   * DELETE /directory/room/{alias}: by its creator, a server admin, or a member who may change the
   * room's canonical alias. The canonical alias event drops the alias afterwards when it named it
   * (sent as the requester; skipped when they may not send it, as Synapse does).
   */
  async deleteAlias(requester: Requester, alias: string): Promise<void> {
    checkAliasParam(alias);
    const row = await rooms.getAlias(this.db, alias);
    if (!row) throw notFound('Unknown room alias');
    if (row.creator !== requester.userId && !(await this.canChangeRoomList(requester, row.room_id))) {
      throw forbidden("You don't have permission to delete the alias.");
    }
    const roomId = await rooms.deleteAlias(this.db, alias);
    if (roomId === undefined) throw notFound('Unknown room alias');
    await this.dropFromCanonicalAlias(requester.userId, roomId, alias);
  }

  private async dropFromCanonicalAlias(userId: string, roomId: string, alias: string): Promise<void> {
    const actor = await this.creator.actors.get(roomId);
    const current = actor?.get('m.room.canonical_alias', '');
    if (!current) return;
    const content = { ...current.content };
    let changed = false;
    if (content.alias === alias) {
      delete content.alias;
      changed = true;
    }
    if (Array.isArray(content.alt_aliases) && content.alt_aliases.includes(alias)) {
      const rest = (content.alt_aliases as unknown[]).filter((a) => a !== alias);
      if (rest.length > 0) content.alt_aliases = rest;
      else delete content.alt_aliases;
      changed = true;
    }
    if (!changed) return;
    await this.creator.send(roomId, userId, { type: 'm.room.canonical_alias', stateKey: '', content }).catch((e) => {
      if (!(e instanceof MatrixError && e.status === 403)) throw e;
    });
  }

  /** GET /rooms/{id}/aliases: for members (or anyone when world readable) and server admins. */
  async roomAliases(requester: Requester, roomId: string): Promise<string[]> {
    if (!requester.admin) {
      const actor = await this.creator.actors.get(roomId);
      const member = actor?.membershipOf(requester.userId) === 'join';
      const worldReadable = actor?.get('m.room.history_visibility', '')?.content.history_visibility === 'world_readable';
      if (!member && !worldReadable) throw forbidden(`User ${requester.userId} not in room ${roomId}, and room previews are disabled`);
    }
    return rooms.aliasesOfRoom(this.db, roomId);
  }

  /** GET /directory/list/room/{id}. */
  async visibility(roomId: string): Promise<{ visibility: 'public' | 'private' }> {
    const pub = await rooms.isPublic(this.db, roomId);
    if (pub === undefined) throw notFound('Unknown room');
    return { visibility: pub ? 'public' : 'private' };
  }

  /** PUT /directory/list/room/{id}: moderators (who may send m.room.canonical_alias) and server admins. */
  async setVisibility(requester: Requester, roomId: string, body: Record<string, unknown>): Promise<void> {
    const visibility = body.visibility ?? 'public';
    if (visibility !== 'public' && visibility !== 'private') {
      throw pydantic('visibility', "unexpected value; permitted: 'public', 'private'", `value_error.const; given=${pyRepr(body.visibility).replace(/^'(.*)'$/, '$1')}; permitted=('public', 'private')`);
    }
    if ((await rooms.isPublic(this.db, roomId)) === undefined) throw badRequest('Unknown room');
    if (!(await this.canChangeRoomList(requester, roomId))) {
      throw forbidden('This server requires you to be a moderator in the room to edit its room list entry');
    }
    await rooms.setPublic(this.db, roomId, visibility === 'public');
  }

  /**
   * Synapse's check_can_change_room_list: server admins; otherwise a joined member (403 "not in
   * room" else) whose level reaches that of m.room.canonical_alias.
   */
  private async canChangeRoomList(requester: Requester, roomId: string): Promise<boolean> {
    if (requester.admin) return true;
    const actor = await this.creator.actors.get(roomId);
    if (!actor || actor.membershipOf(requester.userId) !== 'join') throw forbidden(`User ${requester.userId} not in room ${roomId}`);
    return userLevel(actor, requester.userId) >= stateLevel(actor, 'm.room.canonical_alias');
  }

  /**
   * GET/POST /publicRooms on this server's list: keyset pages over (joined members, room ID),
   * with one extra row read to tell whether another page follows (Synapse's batching).
   */
  async publicRooms(req: PublicRoomsRequest): Promise<PublicRoomsResponse> {
    if (req.network !== undefined) return { chunk: [], total_room_count_estimate: 0 };
    const token = req.since !== undefined && req.since !== '' ? readPageToken(req.since) : undefined;
    const forwards = token?.forwards ?? true;
    const limit = req.limit !== undefined && req.limit > 0 ? req.limit : undefined;
    const filter = { searchTerm: req.searchTerm, roomTypes: req.roomTypes };
    let rows = await rooms.publicRooms(this.db, {
      ...filter,
      forwards,
      bound: token && { joinedMembers: token.joinedMembers, roomId: token.roomId },
      limit: limit === undefined ? undefined : limit + 1,
    });
    const more = limit !== undefined && rows.length > limit;
    if (more) rows = forwards ? rows.slice(0, limit) : rows.slice(rows.length - limit);
    const res: PublicRoomsResponse = { chunk: rows.map(chunkEntry), total_room_count_estimate: await rooms.countPublicRooms(this.db, filter) };
    const first = rows[0];
    const last = rows[rows.length - 1];
    if (first && last) {
      // A page reached through a token has a page before it in the direction it came from.
      const before = forwards ? token !== undefined : more;
      const after = forwards ? more : token !== undefined;
      if (before) res.prev_batch = pageToken(false, first.joined_members, first.room_id);
      if (after) res.next_batch = pageToken(true, last.joined_members, last.room_id);
    }
    return res;
  }

  /** POST /rooms/{id}/forget: only once the user has left or been banned (Synapse: 400 otherwise). */
  async forget(requester: Requester, roomId: string): Promise<void> {
    const actor = await this.creator.actors.get(roomId);
    const membership = actor?.membershipOf(requester.userId);
    if (membership !== undefined && membership !== 'leave' && membership !== 'ban') {
      throw badRequest(`User ${requester.userId} in room ${roomId}`);
    }
    await rooms.forgetRoom(this.db, requester.userId, roomId);
  }

  private serversInRoom(actor: RoomActor): string[] {
    const servers = new Set<string>();
    for (const e of actor.stateEntries()) if (e.type === 'm.room.member' && e.content.membership === 'join') servers.add(domainOf(e.state_key));
    return [...servers];
  }
}

function chunkEntry(r: rooms.PublicRoomRow): PublicRoomsChunkEntry {
  const e: PublicRoomsChunkEntry = {
    room_id: r.room_id,
    num_joined_members: r.joined_members,
    world_readable: r.history_visibility === 'world_readable',
    guest_can_join: r.guest_access === 'can_join',
  };
  // Absent rather than null, as Synapse leaves out what a room does not have.
  if (r.name !== null) e.name = r.name;
  if (r.topic !== null) e.topic = r.topic;
  if (r.canonical_alias !== null) e.canonical_alias = r.canonical_alias;
  if (r.avatar !== null) e.avatar_url = r.avatar;
  if (r.join_rules !== null) e.join_rule = r.join_rules;
  if (r.room_type !== null) e.room_type = r.room_type;
  return e;
}
