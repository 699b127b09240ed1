import { describe, expect, it } from 'vitest';
import { Notifier, type Notification, type Transport } from '../../src/storage/changes.js';

/** An in-memory stand-in for a pub/sub channel (what a Redis transport would do between processes). */
function channel() {
  const members: Array<(batch: readonly Notification[]) => void> = [];
  const sent: Notification[][] = [];
  const join = (): Transport => {
    let mine: ((batch: readonly Notification[]) => void) | undefined;
    return {
      send: (batch) => {
        sent.push([...batch]);
        for (const m of members) if (m !== mine) m(batch);
      },
      receive: (deliver) => {
        mine = deliver;
        members.push(deliver);
      },
      close: async () => {},
    };
  };
  return { join, sent };
}

describe('Notifier with a transport', () => {
  it("delivers what one process publishes to the others' subscribers once, without echoing it back", () => {
    const bus = channel();
    const a = new Notifier();
    const b = new Notifier();
    a.useTransport(bus.join());
    b.useTransport(bus.join());
    const seenA: Notification[] = [];
    const seenB: Notification[] = [];
    a.subscribe(['users'], (n) => seenA.push(n));
    b.subscribe(['users', 'rooms.new_event'], (n) => seenB.push(n));

    a.publish([{ topic: 'users', keys: ['@a:x'] }]);
    expect(seenA).toEqual([{ topic: 'users', keys: ['@a:x'] }]);
    expect(seenB).toEqual([{ topic: 'users', keys: ['@a:x'] }]);

    // Delivered notifications (another process's, or the database's own) are not sent again.
    b.deliver([{ topic: 'rooms.new_event', keys: '*' }]);
    expect(bus.sent).toHaveLength(1);
    expect(seenB.at(-1)).toEqual({ topic: 'rooms.new_event', keys: '*' });
    expect(seenA).toHaveLength(1);
  });

  it('unsubscribes, and everythingChanged reaches every watched table', () => {
    const n = new Notifier();
    const seen: string[] = [];
    const stop = n.subscribe(['profiles', 'access_tokens'], (x) => seen.push(`${x.topic}:${x.keys === '*' ? '*' : x.keys.join(',')}`));
    n.everythingChanged();
    expect(seen.sort()).toEqual(['access_tokens:*', 'profiles:*']);
    stop();
    n.publish([{ topic: 'profiles', keys: ['@b:x'] }]);
    expect(seen).toHaveLength(2);
  });
});
