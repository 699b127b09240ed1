// POST /createRoom as pure code: the order and content of the new room's state events (spec's
// createRoom description and preset table; Synapse's default power levels and initial_state
// handling) and the request's validation with Synapse's errors.
import { describe, expect, it } from 'vitest';
import { MatrixError } from '../../src/errors.js';
import { firstMismatch } from '../../src/json-schema.js';
import { createRoomBody } from '../../src/api/client/room-bodies.js';
import {
  checkCreateRoomRequest,
  createRoomEvents,
  createRoomVersion,
  type CreateRoomOptions,
  type CreateRoomRequest,
} from '../../src/matrix/room-presets.js';
import { ROOM_VERSIONS } from '../../src/matrix/room-versions.js';
import { checkClientEvent } from '../../src/matrix/event-validation.js';

const ME = '@creator:a.test';
const BOB = '@bob:b.test';
const CAROL = '@carol:a.test';

const opts = (o: Partial<CreateRoomOptions> = {}): CreateRoomOptions => ({
  creator: ME,
  creatorProfile: { displayname: null, avatar_url: null },
  version: ROOM_VERSIONS['10']!,
  serverName: 'a.test',
  ...o,
});
const plan = (req: CreateRoomRequest, o: Partial<CreateRoomOptions> = {}) => createRoomEvents(req, opts(o));
const types = (req: CreateRoomRequest, o: Partial<CreateRoomOptions> = {}) => plan(req, o).events.map((e) => e.type);
const find = (req: CreateRoomRequest, type: string, o: Partial<CreateRoomOptions> = {}) => {
  const found = plan(req, o).events.filter((e) => e.type === type);
  expect(found.length).toBe(1);
  return found[0]!.content;
};

function errorOf(fn: () => void): { status: number; errcode: string; error: string } | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (!(e instanceof MatrixError)) throw e;
    return { status: e.status, errcode: e.errcode, error: e.message };
  }
}
const checkErr = (body: unknown, o = { creator: ME, serverName: 'a.test' }) => errorOf(() => checkCreateRoomRequest(body, o));

describe('event order', () => {
  it('follows the spec: create, join, power levels, alias, preset events, initial_state, name, topic', () => {
    const req: CreateRoomRequest = {
      name: 'N',
      topic: 'T',
      room_alias_name: 'pub',
      initial_state: [{ type: 'm.room.avatar', content: { url: 'mxc://a/b' } }],
    };
    expect(types(req, { roomAlias: '#pub:a.test' })).toEqual([
      'm.room.create',
      'm.room.member',
      'm.room.power_levels',
      'm.room.canonical_alias',
      'm.room.join_rules',
      'm.room.history_visibility',
      'm.room.guest_access',
      'm.room.avatar',
      'm.room.name',
      'm.room.topic',
    ]);
  });

  it('an empty request makes a private room with no alias, name or topic', () => {
    expect(types({})).toEqual(['m.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.join_rules', 'm.room.history_visibility', 'm.room.guest_access']);
  });

  it('every event is a state event; the join is keyed by the creator', () => {
    const events = plan({}).events;
    expect(events.every((e) => typeof e.state_key === 'string')).toBe(true);
    expect(events[1]).toEqual({ type: 'm.room.member', state_key: ME, content: { membership: 'join' } });
  });
});

describe('m.room.create', () => {
  it('carries creation_content, room_version and (before v11) creator', () => {
    expect(find({ creation_content: { 'm.federate': false, type: 'm.space' } }, 'm.room.create')).toEqual({
      'm.federate': false,
      type: 'm.space',
      creator: ME,
      room_version: '10',
    });
  });
  it('v11 has no creator', () => {
    expect(find({}, 'm.room.create', { version: ROOM_VERSIONS['11']! })).toEqual({ room_version: '11' });
  });
  it('room_version and creator in creation_content are overwritten', () => {
    expect(find({ creation_content: { room_version: '1', creator: '@evil:x' } }, 'm.room.create', { version: ROOM_VERSIONS['9']! })).toEqual({
      room_version: '9',
      creator: ME,
    });
  });
  it('does not change the request', () => {
    const req = { creation_content: { a: 1 } };
    plan(req);
    expect(req.creation_content).toEqual({ a: 1 });
  });
});

