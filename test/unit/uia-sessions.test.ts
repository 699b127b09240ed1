import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountsService } from '../../src/services/accounts.js';
import { UiaRequired, UserInteractiveAuth, type UiaStage } from '../../src/services/uia.js';
import { startServer, type TestServer } from '../harness/server.js';

// Session lifetime of caller-defined stages: what a stage reserved is given back when its session
// expires unfinished (how a registration token's `pending` use returns), never after settleIn().
describe('UIA sessions with releasable stages', () => {
  const DAY = 24 * 60 * 60 * 1000;
  // Sessions live in the database: a real one, on the engine under test.
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => s?.close());
  const flows = [{ stages: ['test.reserve', 'm.login.dummy'] }];

  function setup() {
    // Far in the future, so these sessions never meet the server's own (real-clock) ones.
    let now = Date.now() + 1000 * DAY;
    const released: unknown[] = [];
    const stage: UiaStage = {
      check: async (auth) => `reserved:${String(auth.tag)}`,
      release: async (_db, result) => {
        released.push(result);
      },
    };
    const uia = new UserInteractiveAuth(s.ctx.storage.db, {} as AccountsService, () => now);
    uia.registerStage('test.reserve', stage);
    const request = { method: 'POST', uri: '/test' };
    const opts = { retain: true, request };
    const call = async (auth: Record<string, unknown>) => {
      try {
        return await uia.check({ auth }, flows, undefined, opts);
      } catch (e) {
        if (e instanceof UiaRequired) return e;
        throw e;
      }
    };
    const begin = async () => ((await call({})) as UiaRequired).sessionId;
    return { uia, call, begin, released, advance: (ms: number) => (now += ms) };
  }

  it('releases a completed stage when its session expires unfinished', async () => {
    const t = setup();
    const session = await t.begin();
    const partial = await t.call({ type: 'test.reserve', tag: 'a', session });
    expect(partial).toBeInstanceOf(UiaRequired);
    expect((partial as UiaRequired).toJSON()).toMatchObject({ completed: ['test.reserve'] });

    t.advance(DAY - 1);
    await t.begin(); // a sweep before expiry releases nothing
    expect(t.released).toEqual([]);

    t.advance(2);
    await t.begin(); // any later request sweeps
    await Promise.resolve();
    expect(t.released).toEqual(['reserved:a']);
    await expect(t.uia.check({ auth: { type: 'm.login.dummy', session } }, flows, undefined, { request: { method: 'POST', uri: '/test' } })).rejects.toMatchObject({
      status: 400,
      message: `Unknown session ID: ${session}`,
    });
  });

  it('a stage presented twice is recorded (and released) once', async () => {
    const t = setup();
    const session = await t.begin();
    await t.call({ type: 'test.reserve', tag: 'x', session });
    await t.call({ type: 'test.reserve', tag: 'x', session });
    t.advance(DAY + 1);
    await t.begin();
    await Promise.resolve();
    expect(t.released).toEqual(['reserved:x']);
  });

  it('nothing is released once the operation settled the session', async () => {
    const t = setup();
    const session = await t.begin();
    await t.call({ type: 'test.reserve', tag: 'b', session });
    const done = await t.call({ type: 'm.login.dummy', session });
    expect(done).not.toBeInstanceOf(UiaRequired);
    if (done instanceof UiaRequired) return;
    expect(done.results.get('test.reserve')).toBe('reserved:b');
    await t.uia.settleIn(s.ctx.storage.db, done.sessionId);
    // A retained session still answers as complete until it expires.
    expect(await t.call({ type: 'm.login.dummy', session })).not.toBeInstanceOf(UiaRequired);
    t.advance(DAY + 1);
    await t.begin();
    await Promise.resolve();
    expect(t.released).toEqual([]);
  });
});
