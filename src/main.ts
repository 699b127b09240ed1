import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { generateConfig } from './config/generate.js';
import { ConfigError, loadConfig, readConfigFiles } from './config/load.js';
import { readLogConfig } from './config/log-config.js';
import type { Config } from './config/schema.js';
import { createContext } from './context.js';
import { buildApp } from './http/build-app.js';
import { createLogger, flushLogs, reopenLogs } from './http/logging.js';
import { newSigningKeyLine } from './matrix/signing-key.js';
import { AXON_VERSION } from './version.js';

const USAGE = `usage: axon [-h] [-c CONFIG_FILE] [--generate-config] [--generate-keys]
            [--report-stats {yes,no}] [-H SERVER_NAME] [--data-directory DIRECTORY]
            [--keys-directory DIRECTORY]`;

const NO_CONFIG = 'Must supply a config file.\nA config file can be automatically generated using "--generate-config -H SERVER_NAME -c CONFIG-FILE"';

/** Exit status of a start-up failure: 1 for configuration errors, 2 for bad flags (argparse). */
class StartupError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

/**
 * Synapse's `find_config_files`: a `-c` path that is a directory stands for the `*.yaml` files in
 * it (not dot-files), in name order.
 */
export function findConfigFiles(paths: string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      isDir = false; // a missing file is reported when it is read
    }
    if (!isDir) files.push(p);
    else files.push(...readdirSync(p).filter((f) => !f.startsWith('.') && f.endsWith('.yaml')).sort().map((f) => join(p, f)));
  }
  return files;
}

/** The `axon` command: Synapse's start-up flags (`python -m synapse.app.homeserver`). */
export async function runAxon(argv: string[]): Promise<void> {
  try {
    await start(argv);
  } catch (e) {
    if (!(e instanceof StartupError)) throw e;
    console.error(e.message);
    process.exit(e.code);
  }
}

async function start(argv: string[]): Promise<void> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        'config-path': { type: 'string', short: 'c', multiple: true },
        'generate-config': { type: 'boolean' },
        'generate-keys': { type: 'boolean' },
        'server-name': { type: 'string', short: 'H' },
        'report-stats': { type: 'string' },
        'data-directory': { type: 'string' },
        'keys-directory': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new StartupError(`${USAGE}\naxon: error: ${(e as Error).message}`, 2);
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const reportStats = args['report-stats'];
  if (reportStats !== undefined && !['yes', 'no'].includes(reportStats)) {
    throw new StartupError(`${USAGE}\naxon: error: argument --report-stats: invalid choice: '${reportStats}' (choose from 'yes', 'no')`, 2);
  }
  const explicitPaths = args['config-path'] ?? [];

  if (args['generate-config']) {
    if (reportStats === undefined) throw new StartupError(`${USAGE}\naxon: error: Please specify either --report-stats=yes or --report-stats=no`, 2);
    if (explicitPaths.length === 0) throw new StartupError(NO_CONFIG);
    const path = explicitPaths[explicitPaths.length - 1]!;
    if (existsSync(path)) {
      // As Synapse: keep the file, but create the signing key it names if that is missing.
      console.log(`Config file '${path}' already exists. Generating any missing config files.`);
      generateMissingFiles(explicitPaths);
      return;
    }
    if (!args['server-name']) throw new StartupError('Must specify a server_name to a generate config for.');
    console.log(`Generating config file ${path}`);
    const out = generateConfig({
      configPath: path,
      serverName: args['server-name'],
      reportStats: reportStats === 'yes',
      dataDirectory: args['data-directory'],
      keysDirectory: args['keys-directory'],
    });
    console.log(`A config file has been generated in '${out.configPath}' for server name '${args['server-name']}'. Please review this file and customise it to your needs.`);
    return;
  }

  // Until the config is read, log to stdout; then as its `log_config` says.
  let log = createLogger();
  const configPaths = explicitPaths.length > 0 ? explicitPaths : ['homeserver.yaml'];
  if (explicitPaths.length === 0 && !existsSync(configPaths[0]!)) {
    // Convenience over Synapse (which refuses to start): `npm start` works on a fresh checkout.
    const out = generateConfig({
      configPath: configPaths[0]!,
      serverName: args['server-name'] ?? 'localhost',
      reportStats: reportStats === 'yes',
      dataDirectory: args['data-directory'],
      keysDirectory: args['keys-directory'],
    });
    log.info(`No config found: generated ${out.configPath} (server_name ${args['server-name'] ?? 'localhost'}, SQLite under ./data).`);
  }
  const configFiles = findConfigFiles(configPaths);
  if (configFiles.length === 0) throw new StartupError(NO_CONFIG);

  let loaded;
  try {
    loaded = loadConfig(configFiles);
  } catch (e) {
    if (e instanceof ConfigError) throw new StartupError(e.message);
    throw e;
  }
  const { config, ignoredKeys } = loaded;
  if (config.logConfig) {
    try {
      const settings = readLogConfig(config.logConfig);
      flushLogs(log);
      log = createLogger({ settings });
    } catch (e) {
      if (e instanceof ConfigError) throw new StartupError(e.message);
      throw e;
    }
  }
  if (ignoredKeys.length > 0) log.warn(`Ignoring config keys Axon does not use: ${ignoredKeys.join(', ')}`);
  if (args['generate-keys']) {
    generateMissingFiles(configFiles, config);
    return;
  }

  let ctx;
  try {
    ctx = await createContext(config, { log });
  } catch (e) {
    throw new StartupError(`Axon could not start: ${(e as Error).message}`);
  }
  const closers: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await ctx.close().catch(() => {});
    flushLogs(log);
  };
  try {
    await listen(config, ctx, log, closers);
  } catch (e) {
    await stop();
    throw e;
  }
  log.info(`Axon ${AXON_VERSION} started for ${config.serverName} (database: ${config.database.kind}).`);
  for (const line of adminHints(config, configFiles)) log.info(line);

  const shutdown = async () => {
    await stop();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  // As Synapse on SIGHUP: reopen the log files (after logrotate has moved them).
  process.on('SIGHUP', () => {
    reopenLogs(log);
    log.info('Received SIGHUP: log files reopened');
  });
}

