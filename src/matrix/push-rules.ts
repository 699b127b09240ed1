/**
 * Push rules (Client-Server API "Push Notifications"): the predefined rule set, a user's rules
 * merged with it, and the evaluator that decides, for one user and one event, whether the event
 * notifies, highlights and with which sound. Pure: the caller supplies the user's stored rules,
 * display name, the room's member count and power levels.
 *
 * Evaluation is on the send path (every event, every local member), so rules are compiled once
 * (`compilePushRules`: glob patterns become cached RegExps, property paths are split) and an
 * `EventMatcher` memoises, per event, the conditions that do not depend on the user, which the
 * predefined rules share across all users.
 */
import { isObject } from './event-validation.js';
import { splitPropertyPath } from './filters.js';

export type PushRuleKind = 'override' | 'content' | 'room' | 'sender' | 'underride';
export const PUSH_RULE_KINDS: readonly PushRuleKind[] = ['override', 'content', 'room', 'sender', 'underride'];

export type PushAction = string | { set_tweak: string; value?: unknown; [k: string]: unknown };

export interface PushCondition {
  kind: string;
  key?: string;
  pattern?: string;
  value?: unknown;
  is?: string;
  [k: string]: unknown;
}

export interface PushRule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: PushAction[];
  conditions?: PushCondition[];
  pattern?: string;
}

export type PushRuleset = Record<PushRuleKind, PushRule[]>;

/** Synapse's priority classes (`push_rules.priority_class`); -1 marks changed actions of a predefined rule. */
export const PRIORITY_CLASS: Record<PushRuleKind, number> = { underride: 1, sender: 2, room: 3, content: 4, override: 5 };
export const DEFAULT_ACTIONS_CLASS = -1;

const sound = (value: string): PushAction => ({ set_tweak: 'sound', value });
const highlight: PushAction = { set_tweak: 'highlight' };
const match = (key: string, pattern: string): PushCondition => ({ kind: 'event_match', key, pattern });

/** The predefined rules, in the spec's order, for `userId` (Matrix 1.9+ list). */
function predefined(userId: string): { override: PushRule[]; content: PushRule[]; underride: PushRule[] } {
  const localpart = userId.slice(1, userId.includes(':') ? userId.indexOf(':') : undefined);
  const rule = (rule_id: string, conditions: PushCondition[], actions: PushAction[], enabled = true): PushRule => ({ rule_id, default: true, enabled, conditions, actions });
  return {
    override: [
      rule('.m.rule.master', [], [], false),
      rule('.m.rule.suppress_notices', [match('content.msgtype', 'm.notice')], []),
      rule('.m.rule.invite_for_me', [match('type', 'm.room.member'), match('content.membership', 'invite'), match('state_key', userId)], ['notify', sound('default')]),
      rule('.m.rule.member_event', [match('type', 'm.room.member')], []),
      rule('.m.rule.is_user_mention', [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }], ['notify', sound('default'), highlight]),
      rule('.m.rule.contains_display_name', [{ kind: 'contains_display_name' }], ['notify', sound('default'), highlight]),
      rule(
        '.m.rule.is_room_mention',
        [
          { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
          { kind: 'sender_notification_permission', key: 'room' },
        ],
        ['notify', highlight],
      ),
      rule('.m.rule.roomnotif', [match('content.body', '@room'), { kind: 'sender_notification_permission', key: 'room' }], ['notify', highlight]),
      rule('.m.rule.tombstone', [match('type', 'm.room.tombstone'), match('state_key', '')], ['notify', highlight]),
      rule('.m.rule.reaction', [match('type', 'm.reaction')], []),
      rule('.m.rule.room.server_acl', [match('type', 'm.room.server_acl'), match('state_key', '')], []),
      rule('.m.rule.suppress_edits', [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }], []),
    ],
    content: [{ rule_id: '.m.rule.contains_user_name', default: true, enabled: true, pattern: localpart, actions: ['notify', sound('default'), highlight] }],
    underride: [
      rule('.m.rule.call', [match('type', 'm.call.invite')], ['notify', sound('ring')]),
      rule('.m.rule.encrypted_room_one_to_one', [{ kind: 'room_member_count', is: '2' }, match('type', 'm.room.encrypted')], ['notify', sound('default')]),
      rule('.m.rule.room_one_to_one', [{ kind: 'room_member_count', is: '2' }, match('type', 'm.room.message')], ['notify', sound('default')]),
      rule('.m.rule.message', [match('type', 'm.room.message')], ['notify']),
      rule('.m.rule.encrypted', [match('type', 'm.room.encrypted')], ['notify']),
    ],
  };
}

