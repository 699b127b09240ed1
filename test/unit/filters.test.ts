// Filters (client-server API "Filtering"): validation of uploaded and inline filters, and which
// events pass an event / room event filter (`*` wildcards in types, not_* winning over allow lists).
import { describe, expect, it } from 'vitest';
import { MatrixError } from '../../src/errors.js';
import { eventMatchesFilter, filtersEverything, parseFilter, pickEventFields, roomMatchesFilter, splitPropertyPath } from '../../src/matrix/filters.js';

const refused = (json: unknown): MatrixError => {
  try {
    parseFilter(json);
  } catch (e) {
    expect(e).toBeInstanceOf(MatrixError);
    return e as MatrixError;
  }
  throw new Error('accepted');
};

describe('parseFilter', () => {
  it("accepts the spec's example and keeps unknown keys", () => {
    const f = {
      room: {
        state: { types: ['m.room.*'], not_rooms: ['!726s6s6q:example.com'] },
        timeline: { limit: 10, types: ['m.room.message'], not_rooms: ['!726s6s6q:example.com'], not_senders: ['@spam:example.com'] },
        ephemeral: { types: ['m.receipt', 'm.typing'], not_rooms: ['!726s6s6q:example.com'], not_senders: ['@spam:example.com'] },
        include_leave: true,
      },
      presence: { types: ['m.presence'], not_senders: ['@alice:example.com'] },
      event_format: 'client',
      event_fields: ['type', 'content', 'sender'],
      'org.example.future': { anything: 1 },
    };
    expect(parseFilter(structuredClone(f))).toEqual(f);
    expect(parseFilter({})).toEqual({});
  });

  it('caps room.timeline.limit at 100 as Synapse does', () => {
    expect(parseFilter({ room: { timeline: { limit: 5000 } } }).room!.timeline!.limit).toBe(100);
    expect(parseFilter({ room: { state: { limit: 5000 } } }).room!.state!.limit).toBe(5000);
  });

  it('refuses wrong types with 400 M_BAD_JSON naming the path', () => {
    for (const [json, path] of [
      [[], ''],
      ['x', ''],
      [{ room: [] }, 'room'],
      [{ room: { timeline: { limit: 'ten' } } }, 'room.timeline.limit'],
      [{ room: { timeline: { limit: 1.5 } } }, 'room.timeline.limit'],
      [{ room: { timeline: { limit: -1 } } }, 'room.timeline.limit'],
      [{ room: { state: { types: 'm.room.member' } } }, 'room.state.types'],
      [{ room: { state: { types: [1] } } }, 'room.state.types.0'],
      [{ room: { rooms: ['not-a-room'] } }, 'room.rooms.0'],
      [{ room: { timeline: { senders: ['bob'] } } }, 'room.timeline.senders.0'],
      [{ presence: { not_senders: ['@nocolon'] } }, 'presence.not_senders.0'],
      [{ room: { include_leave: 'yes' } }, 'room.include_leave'],
      [{ room: { state: { lazy_load_members: 1 } } }, 'room.state.lazy_load_members'],
      [{ room: { timeline: { contains_url: 'true' } } }, 'room.timeline.contains_url'],
      [{ room: { timeline: { unread_thread_notifications: null } } }, 'room.timeline.unread_thread_notifications'],
      [{ event_format: 'xml' }, 'event_format'],
      [{ event_fields: 'type' }, 'event_fields'],
      [{ account_data: 5 }, 'account_data'],
    ] as const) {
      const e = refused(json);
      expect(e.status).toBe(400);
      expect(e.errcode).toBe('M_BAD_JSON');
      if (path) expect(e.message.startsWith(`${path}: `), e.message).toBe(true);
    }
    expect(refused({ room: { timeline: { limit: 'ten' } } }).message).toBe("room.timeline.limit: 'ten' is not of type 'integer'");
  });
});