describe("the creator's join", () => {
  it('copies the profile fields that are set', () => {
    expect(find({}, 'm.room.member', { creatorProfile: { displayname: 'Cre', avatar_url: 'mxc://a/x' } })).toEqual({
      membership: 'join',
      displayname: 'Cre',
      avatar_url: 'mxc://a/x',
    });
    expect(find({}, 'm.room.member', { creatorProfile: { displayname: 'Cre', avatar_url: null } })).toEqual({ membership: 'join', displayname: 'Cre' });
  });
});

describe('power levels', () => {
  const synapseDefaults = (invite: number) => ({
    users: { [ME]: 100 },
    users_default: 0,
    events: {
      'm.room.name': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.canonical_alias': 50,
      'm.room.avatar': 50,
      'm.room.tombstone': 100,
      'm.room.server_acl': 100,
      'm.room.encryption': 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite,
    historical: 100,
  });

  it('private_chat: Synapse defaults with invite 0', () => {
    expect(find({ preset: 'private_chat' }, 'm.room.power_levels')).toEqual(synapseDefaults(0));
  });
  it('public_chat: invite 50 and m.call.invite 50 under events', () => {
    const expected = synapseDefaults(50);
    (expected.events as Record<string, number>)['m.call.invite'] = 50;
    expect(find({ preset: 'public_chat' }, 'm.room.power_levels')).toEqual(expected);
  });
  it('trusted_private_chat gives the invitees the creator\'s level; private_chat does not', () => {
    expect(find({ preset: 'trusted_private_chat', invite: [BOB, CAROL] }, 'm.room.power_levels').users).toEqual({ [ME]: 100, [BOB]: 100, [CAROL]: 100 });
    expect(find({ preset: 'private_chat', invite: [BOB] }, 'm.room.power_levels').users).toEqual({ [ME]: 100 });
  });
  it('power_level_content_override replaces whole top-level keys, after the preset', () => {
    const pl = find({ preset: 'public_chat', power_level_content_override: { events: { 'x.y': 10 }, invite: 7, custom: 1 } }, 'm.room.power_levels');
    expect(pl.events).toEqual({ 'x.y': 10 });
    expect(pl.invite).toBe(7);
    expect(pl.custom).toBe(1);
    expect(pl.ban).toBe(50);
  });
  it('an initial_state power-levels event replaces the defaults and the override, and is sent third', () => {
    const req: CreateRoomRequest = {
      power_level_content_override: { ban: 1 },
      initial_state: [
        { type: 'm.room.topic', content: { topic: 'x' } },
        { type: 'm.room.power_levels', state_key: '', content: { users: { [ME]: 100 } } },
      ],
    };
    const events = plan(req).events;
    expect(events.map((e) => e.type)).toEqual([
      'm.room.create',
      'm.room.member',
      'm.room.power_levels',
      'm.room.join_rules',
      'm.room.history_visibility',
      'm.room.guest_access',
      'm.room.topic',
    ]);
    expect(events[2]!.content).toEqual({ users: { [ME]: 100 } });
  });
  it('the default content passes the event checks in v10', () => {
    for (const preset of ['private_chat', 'public_chat', 'trusted_private_chat'] as const) {
      for (const e of plan({ preset, invite: [BOB] }).events) checkClientEvent(e, '10');
    }
  });
});

describe('presets', () => {
  const state = (req: CreateRoomRequest) => Object.fromEntries(plan(req).events.map((e) => [e.type, e.content]));

  it('follow the spec table', () => {
    expect(state({ preset: 'private_chat' })).toMatchObject({
      'm.room.join_rules': { join_rule: 'invite' },
      'm.room.history_visibility': { history_visibility: 'shared' },
      'm.room.guest_access': { guest_access: 'can_join' },
    });
    expect(state({ preset: 'trusted_private_chat' })).toMatchObject({
      'm.room.join_rules': { join_rule: 'invite' },
      'm.room.guest_access': { guest_access: 'can_join' },
    });
    const pub = state({ preset: 'public_chat' });
    expect(pub['m.room.join_rules']).toEqual({ join_rule: 'public' });
    expect(pub['m.room.history_visibility']).toEqual({ history_visibility: 'shared' });
    // forbidden is the default: Synapse sends no event
    expect(pub['m.room.guest_access']).toBeUndefined();
  });
  it('default from visibility: public → public_chat, private or absent → private_chat', () => {
    expect(state({ visibility: 'public' })['m.room.join_rules']).toEqual({ join_rule: 'public' });
    expect(state({ visibility: 'private' })['m.room.join_rules']).toEqual({ join_rule: 'invite' });
    expect(state({})['m.room.join_rules']).toEqual({ join_rule: 'invite' });
  });
  it('an explicit preset wins over visibility', () => {
    expect(state({ visibility: 'public', preset: 'private_chat' })['m.room.join_rules']).toEqual({ join_rule: 'invite' });
  });
  it('optional encryption follows the initial state', () => {
    const t = types({ initial_state: [{ type: 'm.room.avatar', content: {} }] }, { encrypted: true });
    expect(t.slice(-2)).toEqual(['m.room.avatar', 'm.room.encryption']);
    expect(types({})).not.toContain('m.room.encryption');
  });
});

describe('initial_state', () => {
  it('replaces the preset events of the same type, which are then sent at its place', () => {
    const events = plan({
      preset: 'public_chat',
      initial_state: [
        { type: 'm.room.history_visibility', content: { history_visibility: 'joined' } },
        { type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } },
      ],
    }).events;
    expect(events.map((e) => e.type)).toEqual(['m.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.history_visibility', 'm.room.join_rules']);
    expect(events.filter((e) => e.type === 'm.room.history_visibility')).toEqual([
      { type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } },
    ]);
  });
  it('replaces guest_access and the canonical alias', () => {
    const events = plan(
      { initial_state: [{ type: 'm.room.guest_access', content: { guest_access: 'forbidden' } }, { type: 'm.room.canonical_alias', content: {} }] },
      { roomAlias: '#x:a.test' },
    ).events;
    expect(events.filter((e) => e.type === 'm.room.guest_access').map((e) => e.content)).toEqual([{ guest_access: 'forbidden' }]);
    expect(events.filter((e) => e.type === 'm.room.canonical_alias').map((e) => e.content)).toEqual([{}]);
  });
  it('a non-empty state_key does not replace the preset event', () => {
    const t = types({ initial_state: [{ type: 'm.room.join_rules', state_key: 'x', content: { join_rule: 'public' } }] });
    expect(t.filter((x) => x === 'm.room.join_rules')).toHaveLength(2);
  });
  it('keeps request order; a repeated key keeps its first place and its last content', () => {
    const events = plan({
      initial_state: [
        { type: 'a', content: { v: 1 } },
        { type: 'b', state_key: 'k', content: { v: 2 } },
        { type: 'a', state_key: '', content: { v: 3 } },
      ],
    }).events.slice(-2);
    expect(events).toEqual([
      { type: 'a', state_key: '', content: { v: 3 } },
      { type: 'b', state_key: 'k', content: { v: 2 } },
    ]);
  });
  it('name and topic come after and so win over initial_state', () => {
    const events = plan({ name: 'Real', initial_state: [{ type: 'm.room.name', content: { name: 'Old' } }] }).events;
    const names = events.filter((e) => e.type === 'm.room.name');
    expect(names.map((e) => e.content)).toEqual([{ name: 'Old' }, { name: 'Real' }]);
    expect(events.at(-1)).toEqual({ type: 'm.room.name', state_key: '', content: { name: 'Real' } });
  });
  it('an empty name or topic is still sent', () => {
    expect(find({ name: '' }, 'm.room.name')).toEqual({ name: '' });
    expect(find({ topic: '' }, 'm.room.topic')).toEqual({ topic: '' });
  });
});

