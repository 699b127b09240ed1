import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('Push rules: GET/PUT/DELETE /pushrules/…', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const req = (method: string, path: string, body?: unknown, u: TestUser = alice) =>
    s.request(method, `${V3}/pushrules/${path}`, body === undefined ? { token: u.accessToken } : { token: u.accessToken, body });

  beforeAll(async () => {
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
  });
  afterAll(async () => s?.close());

  it("GET /pushrules/ answers the spec's predefined rules with the user filled in", async () => {
    const res = await req('GET', '');
    expect(res.status).toBe(200);
    expect(specErrors('client-server', '/pushrules/', 'get', 200, res.body)).toEqual([]);
    const g = res.body.global;
    expect(Object.keys(g).sort()).toEqual(['content', 'override', 'room', 'sender', 'underride']);
    expect(g.override.map((r: { rule_id: string }) => r.rule_id)).toEqual([
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
    expect(g.override[0]).toEqual({ rule_id: '.m.rule.master', default: true, enabled: false, conditions: [], actions: [] });
    expect(g.content).toEqual([
      { rule_id: '.m.rule.contains_user_name', default: true, enabled: true, pattern: 'alice', actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }] },
    ]);
    expect(g.underride.map((r: { rule_id: string }) => r.rule_id)).toEqual(['.m.rule.call', '.m.rule.encrypted_room_one_to_one', '.m.rule.room_one_to_one', '.m.rule.message', '.m.rule.encrypted']);
    expect(JSON.stringify(g)).toContain(alice.userId);
    const global = await req('GET', 'global/');
    expect(global.status).toBe(200);
    expect(specErrors('client-server', '/pushrules/global/', 'get', 200, global.body)).toEqual([]);
    expect(global.body).toEqual(g);
    expect((await req('GET', 'global/underride/')).body).toEqual(g.underride);
  });

  it('single rules and their attributes; Synapse\'s answers for odd paths', async () => {
    const one = await req('GET', 'global/override/.m.rule.suppress_notices');
    expect(one.status).toBe(200);
    expect(specErrors('client-server', '/pushrules/global/{kind}/{ruleId}', 'get', 200, one.body)).toEqual([]);
    expect(one.body.conditions).toEqual([{ kind: 'event_match', key: 'content.msgtype', pattern: 'm.notice' }]);
    const en = await req('GET', 'global/override/.m.rule.master/enabled');
    expect(en.status).toBe(200);
    expect(specErrors('client-server', '/pushrules/global/{kind}/{ruleId}/enabled', 'get', 200, en.body)).toEqual([]);
    expect(en.body).toEqual({ enabled: false });
    const ac = await req('GET', 'global/underride/.m.rule.call/actions');
    expect(specErrors('client-server', '/pushrules/global/{kind}/{ruleId}/actions', 'get', 200, ac.body)).toEqual([]);
    expect(ac.body).toEqual({ actions: ['notify', { set_tweak: 'sound', value: 'ring' }] });
    const missing = await req('GET', 'global/override/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.errcode).toBe('M_NOT_FOUND');
    for (const path of ['global', 'global/override', 'device/', 'global/bogus/', 'global/override/.m.rule.master/bogus']) {
      const r = await req('GET', path);
      expect(r.status, path).toBe(400);
      expect(r.body.errcode, path).toBe('M_UNRECOGNIZED');
    }
    const noSlash = await s.request('GET', `${V3}/pushrules`, { token: alice.accessToken });
    expect(noSlash.status).toBe(400);
    expect(noSlash.body).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognised request: You probably wanted a trailing slash' });
    expect((await s.request('GET', `${V3}/pushrules/`)).status).toBe(401);
  });

  it('PUT adds rules of every kind (enabled, most important first, before/after), DELETE removes them', async () => {
    const put = (path: string, body: unknown) => req('PUT', path, body);
    const ok = async (path: string, body: unknown) => {
      const r = await put(path, body);
      expect(r.status, `${path} ${r.text}`).toBe(200);
      expect(specErrors('client-server', '/pushrules/global/{kind}/{ruleId}', 'put', 200, r.body)).toEqual([]);
      expect(r.body).toEqual({});
    };
    await ok('global/content/cake', { pattern: 'cake', actions: ['notify', { set_tweak: 'sound', value: 'cakealarm.wav' }] });
    await ok('global/content/cakelie?before=cake', { pattern: 'cake*lie', actions: ['notify'] });
    await ok('global/content/tea', { pattern: 'tea', actions: ['notify'] });
    await ok('global/content/late?after=tea', { pattern: 'late', actions: [] });
    await ok(`global/room/${enc('!dj234r78wl45Gh4D:matrix.org')}`, { actions: [] });
    await ok(`global/sender/${enc('@spambot:matrix.org')}`, { actions: [] });
    await ok('global/override/beer', {
      conditions: [
        { kind: 'event_match', key: 'content.body', pattern: 'beer' },
        { kind: 'room_member_count', is: '<=10' },
      ],
      actions: ['notify', { set_tweak: 'sound', value: 'beeroclock.wav' }],
    });
    const g = (await req('GET', 'global/')).body;
    expect(specErrors('client-server', '/pushrules/global/', 'get', 200, g)).toEqual([]);
    // New rules go first; `before` sits just above its anchor, `after` just below.
    expect(g.content.map((r: { rule_id: string }) => r.rule_id)).toEqual(['tea', 'late', 'cakelie', 'cake', '.m.rule.contains_user_name']);
    expect(g.content[2]).toEqual({ rule_id: 'cakelie', default: false, enabled: true, pattern: 'cake*lie', actions: ['notify'] });
    expect(g.room).toEqual([{ rule_id: '!dj234r78wl45Gh4D:matrix.org', default: false, enabled: true, actions: [] }]);
    expect(g.sender).toEqual([{ rule_id: '@spambot:matrix.org', default: false, enabled: true, actions: [] }]);
    // User overrides come after .m.rule.master and before the other predefined overrides.
    expect(g.override.slice(0, 3).map((r: { rule_id: string }) => r.rule_id)).toEqual(['.m.rule.master', 'beer', '.m.rule.suppress_notices']);
    // Replacing a rule keeps its place and changes its definition.
    await ok('global/content/cake', { pattern: 'gateau', actions: ['notify'] });
    const cake = (await req('GET', 'global/content/cake')).body;
    expect(cake).toEqual({ rule_id: 'cake', default: false, enabled: true, pattern: 'gateau', actions: ['notify'] });
    expect((await req('GET', 'global/')).body.content.map((r: { rule_id: string }) => r.rule_id)).toEqual(['tea', 'late', 'cakelie', 'cake', '.m.rule.contains_user_name']);
    // Synapse's tables: namespaced rule IDs, priority classes, an enabled row for each new rule.
    const rows = await querySql<{ rule_id: string; priority_class: number | string }>(s, `SELECT rule_id, priority_class FROM push_rules WHERE user_name = '${alice.userId}' ORDER BY rule_id`);
    expect(rows.map((r) => [r.rule_id, Number(r.priority_class)])).toContainEqual(['global/content/cake', 4]);
    expect(rows.map((r) => [r.rule_id, Number(r.priority_class)])).toContainEqual(['global/override/beer', 5]);
    const enables = await querySql(s, `SELECT count(*) AS n FROM push_rules_enable WHERE user_name = '${alice.userId}' AND enabled = 1`);
    expect(Number(enables[0]!.n)).toBe(7);
    // Bob sees none of it.
    expect((await req('GET', 'global/', undefined, bob)).body.content).toHaveLength(1);

    const del = await req('DELETE', 'global/content/tea');
    expect(del.status).toBe(200);
    expect(specErrors('client-server', '/pushrules/global/{kind}/{ruleId}', 'delete', 200, del.body)).toEqual([]);
    expect((await req('GET', 'global/content/tea')).status).toBe(404);
    const again = await req('DELETE', 'global/content/tea');
    expect(again.status).toBe(404);
    expect(again.body.errcode).toBe('M_NOT_FOUND');
    // Predefined rules cannot be deleted.
    expect((await req('DELETE', 'global/override/.m.rule.master')).status).toBe(404);
  });

  it('refuses invalid rules with 400 and changes nothing', async () => {
    const before = (await req('GET', 'global/')).body;
    const cases: Array<[string, unknown, string]> = [
      ['global/content/.mine', { pattern: 'x', actions: [] }, "cannot add new rule_ids that start with '.'"],
      ['global/content/x', { actions: [] }, "Content rule missing 'pattern'"],
      ['global/content/x', { pattern: 'x' }, 'No actions found'],
      ['global/override/x', { actions: [] }, "Missing 'conditions'"],
      ['global/override/x', { conditions: [{ key: 'type' }], actions: [] }, "Condition without 'kind'"],
      ['global/underride/x', { conditions: [], actions: ['explode'] }, 'Unrecognised action explode'],
      ['global/room/x', { actions: 'notify' }, 'No actions found'],
      ['global/bogus/x', { actions: [] }, 'Unknown template: bogus'],
      ['global/content/back%5Cslash', { pattern: 'x', actions: [] }, 'rule_id may not contain slashes'],
      ['global/content/x?before=nope', { pattern: 'x', actions: [] }, 'before/after rule not found: global/content/nope'],
      ['global/content/x?after=.m.rule.contains_user_name', { pattern: 'x', actions: [] }, 'before/after rule not found: global/content/.m.rule.contains_user_name'],
    ];
    for (const [path, body, error] of cases) {
      const r = await req('PUT', path, body);
      expect(r.status, path).toBe(400);
      expect(r.body, path).toEqual({ errcode: 'M_UNKNOWN', error });
    }
    const notJson = await s.request('PUT', `${V3}/pushrules/global/content/x`, { token: alice.accessToken, rawBody: '{' });
    expect(notJson.body.errcode).toBe('M_NOT_JSON');
    const array = await req('PUT', 'global/content/x', []);
    expect(array.status).toBe(400);
    expect(array.body.errcode).toBe('M_BAD_JSON');
    const badScope = await req('PUT', 'device/content/x', { pattern: 'x', actions: [] });
    expect(badScope.status).toBe(400);
    expect(badScope.body.errcode).toBe('M_UNRECOGNIZED');
    expect((await req('GET', 'global/')).body).toEqual(before);
  });

  it('predefined rules change only through enabled and actions; the change is Synapse-shaped in the tables', async () => {
    const en = await req('PUT', 'global/override/.m.rule.master/enabled', { enabled: true });
    expect(en.status).toBe(200);
    expect(specErrors('client-server', '/pushrules/global/{kind}/{ruleId}/enabled', 'put', 200, en.body)).toEqual([]);
    expect((await req('GET', 'global/override/.m.rule.master/enabled')).body).toEqual({ enabled: true });
    // A bare boolean works too (Synapse's legacy fallback).
    expect((await req('PUT', 'global/override/.m.rule.master/enabled', false)).status).toBe(200);
    expect((await req('GET', 'global/override/.m.rule.master')).body.enabled).toBe(false);
    const acts = await req('PUT', 'global/underride/.m.rule.message/actions', { actions: ['notify', { set_tweak: 'sound', value: 'ping' }] });
    expect(acts.status).toBe(200);
    expect(specErrors('client-server', '/pushrules/global/{kind}/{ruleId}/actions', 'put', 200, acts.body)).toEqual([]);
    const msg = (await req('GET', 'global/underride/.m.rule.message')).body;
    expect(msg).toMatchObject({ rule_id: '.m.rule.message', default: true, enabled: true, actions: ['notify', { set_tweak: 'sound', value: 'ping' }] });
    expect(msg.conditions).toEqual([{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }]);
    const rows = await querySql(s, `SELECT rule_id, priority_class FROM push_rules WHERE user_name = '${alice.userId}' AND rule_id LIKE 'global/underride/.m.rule.message'`);
    expect(rows.map((r) => Number(r.priority_class))).toEqual([-1]);
    const en2 = await querySql(s, `SELECT enabled FROM push_rules_enable WHERE user_name = '${alice.userId}' AND rule_id = 'global/override/.m.rule.master'`);
    expect(en2.map((r) => Number(r.enabled))).toEqual([0]);
    // A user rule's attributes too.
    await req('PUT', 'global/sender/@x:y', { actions: ['notify'] });
    expect((await req('PUT', 'global/sender/@x:y/enabled', { enabled: false })).status).toBe(200);
    expect((await req('GET', 'global/sender/@x:y')).body.enabled).toBe(false);

    for (const [path, body, status, errcode] of [
      ['global/override/.m.rule.nope/enabled', { enabled: true }, 404, 'M_NOT_FOUND'],
      ['global/override/nope/enabled', { enabled: true }, 404, 'M_NOT_FOUND'],
      ['global/override/nope/actions', { actions: [] }, 404, 'M_NOT_FOUND'],
      ['global/override/.m.rule.master/enabled', { enabled: 'yes' }, 400, 'M_UNKNOWN'],
      ['global/override/.m.rule.master/actions', { actions: 'notify' }, 400, 'M_UNKNOWN'],
      ['global/override/.m.rule.master/actions', { actions: [5] }, 400, 'M_UNKNOWN'],
      ['global/override/.m.rule.master/bogus', {}, 400, 'M_UNRECOGNIZED'],
    ] as const) {
      const r = await req('PUT', path, body);
      expect(r.status, path).toBe(status);
      expect(r.body.errcode, path).toBe(errcode);
    }
    // Every change is on the push rules stream (what /sync reads to send m.push_rules).
    const stream = await querySql(s, `SELECT count(*) AS n FROM push_rules_stream WHERE user_id = '${alice.userId}'`);
    expect(Number(stream[0]!.n)).toBeGreaterThan(5);
  });
});
