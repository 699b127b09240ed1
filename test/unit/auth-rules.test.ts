// The authorization rules of room versions 1–11 (Matrix specification: rooms/fragments/
// v1-auth-rules.md, v3-auth-rules.md, v8-auth-rules.md, rooms/v6.md … v11.md, and the
// server-server API's "Auth events selection"). Each rule has an allowed and a refused case, and
// each version difference is checked on both sides of the version that introduced it.
import { describe, expect, it } from 'vitest';
import {
  authEventSelection,
  authStateFrom,
  checkAuth,
  checkAuthEventsList,
  redactionAllowed,
  type AuthEvent,
  type AuthResult,
} from '../../src/matrix/auth-rules.js';

const ROOM = '!room:a.test';
const ALICE = '@alice:a.test'; // the creator
const BOB = '@bob:b.test';
const CAROL = '@carol:a.test';
const DAVE = '@dave:c.test';

type Content = Record<string, unknown>;

function ev(type: string, sender: string, content: Content, stateKey?: string, extra: Partial<AuthEvent> = {}): AuthEvent {
  return {
    type,
    sender,
    content,
    room_id: ROOM,
    prev_events: ['$prev'],
    ...(stateKey === undefined ? {} : { state_key: stateKey }),
    ...extra,
  };
}

function createEvent(version: string, content: Content = {}): AuthEvent {
  const c = Number(version) <= 10 ? { creator: ALICE, room_version: version, ...content } : { room_version: version, ...content };
  return ev('m.room.create', ALICE, c, '', { event_id: '$create', prev_events: [] });
}

interface RoomSetup {
  members?: Record<string, string>;
  joinRule?: string;
  powerLevels?: Content | null;
  createContent?: Content;
  extra?: AuthEvent[];
}

/** A room in `version`: Alice (creator, 100) joined, a public join rule and default levels unless told otherwise. */
function room(version: string, setup: RoomSetup = {}) {
  const events: AuthEvent[] = [createEvent(version, setup.createContent)];
  const members = { [ALICE]: 'join', ...setup.members };
  for (const [user, membership] of Object.entries(members)) events.push(ev('m.room.member', user, { membership }, user));
  if (setup.powerLevels !== null) {
    events.push(ev('m.room.power_levels', ALICE, setup.powerLevels ?? { users: { [ALICE]: 100 } }, ''));
  }
  events.push(ev('m.room.join_rules', ALICE, { join_rule: setup.joinRule ?? 'public' }, ''));
  events.push(...(setup.extra ?? []));
  return authStateFrom(events);
}

const member = (sender: string, target: string, membership: string, content: Content = {}, extra: Partial<AuthEvent> = {}) =>
  ev('m.room.member', sender, { membership, ...content }, target, extra);

function allowed(r: AuthResult) {
  expect(r).toEqual({ allowed: true });
}
function refused(r: AuthResult, reason?: RegExp) {
  expect(r.allowed).toBe(false);
  if (reason && !r.allowed) expect(r.reason).toMatch(reason);
}

describe('m.room.create', () => {
  const create = (version: string, content: Content, extra: Partial<AuthEvent> = {}) =>
    ev('m.room.create', ALICE, content, '', { prev_events: [], ...extra });
  const empty = authStateFrom([]);

  it('accepts a well-formed create event and refuses prev_events', () => {
    allowed(checkAuth(create('10', { creator: ALICE, room_version: '10' }), empty, '10'));
    refused(checkAuth(create('10', { creator: ALICE }, { prev_events: ['$x'] }), empty, '10'), /prev_events/);
  });

  it("refuses a room ID on another server than the sender's", () => {
    refused(checkAuth(create('10', { creator: ALICE }, { room_id: '!room:b.test' }), empty, '10'), /domain/);
  });

  it('refuses an unknown content.room_version', () => {
    allowed(checkAuth(create('9', { creator: ALICE, room_version: '9' }), empty, '9'));
    refused(checkAuth(create('9', { creator: ALICE, room_version: '99' }), empty, '9'), /room version/);
  });

  it('needs content.creator up to v10 but not in v11', () => {
    refused(checkAuth(create('10', { room_version: '10' }), empty, '10'), /creator/);
    refused(checkAuth(create('1', {}), empty, '1'), /creator/);
    allowed(checkAuth(create('11', { room_version: '11' }), empty, '11'));
  });
});

