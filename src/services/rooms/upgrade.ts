import { randomBytes } from 'node:crypto';
import { MatrixError, badRequest, missingParam, notFound } from '../../errors.js';
import { canonicalJson } from '../../matrix/canonical-json.js';
import { isObject } from '../../matrix/event-validation.js';
import { createRoomEvents, type InitialStateEvent } from '../../matrix/room-presets.js';
import { roomVersion } from '../../matrix/room-versions.js';
import type { Db } from '../../storage/database.js';
import * as rooms from '../../storage/stores/rooms.js';
import type { Requester } from '../auth.js';
import type { ProfilesService } from '../profiles.js';
import type { Draft, EventCreator, Sent } from './event-creator.js';
import type { RoomActor } from './room-actor.js';

/** The state a new room takes over from the room it replaces (Synapse's list). */
const COPIED_STATE = [
  'm.room.join_rules',
  'm.room.name',
  'm.room.topic',
  'm.room.history_visibility',
  'm.room.guest_access',
  'm.room.avatar',
  'm.room.encryption',
  'm.room.server_acl',
  'm.room.power_levels',
];

const ROOM_ID_LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function freshRoomId(serverName: string): string {
  let s = '';
  for (const b of randomBytes(18)) s += ROOM_ID_LETTERS[b % ROOM_ID_LETTERS.length];
  return `!${s}:${serverName}`;
}

/** Power levels with integer-like strings turned into integers (old room versions allowed them). */
function fixedPowerLevels(content: Record<string, unknown>): Record<string, unknown> {
  const int = (v: unknown) => (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : v);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(structuredClone(content))) {
    if (isObject(v)) out[k] = Object.fromEntries(Object.entries(v).map(([kk, vv]) => [kk, int(vv)]));
    else out[k] = int(v);
  }
  return out;
}

const level = (v: unknown, dflt: number) => (typeof v === 'number' && Number.isInteger(v) ? v : dflt);

/**
 * POST /rooms/{id}/upgrade as Synapse does it: a tombstone in the old room (which is the
 * authorization check: only who may send m.room.tombstone upgrades), a new room whose create event
 * names its predecessor and which copies the old room's state and bans, the local aliases and the
 * directory entry moved over, and the old room's power levels raised so ordinary members can no
 * longer speak or invite there.
 */
export class RoomUpgradeService {
  /** Upgrades under way, by old room: a repeat by the same user joins it, another user is refused. */
  private readonly inFlight = new Map<string, { userId: string; done: Promise<string> }>();

  constructor(
    private readonly db: Db,
    private readonly opts: { serverName: string },
    private readonly creator: EventCreator,
    private readonly profiles: ProfilesService,
  ) {}

  async upgrade(requester: Requester, oldRoomId: string, body: Record<string, unknown>): Promise<{ replacement_room: string }> {
    if (!('new_version' in body)) throw missingParam("Missing params: ['new_version']");
    const version = typeof body.new_version === 'string' ? roomVersion(body.new_version) : undefined;
    if (!version) throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', 'Your homeserver does not support this room version');
    const running = this.inFlight.get(oldRoomId);
    if (running) {
      if (running.userId !== requester.userId) throw badRequest('An upgrade for this room is currently in progress');
      return { replacement_room: await running.done };
    }
    // Registered before the first await, so a concurrent repeat finds it.
    const done = (async () => {
      const oldActor = await this.creator.actors.get(oldRoomId);
      if (!oldActor) throw notFound(`Unknown room id ${oldRoomId}`);
      return this.run(requester.userId, oldActor, version);
    })();
    this.inFlight.set(oldRoomId, { userId: requester.userId, done });
    try {
      return { replacement_room: await done };
    } finally {
      this.inFlight.delete(oldRoomId);
    }
  }

