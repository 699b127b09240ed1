import { randomBytes } from 'node:crypto';
import { MatrixError, badRequest, forbidden, notFound } from '../../errors.js';
import { canonicalJson } from '../../matrix/canonical-json.js';
import { checkCreateRoomRequest, createRoomEvents } from '../../matrix/room-presets.js';
import { DEFAULT_ROOM_VERSION, resolveRoomVersion, roomVersion } from '../../matrix/room-versions.js';
import type { Db } from '../../storage/database.js';
import * as events from '../../storage/stores/events.js';
import * as rooms from '../../storage/stores/rooms.js';
import type { Requester } from '../auth.js';
import type { ProfilesService } from '../profiles.js';
import { toClientEvent, type ClientEvent } from './client-events.js';
import { checkCanonicalAliasChange } from './directory.js';
import type { Draft, EventCreator } from './event-creator.js';
import type { RoomActor } from './room-actor.js';
import type { SendPolicy } from './send-policy.js';

/** Membership changes a client asks for through the room endpoints. */
export type MembershipAction = 'join' | 'invite' | 'leave' | 'kick' | 'ban' | 'unban' | 'knock';

/** Third-party (email, phone) invites: Axon has no identity-server client. */
export const thirdPartyInvitesUnsupported = () => forbidden('Third-party invites are not supported by this server');

/**
 * POST /rooms/{id}/invite with `medium`/`address` instead of `user_id`: the spec's required fields
 * are checked as Synapse does (400 M_MISSING_PARAM), then the invite is refused cleanly.
 */
export function refuseThirdPartyInvite(body: Record<string, unknown>): never {
  for (const field of ['id_server', 'medium', 'address', 'id_access_token']) {
    if (typeof body[field] !== 'string') throw new MatrixError(400, 'M_MISSING_PARAM', `Missing parameter: ${field}`);
  }
  throw thirdPartyInvitesUnsupported();
}

const notInRoom = (userId: string, roomId: string) => forbidden(`User ${userId} not in room ${roomId}`);
const unknownRoom = () => notFound('Unknown room');
const suspended = (message: string) => new MatrixError(403, 'M_USER_SUSPENDED', message);

const ROOM_ID_LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function newRoomId(serverName: string): string {
  let s = '';
  for (const b of randomBytes(18)) s += ROOM_ID_LETTERS[b % ROOM_ID_LETTERS.length];
  return `!${s}:${serverName}`;
}

export interface RoomsOptions {
  serverName: string;
  defaultRoomVersion: string;
}

/**
 * The room rules of the client API: creating rooms, membership, sending, state and single-event
 * reads. Events go through the EventCreator (room actor, auth rules, persister); reads come from
 * the stores and are filtered by what the requester may see.
 */
export class RoomsService {
  /** Whether an admin blocked the room (set by the composition root; see AdminRoomsService). */
  isBlocked: (roomId: string) => Promise<boolean> = async () => false;

  constructor(
    private readonly db: Db,
    private readonly opts: RoomsOptions,
    readonly creator: EventCreator,
    private readonly profiles: ProfilesService,
    /** Shadow-ban and rc_message for client-initiated events (absent: neither applies). */
    private readonly policy?: SendPolicy,
  ) {}

  /**
   * Before a client-initiated event: a shadow-banned requester gets a made-up event ID (returned;
   * nothing is sent) when `shadowBan` says the action is one Synapse fakes; then rc_message.
   */
  private async admit(requester: Requester, roomId: string, shadowBan: boolean): Promise<string | null> {
    if (shadowBan) {
      const fake = await this.policy?.fakeEventId(requester, roomId);
      if (fake) return fake;
    }
    await this.policy?.ratelimit(requester);
    return null;
  }