describe('auth state and m.federate', () => {
  it('refuses any other event without an m.room.create', () => {
    refused(checkAuth(ev('m.room.message', ALICE, { body: 'hi' }), authStateFrom([]), '10'), /m\.room\.create/);
  });

  it('refuses senders of other servers when m.federate is false', () => {
    const r = room('10', { members: { [BOB]: 'join', [CAROL]: 'join' }, createContent: { 'm.federate': false } });
    refused(checkAuth(ev('m.room.message', BOB, { body: 'hi' }), r, '10'), /federate/);
    allowed(checkAuth(ev('m.room.message', CAROL, { body: 'hi' }), r, '10'));
  });
});

describe('joins', () => {
  it("allows the creator's first join right after the create event", () => {
    const state = authStateFrom([createEvent('10')]);
    allowed(checkAuth(member(ALICE, ALICE, 'join', {}, { prev_events: ['$create'] }), state, '10'));
    // Not right after the create event: no join rule, so the room is invite-only.
    refused(checkAuth(member(ALICE, ALICE, 'join', {}, { prev_events: ['$other'] }), state, '10'));
    // Someone else is not the creator.
    refused(checkAuth(member(BOB, BOB, 'join', {}, { prev_events: ['$create'] }), state, '10'));
  });

  it('v11: the creator is the sender of the create event', () => {
    const state = authStateFrom([createEvent('11')]);
    allowed(checkAuth(member(ALICE, ALICE, 'join', {}, { prev_events: ['$create'] }), state, '11'));
    refused(checkAuth(member(BOB, BOB, 'join', {}, { prev_events: ['$create'] }), state, '11'));
  });

  it('allows anyone into a public room, but not on behalf of someone else', () => {
    allowed(checkAuth(member(BOB, BOB, 'join'), room('10'), '10'));
    refused(checkAuth(member(CAROL, BOB, 'join'), room('10'), '10'), /joining user/);
  });

  it('refuses a banned user even in a public room', () => {
    refused(checkAuth(member(BOB, BOB, 'join'), room('10', { members: { [BOB]: 'ban' } }), '10'), /banned/);
  });

  it('invite-only: allows the invited, refuses others', () => {
    allowed(checkAuth(member(BOB, BOB, 'join'), room('10', { joinRule: 'invite', members: { [BOB]: 'invite' } }), '10'));
    refused(checkAuth(member(BOB, BOB, 'join'), room('10', { joinRule: 'invite' }), '10'), /invite/);
  });

  it('refuses an unknown membership', () => {
    refused(checkAuth(member(BOB, BOB, 'dance'), room('10'), '10'), /unknown membership/);
    refused(checkAuth(ev('m.room.member', BOB, {}, BOB), room('10'), '10'), /membership/);
  });
});

