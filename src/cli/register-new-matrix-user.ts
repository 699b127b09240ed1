import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { createInterface, type Interface } from 'node:readline';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { parseYaml11 } from '../config/yaml.js';
import { registrationMac } from '../matrix/registration-mac.js';

/**
 * `register_new_matrix_user`: a drop-in for Synapse's script of that name (catalogue §18). It only
 * speaks HTTP to the shared-secret registration endpoint (§4), so it works against any Axon or
 * Synapse whose client listener it can reach. Flags, prompts, messages and exit codes follow
 * Synapse's script (argparse errors exit 2, every other failure exits 1).
 */

const PROG = 'register_new_matrix_user';
const DEFAULT_SERVER_URL = 'http://localhost:8008';

const USAGE = `usage: ${PROG} [-h] [-u USER] [--exists-ok] [-p PASSWORD | --password-file PASSWORD_FILE]
                                [-t USER_TYPE] [-a | --no-admin]
                                (-c CONFIG | -k SHARED_SECRET) [server_url]`;

const HELP = `${USAGE}

Used to register new users with a given homeserver when registration has been disabled. The
homeserver must be configured with the 'registration_shared_secret' option set.

positional arguments:
  server_url            URL to use to talk to the homeserver. By default, tries to find a suitable
                        URL from the configuration file. Otherwise, defaults to '${DEFAULT_SERVER_URL}'.

options:
  -h, --help            show this help message and exit
  -u USER, --user USER  Local part of the new user. Will prompt if omitted.
  --exists-ok           Do not fail if user already exists.
  -p PASSWORD, --password PASSWORD
                        New password for user. Will prompt for a password if this flag and
                        \`--password-file\` are both omitted.
  --password-file PASSWORD_FILE
                        File containing the new password for user. If set, will override
                        \`--password\`.
  -t USER_TYPE, --user_type USER_TYPE
                        User type as specified in synapse.api.constants.UserTypes
  -a, --admin           Register new user as an admin. Will prompt if --no-admin is not set either.
  --no-admin            Register new user as a regular user. Will prompt if --admin is not set
                        either.
  -c CONFIG, --config CONFIG
                        Path to server config file. Used to read in shared secret.
  -k SHARED_SECRET, --shared-secret SHARED_SECRET
                        Shared secret as defined in server config file.
`;

const NO_SECRET = "No 'registration_shared_secret' or 'registration_shared_secret_path' defined in config.\n";
const CONFLICTING_SECRET =
  "Conflicting options 'registration_shared_secret' and 'registration_shared_secret_path'\nare both defined in config file.\n";

/** Where the command reads and writes; injectable so the logic can run in-process. */
export interface CliIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Ends the command with an exit status (thrown so helpers can stop the flow anywhere). */
class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

// argparse's display names, used in its "not allowed with" messages.
const DISPLAY: Record<string, string> = {
  password: '-p/--password',
  'password-file': '--password-file',
  admin: '-a/--admin',
  'no-admin': '--no-admin',
  config: '-c/--config',
  'shared-secret': '-k/--shared-secret',
};

