import { MatrixError, forbidden, invalidParam } from '../../errors.js';
import { authEventSelection, checkAuth, type AuthEvent } from '../../matrix/auth-rules.js';
import { newServerEventId, signEventWithId } from '../../matrix/event-hashing.js';
import { checkClientEvent, checkEventSize, MAX_PDU_SIZE } from '../../matrix/event-validation.js';
import type { SigningKey } from '../../matrix/signing-key.js';
import type { Db } from '../../storage/database.js';
import { eventForTxn } from '../../storage/stores/events.js';
import type { Persister, PendingWrite } from './persister.js';
import { SNAPSHOT_INTERVAL, StaleRoom, type RoomActor, type RoomActors, type StateEntry, type StateGroupIds } from './room-actor.js';

/** What a client (or the server on its behalf) asks to send. */
export interface Draft {
  type: string;
  content: Record<string, unknown>;
  /** Present on state events. */
  stateKey?: string;
  /** On m.room.redaction: the event redacted. */
  redacts?: string;
}

export interface SendOptions {
  /** `PUT /send/{type}/{txnId}`: the same (device, txnId) in a room answers the same event. */
  txn?: { deviceId: string; txnId: string };
  /**
   * An extra check run on the room's head just before the event is built (inside the room's
   * serial section): it sees exactly the state the event will be authorised against.
   */
  precheck?: (actor: RoomActor) => void;
}

export interface Sent {
  eventId: string;
  /** Resolves with the stream ordering once the event has committed. */
  committed: Promise<number>;
}

/** A write built inside `appendAll`, queued only once every event of the unit is accepted. */
interface HeldWrite {
  write: PendingWrite;
  generation: number;
  resolve: (streamOrdering: number) => void;
  reject: (err: unknown) => void;
}

const unauthorised = (reason: string) => forbidden(reason);

/**
 * Turns drafts into signed events on a room's actor and queues them for writing: prev_events
 * from the forward extremities, auth_events from the current state, depth, the content hash, the
 * server's signature and (v3+) the reference-hash event ID. Each event is checked against the
 * room version's authorization rules before anything is written; a refused event changes nothing.
 */
export class EventCreator {
  /** Sends by transaction ID that have not committed yet: a retry joins the first attempt. */
  private readonly inFlightTxns = new Map<string, Promise<string>>();
  /** Set while `appendAll` runs: writes wait here instead of going to the persister. */
  private held: HeldWrite[] | null = null;
  /**
   * Called for every event built, inside the room's serial section, once the actor's head includes
   * it (so they see the state the event was authorised against, plus its own change). Push rules
   * snapshot the room's members here.
   */
  readonly appendHooks: Array<(actor: RoomActor, write: PendingWrite, event: Record<string, unknown>) => void> = [];

  constructor(
    private readonly db: Db,
    private readonly serverName: string,
    private readonly key: SigningKey,
    readonly actors: RoomActors,
    private readonly persister: Persister,
    private readonly groups: StateGroupIds,
    private readonly isLocalUser: (userId: string) => boolean,
  ) {}

  /** Sends one event to an existing room; resolves with its ID once committed. */
  async send(roomId: string, sender: string, draft: Draft, opts: SendOptions = {}): Promise<string> {
    const txnKey = opts.txn && JSON.stringify([roomId, sender, opts.txn.deviceId, opts.txn.txnId]);
    if (txnKey) {
      const inFlight = this.inFlightTxns.get(txnKey);
      if (inFlight) return inFlight;
      const done = await eventForTxn(this.db, roomId, sender, opts.txn!.deviceId, opts.txn!.txnId);
      if (done) return done;
      const again = this.inFlightTxns.get(txnKey);
      if (again) return again;
    }
    const attempt = this.sendWithRetry(roomId, sender, draft, opts);
    if (!txnKey) return attempt;
    this.inFlightTxns.set(txnKey, attempt);
    try {
      return await attempt;
    } finally {
      this.inFlightTxns.delete(txnKey);
    }
  }

