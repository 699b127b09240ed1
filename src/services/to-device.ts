import { badJson, missingParam } from '../errors.js';
import { afterSettle, announce, withTransaction, type Db } from '../storage/database.js';
import { isUniqueViolation } from '../storage/dialect.js';
import * as store from '../storage/stores/to-device.js';
import { StreamPositions } from './rooms/stream-positions.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A to-device message as /sync delivers it. */
export interface ToDeviceMessage {
  type: string;
  sender: string;
  content: Json;
}

/**
 * Send-to-device messaging (Client-Server API "Send-to-Device messaging"): `PUT /sendToDevice`
 * stores one row per target device in Synapse's `device_inbox`, all rows of one request at one
 * stream position; /sync delivers a device's rows after its since-token and deletes them once the
 * client has acknowledged them by syncing past them. Positions come from an in-memory stream
 * published in order; commits are announced on topic 'to_device' keyed by recipient user ID.
 */
export class ToDeviceService {
  private constructor(
    private readonly db: Db,
    private readonly serverName: string,
    private readonly positions: StreamPositions,
    private readonly now: () => number,
  ) {}

  static async open(db: Db, serverName: string, now: () => number = Date.now): Promise<ToDeviceService> {
    return new ToDeviceService(db, serverName, new StreamPositions(await store.maxToDeviceStreamId(db)), now);
  }

  /** The to-device position readers may see. */
  get position(): number {
    return this.positions.current;
  }

  /**
   * Resolves once every position allocated so far is visible to readers. Writers commit out of
   * order, so a commit can be announced while a lower position still holds `position` back.
   */
  visible(): Promise<void> {
    return this.positions.caughtUp();
  }

  /**
   * Queues `messages` ({user: {device or '*': content}}) from a sender's device. The same
   * transaction ID from the same device is done once (a retry answers as the first did).
   * Unknown users and devices are skipped; other servers' users too (no federation yet).
   */
  async send(sender: string, senderDevice: string | null, eventType: string, txnId: string, body: Json): Promise<void> {
    const messages = body.messages;
    if (messages === undefined) throw missingParam("Missing params: ['messages']");
    if (!isObject(messages)) throw badJson('messages must be a JSON object');
    for (const byDevice of Object.values(messages)) {
      if (!isObject(byDevice) || Object.values(byDevice).some((c) => !isObject(c))) {
        throw badJson('messages must map user IDs to device IDs to JSON objects');
      }
    }
    const txnDevice = senderDevice ?? '';
    try {
      await withTransaction(this.db, async (tx) => {
        if ((await store.txnStreamId(tx, sender, txnDevice, txnId)) !== undefined) return;
        const [position] = this.positions.allocate(1) as [number];
        afterSettle(tx, () => this.positions.finish([position]));
        const rows: Array<{ user_id: string; device_id: string; stream_id: number; message_json: string }> = [];
        const recipients: string[] = [];
        for (const [userId, byDevice] of Object.entries(messages as Record<string, Record<string, Json>>)) {
          if (!userId.startsWith('@') || userId.slice(userId.indexOf(':') + 1) !== this.serverName) continue;
          const perDevice = new Map<string, Json>();
          // A message to '*' goes to every device; one addressed to a device by name wins over it.
          if (byDevice['*'] !== undefined) for (const d of await store.existingDeviceIds(tx, userId, 'all')) perDevice.set(d, byDevice['*']);
          const named = Object.keys(byDevice).filter((d) => d !== '*');
          for (const d of await store.existingDeviceIds(tx, userId, named)) perDevice.set(d, byDevice[d]!);
          for (const [deviceId, content] of perDevice) {
            rows.push({ user_id: userId, device_id: deviceId, stream_id: position, message_json: JSON.stringify({ type: eventType, sender, content }) });
          }
          if (perDevice.size > 0) recipients.push(userId);
        }
        await store.insertMessages(tx, rows);
        await store.insertTxn(tx, sender, txnDevice, txnId, position, this.now());
        if (recipients.length > 0) announce(tx, 'to_device', recipients);
      });
    } catch (e) {
      // The same transaction sent twice at once: the other request stored it.
      if (!isUniqueViolation(e)) throw e;
    }
  }

  /**
   * A device's messages after position `since`, oldest first, at most `limit`, and the position
   * to acknowledge them with (`next`: pass it as `since` next time, and to deleteToDeviceUpTo once
   * the client has them). Only positions published to readers are returned.
   */
  async toDeviceSince(userId: string, deviceId: string, since: number, limit: number): Promise<{ messages: ToDeviceMessage[]; next: number }> {
    const upTo = this.positions.current;
    if (limit <= 0 || since >= upTo) return { messages: [], next: Math.max(since, 0) };
    let rows = await store.messagesSince(this.db, userId, deviceId, since, upTo, limit + 1);
    let next = upTo;
    if (rows.length > limit) {
      // Stop at a position boundary: rows of one position are delivered together.
      const cut = rows[limit]!.stream_id;
      const kept = rows.slice(0, limit).filter((r) => r.stream_id !== cut);
      rows = kept.length > 0 ? kept : rows.filter((r) => r.stream_id === cut);
      next = rows[rows.length - 1]!.stream_id;
    }
    return { messages: rows.map((r) => JSON.parse(r.message_json) as ToDeviceMessage), next };
  }

  /** Deletes a device's messages up to a position (the client has received them); returns how many. */
  async deleteToDeviceUpTo(userId: string, deviceId: string, upTo: number): Promise<number> {
    return withTransaction(this.db, (tx) => store.deleteMessagesUpTo(tx, userId, deviceId, upTo));
  }
}
