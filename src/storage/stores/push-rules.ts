import { sql } from 'kysely';
import type { Db } from '../database.js';

/**
 * Synapse's `push_rules` / `push_rules_enable` / `push_rules_stream`. Rule IDs are namespaced
 * `global/<kind>/<rule id>`; predefined rules appear only when the user changed them (an
 * `enabled` row, or a `priority_class` -1 row carrying new actions).
 */

export interface PushRuleRow {
  user_name: string;
  rule_id: string;
  priority_class: number;
  priority: number;
  conditions: string;
  actions: string;
}

export interface PushEnableRow {
  user_name: string;
  rule_id: string;
  enabled: number | null;
}

/** Every stored rule and `enabled` flag of these users (one query each, in chunks). */
export async function rulesOfUsers(db: Db, userIds: readonly string[]): Promise<{ rules: PushRuleRow[]; enables: PushEnableRow[] }> {
  const rules: PushRuleRow[] = [];
  const enables: PushEnableRow[] = [];
  for (let i = 0; i < userIds.length; i += 500) {
    const chunk = userIds.slice(i, i + 500);
    const [r, e] = await Promise.all([
      db
        .selectFrom('push_rules')
        .select(['user_name', 'rule_id', 'priority_class', 'priority', 'conditions', 'actions'])
        .where('user_name', 'in', chunk)
        .execute(),
      db.selectFrom('push_rules_enable').select(['user_name', 'rule_id', 'enabled']).where('user_name', 'in', chunk).execute(),
    ]);
    rules.push(...r);
    enables.push(...e);
  }
  return { rules, enables };
}

export async function getRule(db: Db, userId: string, ruleId: string): Promise<PushRuleRow | undefined> {
  return db
    .selectFrom('push_rules')
    .select(['user_name', 'rule_id', 'priority_class', 'priority', 'conditions', 'actions'])
    .where('user_name', '=', userId)
    .where('rule_id', '=', ruleId)
    .executeTakeFirst();
}

/** Highest priority among the user's rules of a class (null when there are none). */
export async function maxPriority(db: Db, userId: string, priorityClass: number): Promise<number | null> {
  const row = await db
    .selectFrom('push_rules')
    .select(sql<number | null>`max(priority)`.as('m'))
    .where('user_name', '=', userId)
    .where('priority_class', '=', priorityClass)
    .executeTakeFirst();
  return row?.m === null || row?.m === undefined ? null : Number(row.m);
}

/** Moves the user's rules of a class at or above `priority` one step up (making room below them). */
export async function shiftPriorities(db: Db, userId: string, priorityClass: number, fromPriority: number): Promise<void> {
  await db
    .updateTable('push_rules')
    .set({ priority: sql`priority + 1` })
    .where('user_name', '=', userId)
    .where('priority_class', '=', priorityClass)
    .where('priority', '>=', fromPriority)
    .execute();
}

export async function upsertRule(db: Db, row: PushRuleRow): Promise<void> {
  await db
    .insertInto('push_rules')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['user_name', 'rule_id']).doUpdateSet({ priority_class: row.priority_class, priority: row.priority, conditions: row.conditions, actions: row.actions }),
    )
    .execute();
}

export async function updateActions(db: Db, userId: string, ruleId: string, actions: string): Promise<void> {
  await db.updateTable('push_rules').set({ actions }).where('user_name', '=', userId).where('rule_id', '=', ruleId).execute();
}

/** Deletes a rule and its enabled flag; false when there was no such rule. */
export async function deleteRule(db: Db, userId: string, ruleId: string): Promise<boolean> {
  const res = await db.deleteFrom('push_rules').where('user_name', '=', userId).where('rule_id', '=', ruleId).executeTakeFirst();
  await db.deleteFrom('push_rules_enable').where('user_name', '=', userId).where('rule_id', '=', ruleId).execute();
  return Number(res.numDeletedRows) > 0;
}

export async function setEnabled(db: Db, userId: string, ruleId: string, enabled: boolean): Promise<void> {
  await db
    .insertInto('push_rules_enable')
    .values({ user_name: userId, rule_id: ruleId, enabled: enabled ? 1 : 0 })
    .onConflict((oc) => oc.columns(['user_name', 'rule_id']).doUpdateSet({ enabled: enabled ? 1 : 0 }))
    .execute();
}

/** Records a change on the push rules stream (what /sync reads to send `m.push_rules`); returns its position. */
export async function appendStream(
  db: Db,
  entry: { userId: string; ruleId: string; op: 'ADD' | 'DELETE' | 'ENABLE' | 'DISABLE' | 'ACTIONS'; eventStreamOrdering: number; row?: Partial<PushRuleRow> },
): Promise<number> {
  const row = await db
    .selectFrom('push_rules_stream')
    .select(sql<number | null>`max(stream_id)`.as('m'))
    .executeTakeFirst();
  const streamId = (row?.m === null || row?.m === undefined ? 0 : Number(row.m)) + 1;
  await db
    .insertInto('push_rules_stream')
    .values({
      stream_id: streamId,
      event_stream_ordering: entry.eventStreamOrdering,
      user_id: entry.userId,
      rule_id: entry.ruleId,
      op: entry.op,
      priority_class: entry.row?.priority_class ?? null,
      priority: entry.row?.priority ?? null,
      conditions: entry.row?.conditions ?? null,
      actions: entry.row?.actions ?? null,
      instance_name: 'master',
    })
    .execute();
  return streamId;
}

/** The push rules stream's current position. */
export async function streamPosition(db: Db): Promise<number> {
  const row = await db
    .selectFrom('push_rules_stream')
    .select(sql<number | null>`max(stream_id)`.as('m'))
    .executeTakeFirst();
  return row?.m === null || row?.m === undefined ? 0 : Number(row.m);
}

/** Users whose push rules changed after stream position `since` (for /sync). */
export async function usersChangedSince(db: Db, since: number, userIds?: readonly string[]): Promise<string[]> {
  let q = db.selectFrom('push_rules_stream').select('user_id').distinct().where('stream_id', '>', since);
  if (userIds) q = q.where('user_id', 'in', userIds.length ? [...userIds] : ['']);
  return (await q.execute()).map((r) => r.user_id);
}