  private async sendWithRetry(roomId: string, sender: string, draft: Draft, opts: SendOptions): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const actor = await this.actors.get(roomId);
      if (!actor) throw new MatrixError(404, 'M_NOT_FOUND', 'Unknown room');
      try {
        const sent = await actor.run(() => {
          opts.precheck?.(actor);
          return this.append(actor, sender, draft, opts);
        });
        await sent.committed;
        return sent.eventId;
      } catch (e) {
        // The room's head was rebuilt after a failed write: build again on the committed state.
        if (!(e instanceof StaleRoom) || attempt >= 2) throw e;
      }
    }
  }

  /**
   * Appends several events as one unit (createRoom): when one is refused, none is written and the
   * actor is dropped, so the room reloads as committed (a new room simply does not exist).
   * Call inside `actor.run`.
   */
  appendAll(actor: RoomActor, sender: string, drafts: readonly Draft[]): Sent[] {
    const held: HeldWrite[] = [];
    this.held = held;
    let sent: Sent[];
    try {
      sent = drafts.map((d) => this.append(actor, sender, d));
    } catch (e) {
      this.actors.invalidate(actor.roomId, actor.generation);
      for (const h of held) h.reject(e);
      throw e;
    } finally {
      this.held = null;
    }
    for (const h of held) this.persister.persist(h.write, h.generation).then(h.resolve, h.reject);
    return sent;
  }

  /**
   * Builds, authorises and queues one event on `actor` (call inside `actor.run`). The actor's head
   * moves on at once; `committed` settles when the write does.
   */
  append(actor: RoomActor, sender: string, draft: Draft, opts: SendOptions = {}): Sent {
    const v = actor.version;
    // An event needs a type (Synapse would store ""; no client means it, and nothing can read it).
    if (draft.type === '') throw invalidParam('Event type must not be empty');
    // Synapse refuses a non-member's events before it looks at them (membership events aside).
    if (draft.type !== 'm.room.member' && actor.get('m.room.create', '') && actor.membershipOf(sender) !== 'join') {
      throw forbidden(`User ${sender} not in room ${actor.roomId}`);
    }
    // Format, size and content rules of the spec and Synapse, before anything is built or signed.
    checkClientEvent({ type: draft.type, state_key: draft.stateKey, content: draft.content, room_id: actor.roomId, sender }, v);
    const now = Date.now();
    const pdu: Record<string, unknown> = {
      type: draft.type,
      room_id: actor.roomId,
      sender,
      content: draft.content,
      origin_server_ts: now,
      depth: actor.depth + 1,
    };
    if (draft.stateKey !== undefined) pdu.state_key = draft.stateKey;
    if (draft.redacts !== undefined && !v.redactsInContent) pdu.redacts = draft.redacts;
    if (v.eventIdFormat === 'server-random') pdu.event_id = newServerEventId(this.serverName);

    const authIds: string[] = [];
    for (const [type, sk] of authEventSelection(pdu as unknown as AuthEvent, v)) {
      const e = actor.get(type, sk);
      if (e) authIds.push(e.event_id);
    }
    const ref = (id: string) => (v.eventIdFormat === 'server-random' ? [id, {}] : id);
    pdu.prev_events = actor.extremities.map(ref);
    pdu.auth_events = authIds.map(ref);

    const result = checkAuth({ ...(pdu as object), event_id: pdu.event_id as string | undefined } as AuthEvent, actor.authState, v);
    if (!result.allowed) throw unauthorised(result.reason);

    const { signed, eventId: derivedId } = signEventWithId(pdu, v, this.serverName, this.key);
    // JSON.stringify is as long as canonical JSON for canonical values (no whitespace, the same
    // escapes); only an event near the limit pays for the exact canonical measure.
    const signedJson = JSON.stringify(signed);
    if (Buffer.byteLength(signedJson, 'utf8') > MAX_PDU_SIZE - 4096) checkEventSize(signed);
    const eventId = derivedId ?? (pdu.event_id as string);

    const write: PendingWrite = {
      eventId,
      roomId: actor.roomId,
      type: draft.type,
      stateKey: draft.stateKey ?? null,
      sender,
      depth: actor.depth + 1,
      originServerTs: now,
      receivedTs: now,
      containsUrl: typeof draft.content.url === 'string',
      json: '',
      internalMetadata: opts.txn ? JSON.stringify({ txn_id: opts.txn.txnId, device_id: opts.txn.deviceId }) : '{}',
      formatVersion: v.eventIdFormat === 'server-random' ? 1 : v.eventIdFormat === 'base64' ? 2 : 3,
      prevEvents: actor.extremities.slice(),
      authEvents: authIds,
      stateGroup: 0,
      extremitiesAfter: [eventId],
    };
    if (opts.txn) write.txn = { userId: sender, deviceId: opts.txn.deviceId, txnId: opts.txn.txnId };
    if (draft.type === 'm.room.redaction' && draft.redacts !== undefined) write.redacts = draft.redacts;
    const rel = draft.content['m.relates_to'];
    if (rel && typeof rel === 'object' && !Array.isArray(rel)) {
      const { rel_type: relType, event_id: relatesTo, key } = rel as Record<string, unknown>;
      if (typeof relType === 'string' && typeof relatesTo === 'string') write.relation = { relatesTo, relType, key: typeof key === 'string' ? key : null };
    }

    // The stored JSON carries, unsigned, what the event replaced (clients read prev_content).
    let stored: Record<string, unknown> = signed;
    if (draft.stateKey !== undefined) {
      const previous = actor.get(draft.type, draft.stateKey);
      if (previous) stored = { ...signed, unsigned: { replaces_state: previous.event_id, prev_content: previous.content, prev_sender: previous.sender } };
      const entry = { ...(signed as object), event_id: eventId } as StateEntry;
      actor.setState(entry);
      this.nextStateGroup(actor, write, entry);
      const membership = draft.type === 'm.room.member' ? String(draft.content.membership) : null;
      write.state = { prevEventId: previous?.event_id ?? null, membership };
      if (draft.type === 'm.room.member') {
        const str = (x: unknown) => (typeof x === 'string' ? x : null);
        write.member = {
          userId: draft.stateKey,
          membership: membership!,
          displayName: str(draft.content.displayname),
          avatarUrl: str(draft.content.avatar_url),
          local: this.isLocalUser(draft.stateKey),
        };
      }
      if (draft.type === 'm.room.create') write.room = { creator: sender, version: v.id, isPublic: false };
      write.stats = actor.stats();
    } else {
      write.stateGroup = actor.stateGroup!;
    }
    write.json = stored === signed ? signedJson : JSON.stringify(stored);
    for (const hook of this.appendHooks) hook(actor, write, { ...signed, event_id: eventId });
    actor.extremities = [eventId];
    actor.depth += 1;
    const held = this.held;
    const committed = held
      ? new Promise<number>((resolve, reject) => held.push({ write, generation: actor.generation, resolve, reject }))
      : this.persister.persist(write, actor.generation);
    // Failures reach the caller through `committed`; this keeps an unawaited one from crashing.
    committed.catch(() => undefined);
    actor.holdUntil(committed);
    return { eventId, committed };
  }

  /** A state event starts a new state group: a one-row delta, or a full snapshot every so often. */
  private nextStateGroup(actor: RoomActor, write: PendingWrite, entry: StateEntry): void {
    const id = this.groups.next();
    if (actor.stateGroup === null || actor.hops >= SNAPSHOT_INTERVAL) {
      const rows = [...actor.stateEntries()].map((e) => ({ type: e.type, stateKey: e.state_key, eventId: e.event_id }));
      write.newStateGroup = { id, prev: null, rows };
      actor.hops = 0;
    } else {
      write.newStateGroup = { id, prev: actor.stateGroup, rows: [{ type: entry.type, stateKey: entry.state_key, eventId: entry.event_id }] };
      actor.hops += 1;
    }
    actor.stateGroup = id;
    write.stateGroup = id;
  }
}
