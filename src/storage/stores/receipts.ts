import { sql } from 'kysely';
import type { Db } from '../database.js';
import { streamFloor } from './stream-floors.js';
import type {} from '../schema/receipts-tables.js';

/** Read receipts (Synapse's `receipts_linearized` and `receipts_graph`). */

export interface ReceiptRow {
  room_id: string;
  receipt_type: string;
  user_id: string;
  event_id: string;
  thread_id: string | null;
  data: string;
}

export async function maxReceiptStreamId(db: Db): Promise<number> {
  const row = await db.selectFrom('receipts_linearized').select(sql<number | string | null>`max(stream_id)`.as('m')).executeTakeFirst();
  return Math.max(Number(row?.m ?? 0), await streamFloor(db, 'receipts'));
}

/** The stream ordering of the event a user's current receipt of this type and thread points at. */
export async function currentReceiptOrdering(db: Db, roomId: string, receiptType: string, userId: string, threadId: string | null): Promise<number | null | undefined> {
  let q = db
    .selectFrom('receipts_linearized')
    .select('event_stream_ordering')
    .where('room_id', '=', roomId)
    .where('receipt_type', '=', receiptType)
    .where('user_id', '=', userId);
  q = threadId === null ? q.where('thread_id', 'is', null) : q.where('thread_id', '=', threadId);
  const row = await q.executeTakeFirst();
  if (!row) return undefined;
  return row.event_stream_ordering === null ? null : Number(row.event_stream_ordering);
}

export interface ReceiptWrite {
  streamId: number;
  roomId: string;
  receiptType: string;
  userId: string;
  eventId: string;
  threadId: string | null;
  eventStreamOrdering: number;
  /** JSON text. */
  data: string;
}

/** Replaces the user's receipt of this type and thread in both tables (inside a transaction). */
export async function replaceReceipt(db: Db, r: ReceiptWrite): Promise<void> {
  let lin = db.deleteFrom('receipts_linearized').where('room_id', '=', r.roomId).where('receipt_type', '=', r.receiptType).where('user_id', '=', r.userId);
  lin = r.threadId === null ? lin.where('thread_id', 'is', null) : lin.where('thread_id', '=', r.threadId);
  await lin.execute();
  let graph = db.deleteFrom('receipts_graph').where('room_id', '=', r.roomId).where('receipt_type', '=', r.receiptType).where('user_id', '=', r.userId);
  graph = r.threadId === null ? graph.where('thread_id', 'is', null) : graph.where('thread_id', '=', r.threadId);
  await graph.execute();
  await db
    .insertInto('receipts_linearized')
    .values({
      stream_id: r.streamId,
      room_id: r.roomId,
      receipt_type: r.receiptType,
      user_id: r.userId,
      event_id: r.eventId,
      thread_id: r.threadId,
      event_stream_ordering: r.eventStreamOrdering,
      data: r.data,
      instance_name: null,
    })
    .execute();
  await db
    .insertInto('receipts_graph')
    .values({ room_id: r.roomId, receipt_type: r.receiptType, user_id: r.userId, event_ids: JSON.stringify([r.eventId]), thread_id: r.threadId, data: r.data })
    .execute();
}

/**
 * Receipts of rooms with stream_id in (from, to]; m.read.private rows only of `viewer`.
 */
export async function receiptsInRooms(db: Db, roomIds: readonly string[], from: number, to: number, viewer: string): Promise<ReceiptRow[]> {
  const out: ReceiptRow[] = [];
  for (let i = 0; i < roomIds.length; i += 500) {
    const chunk = roomIds.slice(i, i + 500);
    let q = db
      .selectFrom('receipts_linearized')
      .select(['room_id', 'receipt_type', 'user_id', 'event_id', 'thread_id', 'data'])
      .where('room_id', 'in', chunk)
      .where('stream_id', '<=', to)
      .where((eb) => eb.or([eb('receipt_type', '!=', 'm.read.private'), eb('user_id', '=', viewer)]));
    if (from > 0) q = q.where('stream_id', '>', from);
    out.push(...(await q.orderBy('stream_id').execute()));
  }
  return out;
}

/** A user's read positions: per room and thread (null = unthreaded), the highest m.read / m.read.private event stream ordering. */
export async function readPositions(db: Db, userId: string, roomIds: readonly string[]): Promise<Array<{ roomId: string; threadId: string | null; ordering: number }>> {
  const out: Array<{ roomId: string; threadId: string | null; ordering: number }> = [];
  for (let i = 0; i < roomIds.length; i += 500) {
    const rows = await db
      .selectFrom('receipts_linearized')
      .select(['room_id', 'thread_id', sql<number | string | null>`max(event_stream_ordering)`.as('o')])
      .where('user_id', '=', userId)
      .where('room_id', 'in', roomIds.slice(i, i + 500))
      .where('receipt_type', 'in', ['m.read', 'm.read.private'])
      .groupBy(['room_id', 'thread_id'])
      .execute();
    for (const r of rows) if (r.o !== null) out.push({ roomId: r.room_id, threadId: r.thread_id, ordering: Number(r.o) });
  }
  return out;
}

/** Deletes a room's receipts (room deletion). */
export async function deleteRoomReceipts(db: Db, roomId: string): Promise<void> {
  await db.deleteFrom('receipts_linearized').where('room_id', '=', roomId).execute();
  await db.deleteFrom('receipts_graph').where('room_id', '=', roomId).execute();
}

/** Thread relations of events: the event's own m.thread parent, and any relation's target. */
export async function relationsOf(db: Db, eventIds: readonly string[]): Promise<Map<string, { relType: string; target: string }>> {
  if (eventIds.length === 0) return new Map();
  const rows = await db.selectFrom('event_relations').select(['event_id', 'relates_to_id', 'relation_type']).where('event_id', 'in', eventIds).execute();
  return new Map(rows.map((r) => [r.event_id, { relType: r.relation_type, target: r.relates_to_id }]));
}

/** Whether `eventId` is the root of a thread in the room. */
export async function isThreadRoot(db: Db, roomId: string, eventId: string): Promise<boolean> {
  const row = await db.selectFrom('threads').select('thread_id').where('room_id', '=', roomId).where('thread_id', '=', eventId).executeTakeFirst();
  return row !== undefined;
}
