import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySql, startServer, type TestServer, type TestUser } from '../harness/server.js';
import { specErrors } from '../harness/spec-schema.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('Notifications: push rules evaluated on every event, GET /notifications', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let roomId: string;
  let txn = 0;
  const send = async (u: TestUser, content: Record<string, unknown>, type = 'm.room.message') => {
    const res = await s.request('PUT', `${V3}/rooms/${enc(roomId)}/send/${type}/n${++txn}`, { token: u.accessToken, body: content });
    expect(res.status, res.text).toBe(200);
    return res.body.event_id as string;
  };
  const notifications = async (u: TestUser, query = '') => {
    const res = await s.request('GET', `${V3}/notifications${query}`, { token: u.accessToken });
    expect(res.status, res.text).toBe(200);
    expect(specErrors('client-server', '/notifications', 'get', 200, res.body)).toEqual([]);
    return res.body as { notifications: Array<{ actions: unknown[]; event: { event_id: string; content: { body?: string } }; read: boolean; room_id: string; ts: number }>; next_token?: string };
  };

  beforeAll(async () => {
    s = await startServer();
    alice = await s.registerUser('alice');
    bob = await s.registerUser('bob');
    carol = await s.registerUser('carol');
    const name = await s.request('PUT', `${V3}/profile/${enc(bob.userId)}/displayname`, { token: bob.accessToken, body: { displayname: 'Bobby Tables' } });
    expect(name.status).toBe(200);
    const created = await s.request('POST', `${V3}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat' } });
    roomId = created.body.room_id;
    for (const u of [bob, carol]) expect((await s.request('POST', `${V3}/join/${enc(roomId)}`, { token: u.accessToken, body: {} })).status).toBe(200);
  });
  afterAll(async () => s?.close());

  it('a mention by display name is a highlight in /notifications; a plain message notifies without one', async () => {
    const plain = await send(alice, { msgtype: 'm.text', body: 'good morning' });
    const mention = await send(alice, { msgtype: 'm.text', body: 'hey Bobby Tables, lunch?' });
    const page = await notifications(bob);
    expect(page.notifications.map((n) => n.event.event_id)).toEqual([mention, plain]);
    const [m, p] = page.notifications;
    expect(m).toMatchObject({ room_id: roomId, read: false, actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }] });
    expect(m!.event.content.body).toBe('hey Bobby Tables, lunch?');
    expect(typeof m!.ts).toBe('number');
    expect(p!.actions).toEqual(['notify']);
    const highlights = await notifications(bob, '?only=highlight');
    expect(highlights.notifications.map((n) => n.event.event_id)).toEqual([mention]);
    // Carol was notified of both, highlighted by neither; the sender gets nothing.
    expect((await notifications(carol)).notifications.map((n) => n.event.event_id)).toEqual([mention, plain]);
    expect((await notifications(carol, '?only=highlight')).notifications).toEqual([]);
    expect((await notifications(alice)).notifications).toEqual([]);
    // Synapse's table, written with the event.
    const rows = await querySql<{ user_id: string; notif: number | string; highlight: number | string; thread_id: string }>(
      s,
      `SELECT user_id, notif, highlight, thread_id FROM event_push_actions WHERE event_id = '${mention}' ORDER BY user_id`,
    );
    expect(rows.map((r) => [r.user_id, Number(r.notif), Number(r.highlight), r.thread_id])).toEqual([
      [bob.userId, 1, 1, 'main'],
      [carol.userId, 1, 0, 'main'],
    ]);
  });

  it('m.mentions, notices, edits and push rule changes are honoured on the next event', async () => {
    const byId = await send(alice, { msgtype: 'm.text', body: 'ping', 'm.mentions': { user_ids: [carol.userId] } });
    const notice = await send(alice, { msgtype: 'm.notice', body: 'bot output Bobby Tables' });
    const edit = await send(alice, { msgtype: 'm.text', body: '* fixed', 'm.relates_to': { rel_type: 'm.replace', event_id: byId } });
    const carolHl = (await notifications(carol, '?only=highlight')).notifications.map((n) => n.event.event_id);
    expect(carolHl[0]).toBe(byId);
    const bobIds = (await notifications(bob)).notifications.map((n) => n.event.event_id);
    expect(bobIds).toContain(byId);
    expect(bobIds).not.toContain(notice);
    expect(bobIds).not.toContain(edit);
    // Bob mutes the room with a room rule: the next message notifies him no more; Carol still.
    // (A mention would still highlight: mentions are override rules, checked before room rules.)
    const mute = await s.request('PUT', `${V3}/pushrules/global/room/${enc(roomId)}`, { token: bob.accessToken, body: { actions: [] } });
    expect(mute.status).toBe(200);
    const quiet = await send(alice, { msgtype: 'm.text', body: 'anyone?' });
    expect((await notifications(bob)).notifications.map((n) => n.event.event_id)).not.toContain(quiet);
    expect((await notifications(carol)).notifications[0]!.event.event_id).toBe(quiet);
    // Unmuted again (rule deleted): notified again.
    expect((await s.request('DELETE', `${V3}/pushrules/global/room/${enc(roomId)}`, { token: bob.accessToken })).status).toBe(200);
    const loud = await send(alice, { msgtype: 'm.text', body: 'back' });
    expect((await notifications(bob)).notifications[0]!.event.event_id).toBe(loud);
  });

  it('invites notify the invitee; thread replies carry their thread', async () => {
    const dave = await s.registerUser('dave');
    const inv = await s.request('POST', `${V3}/rooms/${enc(roomId)}/invite`, { token: alice.accessToken, body: { user_id: dave.userId } });
    expect(inv.status).toBe(200);
    const page = await notifications(dave);
    expect(page.notifications).toHaveLength(1);
    expect(page.notifications[0]!.event).toMatchObject({ type: 'm.room.member', state_key: dave.userId });
    const root = await send(alice, { msgtype: 'm.text', body: 'thread root' });
    const reply = await send(alice, { msgtype: 'm.text', body: 'in thread', 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
    const rows = await querySql<{ thread_id: string }>(s, `SELECT thread_id FROM event_push_actions WHERE event_id = '${reply}' AND user_id = '${bob.userId}'`);
    expect(rows).toEqual([{ thread_id: root }]);
  });

  it('pages with from/limit, newest first; bad parameters are 400', async () => {
    const all = (await notifications(carol, '?limit=100')).notifications.map((n) => n.event.event_id);
    expect(all.length).toBeGreaterThan(4);
    const first = await notifications(carol, '?limit=2');
    expect(first.notifications.map((n) => n.event.event_id)).toEqual(all.slice(0, 2));
    expect(typeof first.next_token).toBe('string');
    const second = await notifications(carol, `?limit=2&from=${first.next_token}`);
    expect(second.notifications.map((n) => n.event.event_id)).toEqual(all.slice(2, 4));
    for (const q of ['?limit=abc', '?limit=-1', '?from=xyz']) {
      const r = await s.request('GET', `${V3}/notifications${q}`, { token: carol.accessToken });
      expect(r.status, q).toBe(400);
      expect(r.body.errcode, q).toBe('M_INVALID_PARAM');
    }
    expect((await s.request('GET', `${V3}/notifications`)).status).toBe(401);
  });
});