  /** POST /createRoom: the room's initial events go to the persister together (one commit). */
  async createRoom(requester: Requester, body: unknown): Promise<{ room_id: string; room_alias?: string }> {
    // Synapse counts a room creation as one rc_message action, before it reads the request.
    await this.policy?.ratelimit(requester);
    const req = checkCreateRoomRequest(body, { creator: requester.userId, serverName: this.opts.serverName });
    // A shadow-banned user's room is created, without its invites (Synapse).
    if (requester.shadowBanned) {
      delete req.invite;
      delete req.invite_3pid;
    }
    // Third-party invites need an identity server, which Axon does not talk to: refused before
    // anything is created, rather than a room created with its invites silently dropped.
    if (req.invite_3pid && req.invite_3pid.length > 0) throw thirdPartyInvitesUnsupported();
    const versionId = req.room_version ?? this.opts.defaultRoomVersion ?? DEFAULT_ROOM_VERSION;
    const version = roomVersion(versionId);
    if (!version) throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', 'Your homeserver does not support this room version');
    const creator = requester.userId;
    let roomAlias: string | undefined;
    if (req.room_alias_name !== undefined) {
      roomAlias = `#${req.room_alias_name}:${this.opts.serverName}`;
      if (await rooms.roomIdForAlias(this.db, roomAlias)) throw new MatrixError(400, 'M_ROOM_IN_USE', 'Room alias already taken');
    }
    const profile = await this.profileOf(creator);
    const plan = createRoomEvents(req, { creator, creatorProfile: { displayname: profile.displayname, avatar_url: profile.avatarUrl }, version, serverName: this.opts.serverName, roomAlias });
    const invitees = await Promise.all(plan.invites.map(async (u) => ({ userId: u, profile: await this.profileOf(u).catch(() => ({ displayname: null, avatarUrl: null })) })));

    const roomId = newRoomId(this.opts.serverName);
    const actor = this.creator.actors.create(roomId, version);
    const drafts: Draft[] = plan.events.map((e) => ({ type: e.type, stateKey: e.state_key, content: e.content }));
    for (const { userId, profile: p } of invitees) {
      const content: Record<string, unknown> = { membership: 'invite' };
      if (p.displayname !== null) content.displayname = p.displayname;
      if (p.avatarUrl !== null) content.avatar_url = p.avatarUrl;
      if (req.is_direct) content.is_direct = true;
      drafts.push({ type: 'm.room.member', stateKey: userId, content });
    }
    // All or nothing: a refused initial_state event leaves no half-made room behind.
    const last = await actor.run(() => this.creator.appendAll(actor, creator, drafts).at(-1)!);
    await last.committed;
    if (roomAlias) await rooms.createAlias(this.db, roomAlias, roomId, creator, this.opts.serverName);
    if (req.visibility === 'public') await rooms.setPublic(this.db, roomId, true);
    return roomAlias ? { room_id: roomId, room_alias: roomAlias } : { room_id: roomId };
  }

  /** PUT /rooms/{id}/send/{type}/{txnId}. */
  async sendMessage(requester: Requester, roomId: string, type: string, txnId: string, content: Record<string, unknown>): Promise<string> {
    if (requester.suspended) throw suspended('Sending messages while account is suspended is not allowed.');
    const fake = await this.admit(requester, roomId, true);
    if (fake) return fake;
    const txn = requester.deviceId !== null ? { deviceId: requester.deviceId, txnId } : undefined;
    return this.creator.send(roomId, requester.userId, { type, content }, { txn });
  }

