// Push rules (client-server API "Push Notifications"): the predefined rule set, merging a user's
// rules, and every condition kind, with the spec's own examples.
import { describe, expect, it } from 'vitest';
import {
  EMPTY_USER_RULES,
  EventMatcher,
  compilePushRules,
  countsAsUnread,
  defaultPushRules,
  evaluatePushRules,
  mergePushRules,
  type PushContext,
  type PushRuleset,
} from '../../src/matrix/push-rules.js';

const ME = '@alice:example.org';
const ctx = (over: Partial<PushContext> = {}): PushContext => ({ userId: ME, displayName: 'Alice Liddell', memberCount: 5, ...over });
const msg = (body: string, extra: Record<string, unknown> = {}) => ({
  type: 'm.room.message',
  sender: '@bob:example.org',
  room_id: '!r:example.org',
  event_id: '$e',
  content: { msgtype: 'm.text', body, ...extra },
});
const defaults = compilePushRules(defaultPushRules(ME));
const evalDefault = (ev: Record<string, unknown>, c: PushContext = ctx()) => evaluatePushRules(defaults, ev, c);
const only = (conditions: unknown[]): PushRuleset => ({
  override: [{ rule_id: 'x', default: false, enabled: true, conditions: conditions as never, actions: ['notify'] }],
  content: [],
  room: [],
  sender: [],
  underride: [],
});
const matches = (conditions: unknown[], ev: Record<string, unknown>, c: PushContext = ctx()) => evaluatePushRules(only(conditions), ev, c).notify;

