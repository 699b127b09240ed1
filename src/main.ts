import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { generateConfig } from './config/generate.js';
import { ConfigError, loadConfig } from './config/load.js';
import { createContext } from './context.js';
import { buildApp } from './http/build-app.js';
import { AXON_VERSION } from './version.js';

const USAGE = `usage: axon [-c CONFIG_PATH ...] [--generate-config -H SERVER_NAME --report-stats yes|no]
            [--data-directory DIR] [--keys-directory DIR]`;

/** The `axon` command: Synapse's start-up flags (`python -m synapse.app.homeserver`). */
export async function runAxon(argv: string[]): Promise<void> {
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
    console.error(`${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const reportStats = args['report-stats'];
  if (reportStats !== undefined && !['yes', 'no'].includes(reportStats)) {
    console.error(`--report-stats must be yes or no\n${USAGE}`);
    process.exit(2);
  }
  const explicitPaths = args['config-path'] ?? [];
  const configPaths = explicitPaths.length > 0 ? explicitPaths : ['homeserver.yaml'];

  if (args['generate-config']) {
    if (explicitPaths.length === 0) return fail('Must supply a config file.\nA config file can be automatically generated using "--generate-config -H SERVER_NAME -c CONFIG-FILE"');
    if (!args['server-name']) return fail('Must specify a server_name to a generate config for.');
    if (reportStats === undefined) return fail("Please specify either --report-stats=yes or --report-stats=no");
    const path = explicitPaths[explicitPaths.length - 1]!;
    if (existsSync(path)) {
      console.log(`Config file '${path}' already exists. Not overwriting it.`);
      return;
    }
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

  const log = pino({ level: process.env.AXON_LOG_LEVEL ?? 'info' });
  if (explicitPaths.length === 0 && !existsSync(configPaths[0]!)) {
    const out = generateConfig({
      configPath: configPaths[0]!,
      serverName: args['server-name'] ?? 'localhost',
      reportStats: reportStats === 'yes',
      dataDirectory: args['data-directory'],
      keysDirectory: args['keys-directory'],
    });
    log.info(`No config found: generated ${out.configPath} (server_name ${args['server-name'] ?? 'localhost'}, SQLite under ./data).`);
  }

  let loaded;
  try {
    loaded = loadConfig(configPaths);
  } catch (e) {
    if (e instanceof ConfigError) return fail(e.message);
    throw e;
  }
  const { config, ignoredKeys } = loaded;
  if (ignoredKeys.length > 0) log.info(`Ignoring config keys Axon does not use: ${ignoredKeys.join(', ')}`);

  const ctx = await createContext(config, { log });
  const closers: Array<() => Promise<unknown>> = [];
  for (const listener of config.listeners) {
    if (listener.type !== 'http') {
      log.warn(`Ignoring listener on port ${listener.port}: type '${listener.type}' is not supported`);
      continue;
    }
    if (listener.tls) log.warn(`Listener on port ${listener.port}: tls is not supported; serving plain HTTP (put a reverse proxy in front)`);
    const app = buildApp(ctx, { resources: listener.resources });
    await app.ready();
    closers.push(() => app.close());
    for (const host of listener.bindAddresses) {
      // One Fastify app per listener; each bind address gets a plain http.Server routed into it.
      const server = createServer((req, res) => app.routing(req, res));
      try {
        await new Promise<void>((ok, ko) => {
          server.once('error', ko);
          server.listen({ port: listener.port, host, ipv6Only: host.includes(':') }, () => ok());
        });
        closers.push(() => new Promise((ok) => server.close(ok)));
        log.info(`Listening on http://${host.includes(':') ? `[${host}]` : host}:${listener.port} (${listener.resources.join(', ')})`);
      } catch (e) {
        log.warn(`Could not listen on ${host}:${listener.port}: ${(e as Error).message}`);
      }
    }
  }
  log.info(`Axon ${AXON_VERSION} started for ${config.serverName} (database: ${config.database.kind}).`);
  const configArg = configPaths.map((p) => `-c ${p}`).join(' ');
  log.info(`Create an admin with: register_new_matrix_user ${configArg} -u <name> -a   (or npx register_new_matrix_user ...)`);
  log.info(`or make an existing user admin in the database: UPDATE users SET admin = 1 WHERE name = '@<name>:${config.serverName}';`);

  const stop = async () => {
    for (const c of closers) await c().catch(() => {});
    await ctx.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runAxon(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
