// Load generation with autocannon, and the small HTTP helpers the bench needs.
import autocannon from 'autocannon';

/** Same settings for every target so that ratios against the bare server mean something. */
export function loadSettings(quick) {
  return { connections: 10, warmup: quick ? 1 : 2, duration: quick ? 3 : 10 };
}

/**
 * Warms up, then measures one endpoint. Throws when any response is not 2xx or the socket
 * errors: a fast 404 must never pass for a fast endpoint.
 */
export async function measure(url, { token, method = 'GET' } = {}, settings) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const run = (duration) => autocannon({ url, method, headers, connections: settings.connections, duration });
  await run(settings.warmup);
  const r = await run(settings.duration);
  const bad = r.non2xx + r.errors + r.timeouts;
  if (bad > 0 || r['2xx'] === 0) {
    throw new Error(`${method} ${url}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts out of ${r.requests.total} requests`);
  }
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, total: r.requests.total };
}

export async function httpJson(method, url, { token, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

export async function waitFor(url, { timeoutMs = 60_000, isAlive = () => true } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (!isAlive()) throw new Error(`server exited before answering ${url}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