describe('restricted joins (v8+) and knock_restricted (v10+)', () => {
  const via = (server: string, user = ALICE) =>
    member(BOB, BOB, 'join', { join_authorised_via_users_server: user }, { signatures: { [server]: { 'ed25519:1': 'sig' } } });

  it('refuses a restricted join in v7, where the rule does not exist', () => {
    refused(checkAuth(via('a.test'), room('7', { joinRule: 'restricted' }), '7'));
  });

  it('v8: allows a join authorised by a joined user who may invite, refuses one without', () => {
    const r = room('8', { joinRule: 'restricted' });
    allowed(checkAuth(via('a.test'), r, '8'));
    refused(checkAuth(member(BOB, BOB, 'join'), r, '8'), /join_authorised_via_users_server/);
  });

  it('refuses an authorising user who is not joined or lacks the invite level', () => {
    const notJoined = room('9', { joinRule: 'restricted', members: { [CAROL]: 'leave' } });
    refused(checkAuth(via('a.test', CAROL), notJoined, '9'), /allowed to invite/);
    const lowLevel = room('9', { joinRule: 'restricted', members: { [CAROL]: 'join' }, powerLevels: { users: { [ALICE]: 100 }, invite: 50 } });
    refused(checkAuth(via('a.test', CAROL), lowLevel, '9'), /allowed to invite/);
  });

  it("refuses the join unless the authorising user's server signed it", () => {
    refused(checkAuth(via('b.test'), room('8', { joinRule: 'restricted' }), '8'), /signed/);
    const isSignedBy = (s: string) => s === 'a.test';
    allowed(checkAuth(member(BOB, BOB, 'join', { join_authorised_via_users_server: ALICE }), room('8', { joinRule: 'restricted' }), '8', { isSignedBy }));
  });

  it('lets an invited user join a restricted room without an authoriser', () => {
    allowed(checkAuth(member(BOB, BOB, 'join'), room('8', { joinRule: 'restricted', members: { [BOB]: 'invite' } }), '8'));
  });

  it('knock_restricted: joins through an authoriser in v10 only', () => {
    refused(checkAuth(via('a.test'), room('9', { joinRule: 'knock_restricted' }), '9'));
    allowed(checkAuth(via('a.test'), room('10', { joinRule: 'knock_restricted' }), '10'));
  });
});

describe('knocking (v7+)', () => {
  it('refuses a knock in v6 and allows it in v7', () => {
    refused(checkAuth(member(BOB, BOB, 'knock'), room('6', { joinRule: 'knock' }), '6'));
    allowed(checkAuth(member(BOB, BOB, 'knock'), room('7', { joinRule: 'knock' }), '7'));
  });

  it('refuses a knock on a room whose join rule is not knock', () => {
    refused(checkAuth(member(BOB, BOB, 'knock'), room('7', { joinRule: 'public' }), '7'), /knocking/);
  });

  it('refuses a knock by someone else, or by a member, invitee or banned user', () => {
    refused(checkAuth(member(CAROL, BOB, 'knock'), room('7', { joinRule: 'knock' }), '7'), /knocking user/);
    for (const m of ['join', 'invite', 'ban']) {
      refused(checkAuth(member(BOB, BOB, 'knock'), room('7', { joinRule: 'knock', members: { [BOB]: m } }), '7'), /cannot knock/);
    }
  });

  it('knock_restricted allows knocking in v10 only', () => {
    refused(checkAuth(member(BOB, BOB, 'knock'), room('9', { joinRule: 'knock_restricted' }), '9'));
    allowed(checkAuth(member(BOB, BOB, 'knock'), room('10', { joinRule: 'knock_restricted' }), '10'));
  });

  it('the knock join rule admits invitees (v7+)', () => {
    allowed(checkAuth(member(BOB, BOB, 'join'), room('7', { joinRule: 'knock', members: { [BOB]: 'invite' } }), '7'));
    refused(checkAuth(member(BOB, BOB, 'join'), room('7', { joinRule: 'knock' }), '7'));
  });

  it('a knocker may withdraw (leave) in v7+', () => {
    allowed(checkAuth(member(BOB, BOB, 'leave'), room('7', { joinRule: 'knock', members: { [BOB]: 'knock' } }), '7'));
  });
});

