// History visibility (client-server API, "Room History Visibility", server behaviour): the five
// rules, the default for missing or unknown values, and the special cases for
// m.room.history_visibility events and the user's own membership events.
import { describe, expect, it } from 'vitest';
import { mayUserSeeEvent, visibilityOf, type VisibilityInput } from '../../src/matrix/history-visibility.js';

const ME = '@me:a.test';
const msg = { type: 'm.room.message', content: { body: 'hi', msgtype: 'm.text' } };
const see = (input: Partial<VisibilityInput> & Pick<VisibilityInput, 'visibility'>) =>
  mayUserSeeEvent({ membershipAtEvent: null, joinedAfterEvent: false, event: msg, userId: ME, ...input });

describe('visibilityOf', () => {
  it('reads the four values', () => {
    for (const v of ['world_readable', 'shared', 'invited', 'joined']) expect(visibilityOf({ history_visibility: v })).toBe(v);
  });
  it('treats a missing event, missing key or unknown value as shared', () => {
    expect(visibilityOf(undefined)).toBe('shared');
    expect(visibilityOf(null)).toBe('shared');
    expect(visibilityOf({})).toBe('shared');
    expect(visibilityOf({ history_visibility: 'everyone' })).toBe('shared');
    expect(visibilityOf({ history_visibility: 5 })).toBe('shared');
    expect(visibilityOf([])).toBe('shared');
  });
});

describe('the rules', () => {
  it('world_readable: anyone, even never a member', () => {
    expect(see({ visibility: 'world_readable' })).toBe(true);
    expect(see({ visibility: 'world_readable', membershipAtEvent: 'ban' })).toBe(true);
  });

  it('joined at the event: allowed whatever the visibility', () => {
    for (const v of ['shared', 'invited', 'joined']) expect(see({ visibility: v, membershipAtEvent: 'join' })).toBe(true);
  });

  it('shared: allowed only when the user joins at some point after the event', () => {
    expect(see({ visibility: 'shared', joinedAfterEvent: true })).toBe(true);
    expect(see({ visibility: 'shared', joinedAfterEvent: false })).toBe(false);
    expect(see({ visibility: 'shared', membershipAtEvent: 'leave', joinedAfterEvent: false })).toBe(false);
    // invited at the time but never joined: shared does not let invitees read
    expect(see({ visibility: 'shared', membershipAtEvent: 'invite' })).toBe(false);
  });

  it('invited: allowed from the invite, not before it, and not to those who only join later', () => {
    expect(see({ visibility: 'invited', membershipAtEvent: 'invite' })).toBe(true);
    expect(see({ visibility: 'invited', membershipAtEvent: null, joinedAfterEvent: true })).toBe(false);
    expect(see({ visibility: 'invited', membershipAtEvent: 'leave', joinedAfterEvent: true })).toBe(false);
    expect(see({ visibility: 'invited', membershipAtEvent: 'knock' })).toBe(false);
  });

  it('joined: only members at the event', () => {
    expect(see({ visibility: 'joined', membershipAtEvent: 'invite', joinedAfterEvent: true })).toBe(false);
    expect(see({ visibility: 'joined', membershipAtEvent: 'leave', joinedAfterEvent: true })).toBe(false);
  });

  it('an unknown visibility at the event is shared', () => {
    expect(see({ visibility: 'bogus', joinedAfterEvent: true })).toBe(true);
    expect(see({ visibility: 'bogus', joinedAfterEvent: false })).toBe(false);
  });

  it('works without the event (plain rules)', () => {
    expect(mayUserSeeEvent({ visibility: 'invited', membershipAtEvent: 'invite', joinedAfterEvent: false })).toBe(true);
    expect(mayUserSeeEvent({ visibility: 'joined', membershipAtEvent: null, joinedAfterEvent: true })).toBe(false);
  });
});

describe('m.room.history_visibility events: before or after', () => {
  const hv = (content: unknown) => ({ type: 'm.room.history_visibility', state_key: '', content });

  it('a change from world_readable to joined is visible to a non-member', () => {
    expect(see({ visibility: 'joined', previousVisibility: 'world_readable', event: hv({ history_visibility: 'joined' }) })).toBe(true);
  });
  it('a change from joined to world_readable is visible to a non-member', () => {
    expect(see({ visibility: 'world_readable', previousVisibility: 'joined', event: hv({ history_visibility: 'world_readable' }) })).toBe(true);
  });
  it('a change from invited to joined is visible to a user invited at the time', () => {
    expect(
      see({ visibility: 'joined', previousVisibility: 'invited', membershipAtEvent: 'invite', event: hv({ history_visibility: 'joined' }) }),
    ).toBe(true);
  });
  it('a change between restrictive values stays hidden from a non-member', () => {
    expect(see({ visibility: 'joined', previousVisibility: 'invited', event: hv({ history_visibility: 'joined' }), joinedAfterEvent: true })).toBe(
      false,
    );
  });
  it('no previous event counts as shared', () => {
    expect(see({ visibility: 'joined', previousVisibility: null, event: hv({ history_visibility: 'joined' }), joinedAfterEvent: true })).toBe(true);
    expect(see({ visibility: 'joined', event: hv({ history_visibility: 'joined' }), joinedAfterEvent: false })).toBe(false);
  });
  it('an ordinary event does not get the previous value', () => {
    expect(see({ visibility: 'joined', previousVisibility: 'world_readable' })).toBe(false);
  });
});

describe("the user's own membership events: before or after", () => {
  const member = (stateKey: string, membership: string) => ({ type: 'm.room.member', state_key: stateKey, content: { membership } });

  it('their own join is visible even with joined visibility', () => {
    expect(see({ visibility: 'joined', membershipAtEvent: 'join', previousMembership: null, event: member(ME, 'join') })).toBe(true);
  });
  it('their leave from a join is visible (membership before was join)', () => {
    expect(see({ visibility: 'joined', membershipAtEvent: 'leave', previousMembership: 'join', event: member(ME, 'leave') })).toBe(true);
  });
  it('their ban after a join is visible', () => {
    expect(see({ visibility: 'joined', membershipAtEvent: 'ban', previousMembership: 'join', event: member(ME, 'ban') })).toBe(true);
  });
  it('their rejection of an invite is visible (Synapse)', () => {
    expect(see({ visibility: 'joined', membershipAtEvent: 'leave', previousMembership: 'invite', event: member(ME, 'leave') })).toBe(true);
  });
  it('their invite is visible in an invited room, not in a joined one', () => {
    expect(see({ visibility: 'invited', membershipAtEvent: 'invite', previousMembership: null, event: member(ME, 'invite') })).toBe(true);
    expect(see({ visibility: 'joined', membershipAtEvent: 'invite', previousMembership: null, event: member(ME, 'invite') })).toBe(false);
  });
  it("someone else's leave after a join gets no special case", () => {
    const other = '@other:a.test';
    expect(see({ visibility: 'joined', membershipAtEvent: null, previousMembership: 'join', event: member(other, 'leave') })).toBe(false);
  });
  it('a ban of someone never in the room stays hidden from them under joined', () => {
    expect(see({ visibility: 'joined', membershipAtEvent: 'ban', previousMembership: null, event: member(ME, 'ban') })).toBe(false);
  });
  it('the membership is read from the event itself', () => {
    // membershipAtEvent left stale: the event's content says join
    expect(see({ visibility: 'joined', membershipAtEvent: null, previousMembership: 'invite', event: member(ME, 'join') })).toBe(true);
  });
});
