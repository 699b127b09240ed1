import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from './load.js';
import { parseYaml11 } from './yaml.js';

/**
 * Synapse's `log_config`: a Python `logging.config.dictConfig` file in YAML. Axon honours the
 * parts an operator's Synapse file relies on: the handlers the root logger names (files and the
 * console, memory buffers followed to their target), each handler's level, the root level and the
 * per-logger levels. Rotation settings are accepted but not acted on (rotate with logrotate and
 * send SIGHUP, which reopens the files).
 */

/** pino's level names, which Python's map onto. */
export type LevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LogSink {
  /** A file path, or `stdout` / `stderr` for a StreamHandler. */
  target: string;
  kind: 'file' | 'stream';
  level: LevelName;
  /** JSON lines (a `*JsonFormatter` formatter) or Synapse-like text. */
  format: 'json' | 'text';
}

export interface LogSettings {
  sinks: LogSink[];
  rootLevel: LevelName;
  /** Levels by logger name (`synapse.access.http.8008`, `synapse`, ...). */
  loggers: Record<string, LevelName>;
  /** Problems that do not stop start-up (unknown handler classes, ...), logged once the logger exists. */
  warnings: string[];
}

const FILE_CLASSES = new Set([
  'logging.FileHandler',
  'logging.handlers.RotatingFileHandler',
  'logging.handlers.TimedRotatingFileHandler',
  'logging.handlers.WatchedFileHandler',
]);
const BUFFER_CLASSES = new Set(['logging.handlers.MemoryHandler', 'synapse.logging.handlers.PeriodicallyFlushingMemoryHandler']);

const PY_LEVELS: Record<string, LevelName> = {
  NOTSET: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  WARNING: 'warn',
  ERROR: 'error',
  CRITICAL: 'fatal',
  FATAL: 'fatal',
};

/** A Python level (name or number) as a pino level; undefined when absent. */
export function pythonLevel(value: unknown, where: string): LevelName | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') {
    if (value <= 0) return 'trace';
    if (value <= 10) return 'debug';
    if (value <= 20) return 'info';
    if (value <= 30) return 'warn';
    if (value <= 40) return 'error';
    return 'fatal';
  }
  const level = typeof value === 'string' ? PY_LEVELS[value.toUpperCase()] : undefined;
  if (!level) throw new ConfigError(`Invalid log config: '${where}': unknown level ${JSON.stringify(value)}`);
  return level;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads and interprets the log config file at `path` (already absolute). */
export function readLogConfig(path: string): LogSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`Invalid config: 'log_config': cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml11(text);
  } catch (e) {
    throw new ConfigError(`Invalid log config ${path}: not valid YAML: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw new ConfigError(`Invalid log config ${path}: expected a mapping at the top level`);
  return interpretLogConfig(doc, dirname(path));
}

export function interpretLogConfig(doc: Record<string, unknown>, baseDir: string): LogSettings {
  const warnings: string[] = [];
  const handlers = isObject(doc.handlers) ? doc.handlers : {};
  const formatters = isObject(doc.formatters) ? doc.formatters : {};
  const root = isObject(doc.root) ? doc.root : {};
  const rootLevel = pythonLevel(root.level, 'root/level') ?? 'warn'; // Python's root default is WARNING

  const loggers: Record<string, LevelName> = {};
  for (const [name, spec] of Object.entries(isObject(doc.loggers) ? doc.loggers : {})) {
    const level = isObject(spec) ? pythonLevel(spec.level, `loggers/${name}/level`) : undefined;
    if (level) loggers[name] = level;
  }

  const formatOf = (h: Record<string, unknown>): 'json' | 'text' => {
    const f = typeof h.formatter === 'string' ? formatters[h.formatter] : undefined;
    const cls = isObject(f) ? (f.class ?? f['()']) : undefined;
    return typeof cls === 'string' && /JsonFormatter$/.test(cls) ? 'json' : 'text';
  };

  const sinks: LogSink[] = [];
  const seen = new Set<string>();
  // Follows memory handlers to their target; the most restrictive level on the way applies.
  const add = (name: string, levels: LevelName[], depth = 0): void => {
    const h = handlers[name];
    if (!isObject(h)) {
      warnings.push(`log_config: root handler '${name}' is not defined; ignored`);
      return;
    }
    const level = pythonLevel(h.level, `handlers/${name}/level`);
    const chain = level ? [...levels, level] : levels;
    const cls = typeof h.class === 'string' ? h.class : '';
    if (BUFFER_CLASSES.has(cls)) {
      if (typeof h.target === 'string' && depth < 5) add(h.target, chain, depth + 1);
      else warnings.push(`log_config: handler '${name}' (${cls}) has no usable target; ignored`);
      return;
    }
    let sink: Omit<LogSink, 'level'>;
    if (FILE_CLASSES.has(cls)) {
      if (typeof h.filename !== 'string' || h.filename === '') {
        warnings.push(`log_config: handler '${name}' (${cls}) has no filename; ignored`);
        return;
      }
      sink = { kind: 'file', target: resolve(baseDir, h.filename), format: formatOf(h) };
    } else if (cls === 'logging.StreamHandler') {
      // Python's StreamHandler writes to stderr unless given `stream: ext://sys.stdout`.
      sink = { kind: 'stream', target: h.stream === 'ext://sys.stdout' ? 'stdout' : 'stderr', format: formatOf(h) };
    } else {
      warnings.push(`log_config: handler '${name}' has class '${cls || '(none)'}', which Axon does not support; ignored`);
      return;
    }
    const key = `${sink.kind}:${sink.target}`;
    if (seen.has(key)) return;
    seen.add(key);
    sinks.push({ ...sink, level: strictest(chain) });
  };
  const rootHandlers = Array.isArray(root.handlers) ? root.handlers : [];
  for (const name of rootHandlers) if (typeof name === 'string') add(name, []);
  if (sinks.length === 0) warnings.push('log_config: the root logger has no usable handler; nothing will be logged');
  return { sinks, rootLevel, loggers, warnings };
}

const ORDER: LevelName[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const strictest = (levels: LevelName[]): LevelName => levels.reduce<LevelName>((a, b) => (ORDER.indexOf(b) > ORDER.indexOf(a) ? b : a), 'trace');

/** The level for a logger name: its own entry, else its nearest dotted parent's, else the root's. */
export function levelFor(settings: Pick<LogSettings, 'loggers' | 'rootLevel'>, name: string): LevelName {
  for (let n = name; n; n = n.includes('.') ? n.slice(0, n.lastIndexOf('.')) : '') {
    const l = settings.loggers[n];
    if (l) return l;
  }
  return settings.rootLevel;
}