describe('invites', () => {
  const pl = { users: { [ALICE]: 100, [CAROL]: 50 }, invite: 50 };

  it('requires the invite level', () => {
    const r = room('10', { powerLevels: pl, members: { [CAROL]: 'join', [DAVE]: 'join' } });
    allowed(checkAuth(member(CAROL, BOB, 'invite'), r, '10'));
    refused(checkAuth(member(DAVE, BOB, 'invite'), r, '10'), /invit/);
  });

  it('refuses an inviter who is not joined', () => {
    refused(checkAuth(member(CAROL, BOB, 'invite'), room('10', { powerLevels: pl, members: { [CAROL]: 'invite' } }), '10'), /inviter/);
  });

  it('refuses inviting a member or a banned user', () => {
    refused(checkAuth(member(ALICE, BOB, 'invite'), room('10', { members: { [BOB]: 'join' } }), '10'), /join/);
    refused(checkAuth(member(ALICE, BOB, 'invite'), room('10', { members: { [BOB]: 'ban' } }), '10'), /ban/);
  });

  it('refuses third-party invites cleanly as unsupported', () => {
    const tpi = { display_name: 'b…', signed: { mxid: BOB, token: 'tok', signatures: {} } };
    const r = room('10', { extra: [ev('m.room.third_party_invite', ALICE, { display_name: 'b…', public_key: 'k' }, 'tok')] });
    refused(checkAuth(member(ALICE, BOB, 'invite', { third_party_invite: tpi }), r, '10'), /third-party invites are unsupported/);
  });

  it('m.room.third_party_invite events need the invite level', () => {
    const r = room('10', { powerLevels: pl, members: { [CAROL]: 'join', [DAVE]: 'join' } });
    allowed(checkAuth(ev('m.room.third_party_invite', CAROL, { public_key: 'k' }, 'tok'), r, '10'));
    refused(checkAuth(ev('m.room.third_party_invite', DAVE, { public_key: 'k' }, 'tok'), r, '10'));
  });
});

describe('leave, kick, ban, unban', () => {
  const pl = { users: { [ALICE]: 100, [CAROL]: 50, [DAVE]: 50 }, kick: 50, ban: 50 };

  it('lets members and invitees leave, but not someone who is not in the room', () => {
    allowed(checkAuth(member(BOB, BOB, 'leave'), room('10', { members: { [BOB]: 'join' } }), '10'));
    allowed(checkAuth(member(BOB, BOB, 'leave'), room('10', { members: { [BOB]: 'invite' } }), '10'));
    refused(checkAuth(member(BOB, BOB, 'leave'), room('10'), '10'));
    refused(checkAuth(member(BOB, BOB, 'leave'), room('10', { members: { [BOB]: 'ban' } }), '10'));
  });

  it('kick: needs the kick level and a higher level than the target', () => {
    const r = room('10', { powerLevels: pl, members: { [BOB]: 'join', [CAROL]: 'join', [DAVE]: 'join' } });
    allowed(checkAuth(member(CAROL, BOB, 'leave'), r, '10'));
    refused(checkAuth(member(CAROL, DAVE, 'leave'), r, '10'), /kick/); // equal level
    refused(checkAuth(member(BOB, CAROL, 'leave'), r, '10'), /kick/); // below the kick level
  });

  it('kick: the sender must be joined', () => {
    refused(checkAuth(member(CAROL, BOB, 'leave'), room('10', { powerLevels: pl, members: { [BOB]: 'join', [CAROL]: 'leave' } }), '10'), /not in the room/);
  });

  it('ban: needs the ban level and a higher level than the target', () => {
    const r = room('10', { powerLevels: { ...pl, ban: 60 }, members: { [BOB]: 'join', [CAROL]: 'join', [DAVE]: 'join' } });
    allowed(checkAuth(member(ALICE, DAVE, 'ban'), r, '10'));
    refused(checkAuth(member(CAROL, BOB, 'ban'), r, '10'), /ban/); // 50 < 60
    const r2 = room('10', { powerLevels: pl, members: { [BOB]: 'join', [CAROL]: 'join', [DAVE]: 'join' } });
    allowed(checkAuth(member(CAROL, BOB, 'ban'), r2, '10'));
    refused(checkAuth(member(CAROL, DAVE, 'ban'), r2, '10')); // equal level
  });

  it('unban: needs both the ban and the kick level', () => {
    const members = { [BOB]: 'ban', [CAROL]: 'join' };
    const kickHigh = room('10', { powerLevels: { users: { [ALICE]: 100, [CAROL]: 60 }, ban: 50, kick: 75 }, members });
    refused(checkAuth(member(CAROL, BOB, 'leave'), kickHigh, '10'), /kick/);
    allowed(checkAuth(member(ALICE, BOB, 'leave'), kickHigh, '10'));
    const banHigh = room('10', { powerLevels: { users: { [ALICE]: 100, [CAROL]: 60 }, ban: 90, kick: 50 }, members });
    refused(checkAuth(member(CAROL, BOB, 'leave'), banHigh, '10'), /unbanning/);
  });
});

