import type { FastifyReply, FastifyRequest } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';
import { levelFor, type LevelName, type LogSettings } from '../config/log-config.js';

/**
 * Axon's logs: one pino logger whose lines go to stdout (text on a terminal, JSON lines otherwise)
 * or to the sinks of Synapse's `log_config`. Writes are asynchronous and batched: lines collect
 * up to BUFFER_BYTES or FLUSH_MS before one write, and WARNING or worse goes out at once, as
 * Synapse's default PeriodicallyFlushingMemoryHandler does. A write per line (a thread-pool
 * round trip each) cost the hot path about a sixth of its throughput; batching makes the access
 * line cost little more than its serialisation.
 */

// Below sonic-boom's maxWrite (16 KiB), which it requires.
const BUFFER_BYTES = 8 * 1024;
const FLUSH_MS = 200;

interface Destination extends DestinationStream {
  flushSync(): void;
  reopen?(): void;
}

interface LoggerState {
  /** The unnamed logger every named one is a child of (pino would repeat a `name` set twice). */
  root: Logger;
  settings: Pick<LogSettings, 'loggers' | 'rootLevel'>;
  destinations: Destination[];
}

const states = new WeakMap<Logger, LoggerState>();

const LEVEL_LABELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARNING', 50: 'ERROR', 60: 'CRITICAL' };
// Fields the text layout places itself; any other field is appended as key=value.
const LAYOUT_FIELDS = new Set(['level', 'time', 'name', 'reqId', 'msg', 'err', 'pid', 'hostname']);

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Python's `asctime` (local time, `2024-01-31 13:45:01,123`). */
function asctime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())},${pad(d.getMilliseconds(), 3)}`;
}

/**
 * One JSON line from pino as Synapse's `precise` text layout:
 * `time - name - LEVEL - request - message key=value ...`, then the error's stack, if any.
 */
export function formatText(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  let out = `${asctime(typeof o.time === 'number' ? o.time : Date.now())} - ${typeof o.name === 'string' ? o.name : 'axon'} - ${LEVEL_LABELS[o.level as number] ?? String(o.level)} - ${typeof o.reqId === 'string' ? o.reqId : '-'} - ${typeof o.msg === 'string' ? o.msg : ''}`;
  for (const [k, v] of Object.entries(o)) {
    if (LAYOUT_FIELDS.has(k) || v === undefined || v === null) continue;
    out += ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
  }
  const err = o.err as { stack?: unknown; message?: unknown } | undefined;
  if (err) out += `\n${typeof err.stack === 'string' ? err.stack : String(err.message)}`.replace(/\n/g, '\n    ');
  return `${out}\n`;
}

const toText = (line: string) => formatText(line.endsWith('\n') ? line.slice(0, -1) : line);

/**
 * Every destination's timer hook. A destination written to in the last few ticks is flushed on
 * each (a flush while a write or the file's opening is in flight does nothing, so one is not enough).
 */
const tickers = new Set<() => void>();
let flushTimer: NodeJS.Timeout | undefined;

/**
 * A buffered file or fd destination; `text` rewrites pino's JSON lines in the text layout. pino
 * registers the underlying sonic-boom to be flushed synchronously at process exit.
 */
function destination(target: string | number, text: boolean): Destination {
  const raw = pino.destination({ dest: target, sync: false, minLength: BUFFER_BYTES, mkdir: true });
  const flush = () => {
    try {
      raw.flush();
    } catch {
      // Destroyed (a closed pipe): nothing more can be written there.
    }
  };
  let idleTicks = Infinity;
  tickers.add(() => {
    if (idleTicks++ < 5) flush();
  });
  flushTimer ??= setInterval(() => {
    for (const tick of tickers) tick();
  }, FLUSH_MS).unref();
  return {
    write(line: string) {
      raw.write(text ? toText(line) : line);
      idleTicks = 0;
      // pino's lines start with `{"level":NN`: 40 and above (warn, error, fatal) are flushed at once.
      if (line.charCodeAt(9) >= 52) flush();
    },
    flushSync: () => raw.flushSync(),
    reopen: () => raw.reopen(),
  };
}

export interface LoggerOptions {
  /** The interpreted `log_config`; without it, logs go to stdout. */
  settings?: LogSettings;
  /** Level without a log_config (default `info`, or AXON_LOG_LEVEL). */
  level?: string;
  /** Whether stdout is a terminal (default: process.stdout.isTTY). */
  tty?: boolean;
}

/** The process logger. Its warnings about the log config are logged through it at once. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const destinations: Destination[] = [];
  const streams: pino.StreamEntry[] = [];
  let rootLevel: LevelName;
  let settings: LoggerState['settings'];
  if (!opts.settings) {
    rootLevel = (opts.level ?? process.env.AXON_LOG_LEVEL ?? 'info') as LevelName;
    settings = { loggers: {}, rootLevel };
    const d = destination(1, opts.tty ?? process.stdout.isTTY === true);
    destinations.push(d);
    streams.push({ level: 'trace', stream: d });
  } else {
    settings = opts.settings;
    rootLevel = opts.settings.rootLevel;
    for (const sink of opts.settings.sinks) {
      const d = destination(sink.kind === 'file' ? sink.target : sink.target === 'stdout' ? 1 : 2, sink.format === 'text');
      destinations.push(d);
      streams.push({ level: sink.level, stream: d });
    }
  }
  // The logger's own level must let through the most verbose logger the config names; per-name
  // levels are applied by loggerFor(), per-sink levels by the multistream.
  const levels = [rootLevel, ...Object.values(settings.loggers)];
  const minimum = levels.reduce((a, b) => (pino.levels.values[b]! < pino.levels.values[a]! ? b : a));
  const root = pino(
    { level: minimum, base: null },
    streams.length === 1 ? streams[0]!.stream : pino.multistream(streams.length > 0 ? streams : [{ level: 'fatal', stream: { write() {} } }]),
  );
  const log = root.child({ name: 'axon' }, { level: levelFor(settings, 'axon') });
  states.set(log, { root, settings, destinations });
  for (const w of opts.settings?.warnings ?? []) log.warn(w);
  return log;
}

/** A child logger named `name`, at the level the log config gives that name. */
export function loggerFor(log: Logger, name: string): Logger {
  const state = states.get(log);
  return state ? state.root.child({ name }, { level: levelFor(state.settings, name) }) : log.child({ name });
}

/** Writes out whatever is buffered (before exit). */
export function flushLogs(log: Logger): void {
  for (const d of states.get(log)?.destinations ?? []) {
    try {
      d.flushSync();
    } catch {
      // A destination not yet open has nothing to flush.
    }
  }
}

/** Reopens log files (after logrotate moved them; on SIGHUP as Synapse re-reads its log config). */
export function reopenLogs(log: Logger): void {
  for (const d of states.get(log)?.destinations ?? []) d.reopen?.();
}

/**
 * A URL fit for a log: the value of any `access_token` query parameter replaced, however its name
 * is percent-encoded (the query parser decodes names, so `access%5Ftoken` also authenticates).
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url.slice(q + 1);
  if (!query.includes('access_token') && !query.includes('%')) return url;
  const parts = query.split('&');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const eq = p.indexOf('=');
    const rawKey = eq < 0 ? p : p.slice(0, eq);
    let key = rawKey;
    try {
      key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
    } catch {
      // An undecodable name is not access_token to the query parser either.
    }
    if (key === 'access_token') parts[i] = `${rawKey}=<redacted>`;
  }
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

/** Who made the request, for logs: the user, or the admin acting as them. */
export function requesterLabel(req: FastifyRequest): string | null {
  const r = req.requester;
  if (!r) return null;
  return r.authenticatedBy && r.authenticatedBy !== r.userId ? `${r.userId} (as ${r.authenticatedBy})` : r.userId;
}

let sequence = 0;
/** Request ids as Synapse prints them: `GET-17`. */
export const nextRequestId = (raw: { method?: string }): string => `${raw.method ?? 'REQ'}-${++sequence}`;

/**
 * The access log: one line per request once the response is sent, as Synapse's "Processed
 * request" line (client IP, requester, time, status, method and path with the token redacted).
 */
export function accessLogHook(log: Logger) {
  const enabled = log.isLevelEnabled('info');
  return function accessLog(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
    if (enabled) {
      log.info(
        {
          reqId: req.id,
          ip: req.ip,
          requester: requesterLabel(req),
          method: req.method,
          path: redactUrl(req.url),
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
        },
        'Processed request',
      );
    }
    done();
  };
}