  /**
   * PUT /rooms/{id}/state/{type}/{stateKey}. Sending the content the state already has answers the
   * existing event (as Synapse does) instead of a duplicate.
   */
  async setState(requester: Requester, roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string> {
    // Synapse fakes every state change of a shadow-banned user except memberships other than invites.
    // A suspended user may still leave (or reject an invite); nothing else.
    if (requester.suspended && !(type === 'm.room.member' && stateKey === requester.userId && content.membership === 'leave')) {
      throw suspended('Sending state events while account is suspended is not allowed.');
    }
    const fake = await this.admit(requester, roomId, type !== 'm.room.member' || content.membership === 'invite');
    if (fake) return fake;
    if (type === 'm.room.member') return this.setMembershipContent(requester, roomId, stateKey, content);
    if (type === 'm.room.create') throw badRequest('Cannot send m.room.create events after the room is created', 'M_BAD_JSON');
    if (type === 'm.room.canonical_alias') await checkCanonicalAliasChange(this.db, await this.creator.actors.get(roomId), stateKey, content);
    let existing: string | undefined;
    const eventId = await this.creator.send(roomId, requester.userId, { type, stateKey, content }, {
      precheck: (actor) => {
        const current = actor.get(type, stateKey);
        if (current && current.sender === requester.userId && sameJson(current.content, content)) {
          existing = current.event_id;
          throw new SameState();
        }
      },
    }).catch((e) => {
      if (e instanceof SameState) return existing!;
      throw e;
    });
    return eventId;
  }

  /** Membership by a client (POST /rooms/{id}/{join|invite|leave|kick|ban|unban}). */
  async changeMembership(
    requester: Requester,
    roomId: string,
    action: MembershipAction,
    target: string,
    /** `admitted`: the Admin API acting for a user (no shadow-ban, no rc_message, as Synapse's ratelimit=False). */
    extra: { reason?: string; content?: Record<string, unknown>; admitted?: boolean } = {},
  ): Promise<string> {
    if (!extra.admitted) {
      if (requester.suspended && (action === 'join' || action === 'invite' || action === 'knock')) {
        throw suspended(`${action === 'join' ? 'Joining rooms' : action === 'invite' ? 'Sending invites' : 'Knocking on rooms'} while account is suspended is not allowed.`);
      }
      const fake = await this.admit(requester, roomId, action === 'invite');
      if (fake) return fake;
    }
    const membership = action === 'kick' || action === 'unban' ? 'leave' : action;
    // Synapse: nobody joins, is invited to or knocks on a room an admin blocked.
    if ((membership === 'join' || membership === 'invite' || membership === 'knock') && (await this.isBlocked(roomId))) {
      throw forbidden('This room has been blocked on this server');
    }
    const content: Record<string, unknown> = { ...(extra.content ?? {}), membership };
    if (extra.reason !== undefined) content.reason = extra.reason;
    if (membership === 'join' || membership === 'invite' || membership === 'knock') {
      const p = await this.profileOf(target).catch(() => ({ displayname: null, avatarUrl: null }));
      if (p.displayname !== null && content.displayname === undefined) content.displayname = p.displayname;
      if (p.avatarUrl !== null && content.avatar_url === undefined) content.avatar_url = p.avatarUrl;
    }
    return this.creator.send(roomId, requester.userId, { type: 'm.room.member', stateKey: target, content }, {
      precheck: (actor) => this.checkMembershipAction(actor, requester.userId, action, target),
    });
  }

  private async setMembershipContent(requester: Requester, roomId: string, target: string, content: Record<string, unknown>): Promise<string> {
    const membership = content.membership;
    if (typeof membership !== 'string') throw badRequest('Missing membership', 'M_BAD_JSON');
    if ((membership === 'join' || membership === 'invite' || membership === 'knock') && (await this.isBlocked(roomId))) {
      throw forbidden('This room has been blocked on this server');
    }
    return this.creator.send(roomId, requester.userId, { type: 'm.room.member', stateKey: target, content });
  }

  /** Refusals Synapse makes before the auth rules, with its messages. */
  private checkMembershipAction(actor: RoomActor, sender: string, action: MembershipAction, target: string): void {
    const current = actor.membershipOf(target);
    if (action === 'unban' && current !== 'ban') throw forbidden(`User ${target} is not banned`);
    if (action === 'kick' && current !== 'join' && current !== 'invite' && current !== 'knock') throw forbidden(`User ${target} is not in the room`);
    if (action === 'invite' && current === 'join') throw forbidden(`${target} is already in the room.`);
    if (action === 'invite' && current === 'ban') throw forbidden(`${target} is banned from the room`);
    if (action === 'join' && current === 'ban') throw forbidden('You are banned from this room');
    if (action === 'leave' && current === undefined && sender === target) throw notInRoom(target, actor.roomId);
  }

  /** POST /join/{roomIdOrAlias} and /knock/{roomIdOrAlias}: the room ID behind an alias. */
  async resolveRoom(roomIdOrAlias: string): Promise<string> {
    if (roomIdOrAlias.startsWith('!')) {
      if (!(await this.creator.actors.exists(roomIdOrAlias))) throw notFound('No known servers');
      return roomIdOrAlias;
    }
    if (!roomIdOrAlias.startsWith('#')) throw badRequest(`${roomIdOrAlias} was not legal room ID or room alias`, 'M_INVALID_PARAM');
    const roomId = await rooms.roomIdForAlias(this.db, roomIdOrAlias);
    if (!roomId) throw notFound(`Room alias ${roomIdOrAlias} not found`);
    return roomId;
  }

  /** PUT /rooms/{id}/redact/{eventId}/{txnId}. */
  async redact(requester: Requester, roomId: string, eventId: string, txnId: string, content: Record<string, unknown>): Promise<string> {
    const fake = await this.admit(requester, roomId, true);
    if (fake) return fake;
    const actor = await this.creator.actors.get(roomId);
    if (!actor) throw unknownRoom();
    const target = await events.getEvent(this.db, eventId);
    // Suspended users may redact their own events only.
    if (requester.suspended && target?.pdu.sender !== requester.userId) throw suspended('Redacting other users\' events while account is suspended is not allowed.');
    const draftContent = { ...content };
    if (actor.version.redactsInContent) draftContent.redacts = eventId;
    const draft: Draft = { type: 'm.room.redaction', content: draftContent, redacts: eventId };
    const txn = requester.deviceId !== null ? { deviceId: requester.deviceId, txnId } : undefined;
    return this.creator.send(roomId, requester.userId, draft, {
      txn,
      precheck: (a) => {
        // A redaction of another's event needs the redact power level (checked here for every
        // version; v3+ rules would otherwise accept it and only refuse to apply it).
        if (target && target.roomId === roomId && target.pdu.sender !== requester.userId) {
          const pl = a.get('m.room.power_levels', '')?.content ?? {};
          const users = (pl.users ?? {}) as Record<string, unknown>;
          const level = Number(users[requester.userId] ?? pl.users_default ?? 0);
          const redact = Number(pl.redact ?? 50);
          if (level < redact) throw forbidden('You don\'t have permission to redact events');
        }
      },
    });
  }

  /** The requester's membership and what part of a room's state they may read. */
  private async readableState(requester: Requester, roomId: string): Promise<Map<string, string> | 'current'> {
    const actor = await this.creator.actors.get(roomId);
    if (!actor) throw notInRoom(requester.userId, roomId);
    const membership = actor.get('m.room.member', requester.userId);
    if (membership?.content.membership === 'join') return 'current';
    if (membership && membership.content.membership === 'leave') {
      // Members who left see the state as it was when they left (banned ones do not, as Synapse).
      const group = await events.stateGroupOf(this.db, membership.event_id);
      if (group !== undefined) return events.stateOfGroup(this.db, group);
    }
    const hv = actor.get('m.room.history_visibility', '')?.content.history_visibility;
    if (hv === 'world_readable') return 'current';
    throw forbidden(`User ${requester.userId} not in room ${roomId}, and room previews are disabled`);
  }

  /** GET /rooms/{id}/state: the state events in client format. */
  async getState(requester: Requester, roomId: string): Promise<ClientEvent[]> {
    const readable = await this.readableState(requester, roomId);
    const actor = (await this.creator.actors.get(roomId))!;
    const ids = readable === 'current' ? [...actor.stateEntries()].map((e) => e.event_id) : [...readable.values()];
    const stored = await events.getEvents(this.db, ids);
    return this.toClient(stored, actor, requester);
  }

  /** GET /rooms/{id}/state/{type}/{stateKey}: the content. */
  async getStateEvent(requester: Requester, roomId: string, type: string, stateKey: string): Promise<Record<string, unknown>> {
    const readable = await this.readableState(requester, roomId);
    const actor = (await this.creator.actors.get(roomId))!;
    const eventId = readable === 'current' ? actor.get(type, stateKey)?.event_id : readable.get(`${type}\u0000${stateKey}`);
    const ev = eventId ? await events.getEvent(this.db, eventId) : undefined;
    if (!ev) throw notFound('Event not found.');
    const client = (await this.toClient([ev], actor, requester))[0]!;
    return client.content as Record<string, unknown>;
  }

  /** Client-format events, redactions applied. */
  async toClient(stored: readonly events.StoredEvent[], actor: RoomActor, requester: Requester | null): Promise<ClientEvent[]> {
    const redactionIds = stored.map((e) => e.redactedBy).filter((x): x is string => x !== null);
    const redactions = new Map((await events.getEvents(this.db, redactionIds)).map((r) => [r.eventId, r]));
    const viewer = requester ? { userId: requester.userId, deviceId: requester.deviceId } : null;
    return stored.map((e) => toClientEvent(e, actor.version, viewer, e.redactedBy ? redactions.get(e.redactedBy) : undefined));
  }

  /** GET /joined_rooms. */
  async joinedRooms(userId: string): Promise<string[]> {
    return rooms.joinedRoomsOf(this.db, userId);
  }

  /** The room's version (404 when unknown). */
  async versionOf(roomId: string) {
    const actor = await this.creator.actors.get(roomId);
    if (!actor) throw unknownRoom();
    return resolveRoomVersion(actor.version);
  }

  private async profileOf(userId: string): Promise<{ displayname: string | null; avatarUrl: string | null }> {
    try {
      return await this.profiles.get(userId);
    } catch {
      return { displayname: null, avatarUrl: null };
    }
  }
}

class SameState extends Error {}

function sameJson(a: unknown, b: unknown): boolean {
  try {
    return canonicalJson(a) === canonicalJson(b);
  } catch {
    return false;
  }
}