  private async run(userId: string, oldActor: RoomActor, version: NonNullable<ReturnType<typeof roomVersion>>): Promise<string> {
    const oldRoomId = oldActor.roomId;
    const newRoomId = freshRoomId(this.opts.serverName);
    const profile = await this.profiles.get(userId).catch(() => ({ displayname: null, avatarUrl: null }));

    // In the old room's serial section: read its state, then queue the tombstone (refused with 403
    // unless the user may send it) and every event of the new room, whose create event points at it.
    const { sent, oldPl, oldAlias } = await oldActor.run(() => {
      const content = (type: string) => oldActor.get(type, '')?.content;
      const createContent = content('m.room.create') ?? {};
      const oldPl = content('m.room.power_levels');
      const oldAlias = content('m.room.canonical_alias');
      const initial: InitialStateEvent[] = [];
      for (const type of COPIED_STATE) {
        const c = content(type);
        if (c && type !== 'm.room.power_levels') initial.push({ type, state_key: '', content: structuredClone(c) });
      }
      const creation: Record<string, unknown> = {};
      if (createContent['m.federate'] === false) creation['m.federate'] = false;
      if (typeof createContent.type === 'string') {
        creation.type = createContent.type;
        if (createContent.type === 'm.space') {
          for (const e of oldActor.stateEntries()) {
            if (e.type === 'm.space.child' && Object.keys(e.content).length > 0) initial.push({ type: e.type, state_key: e.state_key, content: structuredClone(e.content) });
          }
        }
      }
      const bans = [...oldActor.stateEntries()].filter((e) => e.type === 'm.room.member' && e.content.membership === 'ban');

      // The upgrading user gets, for the copy only, the level every copied event needs.
      if (oldPl) {
        const pl = fixedPowerLevels(oldPl);
        const events = isObject(pl.events) ? pl.events : {};
        const needed = Math.max(level(pl.state_default, 50), level(pl.ban, 50), ...Object.values(events).map((v) => level(v, 0)), 0);
        const users = isObject(pl.users) ? pl.users : (pl.users = {});
        if (level(users[userId] ?? pl.users_default, 0) < needed) users[userId] = needed;
        initial.unshift({ type: 'm.room.power_levels', state_key: '', content: pl });
      }

      const tombstone = this.creator.append(oldActor, userId, {
        type: 'm.room.tombstone',
        stateKey: '',
        content: { body: 'This room has been replaced', replacement_room: newRoomId },
      });
      creation.predecessor = { room_id: oldRoomId, event_id: tombstone.eventId };
      const plan = createRoomEvents(
        { preset: 'private_chat', initial_state: initial, creation_content: creation },
        { creator: userId, creatorProfile: { displayname: profile.displayname, avatar_url: profile.avatarUrl }, version, serverName: this.opts.serverName },
      );
      const newActor = this.creator.actors.create(newRoomId, version);
      const sent: Sent[] = [tombstone];
      for (const e of plan.events) sent.push(this.creator.append(newActor, userId, { type: e.type, stateKey: e.state_key, content: e.content }));
      for (const b of bans) sent.push(this.creator.append(newActor, userId, { type: 'm.room.member', stateKey: b.state_key, content: structuredClone(b.content) }));
      return { sent, oldPl, oldAlias };
    });
    await Promise.all(sent.map((s) => s.committed));

    await this.moveAliases(userId, oldRoomId, newRoomId, oldAlias);
    if (await rooms.isPublic(this.db, oldRoomId)) {
      await rooms.setPublic(this.db, oldRoomId, false);
      await rooms.setPublic(this.db, newRoomId, true);
    }
    if (oldPl) await this.restrictOldRoom(userId, oldRoomId, newRoomId, oldPl);
    return newRoomId;
  }

  /**
   * Local aliases point at the new room; the canonical alias event moves the local aliases from
   * the old room's to the new room's (remote ones stay where they were).
   */
  private async moveAliases(userId: string, oldRoomId: string, newRoomId: string, oldAlias: Record<string, unknown> | undefined): Promise<void> {
    await rooms.moveAliases(this.db, oldRoomId, newRoomId);
    if (!oldAlias) return;
    const local = (a: unknown) => typeof a === 'string' && a.slice(a.indexOf(':') + 1) === this.opts.serverName;
    const oldContent: Record<string, unknown> = { ...oldAlias };
    const newContent: Record<string, unknown> = {};
    if (local(oldAlias.alias)) {
      newContent.alias = oldAlias.alias;
      delete oldContent.alias;
    }
    if (Array.isArray(oldAlias.alt_aliases) && oldAlias.alt_aliases.length > 0) {
      newContent.alt_aliases = oldAlias.alt_aliases.filter(local);
      const stay = oldAlias.alt_aliases.filter((a) => !local(a));
      if (stay.length > 0) oldContent.alt_aliases = stay;
      else delete oldContent.alt_aliases;
    }
    await this.sendQuietly(oldRoomId, userId, { type: 'm.room.canonical_alias', stateKey: '', content: oldContent });
    await this.sendQuietly(newRoomId, userId, { type: 'm.room.canonical_alias', stateKey: '', content: newContent });
  }

  /**
   * The old room: events and invites need at least moderator (50, or above users_default). The
   * new room: the old room's power levels exactly, which takes back the copy-time raise.
   */
  private async restrictOldRoom(userId: string, oldRoomId: string, newRoomId: string, oldPl: Record<string, unknown>): Promise<void> {
    const pl = fixedPowerLevels(oldPl);
    const restricted = Math.max(level(pl.users_default, 0) + 1, 50);
    let changed = false;
    for (const k of ['invite', 'events_default']) {
      if (level(pl[k], 0) < restricted) {
        pl[k] = restricted;
        changed = true;
      }
    }
    if (changed) await this.sendQuietly(oldRoomId, userId, { type: 'm.room.power_levels', stateKey: '', content: pl });
    const newActor = await this.creator.actors.get(newRoomId);
    const current = newActor?.get('m.room.power_levels', '')?.content;
    const wanted = fixedPowerLevels(oldPl);
    if (!current || canonicalJson(current) !== canonicalJson(wanted)) {
      await this.sendQuietly(newRoomId, userId, { type: 'm.room.power_levels', stateKey: '', content: wanted });
    }
  }

  /** A follow-up event the upgrade does not depend on: refused ones are skipped, as in Synapse. */
  private async sendQuietly(roomId: string, userId: string, draft: Draft): Promise<void> {
    await this.creator.send(roomId, userId, draft).catch((e) => {
      if (!(e instanceof MatrixError && e.status < 500)) throw e;
    });
  }
}
