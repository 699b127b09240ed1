import type { Requester } from '../auth.js';
import type { SyncService } from './sync.js';

type Json = Record<string, unknown>;

/** Synapse's default hold for the legacy event stream (`DEFAULT_LONGPOLL_TIME_MS`). */
export const EVENTS_DEFAULT_TIMEOUT_MS = 30_000;

/**
 * The legacy client surface still used by old bots and test suites (spec "Legacy: /events and
 * /initialSync"), answered from /sync's own machinery so the two never disagree:
 * `GET /events` is an incremental sync flattened into one chunk of events, and `GET /initialSync`
 * an initial sync reshaped into the old per-room list.
 */
export class LegacySync {
  constructor(private readonly sync: SyncService) {}

  /** GET /events: what happened after `from` (or after now), held up to `timeout` ms. */
  async events(requester: Requester, from: string | undefined, timeout: number, signal?: AbortSignal): Promise<Json> {
    const start = from ?? (await this.sync.currentTokenText());
    const body = await this.sync.sync(requester, { since: start, filter: EVENTS_FILTER, fullState: false, timeout, setPresence: 'online' }, signal);
    const chunk: Json[] = [];
    const rooms = (body.rooms ?? {}) as Record<string, Record<string, Json>>;
    for (const [roomId, room] of Object.entries(rooms.join ?? {})) {
      for (const ev of eventsOf(room.timeline)) chunk.push(ev);
      for (const ev of eventsOf(room.ephemeral)) chunk.push({ ...ev, room_id: roomId });
    }
    for (const [roomId, room] of Object.entries(rooms.leave ?? {})) for (const ev of eventsOf(room.timeline)) chunk.push({ ...ev, room_id: roomId });
    for (const [roomId, room] of Object.entries(rooms.invite ?? {})) {
      // The invite itself (the stripped state's membership event carries its ID).
      const own = eventsOf(room.invite_state).find((e) => e.type === 'm.room.member' && e.state_key === requester.userId && e.event_id !== undefined);
      if (own) chunk.push({ ...own, room_id: roomId });
    }
    for (const ev of eventsOf(body.presence)) chunk.push(ev);
    return { chunk, start, end: body.next_batch };
  }

  /** GET /initialSync: every room with its recent messages and current state. */
  async initialSync(requester: Requester, limit: number, archived: boolean): Promise<Json> {
    const filter = JSON.stringify({ room: { timeline: { limit }, include_leave: archived } });
    const body = await this.sync.sync(requester, { filter, fullState: false, timeout: 0, setPresence: 'online' });
    const rooms = (body.rooms ?? {}) as Record<string, Record<string, Json>>;
    const out: Json[] = [];
    const end = String(body.next_batch);
    const roomEnd = end.split('_', 1)[0]!;
    for (const [membership, section] of [
      ['join', rooms.join],
      ['leave', rooms.leave],
    ] as const) {
      for (const [roomId, room] of Object.entries(section ?? {})) {
        const timeline = eventsOf(room.timeline);
        const state = [...eventsOf(room.state), ...timeline.filter((e) => typeof e.state_key === 'string')];
        const joinRule = [...state].reverse().find((e) => e.type === 'm.room.join_rules');
        out.push({
          room_id: roomId,
          membership,
          messages: { chunk: timeline, start: (room.timeline as Json).prev_batch, end: roomEnd },
          state: latestState(state),
          visibility: (joinRule?.content as Json | undefined)?.join_rule === 'public' ? 'public' : 'private',
          account_data: eventsOf(room.account_data),
        });
      }
    }
    for (const [roomId, room] of Object.entries(rooms.invite ?? {})) {
      const own = eventsOf(room.invite_state).find((e) => e.type === 'm.room.member' && e.state_key === requester.userId);
      out.push({ room_id: roomId, membership: 'invite', ...(own ? { invite: own } : {}) });
    }
    return {
      end,
      rooms: out,
      presence: eventsOf(body.presence),
      account_data: eventsOf(body.account_data),
    };
  }
}

const EVENTS_FILTER = JSON.stringify({ room: { timeline: { limit: 100 } } });

function eventsOf(section: unknown): Json[] {
  const evs = (section as { events?: unknown } | undefined)?.events;
  return Array.isArray(evs) ? (evs as Json[]) : [];
}

/** One event per (type, state_key): the last one given. */
function latestState(evs: Json[]): Json[] {
  const byKey = new Map<string, Json>();
  for (const e of evs) byKey.set(`${String(e.type)}\u0000${String(e.state_key)}`, e);
  return [...byKey.values()];
}