/** Runs the command and resolves to its exit status. */
export async function registerNewMatrixUser(argv: string[], io: CliIo = process): Promise<number> {
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const err = (line: string) => io.stderr.write(`${line}\n`);
  const usageError = (message: string): never => {
    err(USAGE);
    err(`${PROG}: error: ${message}`);
    throw new Exit(2);
  };
  try {
    // ---- arguments (argparse semantics: mutually exclusive groups, exactly one of -c/-k) ----
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: {
          user: { type: 'string', short: 'u' },
          'exists-ok': { type: 'boolean' },
          password: { type: 'string', short: 'p' },
          'password-file': { type: 'string' },
          user_type: { type: 'string', short: 't' },
          admin: { type: 'boolean', short: 'a' },
          'no-admin': { type: 'boolean' },
          config: { type: 'string', short: 'c', multiple: true },
          'shared-secret': { type: 'string', short: 'k' },
          help: { type: 'boolean', short: 'h' },
        },
        allowPositionals: true,
        strict: true,
        tokens: true,
      });
    } catch (e) {
      return usageError((e as Error).message);
    }
    const { values: args, positionals, tokens } = parsed;
    if (args.help) {
      io.stdout.write(HELP);
      return 0;
    }
    // Which of two exclusive options came second decides argparse's wording.
    const firstIndex = (name: string) => tokens.findIndex((t) => t.kind === 'option' && t.name === name);
    const exclusive = (a: string, b: string) => {
      const ia = firstIndex(a);
      const ib = firstIndex(b);
      if (ia < 0 || ib < 0) return;
      const [first, second] = ia < ib ? [a, b] : [b, a];
      usageError(`argument ${DISPLAY[second]}: not allowed with argument ${DISPLAY[first]}`);
    };
    exclusive('password', 'password-file');
    exclusive('admin', 'no-admin');
    exclusive('config', 'shared-secret');
    if (args.config === undefined && args['shared-secret'] === undefined) {
      usageError('one of the arguments -c/--config -k/--shared-secret is required');
    }
    if (positionals.length > 1) usageError(`unrecognized arguments: ${positionals.slice(1).join(' ')}`);

    // ---- configuration files: shallow merge, later top-level keys win ----
    let config: Record<string, unknown> | null = null;
    if (args.config) {
      config = {};
      for (const path of args.config) {
        let text: string;
        try {
          text = readFileSync(path, 'utf8');
        } catch (e) {
          return usageError(`argument -c/--config: can't open '${path}': ${osError(e, path)}`);
        }
        let doc: unknown;
        try {
          doc = parseYaml11(text);
        } catch (e) {
          err(`Error reading ${path}: ${(e as Error).message}`);
          throw new Exit(1);
        }
        if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
          out(`File '${path}' is empty or doesn't parse into a key-value map. IGNORING.`);
          continue;
        }
        Object.assign(config, doc);
      }
    }

    // ---- the shared secret ----
    let secret: string;
    if (args['shared-secret'] !== undefined) {
      secret = args['shared-secret'];
    } else {
      const cfg = config ?? {};
      const inline = cfg.registration_shared_secret;
      const path = cfg.registration_shared_secret_path;
      if (inline !== undefined && inline !== null && typeof inline !== 'string') {
        err('registration_shared_secret setting is not a string');
        throw new Exit(1);
      }
      let value = inline ?? '';
      if (path) {
        if (value) {
          err(CONFLICTING_SECRET);
          throw new Exit(1);
        }
        value = readTextFile(path, 'registration_shared_secret_path', err).trim();
      }
      if (!value) {
        err(NO_SECRET);
        throw new Exit(1);
      }
      secret = value;
    }

    let password = args['password-file'] !== undefined ? readTextFile(args['password-file'], 'password-file', err).trim() : args.password;

    // ---- server URL: explicit, else the config's first plain-HTTP client listener ----
    let serverUrl: string;
    if (positionals[0]) {
      serverUrl = positionals[0];
    } else if (config) {
      const found = findClientListener(config);
      if (found) serverUrl = found;
      else {
        serverUrl = DEFAULT_SERVER_URL;
        err(`Unable to find a suitable HTTP listener in the configuration file. Trying ${serverUrl} as a last resort.`);
      }
    } else {
      serverUrl = DEFAULT_SERVER_URL;
      err(`No server url or configuration file given. Defaulting to ${serverUrl}.`);
    }

    let admin: boolean | null = args.admin || args['no-admin'] ? Boolean(args.admin) : null;
    let user = args.user ?? '';

    // ---- prompts for whatever is missing (only on a terminal) ----
    const missing: string[] = [];
    if (!user) missing.push('user localpart (-u/--user)');
    if (!password) missing.push('password (-p/--password or --password-file)');
    if (admin === null) missing.push('admin flag (-a/--admin or --no-admin)');
    if (missing.length > 0) {
      if (!io.stdin.isTTY) {
        err(`${PROG}: stdin is not a terminal, cannot prompt for: ${missing.join(', ')}`);
        throw new Exit(1);
      }
      const prompter = new Prompter(io.stdin, io.stdout);
      try {
        if (!user) {
          const defaultUser = loginName();
          user = defaultUser
            ? (await prompter.ask(`New user localpart [${defaultUser}]: `, false)) || defaultUser
            : await prompter.ask('New user localpart: ', false);
          if (!user) {
            out('Invalid user name');
            throw new Exit(1);
          }
        }
        if (!password) {
          password = await prompter.ask('Password: ', true);
          if (!password) {
            out('Password cannot be blank.');
            throw new Exit(1);
          }
          const confirm = await prompter.ask('Confirm password: ', true);
          if (password !== confirm) {
            out('Passwords do not match');
            throw new Exit(1);
          }
        }
        if (admin === null) {
          const answer = await prompter.ask('Make admin [no]: ', false);
          admin = ['y', 'yes', 'true'].includes(answer);
        }
      } finally {
        prompter.close();
      }
    }

    return await requestRegistration(
      { user, password: password!, serverUrl, secret, admin: admin ?? false, userType: args.user_type ?? null, existsOk: Boolean(args['exists-ok']) },
      out,
      err,
    );
  } catch (e) {
    if (e instanceof Exit) return e.code;
    throw e;
  }
}

interface Registration {
  user: string;
  password: string;
  serverUrl: string;
  secret: string;
  admin: boolean;
  userType: string | null;
  existsOk: boolean;
}

