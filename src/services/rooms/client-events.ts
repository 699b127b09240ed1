import { redact } from '../../matrix/redaction.js';
import type { RoomVersion } from '../../matrix/room-versions.js';
import type { StoredEvent } from '../../storage/stores/events.js';

export type ClientEvent = Record<string, unknown>;

export interface Viewer {
  userId: string;
  deviceId: string | null;
}

/**
 * The client format of a stored event (Client-Server API, "ClientEvent"): the signed event without
 * its federation fields (hashes, signatures, auth and prev events, depth), `event_id` always
 * present, and `unsigned` with `age`, the sender's own `transaction_id`, and for a redacted event
 * its redacted content and `redacted_because`.
 */
export function toClientEvent(ev: StoredEvent, version: RoomVersion, viewer: Viewer | null, redaction?: StoredEvent): ClientEvent {
  const source = redaction ? (redact(ev.pdu, version) as Record<string, unknown>) : ev.pdu;
  const out: ClientEvent = {
    content: source.content ?? {},
    event_id: ev.eventId,
    origin_server_ts: source.origin_server_ts,
    room_id: ev.roomId,
    sender: source.sender,
    type: source.type,
  };
  if (typeof source.state_key === 'string') out.state_key = source.state_key;
  // v11 moved `redacts` into the content; clients still read it at the top level.
  const redacts = source.redacts ?? (source.type === 'm.room.redaction' ? (source.content as Record<string, unknown> | undefined)?.redacts : undefined);
  if (typeof redacts === 'string') out.redacts = redacts;
  const unsigned: Record<string, unknown> = {};
  const stored = ev.pdu.unsigned;
  if (!redaction && stored && typeof stored === 'object') Object.assign(unsigned, stored);
  if (typeof out.origin_server_ts === 'number') unsigned.age = Math.max(0, Date.now() - out.origin_server_ts);
  if (viewer && viewer.userId === out.sender && viewer.deviceId !== null && ev.internalMetadata.device_id === viewer.deviceId) {
    const txnId = ev.internalMetadata.txn_id;
    if (typeof txnId === 'string') unsigned.transaction_id = txnId;
  }
  if (redaction) unsigned.redacted_because = toClientEvent(redaction, version, null);
  out.unsigned = unsigned;
  return out;
}

/** The state event summary clients get in `invite_state` / `knock_state` (stripped state). */
export function strippedState(ev: { type: string; state_key: string; content: unknown; sender: string }): ClientEvent {
  return { type: ev.type, state_key: ev.state_key, content: ev.content, sender: ev.sender };
}
