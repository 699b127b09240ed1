import { randomBytes } from 'node:crypto';
import { newServerEventId } from '../../matrix/event-hashing.js';
import { DEFAULT_ROOM_VERSION, roomVersion, type RoomVersion } from '../../matrix/room-versions.js';
import type { Requester } from '../auth.js';
import type { RateLimits } from '../ratelimit.js';
import type { RoomActors } from './room-actor.js';

/**
 * What stands between a user and the room before an event is built: the shadow-ban and
 * `rc_message`. Synapse's order: a shadow-banned sender is answered with a made-up event ID
 * before anything else is looked at (so the answer cannot tell them apart from a real send),
 * then the request rate limiter counts one action per client-initiated event (messages, state,
 * redactions and membership changes alike; createRoom counts once). Events the server sends on
 * a user's behalf (profile updates, leaving rooms on deactivation) are neither.
 */
export class SendPolicy {
  constructor(
    private readonly ratelimits: RateLimits,
    private readonly actors: RoomActors,
    private readonly serverName: string,
  ) {}

  /** rc_message, with the per-user override of `ratelimit_override` (429 M_LIMIT_EXCEEDED). */
  async ratelimit(requester: Requester): Promise<void> {
    await this.ratelimits.checkMessage(requester);
  }

  /**
   * For a shadow-banned requester, an event ID shaped like the room's real ones (v1–v2
   * `$random:server`, v3 base64, v4+ URL-safe base64 of 32 bytes) that no event has; null
   * for everyone else.
   */
  async fakeEventId(requester: Requester, roomId: string): Promise<string | null> {
    if (!requester.shadowBanned) return null;
    const actor = await this.actors.get(roomId).catch(() => null);
    return fakeEventIdFor(actor?.version ?? roomVersion(DEFAULT_ROOM_VERSION)!, this.serverName);
  }
}

export function fakeEventIdFor(v: RoomVersion, serverName: string): string {
  if (v.eventIdFormat === 'server-random') return newServerEventId(serverName);
  const b64 = randomBytes(32).toString('base64').replace(/=+$/, '');
  return `$${v.eventIdFormat === 'base64' ? b64 : b64.replace(/\+/g, '-').replace(/\//g, '_')}`;
}