/** GET a nonce, compute the MAC, POST the registration; prints what Synapse's script prints. */
async function requestRegistration(r: Registration, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const url = `${r.serverUrl.replace(/\/+$/, '')}/_synapse/admin/v1/register`;
  const call = async (init?: RequestInit) => {
    try {
      const res = await fetch(url, init);
      const text = await res.text();
      let json: any = undefined;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { res, json };
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      err(`ERROR! Could not connect to ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
      throw new Exit(1);
    }
  };
  const failure = (res: Response, json: any): number => {
    out(`ERROR! Received ${res.status} ${res.statusText}`);
    if (res.status >= 400 && res.status < 500 && typeof json?.error === 'string') out(json.error);
    return 1;
  };

  const nonceReply = await call();
  if (nonceReply.res.status !== 200) return failure(nonceReply.res, nonceReply.json);
  const nonce = nonceReply.json?.nonce;
  if (typeof nonce !== 'string') {
    err(`ERROR! ${url} did not return a nonce`);
    return 1;
  }

  const body = {
    nonce,
    username: r.user,
    password: r.password,
    mac: registrationMac(r.secret, nonce, r.user, r.password, r.admin, r.userType),
    admin: r.admin,
    user_type: r.userType,
  };
  out('Sending registration request...');
  const reply = await call({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (reply.res.status !== 200) {
    if (r.existsOk && reply.json?.errcode === 'M_USER_IN_USE') {
      out('User already exists. Skipping.');
      return 0;
    }
    return failure(reply.res, reply.json);
  }
  out('Success!');
  return 0;
}

/** Python's getpass.getuser(): the login name from the environment, else the password database. */
function loginName(): string {
  for (const v of ['LOGNAME', 'USER', 'LNAME', 'USERNAME']) if (process.env[v]) return process.env[v]!;
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

/**
 * Synapse's `_find_client_listener`: the first `type: http`, non-TLS listener serving `client`.
 * Axon serves the Admin API (and so shared-secret registration) on an `admin` listener when one
 * declares it, and nowhere else then: such a listener is looked for first.
 */
export function findClientListener(config: Record<string, unknown>): string | null {
  const listeners = (Array.isArray(config.listeners) ? config.listeners : []) as Array<Record<string, unknown> | null>;
  const serves = (l: Record<string, unknown>, name: string) =>
    Array.isArray(l.resources) && (l.resources as Array<Record<string, unknown> | null>).some((res) => Array.isArray(res?.names) && res.names.includes(name));
  const plain = listeners.filter((l): l is Record<string, unknown> => !!l && typeof l === 'object' && l.type === 'http' && !l.tls);
  const anyAdmin = listeners.some((l) => !!l && typeof l === 'object' && serves(l, 'admin'));
  const found = plain.find((l) => serves(l, anyAdmin ? 'admin' : 'client'));
  // Bind addresses are ignored, as in Synapse.
  return found ? `http://localhost:${String(found.port)}` : null;
}

function readTextFile(path: unknown, setting: string, err: (s: string) => void): string {
  if (typeof path !== 'string') {
    err(`${setting} setting is not a string`);
    throw new Exit(1);
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    err(`Error accessing file ${path}: ${osError(e, path)}`);
    throw new Exit(1);
  }
}

/** Formats a file error the way Python's OSError prints, e.g. "[Errno 2] No such file or directory: 'x'". */
function osError(e: unknown, path: string): string {
  const code = (e as NodeJS.ErrnoException).code;
  const known: Record<string, [number, string]> = {
    ENOENT: [2, 'No such file or directory'],
    EACCES: [13, 'Permission denied'],
    EISDIR: [21, 'Is a directory'],
  };
  const k = code ? known[code] : undefined;
  return k ? `[Errno ${k[0]}] ${k[1]}: '${path}'` : (e as Error).message;
}

/** Line prompts on a terminal; hidden ones mute readline's echo (like getpass). */
class Prompter {
  private muted = false;
  private readonly rl: Interface;
  private readonly lines: Array<string | null> = [];
  private waiting: (() => void) | null = null;
  private interrupted = false;
  private closed = false;

  constructor(
    input: NodeJS.ReadableStream,
    private readonly output: NodeJS.WritableStream,
  ) {
    const sink = new Writable({
      write: (chunk, encoding, done) => {
        if (!this.muted) output.write(chunk, encoding);
        done();
      },
    });
    this.rl = createInterface({ input, output: sink, terminal: true, prompt: '' });
    this.rl.on('line', (line) => this.push(line));
    this.rl.on('close', () => {
      this.closed = true;
      this.push(null);
    });
    this.rl.on('SIGINT', () => {
      this.interrupted = true;
      this.push(null);
    });
  }

  private push(line: string | null): void {
    this.lines.push(line);
    this.waiting?.();
  }

  /** Resolves to the line typed; end of input exits 1 and Ctrl-C exits 130, as in Python. */
  async ask(prompt: string, hidden: boolean): Promise<string> {
    if (hidden || this.closed) this.output.write(prompt); // hidden: written past readline so a muted refresh cannot erase it
    if (!this.closed) {
      this.rl.setPrompt(hidden ? '' : prompt);
      this.muted = hidden;
      this.rl.prompt();
    }
    while (this.lines.length === 0) await new Promise<void>((resolve) => (this.waiting = resolve));
    this.waiting = null;
    const line = this.lines[0] === null ? null : this.lines.shift()!;
    this.muted = false;
    if (hidden || line === null) this.output.write('\n');
    if (line === null) throw new Exit(this.interrupted ? 130 : 1);
    return line;
  }

  close(): void {
    this.muted = false;
    this.rl.close();
  }
}
