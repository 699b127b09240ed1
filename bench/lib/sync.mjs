// Issue 8: /sync long-polling. The latency from a message's PUT to a held long-poll's answer
// carrying it (one poller), and 1,000 long-polls held by 1,000 users in one room, woken by one
// message (time until all have answered, per-poll latency, the server's RSS).
import { Agent, request } from 'node:http';

const enc = encodeURIComponent;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One HTTP request on `agent`; resolves with status, parsed JSON and text (never rejects on a status). */
function call(agent, base, method, path, { token, body } = {}) {
  const { hostname, port } = new URL(base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  return new Promise((resolve, reject) => {
    const req = request({ agent, hostname, port, path, method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, json, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function ok(res, what, status = 200) {
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  return res.json;
}

/** p-th percentile (nearest rank) of a list of numbers. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The timeline events of a room in a /sync answer. */
const timelineOf = (body, roomId) => body?.rooms?.join?.[roomId]?.timeline?.events ?? [];

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The yardstick: the bare node:http server's round trip for a trivial request, one at a time on
 * one keep-alive connection (the floor under any HTTP answer on this machine): p50/p99 in ms.
 */
export async function bareRoundTrip(bareUrl, samples) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 200; i++) await call(agent, bareUrl, 'GET', '/');
    const times = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      ok(await call(agent, bareUrl, 'GET', '/'), 'bare GET /');
      times.push(performance.now() - t0);
    }
    return { p50: percentile(times, 50), p99: percentile(times, 99), samples };
  } finally {
    agent.destroy();
  }
}

/** A public room created by `owner` and joined by `members` (`concurrency` joins at a time). */
export async function roomWith(server, owner, members, concurrency = 1) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency + 1 });
  try {
    const roomId = ok(await call(agent, server.url, 'POST', '/_matrix/client/v3/createRoom', { token: owner.token, body: { preset: 'public_chat', name: 'sync bench' } }), 'createRoom').room_id;
    await pool(members, concurrency, async (m) => {
      ok(await call(agent, server.url, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/join`, { token: m.token, body: {} }), `join ${m.userId}`);
    });
    return roomId;
  } finally {
    agent.destroy();
  }
}

/**
 * Send→/sync latency: `poller` holds `GET /sync?since=…&timeout=30000` in a room with `sender`;
 * the sender PUTs a message; the time from just before the PUT to the answer of the long-poll
 * whose timeline holds that event. The poller re-polls at once with the new next_batch (as a
 * client does); the next message goes out once that poll has had a moment to be held, so every
 * sample measures a held poll being woken, not a poll that finds the event already there.
 */
export async function sendToSyncLatency(server, sender, poller, roomId, { samples, warmup = 20, gapMs = 15 }) {
  const sendAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const pollAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const syncPath = (since) => `/_matrix/client/v3/sync?timeout=30000${since ? `&since=${enc(since)}` : ''}`;
  try {
    let since = ok(await call(pollAgent, server.url, 'GET', syncPath(undefined).replace('timeout=30000', 'timeout=0'), { token: poller.token }), 'initial /sync').next_batch;
    const latencies = [];
    const putTimes = [];
    let extraPolls = 0;
    const prefix = `s${Date.now().toString(36)}`;
    for (let i = 0; i < warmup + samples; i++) {
      const body = `${prefix} sample ${i}`;
      // The long-poll: polls again (with the new token) until an answer carries the message.
      let started;
      const seen = (async () => {
        for (;;) {
          const res = ok(await call(pollAgent, server.url, 'GET', syncPath(since), { token: poller.token }), 'long-poll /sync');
          since = res.next_batch;
          const ev = timelineOf(res, roomId).find((e) => e.content?.body === body);
          if (ev) return { at: performance.now(), eventId: ev.event_id };
          if (started !== undefined) extraPolls++;
        }
      })();
      await sleep(gapMs);
      started = performance.now();
      const put = call(sendAgent, server.url, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${prefix}-${i}`, {
        token: sender.token,
        body: { msgtype: 'm.text', body },
      }).then((r) => ({ at: performance.now(), eventId: ok(r, 'PUT send').event_id }));
      const [got, sent] = await Promise.all([seen, put]);
      if (got.eventId !== sent.eventId) throw new Error(`the long-poll answered ${got.eventId}, the PUT ${sent.eventId}`);
      if (i >= warmup) {
        latencies.push(got.at - started);
        putTimes.push(sent.at - started);
      }
    }
    return {
      samples,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: Math.max(...latencies),
      putP50: percentile(putTimes, 50),
      putP99: percentile(putTimes, 99),
      extraPolls,
    };
  } finally {
    sendAgent.destroy();
    pollAgent.destroy();
  }
}

/**
 * `users` (all joined to `roomId`) each hold a long-poll; once every poll is out and nothing has
 * answered for `quietMs` (answers before then are the users' own presence coming online, which a
 * client re-polls after, as here), `users[0]` sends one message. Measures, from just before the
 * PUT, when each poll answered with the event; and the server's RSS while held and after.
 */
export async function heldPollsWake(server, users, roomId, { rounds = 1, quietMs = 1000, initialConcurrency = 20, onLog = () => {}, beforeSend = () => {}, afterRound = () => {} } = {}) {
  const agent = new Agent({ keepAlive: true, maxSockets: users.length + 50, maxFreeSockets: users.length + 50 });
  const sendAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  // The initial syncs load lazily (only the members a timeline needs, one event of timeline), as
  // Element's do: the token is all the bench wants from them. The long-polls use no filter.
  const initialFilter = enc(JSON.stringify({ room: { timeline: { limit: 1 }, state: { lazy_load_members: true } } }));
  try {
    const tokens = new Array(users.length);
    const t0 = performance.now();
    await pool(users, initialConcurrency, async (u, i) => {
      tokens[i] = ok(await call(agent, server.url, 'GET', `/_matrix/client/v3/sync?timeout=0&filter=${initialFilter}`, { token: u.token }), `initial /sync of ${u.userId}`).next_batch;
    });
    const initialSeconds = (performance.now() - t0) / 1000;
    onLog(`${users.length} initial syncs (lazy-loaded members, timeline limit 1): ${initialSeconds.toFixed(1)} s`);

    const out = { initialSeconds, rounds: [] };
    for (let round = 0; round < rounds; round++) {
      const body = `wake ${round} ${Date.now().toString(36)}`;
      let lastAnswer = performance.now();
      let early = 0;
      let sentAt;
      const answeredAt = new Array(users.length);
      const polls = users.map(async (u, i) => {
        for (;;) {
          const res = await call(agent, server.url, 'GET', `/_matrix/client/v3/sync?timeout=60000&since=${enc(tokens[i])}`, { token: u.token });
          const at = performance.now();
          ok(res, `long-poll /sync of ${u.userId}`);
          tokens[i] = res.json.next_batch;
          if (timelineOf(res.json, roomId).some((e) => e.content?.body === body)) {
            answeredAt[i] = at;
            return;
          }
          if (sentAt === undefined) {
            early++;
            lastAnswer = at;
          } else if (at - sentAt > 30_000) {
            const answered = answeredAt.filter((t) => t !== undefined).length;
            throw new Error(`${u.userId}: no answer with the message 30 s after it was sent (${answered} polls had it; last answer: ${res.text.slice(0, 300)})`);
          }
        }
      });
      const failed = Promise.all(polls).then(
        () => null,
        (e) => e,
      );
      // Held: every request sent, nothing answering any more for `quietMs`, and the server idle
      // (under 5 % of a core over the last 500 ms: not still building answers nobody has yet).
      const deadline = performance.now() + 120_000;
      let cpu = server.cpu();
      let cpuAt = performance.now();
      let busy = 1;
      while (performance.now() - lastAnswer < quietMs || busy > 0.05) {
        if (performance.now() > deadline) throw new Error(`polls kept answering or the server stayed busy for 120 s (${early} early answers)`);
        await sleep(100);
        if (performance.now() - cpuAt >= 500) {
          const c = server.cpu();
          busy = (c - cpu) / ((performance.now() - cpuAt) / 1000);
          cpu = c;
          cpuAt = performance.now();
        }
      }
      const rssHeld = server.rss();
      await beforeSend(round);
      sentAt = performance.now();
      const sent = ok(
        await call(sendAgent, server.url, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/wake-${round}-${Date.now()}`, {
          token: users[0].token,
          body: { msgtype: 'm.text', body },
        }),
        'PUT send',
      );
      const putMs = performance.now() - sentAt;
      const err = await failed;
      if (err) throw err;
      const rssAfter = server.rss();
      await afterRound(round);
      const lat = answeredAt.map((t) => t - sentAt);
      const r = {
        polls: users.length,
        early,
        putMs,
        eventId: sent.event_id,
        allMs: Math.max(...lat),
        p50: percentile(lat, 50),
        p99: percentile(lat, 99),
        rssHeld,
        rssAfter,
      };
      onLog(
        `round ${round + 1}: all ${r.polls} answered in ${r.allMs.toFixed(0)} ms (p50 ${r.p50.toFixed(0)}, p99 ${r.p99.toFixed(0)}; PUT ${r.putMs.toFixed(0)} ms); ` +
          `RSS held ${rssHeld.toFixed(0)} MB, after ${rssAfter.toFixed(0)} MB; ${early} answers before the send (presence)`,
      );
      out.rounds.push(r);
    }
    return out;
  } finally {
    agent.destroy();
    sendAgent.destroy();
  }
}

/** Issue 8's targets. */
export const SYNC_TARGETS = { sendToSyncP99Ms: 20, wakeAllMs: 500, heldRssMiB: 200 };

/**
 * The `sync` section on one engine: both measurements on fresh databases, recorded in `report`.
 * `env`: { report, freshDatabase, startAxon, registerUser, bareUrl, quick, nodeArgs(tag) }.
 */
export async function syncSection(engine, env) {
  const { report, freshDatabase, startAxon, registerUser, bareUrl, quick, nodeArgs } = env;
  const T = SYNC_TARGETS;
  const unlimited = { per_second: 1_000_000, burst_count: 1_000_000 };
  const config = { rc_message: unlimited, rc_registration: unlimited };
  const samples = quick ? 50 : 200;
  const log = (s) => console.log(`  ${s}`);

  // 1. send → /sync latency, beside the bare server's round trip measured in the same run.
  {
    const db = await freshDatabase(engine);
    const server = await startAxon(db, { nodeArgs: nodeArgs(`sync-latency-${engine}`), bcryptRounds: 4, config });
    try {
      const a = await registerUser(server, 'alice');
      const b = await registerUser(server, 'bob');
      const roomId = await roomWith(server, a, [b]);
      const bare = await bareRoundTrip(bareUrl, 2000);
      const r = await sendToSyncLatency(server, a, b, roomId, { samples });
      report.writeFigure(
        engine,
        `PUT /rooms/<id>/send → a held GET /sync?since=…&timeout=30000 of another member answering with the event (${r.samples} samples)`,
        `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms (the PUT's own answer: p50 ${r.putP50.toFixed(1)} ms, p99 ${r.putP99.toFixed(1)} ms); ` +
          `bare node:http round trip: p50 ${bare.p50.toFixed(2)} ms, p99 ${bare.p99.toFixed(2)} ms`,
        `p99 < ${T.sendToSyncP99Ms} ms`,
        r.p99 < T.sendToSyncP99Ms,
      );
      if (r.extraPolls > 0) log(`${r.extraPolls} answers without the event during the samples (re-polled)`);
    } finally {
      await server.stop();
      await db.drop();
    }
  }

  // 2. 1,000 long-polls held in one room, woken by one message.
  {
    const n = 1000;
    const db = await freshDatabase(engine);
    const server = await startAxon(db, { nodeArgs: nodeArgs(`sync-held-${engine}`), bcryptRounds: 4, config });
    try {
      const idle = server.rss();
      const t0 = performance.now();
      const users = new Array(n);
      await pool(Array.from({ length: n }, (_, i) => i), 10, async (i) => {
        users[i] = await registerUser(server, `poller${String(i).padStart(4, '0')}`);
      });
      const roomId = await roomWith(server, users[0], users.slice(1), 10);
      report.setupTime(engine, `${n.toLocaleString('en-US')} users registered (shared secret, bcrypt_rounds 4) and joined to one public room over HTTP`, (performance.now() - t0) / 1000);
      const r = await heldPollsWake(server, users, roomId, { rounds: quick ? 1 : 3, onLog: log });
      report.setupTime(engine, `${n.toLocaleString('en-US')} initial syncs (filter: lazy-loaded members, timeline limit 1; 20 at a time)`, r.initialSeconds);
      r.rounds.forEach((w, k) => {
        report.writeFigure(
          engine,
          `${w.polls.toLocaleString('en-US')} held GET /sync?since=…&timeout=60000 (one per user, one room) woken by one message${r.rounds.length > 1 ? ` — round ${k + 1} of ${r.rounds.length}` : ''}`,
          `all answered in ${w.allMs.toFixed(0)} ms; per poll p50 ${w.p50.toFixed(0)} ms, p99 ${w.p99.toFixed(0)} ms (PUT answered in ${w.putMs.toFixed(0)} ms); ` +
            `server RSS ${w.rssHeld.toFixed(0)} MB while held, ${w.rssAfter.toFixed(0)} MB after the wake`,
          `all < ${T.wakeAllMs} ms, RSS < ${T.heldRssMiB} MB`,
          w.allMs < T.wakeAllMs && Math.max(w.rssHeld, w.rssAfter) < T.heldRssMiB,
        );
      });
      report.memoryOf(engine, `${n.toLocaleString('en-US')} users holding long-polls in one room (before set-up / at the end)`, idle, server.rss());
    } finally {
      await server.stop();
      await db.drop();
    }
  }
}