describe('invites', () => {
  it('are returned apart, deduplicated, with is_direct when asked', () => {
    const p = plan({ invite: [BOB, CAROL, BOB], is_direct: true });
    expect(p.invites).toEqual([BOB, CAROL]);
    expect(p.inviteContent).toEqual({ membership: 'invite', is_direct: true });
    expect(p.events.some((e) => e.type === 'm.room.member' && e.state_key === BOB)).toBe(false);
    expect(plan({ invite: [BOB] }).inviteContent).toEqual({ membership: 'invite' });
  });
});

describe('checkCreateRoomRequest', () => {
  it('accepts a full valid body and returns it', () => {
    const body = {
      visibility: 'public',
      room_alias_name: 'pub',
      name: 'N',
      topic: 'T',
      invite: [BOB],
      room_version: '9',
      creation_content: { 'm.federate': false },
      initial_state: [{ type: 'm.room.avatar', content: { url: 'mxc://a/b' } }],
      preset: 'trusted_private_chat',
      is_direct: true,
      power_level_content_override: { users: { [ME]: 100 } },
    };
    expect(checkCreateRoomRequest(body, { creator: ME, serverName: 'a.test' })).toEqual(body);
    expect(checkCreateRoomRequest({})).toEqual({});
  });

  it('unknown room_version: 400 M_UNSUPPORTED_ROOM_VERSION', () => {
    expect(checkErr({ room_version: '99' })).toEqual({
      status: 400,
      errcode: 'M_UNSUPPORTED_ROOM_VERSION',
      error: 'Your homeserver does not support this room version',
    });
    expect(checkErr({ room_version: 10 })).toEqual({ status: 400, errcode: 'M_BAD_JSON', error: 'room_version must be a string' });
  });

  it("invalid preset: 400 M_BAD_JSON \"'x' is not a valid preset\"", () => {
    expect(checkErr({ preset: 'party' })).toEqual({ status: 400, errcode: 'M_BAD_JSON', error: "'party' is not a valid preset" });
    expect(checkErr({ preset: 5 })?.error).toBe("'5' is not a valid preset");
  });

  it('invite entries must be user IDs with a valid server name: 400 M_UNKNOWN', () => {
    expect(checkErr({ invite: ['bob'] })).toEqual({ status: 400, errcode: 'M_UNKNOWN', error: 'Invalid user_id: bob' });
    expect(checkErr({ invite: ['@bob:bad_server!'] })?.error).toBe('Invalid user_id: @bob:bad_server!');
    expect(checkErr({ invite: [BOB, 5] })?.error).toBe('Invalid user_id: 5');
    expect(checkErr({ invite: BOB })?.errcode).toBe('M_BAD_JSON');
  });

  it('room_alias_name: whitespace or a colon is refused', () => {
    expect(checkErr({ room_alias_name: 'a b' })).toEqual({ status: 400, errcode: 'M_UNKNOWN', error: 'Invalid characters in room alias' });
    expect(checkErr({ room_alias_name: 'a\tb' })?.error).toBe('Invalid characters in room alias');
    const colon = checkErr({ room_alias_name: '#wombat:example.com' });
    expect(colon?.status).toBe(400);
    expect(colon?.error).toMatch(/^':' is not permitted in the room alias name/);
    expect(checkErr({ room_alias_name: 5 })?.errcode).toBe('M_BAD_JSON');
    expect(checkErr({ room_alias_name: '##irc_room' })).toBeNull();
  });

  it('room alias longer than 255 bytes: 400 M_INVALID_PARAM', () => {
    const local = 'a'.repeat(255 - '#:a.test'.length);
    expect(checkErr({ room_alias_name: local })).toBeNull();
    expect(checkErr({ room_alias_name: local + 'a' })).toEqual({
      status: 400,
      errcode: 'M_INVALID_PARAM',
      error: "Can't create aliases longer than 255 characters",
    });
  });

  it('power_level_content_override.users must contain the creator', () => {
    expect(checkErr({ power_level_content_override: { users: { [BOB]: 100 } } })).toEqual({
      status: 400,
      errcode: 'M_UNKNOWN',
      error: `Not a valid power_level_content_override: 'users' did not contain ${ME}`,
    });
    expect(checkErr({ power_level_content_override: { ban: 0 } })).toBeNull();
    expect(checkErr({ power_level_content_override: [] })?.errcode).toBe('M_BAD_JSON');
  });

  it('invite_3pid entries need medium, address, id_server and id_access_token', () => {
    expect(checkErr({ invite_3pid: [{ medium: 'email', address: 'a@b.c', id_server: 'is' }] })?.errcode).toBe('M_MISSING_PARAM');
    expect(checkErr({ invite_3pid: [{ medium: 'email', address: 'a@b.c', id_server: 'is', id_access_token: 't' }] })).toBeNull();
  });

  it('visibility must be public or private', () => {
    expect(checkErr({ visibility: 'secret' })?.errcode).toBe('M_BAD_JSON');
    expect(checkErr({ visibility: 'private' })).toBeNull();
  });

  it('initial_state items must be objects with a string type and an object content', () => {
    expect(checkErr({ initial_state: {} })?.errcode).toBe('M_BAD_JSON');
    expect(checkErr({ initial_state: ['x'] })?.errcode).toBe('M_BAD_JSON');
    expect(checkErr({ initial_state: [{ content: {} }] })?.error).toBe('initial_state[0].type must be a string');
    expect(checkErr({ initial_state: [{ type: 'a', content: {} }, { type: 'b', state_key: 1, content: {} }] })?.error).toBe(
      'initial_state[1].state_key must be a string',
    );
    expect(checkErr({ initial_state: [{ type: 'a' }] })?.errcode).toBe('M_BAD_JSON');
  });

  it('creation_content must be an object; is_direct a boolean', () => {
    expect(checkErr({ creation_content: 'x' })?.errcode).toBe('M_BAD_JSON');
    expect(checkErr({ creation_content: null })?.errcode).toBe('M_BAD_JSON');
    expect(checkErr({ is_direct: 'yes' })?.errcode).toBe('M_BAD_JSON');
  });

  it('name and topic must be strings (the error Synapse gives building the event)', () => {
    expect(checkErr({ name: 5 })).toEqual({ status: 400, errcode: 'M_UNKNOWN', error: "'name' not a string type" });
    expect(checkErr({ topic: null })?.error).toBe("'topic' not a string type");
  });

  it("checks in Synapse's order: room version before alias before invites before preset", () => {
    const all = { room_version: '99', room_alias_name: 'a b', invite: ['x'], preset: 'bad' };
    expect(checkErr(all)?.errcode).toBe('M_UNSUPPORTED_ROOM_VERSION');
    expect(checkErr({ ...all, room_version: '10' })?.error).toBe('Invalid characters in room alias');
    expect(checkErr({ ...all, room_version: '10', room_alias_name: 'ok' })?.error).toBe('Invalid user_id: x');
    expect(checkErr({ ...all, room_version: '10', room_alias_name: 'ok', invite: [] })?.error).toBe("'bad' is not a valid preset");
  });
});

describe('createRoomVersion', () => {
  it('takes the request, else the default', () => {
    expect(createRoomVersion({ room_version: '11' }).id).toBe('11');
    expect(createRoomVersion({}, '9').id).toBe('9');
    expect(createRoomVersion({}).id).toBe('10');
    expect(errorOf(() => createRoomVersion({ room_version: 'x' }))?.errcode).toBe('M_UNSUPPORTED_ROOM_VERSION');
  });
});

describe('createRoomBody schema', () => {
  it('describes valid bodies and enforces nothing (checkCreateRoomRequest does)', () => {
    expect(firstMismatch(createRoomBody, { preset: 'public_chat', invite: [BOB], initial_state: [{ type: 'a', content: {} }] })).toBeUndefined();
    expect(firstMismatch(createRoomBody, { preset: 'nope' })).toBeDefined();
    expect(firstMismatch(createRoomBody, { preset: 'nope', room_version: 5 }, { named: true })).toBeUndefined();
  });
});
