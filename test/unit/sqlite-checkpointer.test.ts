import { describe, expect, it } from 'vitest';
import { Checkpointer } from '../../src/storage/sqlite-checkpointer.js';

describe('SQLite checkpointer worker', () => {
  it('tells its owner when the worker is lost, so the writer checkpoints by itself again', async () => {
    let lost = false;
    // A database the worker cannot open: its thread ends at once.
    const c = new Checkpointer('/nonexistent-dir/axon-test.db', () => (lost = true));
    for (let i = 0; i < 100 && !lost; i++) await new Promise((r) => setTimeout(r, 20));
    expect(lost).toBe(true);
    await c.stop();
  });

  it('a stop is not a loss', async () => {
    let lost = false;
    const c = new Checkpointer(':memory:', () => (lost = true));
    await new Promise((r) => setTimeout(r, 100));
    await c.stop();
    await new Promise((r) => setTimeout(r, 50));
    expect(lost).toBe(false);
  });
});