describe('the predefined rules', () => {
  it('are the spec list, in the spec order, with the user filled in', () => {
    const r = defaultPushRules(ME);
    expect(r.override.map((x) => x.rule_id)).toEqual([
      '.m.rule.master',
      '.m.rule.suppress_notices',
      '.m.rule.invite_for_me',
      '.m.rule.member_event',
      '.m.rule.is_user_mention',
      '.m.rule.contains_display_name',
      '.m.rule.is_room_mention',
      '.m.rule.roomnotif',
      '.m.rule.tombstone',
      '.m.rule.reaction',
      '.m.rule.room.server_acl',
      '.m.rule.suppress_edits',
    ]);
    expect(r.content).toEqual([
      { rule_id: '.m.rule.contains_user_name', default: true, enabled: true, pattern: 'alice', actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }] },
    ]);
    expect(r.underride.map((x) => x.rule_id)).toEqual(['.m.rule.call', '.m.rule.encrypted_room_one_to_one', '.m.rule.room_one_to_one', '.m.rule.message', '.m.rule.encrypted']);
    expect(r.override[0]!.enabled).toBe(false);
    expect(r.override[2]!.conditions![2]).toEqual({ kind: 'event_match', key: 'state_key', pattern: ME });
    expect(r.override[4]!.conditions![0]).toEqual({ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: ME });
  });

  it('a plain message in a group room notifies without highlight or sound (.m.rule.message)', () => {
    expect(evalDefault(msg('hello'))).toMatchObject({ notify: true, highlight: false, ruleId: '.m.rule.message', actions: ['notify'] });
    expect(evalDefault(msg('hello')).sound).toBeUndefined();
  });

  it('one-to-one rooms: sound default; encrypted events too', () => {
    expect(evalDefault(msg('hi'), ctx({ memberCount: 2 }))).toMatchObject({ notify: true, sound: 'default', ruleId: '.m.rule.room_one_to_one' });
    const enc = { type: 'm.room.encrypted', sender: '@bob:example.org', content: { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'x' } };
    expect(evalDefault(enc, ctx({ memberCount: 2 }))).toMatchObject({ notify: true, sound: 'default', ruleId: '.m.rule.encrypted_room_one_to_one' });
    expect(evalDefault(enc)).toMatchObject({ notify: true, highlight: false, ruleId: '.m.rule.encrypted' });
  });

  it('notices, reactions, edits, member events and server ACLs do not notify', () => {
    expect(evalDefault(msg('bot says', { msgtype: 'm.notice' })).notify).toBe(false);
    expect(evalDefault({ type: 'm.reaction', sender: '@bob:example.org', content: {} }).notify).toBe(false);
    expect(evalDefault(msg('* fixed', { 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } })).notify).toBe(false);
    expect(evalDefault({ type: 'm.room.member', state_key: '@carol:example.org', sender: '@carol:example.org', content: { membership: 'join' } }).notify).toBe(false);
    expect(evalDefault({ type: 'm.room.server_acl', state_key: '', sender: '@bob:example.org', content: {} }).notify).toBe(false);
  });

  it('an invite for me notifies with sound; an invite for someone else does not', () => {
    const invite = (who: string) => ({ type: 'm.room.member', state_key: who, sender: '@bob:example.org', content: { membership: 'invite' } });
    expect(evalDefault(invite(ME))).toMatchObject({ notify: true, sound: 'default', highlight: false, ruleId: '.m.rule.invite_for_me' });
    expect(evalDefault(invite('@carol:example.org')).notify).toBe(false);
  });

  it('mentions: m.mentions user_ids and room (with permission), display name, user name, @room', () => {
    expect(evalDefault(msg('hey', { 'm.mentions': { user_ids: [ME] } }))).toMatchObject({ highlight: true, sound: 'default', ruleId: '.m.rule.is_user_mention' });
    expect(evalDefault(msg('hey Alice Liddell!'))).toMatchObject({ highlight: true, ruleId: '.m.rule.contains_display_name' });
    expect(evalDefault(msg('ALICE LIDDELL, hi'))).toMatchObject({ highlight: true });
    expect(evalDefault(msg('ask alice about it'))).toMatchObject({ highlight: true, ruleId: '.m.rule.contains_user_name' });
    expect(evalDefault(msg('malice is not a mention')).highlight).toBe(false);
    // The legacy mention rules stay silent once the event says whom it mentions.
    expect(evalDefault(msg('hey Alice Liddell', { 'm.mentions': {} })).highlight).toBe(false);
    expect(evalDefault(msg('ask alice', { 'm.mentions': { user_ids: [] } })).highlight).toBe(false);
    const pl = { users: { '@bob:example.org': 50 } };
    expect(evalDefault(msg('everyone!', { 'm.mentions': { room: true } }), ctx({ powerLevels: pl }))).toMatchObject({ highlight: true, ruleId: '.m.rule.is_room_mention' });
    expect(evalDefault(msg('everyone!', { 'm.mentions': { room: true } }), ctx({ powerLevels: { users: {} } })).highlight).toBe(false);
    expect(evalDefault(msg('@room look'), ctx({ powerLevels: pl }))).toMatchObject({ highlight: true, ruleId: '.m.rule.roomnotif' });
    expect(evalDefault(msg('@room look'), ctx({ powerLevels: { notifications: { room: 100 }, users: { '@bob:example.org': 50 } } })).highlight).toBe(false);
  });

  it('tombstones highlight (state events only)', () => {
    expect(evalDefault({ type: 'm.room.tombstone', state_key: '', sender: '@bob:example.org', content: { replacement_room: '!n:x' } })).toMatchObject({ highlight: true });
    expect(evalDefault({ type: 'm.room.tombstone', sender: '@bob:example.org', content: {} }).highlight).toBe(false);
  });

  it('.m.rule.master, when enabled, silences everything', () => {
    const rules = mergePushRules(ME, { ...EMPTY_USER_RULES, enabled: new Map([['override/.m.rule.master', true]]) });
    expect(rules.override[0]).toMatchObject({ rule_id: '.m.rule.master', enabled: true });
    expect(evaluatePushRules(rules, msg('hey alice', { 'm.mentions': { user_ids: [ME] } }), ctx())).toMatchObject({ notify: false, ruleId: '.m.rule.master' });
  });
});