/** The predefined rule set of a user who changed nothing. */
export function defaultPushRules(userId: string): PushRuleset {
  const p = predefined(userId);
  return { override: p.override, content: p.content, room: [], sender: [], underride: p.underride };
}

/** Whether `ruleId` names a predefined rule of `kind`. */
export function isPredefinedRule(kind: PushRuleKind, ruleId: string): boolean {
  const p = predefined('@x:x') as Record<string, PushRule[]>;
  return (p[kind] ?? []).some((r) => r.rule_id === ruleId);
}

/** A user's own rule as stored (Synapse's `push_rules` row, decoded). */
export interface StoredPushRule {
  kind: PushRuleKind;
  ruleId: string;
  priority: number;
  conditions: PushCondition[];
  actions: PushAction[];
}

/** What a user changed: their rules, `enabled` flags and predefined rules' actions, keyed `kind/ruleId`. */
export interface UserPushRules {
  rules: readonly StoredPushRule[];
  enabled: ReadonlyMap<string, boolean>;
  defaultActions: ReadonlyMap<string, PushAction[]>;
}

export const EMPTY_USER_RULES: UserPushRules = { rules: [], enabled: new Map(), defaultActions: new Map() };

/**
 * The user's whole rule set, as clients see it and as evaluated: `.m.rule.master` first, then the
 * user's rules of each kind (highest priority first) before that kind's other predefined rules.
 */
export function mergePushRules(userId: string, user: UserPushRules): PushRuleset {
  const p = predefined(userId);
  const key = (kind: PushRuleKind, id: string) => `${kind}/${id}`;
  const adjust = (kind: PushRuleKind, r: PushRule): PushRule => {
    const k = key(kind, r.rule_id);
    const enabled = user.enabled.get(k);
    const actions = user.defaultActions.get(k);
    return enabled === undefined && actions === undefined ? r : { ...r, enabled: enabled ?? r.enabled, actions: actions ?? r.actions };
  };
  const own = (kind: PushRuleKind): PushRule[] =>
    user.rules
      .filter((r) => r.kind === kind)
      .sort((a, b) => b.priority - a.priority)
      .map((r) => {
        const out: PushRule = { rule_id: r.ruleId, default: false, enabled: user.enabled.get(key(kind, r.ruleId)) ?? true, actions: r.actions };
        if (kind === 'override' || kind === 'underride') out.conditions = r.conditions;
        if (kind === 'content') out.pattern = typeof r.conditions[0]?.pattern === 'string' ? r.conditions[0].pattern : '';
        return out;
      });
  const [master, ...restOverride] = p.override.map((r) => adjust('override', r));
  return {
    override: [master!, ...own('override'), ...restOverride],
    content: [...own('content'), ...p.content.map((r) => adjust('content', r))],
    room: own('room'),
    sender: own('sender'),
    underride: [...own('underride'), ...p.underride.map((r) => adjust('underride', r))],
  };
}

// ---------------------------------------------------------------------------------------------
// Validation of client-supplied rules

/** Why a rule a client sent is refused (the caller maps it to 400). */
export class InvalidPushRule extends Error {}

/** Synapse's check: each action is notify / dont_notify / coalesce or an object with set_tweak. */
export function checkActions(actions: unknown): asserts actions is PushAction[] {
  if (!Array.isArray(actions)) throw new InvalidPushRule('No actions found');
  for (const a of actions) {
    if (a === 'notify' || a === 'dont_notify' || a === 'coalesce') continue;
    if (isObject(a) && typeof a.set_tweak === 'string') continue;
    throw new InvalidPushRule(`Unrecognised action ${typeof a === 'string' ? a : JSON.stringify(a)}`);
  }
}

