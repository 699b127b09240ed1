import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';

/**
 * Running Axon's executables (and operators' command-line tools) as child processes, for tests that
 * exercise the commands exactly as an operator types them.
 */

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BIN = {
  axon: join(REPO, 'bin/axon'),
  registerNewMatrixUser: join(REPO, 'bin/register_new_matrix_user'),
};

const DIST_ENTRIES = ['dist/src/main.js', 'dist/src/cli/register-new-matrix-user.js'].map((p) => join(REPO, p));

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const distIsFresh = () =>
  DIST_ENTRIES.every(existsSync) && Math.min(...DIST_ENTRIES.map((p) => statSync(p).mtimeMs)) >= newestMtime(join(REPO, 'src'));

/**
 * The bin/ scripts run the compiled dist/. `npm test` builds first; when dist/ is missing or older
 * than src/ (a direct `npx vitest run`), compile it once, under a lock shared by parallel test files.
 */
export function ensureBuilt(): void {
  if (distIsFresh()) return;
  const tmp = join(REPO, '.vitest-tmp');
  mkdirSync(tmp, { recursive: true });
  const lock = join(tmp, 'build.lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another test file is building; a lock older than 5 minutes is left over from a crash.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 300_000) rmdirSync(lock);
      } catch {}
      if (Date.now() > deadline) throw new Error('timed out waiting for another test file to build dist/');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (distIsFresh()) return;
    // tsc emits even with type errors elsewhere in the tree; only a missing output is fatal.
    const r = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: REPO, encoding: 'utf8' });
    const missing = DIST_ENTRIES.filter((p) => !existsSync(p));
    if (missing.length > 0) throw new Error(`dist/ is missing ${missing.join(', ')} and \`npm run build\` failed:\n${r.stdout}${r.stderr}`);
  } finally {
    rmdirSync(lock);
  }
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** Written to the child's stdin, which is then closed (stdin is never a terminal). */
  input?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/**
 * Runs a command to completion without blocking the event loop (the server under test lives in
 * this process, so spawnSync would deadlock against it).
 */
export function runCommand(command: string, args: string[], opts: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd ?? REPO, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs one of Axon's bin/ scripts with the current Node. */
export const runBin = (bin: string, args: string[], opts: CommandOptions = {}) => runCommand(process.execPath, [bin, ...args], opts);

/** Fails (never skips) when an operator tool the tests drive is not installed. */
export function requireTool(name: string): void {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`'${name}' is not installed; the tests drive it as an operator would (.ci/run installs it with apt-get)`);
}

/** A fresh temporary directory under the repo's ignored .vitest-tmp/. */
export function tempDir(prefix: string): string {
  const base = join(REPO, '.vitest-tmp');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${prefix}-`));
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((ok, ko) => {
    const srv = createServer();
    srv.once('error', ko);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

export interface RunningProcess {
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when stdout+stderr match `pattern`; rejects if the process exits first or on timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit status once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal (SIGTERM by default) to this process only and waits for it to end. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a long-running command (a server) and watches its output. */
export function startProcess(command: string, args: string[], opts: Omit<CommandOptions, 'input' | 'timeoutMs'> = {}): RunningProcess {
  const child = spawn(command, args, { cwd: opts.cwd ?? REPO, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((l) => l());
  child.stdout.on('data', (d) => {
    stdout += d;
    changed();
  });
  child.stderr.on('data', (d) => {
    stderr += d;
    changed();
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.on('close', (code, signal) => {
      done = true;
      changed();
      ok({ code, signal });
    }),
  );
  return {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((ok, ko) => {
        const check = () => {
          const m = (stdout + stderr).match(pattern);
          if (m) finish(() => ok(m));
          else if (done) finish(() => ko(new Error(`process exited before printing ${pattern}:\n${stdout}${stderr}`)));
        };
        const timer = setTimeout(() => finish(() => ko(new Error(`timed out waiting for ${pattern}:\n${stdout}${stderr}`))), timeoutMs);
        const finish = (f: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (!done) child.kill(signal);
      return exited;
    },
  };
}

/** Loads config files exactly as `axon -c ... -c ...` does (validated, defaults filled in). */
export const loadConfigFiles = (paths: string[]) => loadConfig(paths);
