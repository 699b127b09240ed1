// Issue 10: the media repository. Upload and download throughput of a 10 MB file, download req/s
// of a 20 KB file beside a bare node:http server streaming the same file from disk (alternating
// rounds, medians compared; CPU per request of each too), the server's
// RSS while 10 clients upload 100 MB each at once, and thumbnails made per second from a
// 2,000×1,500 JPEG (dynamic thumbnails of distinct sizes, so each request makes one).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { measure, waitFor } from './load.mjs';
import { cpuSeconds, freePort, onCleanup, ROOT } from './servers.mjs';

const MB = 1024 * 1024;

/** One request with a body from a Buffer or a Readable; resolves with status and body size. */
function send(base, method, path, { token, body, length, type = 'application/octet-stream', agent } = {}) {
  const { hostname, port } = new URL(base);
  const headers = { 'content-type': type };
  if (token) headers.authorization = `Bearer ${token}`;
  if (length !== undefined) headers['content-length'] = length;
  return new Promise((resolve, reject) => {
    const req = request({ agent, hostname, port, path, method, headers }, (res) => {
      const chunks = [];
      let size = 0;
      res.on('data', (c) => {
        size += c.length;
        if (chunks.length < 4) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode, size, text: Buffer.concat(chunks).toString('utf8').slice(0, 300) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

/** `total` bytes in 64 KiB chunks, made as they are read (the bench holds none of it). */
function generated(total) {
  const chunk = randomBytes(64 * 1024);
  let left = total;
  return new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const n = Math.min(left, chunk.length);
      left -= n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

async function upload(server, token, body, type) {
  const res = await send(server.url, 'POST', '/_matrix/media/v3/upload', { token, body, length: body.length, type });
  if (res.status !== 200) throw new Error(`upload: HTTP ${res.status} ${res.text}`);
  return JSON.parse(res.text).content_uri.split('/').pop();
}

/** Runs a measure(), reading the server's CPU seconds once its warm-up is over and at the end: µs per measured request. */
async function cpuPerRequest(cpu, run, warmupS) {
  let c0 = cpu();
  const snap = setTimeout(() => (c0 = cpu()), warmupS * 1000);
  const result = await run();
  clearTimeout(snap);
  return { result, us: ((cpu() - c0) * 1e6) / result.total };
}

async function startBareFile(file) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bench/bare-file-server.mjs'), String(port), file], { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  const unregister = onCleanup(stop);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(url + '/');
  return {
    url,
    cpu: () => cpuSeconds(child.pid),
    async stop() {
      await stop();
      unregister();
    },
  };
}

export async function mediaSection(engine, { report, freshDatabase, startAxon, registerUser, settings, quick, nodeArgs }) {
  const db = await freshDatabase(engine);
  const server = await startAxon(db, { nodeArgs: nodeArgs(`media-${engine}`), bcryptRounds: 4, config: { max_upload_size: '200M', dynamic_thumbnails: true } });
  try {
    const { token } = await registerUser(server, 'mediabench');
    const download = (id) => `/_matrix/client/v1/media/download/localhost/${id}`;

    // 10 MB up and down, one at a time.
    const ten = randomBytes(10 * MB);
    const rounds = quick ? 3 : 8;
    let t0 = performance.now();
    let id10;
    for (let i = 0; i < rounds; i++) id10 = await upload(server, token, ten);
    const upMBs = (rounds * 10) / ((performance.now() - t0) / 1000);
    const agent = new Agent({ keepAlive: true });
    t0 = performance.now();
    for (let i = 0; i < rounds; i++) {
      const res = await send(server.url, 'GET', download(id10), { token, agent });
      if (res.status !== 200 || res.size !== ten.length) throw new Error(`download 10 MB: HTTP ${res.status}, ${res.size} bytes`);
    }
    const downMBs = (rounds * 10) / ((performance.now() - t0) / 1000);
    agent.destroy();
    report.writeFigure(engine, 'media: upload of a 10 MB file, one at a time', `${upMBs.toFixed(0)} MB/s`, 'figure only', true);
    report.writeFigure(engine, 'media: download of a 10 MB file, one at a time', `${downMBs.toFixed(0)} MB/s`, 'figure only', true);

    // 20 KB: Axon's authenticated download against a bare server streaming the same file.
    const small = randomBytes(20 * 1024);
    const id20 = await upload(server, token, small);
    const file = join(db.dir, 'bare-20k.bin');
    writeFileSync(file, small);
    const bare = await startBareFile(file);
    // The machine is shared: one run of each, minutes apart, compares two different machines.
    // Alternate bare and Axon rounds (both servers up) and compare medians; CPU seconds per request
    // of each server process (threads included) are steadier than req/s on a busy machine.
    const smallRounds = quick ? 1 : 3;
    const round = { ...settings, duration: quick ? settings.duration : Math.max(3, Math.round(settings.duration / 2)) };
    const bareRps = [];
    const axonRps = [];
    const bareCpu = [];
    const axonCpu = [];
    let a;
    for (let i = 0; i < smallRounds; i++) {
      const b = await cpuPerRequest(bare.cpu, () => measure(bare.url + '/', {}, round), round.warmup);
      bareRps.push(b.result.rps);
      bareCpu.push(b.us);
      const x = await cpuPerRequest(server.cpu, () => measure(server.url + download(id20), { token }, round), round.warmup);
      a = x.result;
      axonRps.push(a.rps);
      axonCpu.push(x.us);
    }
    await bare.stop();
    const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const ratio = med(axonRps) / med(bareRps);
    const range = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
    console.log(`  20 KB download over ${smallRounds} alternating rounds: Axon ${range(axonRps)} req/s (last p99 ${a.p99} ms), bare file server ${range(bareRps)} req/s`);
    report.writeFigure(
      engine,
      `media: download of a 20 KB file, median of ${smallRounds} rounds ${med(axonRps).toFixed(0)} req/s (${range(axonRps)}) vs bare node:http file server ${med(bareRps).toFixed(0)} req/s (${range(bareRps)}), alternating`,
      `${(ratio * 100).toFixed(1)}%`,
      '≥ 60%',
      ratio >= 0.6,
    );
    report.writeFigure(
      engine,
      `media: CPU per 20 KB download (median; whole server process, thread pool included), Axon vs bare node:http file server ${med(bareCpu).toFixed(0)} µs`,
      `${med(axonCpu).toFixed(0)} µs`,
      'figure only',
      true,
    );

    // RSS while 10 clients each upload 100 MB at once.
    const idle = server.rss();
    let peak = idle;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, server.rss());
      } catch {
        /* exited */
      }
    }, 100);
    const each = (quick ? 30 : 100) * MB;
    t0 = performance.now();
    const results = await Promise.all(Array.from({ length: 10 }, () => send(server.url, 'POST', '/_matrix/media/v3/upload', { token, body: generated(each), length: each })));
    const secs = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const bad = results.filter((r) => r.status !== 200);
    if (bad.length > 0) throw new Error(`concurrent uploads: ${bad.length} failed (HTTP ${bad[0].status} ${bad[0].text})`);
    report.writeFigure(engine, `media: peak RSS while 10 clients upload ${each / MB} MB each (${((10 * each) / MB / secs).toFixed(0)} MB/s together; idle ${idle.toFixed(0)} MB)`, `${peak.toFixed(0)} MB`, '< 200 MB', peak < 200);

    // Thumbnails per second from a 2,000×1,500 JPEG: distinct sizes, so each request makes one.
    const jpeg = await sharp({ create: { width: 2000, height: 1500, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg({ quality: 85 }).toBuffer();
    const idJ = await upload(server, token, jpeg, 'image/jpeg');
    const n = quick ? 8 : 24;
    const sizes = Array.from({ length: n }, (_, i) => [200 + i * 7, 150 + i * 5]);
    t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < sizes.length) {
        const [w, h] = sizes[next++];
        const res = await send(server.url, 'GET', `/_matrix/client/v1/media/thumbnail/localhost/${idJ}?width=${w}&height=${h}&method=${next % 2 ? 'scale' : 'crop'}`, { token });
        if (res.status !== 200) throw new Error(`thumbnail ${w}×${h}: HTTP ${res.status} ${res.text}`);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const tps = n / ((performance.now() - t0) / 1000);
    report.writeFigure(engine, `media: thumbnails made per second from a 2,000×1,500 JPEG (${n} distinct sizes, 4 clients)`, `${tps.toFixed(1)}/s`, 'figure only', true);
    report.memoryOf(engine, 'media run', idle, server.rss());
  } finally {
    await server.stop();
    await db.drop?.();
  }
}