/** The conditions to store for a new rule of `kind` from a client's body (Synapse's shapes). */
export function conditionsFromRequest(kind: PushRuleKind, ruleId: string, body: Record<string, unknown>): PushCondition[] {
  switch (kind) {
    case 'override':
    case 'underride': {
      const c = body.conditions;
      // The spec: "A rule with no conditions always matches"; Synapse insists on the key.
      if (c === undefined) throw new InvalidPushRule("Missing 'conditions'");
      if (!Array.isArray(c)) throw new InvalidPushRule("'conditions' must be a list");
      for (const x of c) {
        if (!isObject(x) || typeof x.kind !== 'string') throw new InvalidPushRule("Condition without 'kind'");
      }
      return c as PushCondition[];
    }
    case 'room':
      return [match('room_id', ruleId)];
    case 'sender':
      return [match('sender', ruleId)];
    case 'content':
      if (body.pattern === undefined) throw new InvalidPushRule("Content rule missing 'pattern'");
      if (typeof body.pattern !== 'string') throw new InvalidPushRule("'pattern' must be a string");
      return [match('content.body', body.pattern)];
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** The user and room facts the conditions read. */
export interface PushContext {
  userId: string;
  /** The user's display name in the room (their member event's `displayname`). */
  displayName?: string | null;
  /** Joined members of the room. */
  memberCount: number;
  /** The room's `m.room.power_levels` content, if any. */
  powerLevels?: Record<string, unknown> | null;
  /** The sender's power level when the room has no power levels event (the creator's 100). */
  senderPowerLevel?: number;
}

export interface PushResult {
  notify: boolean;
  highlight: boolean;
  sound?: string;
  /** The matching rule's actions (legacy `dont_notify`/`coalesce` removed); [] when none matched. Shared: do not modify. */
  actions: PushAction[];
  ruleId?: string;
  kind?: PushRuleKind;
}

type Event = Record<string, unknown>;

interface CompiledCondition {
  /** True when the result depends only on the event (memoised per event, shared across users). */
  readonly shared: boolean;
  test(m: EventMatcher, ctx: PushContext): boolean;
}

interface CompiledRule {
  ruleId: string;
  kind: PushRuleKind;
  conditions: CompiledCondition[];
  actions: PushAction[];
  legacyMention: boolean;
  /** The evaluation result, worked out once. */
  result: PushResult;
}

export interface CompiledPushRules {
  readonly rules: readonly CompiledRule[];
}

const regexCache = new Map<string, RegExp>();

function cachedRegExp(source: string, flags: string): RegExp {
  const k = `${flags}/${source}`;
  let re = regexCache.get(k);
  if (!re) {
    re = new RegExp(source, flags);
    if (regexCache.size > 10_000) regexCache.clear();
    regexCache.set(k, re);
  }
  return re;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/** A spec glob (`*` any sequence, `?` one character) as a RegExp body. */
function globBody(glob: string): string {
  let out = '';
  for (const ch of glob) out += ch === '*' ? '.*?' : ch === '?' ? '.' : escapeRe(ch);
  return out;
}

const WORD = 'A-Za-z0-9_';
/** Matches `body` where it starts and ends at a word boundary (start/end or a non-[A-Za-z0-9_]). */
const wordBoundaryRegExp = (body: string) => cachedRegExp(`(?<![${WORD}])(?:${body})(?![${WORD}])`, 'is');

const displayNames = new Map<string, RegExp>();
function displayNameRegExp(name: string): RegExp {
  let re = displayNames.get(name);
  if (!re) {
    re = wordBoundaryRegExp(escapeRe(name));
    if (displayNames.size > 10_000) displayNames.clear();
    displayNames.set(name, re);
  }
  return re;
}

/** Looks up a dot-separated property path in the event. */
function lookup(event: Event, keys: readonly string[]): unknown {
  let v: unknown = event;
  for (const k of keys) {
    if (!isObject(v) || !Object.prototype.hasOwnProperty.call(v, k)) return undefined;
    v = v[k];
  }
  return v;
}

const isScalar = (v: unknown) =>
  typeof v === 'string' || typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isSafeInteger(v));

/** Per-event state of an evaluation: the event and the memo of user-independent conditions. */
export class EventMatcher {
  private readonly memo = new Map<CompiledCondition, boolean>();
  readonly hasMentions: boolean;
  readonly sender: string;
  private lowerBody: string | null | undefined;

  constructor(readonly event: Event) {
    const content = isObject(event.content) ? event.content : {};
    this.hasMentions = Object.prototype.hasOwnProperty.call(content, 'm.mentions');
    this.sender = typeof event.sender === 'string' ? event.sender : '';
  }

  /** `content.body` lower-cased once per event (a cheap pre-check before word-boundary regexes). */
  get bodyLower(): string | null {
    if (this.lowerBody === undefined) {
      const body = lookup(this.event, ['content', 'body']);
      this.lowerBody = typeof body === 'string' ? body.toLowerCase() : null;
    }
    return this.lowerBody;
  }

  test(c: CompiledCondition, ctx: PushContext): boolean {
    if (!c.shared) return c.test(this, ctx);
    let r = this.memo.get(c);
    if (r === undefined) this.memo.set(c, (r = c.test(this, ctx)));
    return r;
  }
}

const never: CompiledCondition = { shared: true, test: () => false };

function compileCondition(c: PushCondition): CompiledCondition {
  switch (c.kind) {
    case 'event_match': {
      if (typeof c.key !== 'string' || typeof c.pattern !== 'string') return never;
      const keys = splitPropertyPath(c.key);
      if (c.key === 'content.body') {
        const re = wordBoundaryRegExp(globBody(c.pattern));
        // Most bodies do not contain a literal pattern at all: a substring test rules them out cheaply.
        const literal = /[*?]/.test(c.pattern) ? null : c.pattern.toLowerCase();
        return {
          shared: true,
          test: (m) => {
            const lower = m.bodyLower;
            if (lower === null || (literal !== null && !lower.includes(literal))) return false;
            return re.test(lookup(m.event, keys) as string);
          },
        };
      }
      const re = cachedRegExp(`^(?:${globBody(c.pattern)})$`, 'is');
      return {
        shared: true,
        test: (m) => {
          const v = lookup(m.event, keys);
          return typeof v === 'string' && re.test(v);
        },
      };
    }
    case 'event_property_is': {
      if (typeof c.key !== 'string' || !isScalar(c.value)) return never;
      const keys = splitPropertyPath(c.key);
      const want = c.value;
      return { shared: true, test: (m) => lookup(m.event, keys) === want };
    }
    case 'event_property_contains': {
      if (typeof c.key !== 'string' || !isScalar(c.value)) return never;
      const keys = splitPropertyPath(c.key);
      const want = c.value;
      return {
        shared: true,
        test: (m) => {
          const v = lookup(m.event, keys);
          return Array.isArray(v) && v.some((x) => x === want && isScalar(x));
        },
      };
    }
    case 'contains_display_name':
      return {
        shared: false,
        test: (m, ctx) => {
          const name = ctx.displayName;
          const lower = m.bodyLower;
          if (!name || lower === null || !lower.includes(name.toLowerCase())) return false;
          return displayNameRegExp(name).test(lookup(m.event, ['content', 'body']) as string);
        },
      };
    case 'room_member_count': {
      const parsed = typeof c.is === 'string' ? /^(==|<=|>=|<|>)?([0-9]+)$/.exec(c.is) : null;
      if (!parsed) return never;
      const op = parsed[1] ?? '==';
      const n = Number(parsed[2]);
      return {
        shared: false,
        test: (_m, ctx) => {
          const count = ctx.memberCount;
          return op === '==' ? count === n : op === '<' ? count < n : op === '>' ? count > n : op === '<=' ? count <= n : count >= n;
        },
      };
    }
    case 'sender_notification_permission': {
      if (typeof c.key !== 'string') return never;
      const key = c.key;
      return { shared: false, test: (m, ctx) => senderMayNotify(m.sender, key, ctx) };
    }
    default:
      // The spec: unrecognised conditions never match (the rule is as good as disabled).
      return never;
  }
}

const toInt = (v: unknown): number | undefined => {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^[+-]?[0-9]+$/.test(v.trim())) return Number(v);
  return undefined;
};

/** Whether the sender's power level reaches `notifications[key]` (default 50). */
function senderMayNotify(sender: string, key: string, ctx: PushContext): boolean {
  const pl = ctx.powerLevels;
  let senderLevel: number;
  let required = 50;
  if (pl) {
    const users = isObject(pl.users) ? pl.users : {};
    senderLevel = toInt(users[sender]) ?? toInt(pl.users_default) ?? 0;
    const notifications = isObject(pl.notifications) ? pl.notifications : {};
    required = toInt(notifications[key]) ?? 50;
  } else {
    senderLevel = ctx.senderPowerLevel ?? 0;
  }
  return senderLevel >= required;
}

/** The legacy mention rules the spec disables for events that carry `m.mentions`. */
const LEGACY_MENTION_RULES = new Set(['.m.rule.contains_display_name', '.m.rule.roomnotif', '.m.rule.contains_user_name']);

/** Compiled forms of the predefined rules' conditions, shared by every user (so memoised per event). */
const sharedConditions = new Map<string, CompiledCondition>();

function compileShared(c: PushCondition, userId: string): CompiledCondition {
  const k = JSON.stringify(c);
  // A condition naming the user (invite_for_me's state_key, is_user_mention) is the user's own:
  // memoising it per event would only fill the memo.
  if (k.includes(JSON.stringify(userId).slice(1, -1))) return { ...compileCondition(c), shared: false };
  let compiled = sharedConditions.get(k);
  if (!compiled) {
    compiled = compileCondition(c);
    if (sharedConditions.size > 10_000) sharedConditions.clear();
    sharedConditions.set(k, compiled);
  }
  return compiled;
}

/** Compiles a rule set (enabled rules only) for repeated evaluation; `userId` is the rules' owner. */
export function compilePushRules(ruleset: PushRuleset, userId = ''): CompiledPushRules {
  const rules: CompiledRule[] = [];
  for (const kind of PUSH_RULE_KINDS) {
    for (const r of ruleset[kind] ?? []) {
      if (!r.enabled) continue;
      let conditions: PushCondition[];
      if (kind === 'content') conditions = typeof r.pattern === 'string' ? [match('content.body', r.pattern)] : [{ kind: 'unknown' }];
      else if (kind === 'room') conditions = [match('room_id', r.rule_id)];
      else if (kind === 'sender') conditions = [match('sender', r.rule_id)];
      else conditions = r.conditions ?? [];
      const actions = r.actions.filter((a) => a !== 'dont_notify' && a !== 'coalesce');
      rules.push({
        ruleId: r.rule_id,
        kind,
        // Predefined rules' conditions recur for every user: share them so the memo works across users.
        conditions: conditions.map((c) => (r.default && userId ? compileShared(c, userId) : compileCondition(c))),
        actions,
        legacyMention: r.default && LEGACY_MENTION_RULES.has(r.rule_id),
        result: Object.freeze({ ...actionsOutcome(actions), actions, ruleId: r.rule_id, kind }),
      });
    }
  }
  return { rules };
}

/** The outcome of a rule's actions. */
export function actionsOutcome(actions: readonly PushAction[]): Omit<PushResult, 'actions' | 'ruleId' | 'kind'> {
  const out: Omit<PushResult, 'actions' | 'ruleId' | 'kind'> = { notify: false, highlight: false };
  for (const a of actions) {
    if (a === 'notify') out.notify = true;
    else if (isObject(a) && a.set_tweak === 'highlight') out.highlight = a.value === undefined ? true : a.value === true;
    else if (isObject(a) && a.set_tweak === 'sound' && typeof a.value === 'string') out.sound = a.value;
  }
  return out;
}

const NO_MATCH: PushResult = Object.freeze({ notify: false, highlight: false, actions: [] });

/**
 * Evaluates `event` against a user's rules: the first enabled rule (override, content, room,
 * sender, underride, each in order) whose conditions all hold decides. Pass one `EventMatcher` per
 * event when evaluating for many users.
 */
export function evaluatePushRules(
  rules: PushRuleset | CompiledPushRules,
  event: Event | EventMatcher,
  context: PushContext,
): PushResult {
  const compiled = Array.isArray((rules as CompiledPushRules).rules) ? (rules as CompiledPushRules) : compilePushRules(rules as PushRuleset, context.userId);
  const m = event instanceof EventMatcher ? event : new EventMatcher(event);
  // Plain loops: this runs for every member on every event.
  rules: for (const rule of compiled.rules) {
    if (rule.legacyMention && m.hasMentions) continue;
    for (const c of rule.conditions) if (!m.test(c, context)) continue rules;
    return rule.result;
  }
  return NO_MATCH;
}

/**
 * Whether an event counts towards a room's unread count (Synapse's rule): a message-like event with
 * a non-empty body, an encrypted event, or a few state events; never notices or edits.
 */
export function countsAsUnread(event: Event): boolean {
  const content = isObject(event.content) ? event.content : {};
  const isState = typeof event.state_key === 'string';
  if (!isState && event.type === 'm.room.message' && content.msgtype === 'm.notice') return false;
  const rel = isObject(content['m.relates_to']) ? content['m.relates_to'] : null;
  if (rel?.rel_type === 'm.replace') return false;
  if (typeof content.body === 'string' && content.body !== '') return true;
  if (isState && ['m.room.topic', 'm.room.name', 'm.room.avatar', 'm.room.tombstone', 'm.room.encryption'].includes(event.type as string)) return true;
  return !isState && event.type === 'm.room.encrypted';
}
