import type { FastifyReply, FastifyRequest } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';
import { levelFor, type LevelName, type LogSettings } from '../config/log-config.js';

/**
 * Axon's logs: one pino logger whose lines go to stdout (text on a terminal, JSON lines otherwise)
 * or to the sinks of Synapse's `log_config`. Writes are asynchronous (sonic-boom buffers while a
 * write is in flight), so the access line costs the request little more than its serialisation.
 */

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

/** A destination that rewrites pino's JSON lines as text before writing them. */
function textDestination(inner: Destination): Destination {
  return {
    write: (line: string) => inner.write(formatText(line.endsWith('\n') ? line.slice(0, -1) : line)),
    flushSync: () => inner.flushSync(),
    reopen: inner.reopen ? () => inner.reopen!() : undefined,
  };
}

function fileDestination(target: string | number): Destination {
  const d = pino.destination({ dest: target, sync: false, mkdir: true });
  return d as unknown as Destination;
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
    const out = fileDestination(1);
    const tty = opts.tty ?? process.stdout.isTTY === true;
    const d = tty ? textDestination(out) : out;
    destinations.push(d);
    streams.push({ level: 'trace', stream: d });
  } else {
    settings = opts.settings;
    rootLevel = opts.settings.rootLevel;
    for (const sink of opts.settings.sinks) {
      const raw = fileDestination(sink.kind === 'file' ? sink.target : sink.target === 'stdout' ? 1 : 2);
      const d = sink.format === 'text' ? textDestination(raw) : raw;
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