describe('other events', () => {
  it("refuses a non-member's message and allows a member's", () => {
    refused(checkAuth(ev('m.room.message', BOB, { body: 'hi' }), room('10'), '10'), /not in the room/);
    refused(checkAuth(ev('m.room.message', BOB, { body: 'hi' }), room('10', { members: { [BOB]: 'invite' } }), '10'));
    allowed(checkAuth(ev('m.room.message', BOB, { body: 'hi' }), room('10', { members: { [BOB]: 'join' } }), '10'));
  });

  it("applies events, events_default and state_default against the sender's level", () => {
    const r = room('10', {
      members: { [BOB]: 'join' },
      powerLevels: { users: { [ALICE]: 100 }, events: { 'm.room.name': 0, 'm.custom': 10 }, events_default: 0, state_default: 50 },
    });
    allowed(checkAuth(ev('m.room.name', BOB, { name: 'x' }, ''), r, '10'));
    refused(checkAuth(ev('m.room.topic', BOB, { topic: 'x' }, ''), r, '10'), /power level 50/);
    refused(checkAuth(ev('m.custom', BOB, {}), r, '10'), /power level 10/);
    allowed(checkAuth(ev('m.room.message', BOB, { body: 'x' }), r, '10'));
  });

  it('without power levels: the creator has 100, others 0 and state_default is 0', () => {
    const r = room('10', { powerLevels: null, members: { [BOB]: 'join' } });
    allowed(checkAuth(ev('m.room.topic', BOB, { topic: 'x' }, ''), r, '10'));
    refused(checkAuth(member(BOB, ALICE, 'ban'), r, '10'));
    allowed(checkAuth(member(ALICE, BOB, 'ban'), r, '10'));
  });

  it("refuses a state_key naming another user, allows the sender's own", () => {
    const r = room('10', { members: { [BOB]: 'join' }, powerLevels: { users: { [ALICE]: 100 }, state_default: 0 } });
    allowed(checkAuth(ev('m.custom.state', BOB, {}, BOB), r, '10'));
    refused(checkAuth(ev('m.custom.state', BOB, {}, ALICE), r, '10'), /@/);
  });
});