describe('eventMatchesFilter', () => {
  const ev = { type: 'm.room.message', sender: '@alice:x', room_id: '!r:x', content: { body: 'hi' } };

  it('an absent or empty filter lets everything through', () => {
    expect(eventMatchesFilter(ev, undefined)).toBe(true);
    expect(eventMatchesFilter(ev, {})).toBe(true);
  });

  it('types: exact entries and `*` anywhere in an entry', () => {
    expect(eventMatchesFilter(ev, { types: ['m.room.message'] })).toBe(true);
    expect(eventMatchesFilter(ev, { types: ['m.room.member'] })).toBe(false);
    expect(eventMatchesFilter(ev, { types: ['m.room.*'] })).toBe(true);
    expect(eventMatchesFilter(ev, { types: ['m.*.message'] })).toBe(true);
    expect(eventMatchesFilter(ev, { types: ['*'] })).toBe(true);
    expect(eventMatchesFilter(ev, { types: ['m.room'] })).toBe(false);
    // A dot is a dot, not "any character".
    expect(eventMatchesFilter({ ...ev, type: 'mXroom.message' }, { types: ['m.room.*'] })).toBe(false);
    expect(eventMatchesFilter(ev, { types: [] })).toBe(false);
  });

  it('not_types wins over types', () => {
    expect(eventMatchesFilter(ev, { types: ['m.room.*'], not_types: ['m.room.message'] })).toBe(false);
    expect(eventMatchesFilter(ev, { not_types: ['*'] })).toBe(false);
    expect(eventMatchesFilter(ev, { not_types: ['m.room.member'] })).toBe(true);
  });

  it('senders and not_senders (a lone `*` means everyone); presence carries its sender in content.user_id', () => {
    expect(eventMatchesFilter(ev, { senders: ['@alice:x'] })).toBe(true);
    expect(eventMatchesFilter(ev, { senders: ['@bob:x'] })).toBe(false);
    expect(eventMatchesFilter(ev, { senders: ['@alice:x'], not_senders: ['@alice:x'] })).toBe(false);
    expect(eventMatchesFilter(ev, { not_senders: ['*'] })).toBe(false);
    expect(eventMatchesFilter({ type: 'm.presence', content: { user_id: '@bob:x' } }, { senders: ['@bob:x'] })).toBe(true);
  });

  it('rooms, not_rooms and contains_url of a room event filter', () => {
    expect(eventMatchesFilter(ev, { rooms: ['!r:x'] })).toBe(true);
    expect(eventMatchesFilter(ev, { rooms: ['!other:x'] })).toBe(false);
    expect(eventMatchesFilter(ev, { not_rooms: ['!r:x'] })).toBe(false);
    expect(eventMatchesFilter(ev, { contains_url: false })).toBe(true);
    expect(eventMatchesFilter(ev, { contains_url: true })).toBe(false);
    expect(eventMatchesFilter({ ...ev, content: { url: 'mxc://x/y' } }, { contains_url: true })).toBe(true);
    // A url that is not a string does not count.
    expect(eventMatchesFilter({ ...ev, content: { url: 5 } }, { contains_url: true })).toBe(false);
  });

  it('room filters and "filters everything"', () => {
    expect(roomMatchesFilter('!r:x', { rooms: ['!r:x'], not_rooms: ['!r:x'] })).toBe(false);
    expect(roomMatchesFilter('!r:x', { not_rooms: ['!s:x'] })).toBe(true);
    expect(filtersEverything({ not_types: ['*'] })).toBe(true);
    expect(filtersEverything({ senders: [] })).toBe(true);
    expect(filtersEverything({ types: ['m.*'] })).toBe(false);
  });
});

describe('event_fields', () => {
  it('splits dot-separated paths with escapes and keeps only the listed fields', () => {
    expect(splitPropertyPath('content.m\\.relates_to.rel_type')).toEqual(['content', 'm.relates_to', 'rel_type']);
    expect(splitPropertyPath('a\\\\.b')).toEqual(['a\\', 'b']);
    const ev = { type: 't', sender: '@a:x', content: { body: 'b', 'm.relates_to': { rel_type: 'r', x: 1 } }, unsigned: { age: 1 } };
    expect(pickEventFields(ev, ['type', 'content.m\\.relates_to.rel_type', 'content.missing'])).toEqual({ type: 't', content: { 'm.relates_to': { rel_type: 'r' } } });
    expect(pickEventFields(ev, undefined)).toBe(ev);
  });
});