describe('conditions', () => {
  it("event_match: the spec's topic example (whole value, case-insensitive, ? needs a character)", () => {
    const topic = (t: unknown) => ({ type: 'm.room.topic', state_key: '', content: { topic: t } });
    const c = [{ kind: 'event_match', key: 'content.topic', pattern: 'lunc?*' }];
    expect(matches(c, topic('Lunch plans'))).toBe(true);
    expect(matches(c, topic('LUNCH'))).toBe(true);
    expect(matches(c, topic(' lunch'))).toBe(false);
    expect(matches(c, topic('lunc'))).toBe(false);
    expect(matches(c, topic(null))).toBe(false);
    // Absent or non-string values never match, even `*`.
    expect(matches([{ kind: 'event_match', key: 'content.nope', pattern: '*' }], topic('x'))).toBe(false);
  });

  it("event_match on content.body: the spec's word-boundary example", () => {
    const c = [{ kind: 'event_match', key: 'content.body', pattern: 'ex*ple' }];
    expect(matches(c, msg('An example event.'))).toBe(true);
    expect(matches(c, msg('exple'))).toBe(true);
    expect(matches(c, msg('An exciting triple-whammy'))).toBe(true);
    expect(matches(c, msg('examples'))).toBe(false);
    expect(matches(c, msg('reexample'))).toBe(false);
    // Regex characters in a pattern are literal.
    expect(matches([{ kind: 'event_match', key: 'content.body', pattern: 'a.c' }], msg('abc'))).toBe(false);
  });

  it("event_property_is: the spec's m.federate example (no type casts)", () => {
    const create = (v: unknown) => ({ type: 'm.room.create', state_key: '', content: { 'm.federate': v } });
    const c = [{ kind: 'event_property_is', key: 'content.m\\.federate', value: true }];
    expect(matches(c, create(true))).toBe(true);
    expect(matches(c, create('true'))).toBe(false);
    expect(matches(c, create(1))).toBe(false);
    expect(matches([{ kind: 'event_property_is', key: 'content.x', value: null }], { content: { x: null } })).toBe(true);
    expect(matches([{ kind: 'event_property_is', key: 'content.x', value: null }], { content: {} })).toBe(false);
  });

  it("event_property_contains: the spec's alt_aliases example (exact entries only)", () => {
    const ev = { type: 'm.room.canonical_alias', content: { alias: '#somewhere:localhost', alt_aliases: ['#somewhere:example.org', '#myroom:example.com'] } };
    expect(matches([{ kind: 'event_property_contains', key: 'content.alt_aliases', value: '#myroom:example.com' }], ev)).toBe(true);
    expect(matches([{ kind: 'event_property_contains', key: 'content.alt_aliases', value: ':example.com' }], ev)).toBe(false);
    expect(matches([{ kind: 'event_property_contains', key: 'content.alias', value: '#somewhere:localhost' }], ev)).toBe(false);
  });

  it('room_member_count with ==, <, >, <=, >= and the bare number', () => {
    const at = (is: string, n: number) => matches([{ kind: 'room_member_count', is }], msg('x'), ctx({ memberCount: n }));
    expect(at('2', 2)).toBe(true);
    expect(at('2', 3)).toBe(false);
    expect(at('==3', 3)).toBe(true);
    expect(at('<3', 2)).toBe(true);
    expect(at('<3', 3)).toBe(false);
    expect(at('>3', 4)).toBe(true);
    expect(at('>3', 3)).toBe(false);
    expect(at('<=10', 10)).toBe(true);
    expect(at('>=10', 9)).toBe(false);
    expect(at('~3', 3)).toBe(false);
  });

  it('sender_notification_permission reads notifications.<key> (default 50) and the sender level', () => {
    const c = [{ kind: 'sender_notification_permission', key: 'room' }];
    expect(matches(c, msg('x'), ctx({ powerLevels: { users_default: 50 } }))).toBe(true);
    expect(matches(c, msg('x'), ctx({ powerLevels: { users_default: 0 } }))).toBe(false);
    expect(matches(c, msg('x'), ctx({ powerLevels: { users_default: 0, notifications: { room: 0 } } }))).toBe(true);
    expect(matches(c, msg('x'), ctx({ powerLevels: null, senderPowerLevel: 100 }))).toBe(true);
  });

  it('contains_display_name needs a display name and a word-boundary match', () => {
    const c = [{ kind: 'contains_display_name' }];
    expect(matches(c, msg('hi Alice Liddell.'))).toBe(true);
    expect(matches(c, msg('hi Alice Liddellx'))).toBe(false);
    expect(matches(c, msg('hi'), ctx({ displayName: null }))).toBe(false);
    expect(matches(c, msg('(a+b)* rocks'), ctx({ displayName: '(a+b)*' }))).toBe(true);
  });

  it('unknown kinds never match; no conditions always match', () => {
    expect(matches([{ kind: 'org.example.unknown' }], msg('x'))).toBe(false);
    expect(matches([], msg('x'))).toBe(true);
  });
});

