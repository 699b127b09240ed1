import type { Db } from '../storage/database.js';
import { getRoom } from '../storage/stores/events.js';
import { roomAccountData } from '../storage/stores/room-account-data.js';
import type { Requester } from './auth.js';
import type { RoomHistoryService } from './rooms/history.js';

/** Synapse's default number of messages in a room initialSync. */
export const ROOM_INITIAL_SYNC_DEFAULT_LIMIT = 10;

const parse = (json: string): unknown => {
  try {
    return JSON.parse(json);
  } catch {
    return {};
  }
};

/**
 * GET /rooms/{roomId}/initialSync (spec "Room initialSync", deprecated but used for peeking and
 * by old bots): a snapshot of one room, built on the /messages read path
 * (RoomHistoryService.snapshot: visibility, tokens, the leave cut-off) plus the caller's room
 * account data and tags, and the room's directory visibility. Members (and former members, up to
 * their leave) get it; others only for a world_readable room (a peek: no `membership`, as
 * Synapse); everyone else 403.
 */
export class RoomInitialSyncService {
  constructor(
    private readonly db: Db,
    private readonly history: RoomHistoryService,
  ) {}

  async roomInitialSync(requester: Requester, roomId: string, limit = ROOM_INITIAL_SYNC_DEFAULT_LIMIT): Promise<Record<string, unknown>> {
    const snap = await this.history.snapshot(requester, roomId, limit);
    const [room, own] = await Promise.all([getRoom(this.db, roomId), roomAccountData(this.db, requester.userId, roomId)]);
    const accountData: Array<{ type: string; content: unknown }> = [];
    if (own.tags.length > 0) {
      const tags: Record<string, unknown> = {};
      for (const t of own.tags) tags[t.tag] = parse(t.content);
      accountData.push({ type: 'm.tag', content: { tags } });
    }
    // m.tag lives in room_tags (as in Synapse); a stray m.tag row of room_account_data is not repeated.
    for (const d of own.data) if (d.type !== 'm.tag' || own.tags.length === 0) accountData.push({ type: d.type, content: parse(d.content) });
    const out: Record<string, unknown> = {
      room_id: roomId,
      messages: { chunk: snap.chunk, start: snap.start, end: snap.end },
      state: snap.state,
      visibility: room?.is_public ? 'public' : 'private',
      // Presence and receipts of the room's members are not served here yet (see docs/client-api.md).
      presence: [],
      receipts: [],
      account_data: accountData,
    };
    if (snap.membership !== null) out.membership = snap.membership;
    return out;
  }
}
