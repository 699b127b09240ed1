import { MatrixError, badRequest, notFound } from '../errors.js';
import {
  DEFAULT_ACTIONS_CLASS,
  EMPTY_USER_RULES,
  InvalidPushRule,
  PRIORITY_CLASS,
  PUSH_RULE_KINDS,
  checkActions,
  compilePushRules,
  conditionsFromRequest,
  isPredefinedRule,
  mergePushRules,
  type CompiledPushRules,
  type PushAction,
  type PushRuleKind,
  type PushRuleset,
  type StoredPushRule,
  type UserPushRules,
} from '../matrix/push-rules.js';
import type { Notifier } from '../storage/changes.js';
import { announce, withTransaction, type Db } from '../storage/database.js';
import * as store from '../storage/stores/push-rules.js';

/** Announced (keyed by user ID) after a user's push rules changed; sync sends `m.push_rules`. */
export const PUSH_RULES_TOPIC = 'push_rules';

const unrecognized = (message = 'Unrecognized request') => new MatrixError(400, 'M_UNRECOGNIZED', message);
const TRAILING_SLASH = 'Unrecognised request: You probably wanted a trailing slash';

const CLASS_KIND = new Map(Object.entries(PRIORITY_CLASS).map(([k, v]) => [v, k as PushRuleKind]));
const isKind = (k: string): k is PushRuleKind => (PUSH_RULE_KINDS as readonly string[]).includes(k);

/** Decodes a user's stored rows into what `mergePushRules` takes. */
function decodeRows(rules: readonly store.PushRuleRow[], enables: readonly store.PushEnableRow[]): UserPushRules {
  const parse = <T>(text: string, fallback: T): T => {
    try {
      return JSON.parse(text) as T;
    } catch {
      return fallback; // an operator's hand-edited row must not take notifications down
    }
  };
  const strip = (id: string) => (id.startsWith('global/') ? id.slice('global/'.length) : id);
  const own: StoredPushRule[] = [];
  const defaultActions = new Map<string, PushAction[]>();
  for (const r of rules) {
    const [kind, ...rest] = strip(r.rule_id).split('/');
    const ruleId = rest.join('/');
    if (r.priority_class === DEFAULT_ACTIONS_CLASS) {
      defaultActions.set(`${kind}/${ruleId}`, parse(r.actions, []));
      continue;
    }
    const k = CLASS_KIND.get(r.priority_class) ?? (isKind(kind!) ? kind : undefined);
    if (!k) continue;
    own.push({ kind: k, ruleId, priority: r.priority, conditions: parse(r.conditions, []), actions: parse(r.actions, []) });
  }
  const enabled = new Map<string, boolean>();
  for (const e of enables) if (e.enabled !== null) enabled.set(strip(e.rule_id), Number(e.enabled) === 1);
  return { rules: own, enabled, defaultActions };
}

interface Entry {
  ruleset: PushRuleset;
  compiled: CompiledPushRules;
}

/** Largest number of users whose compiled rules are kept. */
const CACHE_SIZE = 50_000;

/**
 * Push rules (spec "Push Rules: API"): a user's rules live in Synapse's tables and are merged with
 * the predefined ones when read. Compiled rule sets are cached per user for the send path (every
 * event is evaluated for every local member) and dropped when the user's rules change (the
 * `push_rules` announcement, after commit).
 */
export class PushRulesService {
  private readonly cache = new Map<string, Entry>();
  /** Moves on every invalidation: a load that overlapped one is not cached. */
  private generation = 0;

  constructor(
    private readonly db: Db,
    notifier: Notifier,
    /** The room event stream's published position (recorded with each change, as Synapse does). */
    private readonly eventPosition: () => number,
  ) {
    notifier.subscribe([PUSH_RULES_TOPIC], (n) => {
      this.generation++;
      this.position = undefined;
      if (n.keys === '*') this.cache.clear();
      else for (const k of n.keys) this.cache.delete(k);
    });
  }

  /** The user's merged rule set (GET /pushrules/, and `m.push_rules` in /sync). */
  async ruleset(userId: string): Promise<PushRuleset> {
    return (await this.entries([userId])).get(userId)!.ruleset;
  }

  /** Compiled rule sets of many users, loading the missing ones in one go (the send path). */
  async compiledFor(userIds: readonly string[]): Promise<Map<string, CompiledPushRules>> {
    const entries = await this.entries(userIds);
    return new Map([...entries].map(([u, e]) => [u, e.compiled]));
  }