describe('m.room.power_levels', () => {
  const base = { users: { [ALICE]: 100, [CAROL]: 50, [DAVE]: 50 }, ban: 50, kick: 50, events: { 'm.room.name': 50 } };
  const r = (version = '10', extra: Content = {}) =>
    room(version, { powerLevels: { ...base, ...extra }, members: { [CAROL]: 'join', [DAVE]: 'join' } });
  const change = (sender: string, content: Content) => ev('m.room.power_levels', sender, content, '');

  it('allows changes within the sender\'s level', () => {
    allowed(checkAuth(change(CAROL, { ...base, kick: 40 }), r(), '10'));
    allowed(checkAuth(change(CAROL, { ...base, users: { ...base.users, [BOB]: 50 } }), r(), '10'));
  });

  it("refuses raising a level beyond the sender's own", () => {
    refused(checkAuth(change(CAROL, { ...base, ban: 75 }), r(), '10'), /ban/);
    refused(checkAuth(change(CAROL, { ...base, users: { ...base.users, [BOB]: 60 } }), r(), '10'), /above/);
    refused(checkAuth(change(CAROL, { ...base, events: { 'm.room.name': 51 } }), r(), '10'), /events/);
  });

  it("refuses changing a value that is above the sender's level", () => {
    refused(checkAuth(change(CAROL, { ...base, redact: 10 }), r('10', { redact: 60 }), '10'), /redact/);
    refused(checkAuth(change(CAROL, { ...base, events: {} }), r('10', { events: { 'm.room.tombstone': 100 } }), '10'), /events/);
  });

  it('refuses changing a user at or above the sender, but allows lowering oneself', () => {
    refused(checkAuth(change(CAROL, { ...base, users: { ...base.users, [DAVE]: 0 } }), r(), '10'), /not below/);
    allowed(checkAuth(change(CAROL, { ...base, users: { ...base.users, [CAROL]: 10 } }), r(), '10'));
    allowed(checkAuth(change(ALICE, { ...base, users: { ...base.users, [DAVE]: 0 } }), r(), '10'));
  });

  it('checks notifications from v6 only', () => {
    const content = { ...base, notifications: { room: 10 } };
    const state = (v: string) => r(v, { notifications: { room: 90 } });
    allowed(checkAuth(change(CAROL, content), state('5'), '5'));
    refused(checkAuth(change(CAROL, content), state('6'), '6'), /notifications/);
  });

  it('accepts the string "50" before v10 and refuses it from v10', () => {
    const stringy = { ...base, users: { ...base.users, [CAROL]: '50' } };
    allowed(checkAuth(change(ALICE, stringy), r('9'), '9'));
    refused(checkAuth(change(ALICE, stringy), r('10'), '10'), /integer/);
    allowed(checkAuth(change(ALICE, { ...base, ban: '50' }), r('9'), '9'));
    refused(checkAuth(change(ALICE, { ...base, ban: '50' }), r('10'), '10'), /integer/);
    refused(checkAuth(change(ALICE, { ...base, events: { 'm.room.name': '50' } }), r('10'), '10'), /integer/);
  });

  it('reads string levels of the current state before v10', () => {
    const state = room('9', { powerLevels: { users: { [ALICE]: '100', [CAROL]: '50' }, ban: '50' }, members: { [CAROL]: 'join', [BOB]: 'join' } });
    allowed(checkAuth(member(CAROL, BOB, 'ban'), state, '9'));
    refused(checkAuth(member(BOB, CAROL, 'ban'), state, '9'));
  });

  it('refuses invalid user IDs and non-integer levels in users', () => {
    refused(checkAuth(change(ALICE, { ...base, users: { alice: 10 } }), r(), '10'), /user ID/);
    refused(checkAuth(change(ALICE, { ...base, users: { [BOB]: 'lots' } }), r('9'), '9'), /integer/);
  });

  it('allows the first power levels event', () => {
    const state = room('10', { powerLevels: null });
    allowed(checkAuth(change(ALICE, { users: { [ALICE]: 100 }, ban: 100 }), state, '10'));
  });

  it('needs the required level for m.room.power_levels itself', () => {
    refused(checkAuth(change(CAROL, base), r('10', { events: { 'm.room.power_levels': 100 } }), '10'), /power level 100/);
  });
});

describe('m.room.aliases (v1–v5 special rule)', () => {
  it('v5: allowed for a non-member whose domain is the state_key, refused for another domain', () => {
    allowed(checkAuth(ev('m.room.aliases', BOB, { aliases: ['#x:b.test'] }, 'b.test'), room('5'), '5'));
    refused(checkAuth(ev('m.room.aliases', BOB, { aliases: ['#x:a.test'] }, 'a.test'), room('5'), '5'), /domain/);
    refused(checkAuth(ev('m.room.aliases', BOB, { aliases: [] }), room('1'), '1'), /state_key/);
  });

  it('v6: the ordinary rules apply (the sender must be joined)', () => {
    refused(checkAuth(ev('m.room.aliases', BOB, { aliases: ['#x:b.test'] }, 'b.test'), room('6'), '6'), /not in the room/);
  });
});

