import { describe, expect, it } from 'vitest';
import { StreamPositions } from '../../src/services/rooms/stream-positions.js';

describe('StreamPositions: readers see a position only once every lower one has finished', () => {
  it('allocates in order after the stored maximum', () => {
    const p = new StreamPositions(41);
    expect(p.allocate(3)).toEqual([42, 43, 44]);
    expect(p.allocate(1)).toEqual([45]);
    expect(p.current).toBe(41);
  });

  it('a later position finishing first is not published until the gap closes', async () => {
    const p = new StreamPositions(0);
    const [a, b, c] = p.allocate(3) as [number, number, number];
    let reachedC = false;
    const waiting = p.reached(c).then(() => (reachedC = true));
    p.finish([c]);
    p.finish([b]);
    expect(p.current).toBe(0);
    await Promise.resolve();
    expect(reachedC).toBe(false);
    p.finish([a]);
    expect(p.current).toBe(3);
    await waiting;
    expect(reachedC).toBe(true);
  });

  it('abandoned positions (failed writes) also close the gap', () => {
    const p = new StreamPositions(10);
    const first = p.allocate(2);
    const second = p.allocate(2);
    p.finish(second);
    expect(p.current).toBe(10);
    p.finish(first);
    expect(p.current).toBe(14);
    expect(p.reached(12)).resolves.toBeUndefined();
  });
});