  private async entries(userIds: readonly string[]): Promise<Map<string, Entry>> {
    const out = new Map<string, Entry>();
    const missing: string[] = [];
    for (const u of userIds) {
      const e = this.cache.get(u);
      if (e) out.set(u, e);
      else missing.push(u);
    }
    if (missing.length === 0) return out;
    const generation = this.generation;
    const { rules, enables } = await store.rulesOfUsers(this.db, missing);
    const byUser = new Map<string, { rules: store.PushRuleRow[]; enables: store.PushEnableRow[] }>();
    for (const r of rules) (byUser.get(r.user_name) ?? byUser.set(r.user_name, { rules: [], enables: [] }).get(r.user_name)!).rules.push(r);
    for (const e of enables) (byUser.get(e.user_name) ?? byUser.set(e.user_name, { rules: [], enables: [] }).get(e.user_name)!).enables.push(e);
    for (const u of missing) {
      const rows = byUser.get(u);
      const ruleset = mergePushRules(u, rows ? decodeRows(rows.rules, rows.enables) : EMPTY_USER_RULES);
      const entry = { ruleset, compiled: compilePushRules(ruleset, u) };
      out.set(u, entry);
      if (generation === this.generation) {
        if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(u, entry);
      }
    }
    return out;
  }

  /**
   * GET /pushrules/<path>: `parts` are the path's segments after `pushrules` (Synapse's answers:
   * 400 M_UNRECOGNIZED for a missing trailing slash or an unknown scope, kind or attribute, 404
   * for an unknown rule).
   */
  async get(userId: string, parts: readonly string[]): Promise<unknown> {
    if (parts.length === 0) throw unrecognized(TRAILING_SLASH);
    const rules = await this.ruleset(userId);
    if (parts[0] === '') return { global: rules };
    if (parts[0] !== 'global') throw unrecognized();
    const rest = parts.slice(1);
    if (rest.length === 0) throw unrecognized(TRAILING_SLASH);
    if (rest[0] === '') return rules;
    const kind = rest[0]!;
    if (!isKind(kind)) throw unrecognized();
    if (rest.length === 1) throw unrecognized(TRAILING_SLASH);
    if (rest[1] === '') return rules[kind];
    const rule = rules[kind].find((r) => r.rule_id === rest[1]);
    if (!rule) throw notFound('Not found');
    if (rest.length === 2 || rest[2] === '') return rule;
    const attr = rest[2]!;
    if (attr === 'enabled' || attr === 'actions') return { [attr]: rule[attr] };
    if (Object.prototype.hasOwnProperty.call(rule, attr)) return { [attr]: (rule as unknown as Record<string, unknown>)[attr] };
    throw unrecognized();
  }

  /** PUT /pushrules/global/<kind>/<ruleId>: adds or replaces one of the user's own rules. */
  async put(userId: string, kind: string, ruleId: string, body: unknown, placement: { before?: string; after?: string }): Promise<void> {
    const k = this.checkKind(kind);
    checkRuleId(ruleId);
    if (ruleId.startsWith('.')) throw badRequest("cannot add new rule_ids that start with '.'");
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new MatrixError(400, 'M_BAD_JSON', 'Content must be a JSON object.');
    const obj = body as Record<string, unknown>;
    let conditions;
    try {
      conditions = conditionsFromRequest(k, ruleId, obj);
      if (obj.actions === undefined) throw new InvalidPushRule('No actions found');
      checkActions(obj.actions);
    } catch (e) {
      if (e instanceof InvalidPushRule) throw badRequest(e.message);
      throw e;
    }
    const actions = obj.actions as PushAction[];
    const cls = PRIORITY_CLASS[k];
    const namespaced = `global/${k}/${ruleId}`;
    await withTransaction(this.db, async (tx) => {
      const relative = placement.before ?? placement.after;
      let priority: number;
      if (relative !== undefined) {
        const anchorId = `global/${k}/${relative}`;
        const anchor = await store.getRule(tx, userId, anchorId);
        if (!anchor || anchor.priority_class === DEFAULT_ACTIONS_CLASS) throw badRequest(`before/after rule not found: ${anchorId}`);
        if (anchor.priority_class !== cls) throw badRequest('Given priority class does not match class of relative rule');
        // Higher priority goes first: "before" sits just above the anchor, "after" takes the
        // anchor's place with the anchor and everything above moved up.
        priority = placement.before !== undefined ? anchor.priority + 1 : anchor.priority;
        await store.shiftPriorities(tx, userId, cls, priority);
      } else {
        const existing = await store.getRule(tx, userId, namespaced);
        const max = await store.maxPriority(tx, userId, cls);
        // A replaced rule keeps its place; a new one becomes the most important of its kind.
        priority = existing && existing.priority_class === cls ? existing.priority : max === null ? 0 : max + 1;
      }
      const isNew = !(await store.getRule(tx, userId, namespaced));
      const row = { user_name: userId, rule_id: namespaced, priority_class: cls, priority, conditions: JSON.stringify(conditions), actions: JSON.stringify(actions) };
      await store.upsertRule(tx, row);
      // The spec: new rules are enabled.
      if (isNew) await store.setEnabled(tx, userId, namespaced, true);
      await store.appendStream(tx, { userId, ruleId: namespaced, op: 'ADD', eventStreamOrdering: this.eventPosition(), row });
      announce(tx, PUSH_RULES_TOPIC, [userId]);
    });
  }