describe('merging and evaluation order', () => {
  it("user rules come before the kind's predefined rules; master stays first; disabled rules are skipped", () => {
    const rules = mergePushRules(ME, {
      rules: [
        { kind: 'override', ruleId: 'mine', priority: 0, conditions: [{ kind: 'event_match', key: 'content.body', pattern: 'cake' }], actions: ['notify', { set_tweak: 'sound', value: 'cake.wav' }] },
        { kind: 'room', ruleId: '!quiet:example.org', priority: 0, conditions: [], actions: [] },
        { kind: 'content', ruleId: 'low', priority: 0, conditions: [{ kind: 'event_match', key: 'content.body', pattern: 'tea' }], actions: ['notify'] },
        { kind: 'content', ruleId: 'high', priority: 1, conditions: [{ kind: 'event_match', key: 'content.body', pattern: 'time' }], actions: ['notify', { set_tweak: 'highlight' }] },
      ],
      enabled: new Map([['underride/.m.rule.message', false]]),
      defaultActions: new Map([['override/.m.rule.reaction', ['notify']]]),
    });
    expect(rules.override.map((r) => r.rule_id).slice(0, 3)).toEqual(['.m.rule.master', 'mine', '.m.rule.suppress_notices']);
    expect(rules.content.map((r) => r.rule_id)).toEqual(['high', 'low', '.m.rule.contains_user_name']);
    expect(rules.content[0]).toEqual({ rule_id: 'high', default: false, enabled: true, pattern: 'time', actions: ['notify', { set_tweak: 'highlight' }] });
    expect(rules.room[0]).toEqual({ rule_id: '!quiet:example.org', default: false, enabled: true, actions: [] });
    const compiled = compilePushRules(rules);
    expect(evaluatePushRules(compiled, msg('cake!'), ctx())).toMatchObject({ sound: 'cake.wav', ruleId: 'mine' });
    // "It's time for tea": both content rules match; the higher priority one decides.
    expect(evaluatePushRules(compiled, msg("It's time for tea"), ctx())).toMatchObject({ highlight: true, ruleId: 'high' });
    // A room rule with no actions silences that room.
    expect(evaluatePushRules(compiled, { ...msg('hi'), room_id: '!quiet:example.org' }, ctx())).toMatchObject({ notify: false, ruleId: '!quiet:example.org' });
    // .m.rule.message disabled: plain messages fall through to nothing.
    expect(evaluatePushRules(compiled, msg('hello'), ctx())).toEqual({ notify: false, highlight: false, actions: [] });
    // A predefined rule's new actions apply.
    expect(evaluatePushRules(compiled, { type: 'm.reaction', sender: '@bob:example.org', content: {} }, ctx()).notify).toBe(true);
  });

  it('legacy dont_notify / coalesce actions are ignored', () => {
    const r: PushRuleset = { ...only([]), override: [{ rule_id: 'x', default: false, enabled: true, conditions: [], actions: ['dont_notify', 'coalesce'] }] };
    expect(evaluatePushRules(r, msg('x'), ctx())).toMatchObject({ notify: false, actions: [] });
  });

  it('one EventMatcher serves many users (user-specific conditions are not memoised across them)', () => {
    const m = new EventMatcher(msg('ping bob and alice'));
    const bob = compilePushRules(defaultPushRules('@bob:example.org'));
    const carol = compilePushRules(defaultPushRules('@carol:example.org'));
    expect(evaluatePushRules(defaults, m, ctx()).highlight).toBe(true);
    expect(evaluatePushRules(bob, m, ctx({ userId: '@bob:example.org', displayName: 'Bob' })).highlight).toBe(true);
    expect(evaluatePushRules(carol, m, ctx({ userId: '@carol:example.org', displayName: 'Carol' })).highlight).toBe(false);
  });

  it('unread: messages with a body and encrypted events count; notices and edits do not', () => {
    expect(countsAsUnread(msg('x'))).toBe(true);
    expect(countsAsUnread(msg('x', { msgtype: 'm.notice' }))).toBe(false);
    expect(countsAsUnread(msg('x', { 'm.relates_to': { rel_type: 'm.replace' } }))).toBe(false);
    expect(countsAsUnread({ type: 'm.room.encrypted', content: {} })).toBe(true);
    expect(countsAsUnread({ type: 'm.room.name', state_key: '', content: { name: 'n' } })).toBe(true);
    expect(countsAsUnread({ type: 'm.room.member', state_key: '@a:x', content: { membership: 'join' } })).toBe(false);
  });
});