describe('redactions', () => {
  const pl = { users: { [ALICE]: 100 }, redact: 50 };
  const r = (v: string) => room(v, { powerLevels: pl, members: { [BOB]: 'join' } });
  const redaction = (v: string, redacts: string) =>
    ev('m.room.redaction', BOB, Number(v) >= 11 ? { redacts } : {}, undefined, { redacts, event_id: '$red:b.test' });

  it('v1–v2: below the redact level, only events with the same event ID domain', () => {
    for (const v of ['1', '2']) {
      allowed(checkAuth(redaction(v, '$orig:b.test'), r(v), v));
      refused(checkAuth(redaction(v, '$orig:a.test'), r(v), v), /redact/);
    }
    allowed(checkAuth({ ...redaction('1', '$orig:a.test'), sender: ALICE }, room('1'), '1'));
  });

  it('v3+: the auth rules allow it, and the check happens when it is applied', () => {
    for (const v of ['3', '10', '11']) allowed(checkAuth(redaction(v, '$orig'), r(v), v));
    const original = ev('m.room.message', ALICE, { body: 'x' });
    expect(redactionAllowed(redaction('10', '$orig'), original, r('10'), '10')).toBe(false);
    expect(redactionAllowed(redaction('10', '$orig'), { ...original, sender: '@eve:b.test' }, r('10'), '10')).toBe(true);
    expect(redactionAllowed({ ...redaction('10', '$orig'), sender: ALICE }, { ...original, sender: BOB }, r('10'), '10')).toBe(true);
  });

  it('v3+: still subject to the required power level', () => {
    const state = room('10', { powerLevels: { ...pl, events: { 'm.room.redaction': 50 } }, members: { [BOB]: 'join' } });
    refused(checkAuth(redaction('10', '$orig'), state, '10'), /power level 50/);
  });
});

describe('auth events selection', () => {
  it('is empty for m.room.create', () => {
    expect(authEventSelection(createEvent('10'))).toEqual([]);
  });

  it("is the create, power levels and sender's member event for a message", () => {
    expect(authEventSelection(ev('m.room.message', BOB, {}))).toEqual([
      ['m.room.create', ''],
      ['m.room.power_levels', ''],
      ['m.room.member', BOB],
    ]);
  });

  it('adds the target and join rules for joins, invites and knocks, not leaves', () => {
    expect(authEventSelection(member(ALICE, BOB, 'invite'))).toEqual([
      ['m.room.create', ''],
      ['m.room.power_levels', ''],
      ['m.room.member', ALICE],
      ['m.room.member', BOB],
      ['m.room.join_rules', ''],
    ]);
    expect(authEventSelection(member(BOB, BOB, 'knock'))).toContainEqual(['m.room.join_rules', '']);
    expect(authEventSelection(member(BOB, BOB, 'leave'))).not.toContainEqual(['m.room.join_rules', '']);
  });

  it("adds the authorising user's member event from v8 and the third-party invite token", () => {
    const join = member(BOB, BOB, 'join', { join_authorised_via_users_server: CAROL });
    expect(authEventSelection(join, '8')).toContainEqual(['m.room.member', CAROL]);
    expect(authEventSelection(join, '7')).not.toContainEqual(['m.room.member', CAROL]);
    const invite = member(ALICE, BOB, 'invite', { third_party_invite: { signed: { mxid: BOB, token: 'tok' } } });
    expect(authEventSelection(invite)).toContainEqual(['m.room.third_party_invite', 'tok']);
  });

  it('checkAuthEventsList refuses duplicates, extra entries and a missing create event', () => {
    const msg = ev('m.room.message', BOB, {});
    const create = createEvent('10');
    const bobJoin = member(BOB, BOB, 'join');
    allowed(checkAuthEventsList(msg, [create, bobJoin], '10'));
    refused(checkAuthEventsList(msg, [create, bobJoin, bobJoin], '10'), /duplicate/);
    refused(checkAuthEventsList(msg, [create, member(CAROL, CAROL, 'join')], '10'), /selection/);
    refused(checkAuthEventsList(msg, [bobJoin], '10'), /m\.room\.create/);
  });
});