  /** DELETE /pushrules/global/<kind>/<ruleId>: only the user's own rules (404 otherwise). */
  async delete(userId: string, kind: string, ruleId: string): Promise<void> {
    const namespaced = `global/${kind}/${ruleId}`;
    await withTransaction(this.db, async (tx) => {
      const row = await store.getRule(tx, userId, namespaced);
      if (!row || row.priority_class === DEFAULT_ACTIONS_CLASS) throw notFound('Not found');
      await store.deleteRule(tx, userId, namespaced);
      await store.appendStream(tx, { userId, ruleId: namespaced, op: 'DELETE', eventStreamOrdering: this.eventPosition() });
      announce(tx, PUSH_RULES_TOPIC, [userId]);
    });
  }

  /** PUT …/enabled and …/actions: predefined rules can change only these. */
  async setAttribute(userId: string, kind: string, ruleId: string, attr: string, body: unknown): Promise<void> {
    const k = this.checkKind(kind);
    checkRuleId(ruleId);
    if (attr !== 'enabled' && attr !== 'actions') throw unrecognized();
    const namespaced = `global/${k}/${ruleId}`;
    const predefined = ruleId.startsWith('.');
    if (predefined && !isPredefinedRule(k, ruleId)) throw notFound('Unknown rule');
    let enabled: boolean | undefined;
    let actions: PushAction[] | undefined;
    if (attr === 'enabled') {
      // Clients send {"enabled": bool}; some send a bare boolean, which Synapse accepts too.
      const v = body !== null && typeof body === 'object' && !Array.isArray(body) && 'enabled' in body ? (body as { enabled: unknown }).enabled : body;
      if (typeof v !== 'boolean') throw badRequest("Value for 'enabled' must be boolean");
      enabled = v;
    } else {
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Value must be a dict');
      const a = (body as { actions?: unknown }).actions;
      if (!Array.isArray(a)) throw badRequest("Value for 'actions' must be dict");
      try {
        checkActions(a);
      } catch (e) {
        if (e instanceof InvalidPushRule) throw badRequest(`Invalid actions: ${e.message}`);
        throw e;
      }
      actions = a;
    }
    await withTransaction(this.db, async (tx) => {
      if (!predefined && !(await store.getRule(tx, userId, namespaced))) throw notFound('Unknown rule');
      if (enabled !== undefined) {
        await store.setEnabled(tx, userId, namespaced, enabled);
      } else if (predefined) {
        // Synapse keeps a predefined rule's new actions as a priority_class -1 row.
        await store.upsertRule(tx, { user_name: userId, rule_id: namespaced, priority_class: DEFAULT_ACTIONS_CLASS, priority: 1, conditions: '[]', actions: JSON.stringify(actions) });
      } else {
        await store.updateActions(tx, userId, namespaced, JSON.stringify(actions));
      }
      const op = enabled === undefined ? 'ACTIONS' : enabled ? 'ENABLE' : 'DISABLE';
      await store.appendStream(tx, { userId, ruleId: namespaced, op, eventStreamOrdering: this.eventPosition() });
      announce(tx, PUSH_RULES_TOPIC, [userId]);
    });
  }

  /** The push rules stream's position, read again after every change (each /sync asks for it). */
  private position: number | undefined;

  async streamPosition(): Promise<number> {
    if (this.position !== undefined) return this.position;
    const generation = this.generation;
    const position = await store.streamPosition(this.db);
    if (generation === this.generation) this.position = position;
    return position;
  }

  /** The push rules stream's position and the users whose rules changed after `since` (for /sync). */
  async changesSince(since: number, userIds?: readonly string[]): Promise<{ position: number; users: string[] }> {
    const [position, users] = await Promise.all([store.streamPosition(this.db), store.usersChangedSince(this.db, since, userIds)]);
    return { position, users };
  }

  /** The checks Synapse makes on a PUT's path before it reads the body. */
  checkPath(kind: string, ruleId: string): void {
    this.checkKind(kind);
    checkRuleId(ruleId);
  }

  private checkKind(kind: string): PushRuleKind {
    if (!isKind(kind)) throw badRequest(`Unknown template: ${kind}`);
    return kind;
  }
}

function checkRuleId(ruleId: string): void {
  if (ruleId.includes('/') || ruleId.includes('\\')) throw badRequest('rule_id may not contain slashes');
}