async function listen(config: Config, ctx: Awaited<ReturnType<typeof createContext>>, log: Logger, closers: Array<() => Promise<unknown>>) {
  for (const listener of config.listeners) {
    if (listener.type !== 'http') {
      log.warn(`Ignoring listener on port ${listener.port}: type '${listener.type}' is not supported`);
      continue;
    }
    if (listener.tls) log.warn(`Listener on port ${listener.port}: tls is not supported; serving plain HTTP (put a reverse proxy in front)`);
    const app = buildApp(ctx, {
      resources: listener.resources,
      xForwarded: listener.xForwarded,
      port: listener.port,
      adminListener: config.listeners.some((l) => l.resources.includes('admin')),
    });
    await app.ready();
    closers.push(() => app.close());
    let bound = 0;
    const failures: string[] = [];
    for (const host of listener.bindAddresses) {
      // One Fastify app per listener; each bind address gets a plain http.Server routed into it.
      const server = createServer((req, res) => app.routing(req, res));
      try {
        await new Promise<void>((ok, ko) => {
          server.once('error', ko);
          server.listen({ port: listener.port, host, ipv6Only: host.includes(':') }, () => ok());
        });
        bound++;
        closers.push(() => new Promise((ok) => server.close(ok)));
        log.info(`Listening on http://${host.includes(':') ? `[${host}]` : host}:${listener.port} (${listener.resources.join(', ')})`);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // A missing address family (no IPv6, say) is survivable if another address bound, as in
        // Synapse; a port in use or a forbidden port is not.
        if (code === 'EADDRINUSE' || code === 'EACCES') throw new StartupError(`Failed to listen on ${host} port ${listener.port}: ${(e as Error).message}`);
        failures.push(`${host}: ${(e as Error).message}`);
        log.warn(`Could not listen on ${host}:${listener.port}: ${(e as Error).message}`);
      }
    }
    if (bound === 0 && listener.bindAddresses.length > 0) throw new StartupError(`Failed to listen on port ${listener.port}: ${failures.join('; ')}`);
  }
}

/** Creates the signing key a config names when it does not exist (Synapse's --generate-keys). */
function generateMissingFiles(configFiles: string[], config?: Config): void {
  let keyPath: string | undefined = config?.signingKeyPath;
  if (!keyPath) {
    const raw = readConfigFiles(findConfigFiles(configFiles));
    if (typeof raw.signing_key_path === 'string') keyPath = resolve(raw.signing_key_path);
    else if (typeof raw.server_name === 'string') keyPath = resolve(`${raw.server_name}.signing.key`);
  }
  if (keyPath && !existsSync(keyPath)) {
    console.log(`Generating signing key file ${keyPath}`);
    writeFileSync(keyPath, newSigningKeyLine(), { mode: 0o600 });
  }
}

/** Where this checkout's `register_new_matrix_user` lives (from dist/axon.mjs, src/main.ts or dist/src/main.js). */
function registerCommand(): string {
  for (const rel of ['../bin/register_new_matrix_user', '../../bin/register_new_matrix_user']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return 'register_new_matrix_user';
}

/** The first log lines: how the operator creates the first admin, with commands that work as printed. */
export function adminHints(config: Config, configFiles: string[]): string[] {
  const lines: string[] = [];
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  if (config.registrationSharedSecret) {
    // The script looks for the first plain-HTTP listener serving `client`; name the URL when it would not find one.
    const cliListener = config.listeners.find((l) => l.type === 'http' && !l.tls && l.resources.includes('client'));
    const served = config.listeners.find((l) => l.type === 'http' && l.resources.includes('client'));
    // Shared-secret registration is an admin path: with an `admin` listener, only that port serves it.
    const admin = config.listeners.find((l) => l.type === 'http' && l.resources.includes('admin'));
    const url = admin ? ` http://localhost:${admin.port}` : !cliListener && served ? ` http://localhost:${served.port}` : '';
    const cfg = configFiles.map((f) => `-c ${quote(resolve(f))}`).join(' ');
    lines.push(`To create an admin, run: ${quote(registerCommand())} ${cfg} -u <name> -a${url}`);
  } else {
    lines.push('Shared-secret registration is off: set registration_shared_secret in the config and restart to use register_new_matrix_user.');
  }
  const sql = `UPDATE users SET admin = 1 WHERE name = '@<name>:${config.serverName}';`;
  const db = config.database;
  // eslint-disable-next-line no-restricted-syntax -- names the operator's SQL shell, no SQL differs
  const client = db.kind === 'sqlite' ? `sqlite3 ${quote(db.path)}` : `psql ${quote(db.database ?? db.user ?? 'postgres')}`;
  lines.push(`Or make an existing user an admin in the database (${client}): ${sql}`);
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runAxon(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
