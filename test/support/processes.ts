// Process helpers for tests that drive real programs: spawn a server and wait for it to say it is
// ready, stop it by PID (SIGTERM, then SIGKILL), find a free loopback port, run a command to
// completion, and start the two registries the end-to-end and interop tests need (regate itself,
// and CNCF Distribution from /usr/bin/docker-registry). Everything binds 127.0.0.1 only.
//
// Nothing here skips: a missing program is an error that says what to install.
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { NODE_ENV, NODE_FLAGS } from '../../src/runtime-flags.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** dist/test/support/ → dist/src/main.js */
export const REGATE_MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/main.js');
/** dist/test/support/ → the checkout (README.md, docs/, deploy/, test/fixtures/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** How every test and benchmark starts `regate serve`: node with regate's runtime flags and environment. */
export function regateServeCommand(configPath: string, env: NodeJS.ProcessEnv = {}): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  return { command: process.execPath, args: [...NODE_FLAGS, REGATE_MAIN, 'serve', '--config', configPath], env: { ...process.env, ...NODE_ENV, ...env } };
}
export const DISTRIBUTION_BINARY = '/usr/bin/docker-registry';

// ---------------------------------------------------------------------------------------------
// Finding programs

const INSTALL_HINTS: Record<string, string> = {
  skopeo: 'apt-get install -y --no-install-recommends skopeo',
  'docker-registry': 'apt-get install -y --no-install-recommends docker-registry',
  htpasswd: 'apt-get install -y --no-install-recommends apache2-utils',
};

/**
 * The absolute path of an executable (a bare name is looked up on PATH). Throws a clear error when
 * it is missing: tests that need a real program fail rather than skip.
 */
export function requireExecutable(program: string): string {
  const candidates = isAbsolute(program)
    ? [program]
    : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, program));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  const name = program.split('/').pop() ?? program;
  const hint = INSTALL_HINTS[name] ? ` Install it with: ${INSTALL_HINTS[name]}` : '';
  throw new Error(
    `required program "${program}" was not found${isAbsolute(program) ? '' : ' on PATH'}; this test needs it and does not skip.${hint}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Ports

/** A port that was free on 127.0.0.1 a moment ago (bind :0, read the port, close). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the bound port'));
        return;
      }
      server.close(() => resolvePort(address.port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Stopping by PID

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface StopOptions {
  /** How long to wait after SIGTERM before SIGKILL. */
  graceMs?: number;
  /** Tells whether the process is gone (for a child of ours, its exit event; else kill(pid, 0)). */
  hasExited?: () => boolean;
}

/** SIGTERM the process, wait up to `graceMs` (3 s) for it to go, then SIGKILL it and wait again. */
export async function stopProcess(pid: number, options: StopOptions = {}): Promise<void> {
  const graceMs = options.graceMs ?? 3000;
  const gone = (): boolean => (options.hasExited ? options.hasExited() : !isAlive(pid));
  if (gone()) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  for (const deadline = Date.now() + graceMs; Date.now() < deadline; await sleep(25)) {
    if (gone()) return;
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(25)) {
    if (gone()) return;
  }
  throw new Error(`process ${pid} did not exit after SIGKILL`);
}

// Children still running when the test process exits (a crash, an assertion in a before hook that
// skipped the after hooks) are killed rather than left behind.
const liveChildren = new Set<number>();
let exitHookInstalled = false;
function track(pid: number): void {
  liveChildren.add(pid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    const killAll = (): void => {
      for (const child of liveChildren) {
        try {
          process.kill(child, 'SIGKILL');
        } catch {
          // gone
        }
      }
    };
    process.on('exit', killAll);
    // A test file stopped by a signal (the runner's timeout, ^C) must not leave servers behind:
    // those started in sessions of their own (Swift) would not get the terminal's signal.
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      process.once(signal, () => {
        killAll();
        process.exit(128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15));
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Spawning a server and waiting for readiness

export interface SpawnServerOptions {
  /** For messages, e.g. "regate" or "distribution". */
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Matched against everything the process wrote so far (stdout and stderr interleaved). */
  ready: RegExp;
  /** 15 s by default. */
  timeoutMs?: number;
  /**
   * Start it in a session of its own (setsid): for servers that signal their whole process group
   * on SIGTERM (OpenStack Swift), which would otherwise take the test process with them.
   */
  detached?: boolean;
}

export interface SpawnedServer {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The readiness match. */
  match: RegExpMatchArray;
  /** Everything the process wrote so far (stdout and stderr interleaved; the last 8 MiB). */
  output(): string;
  /** What it wrote to stdout alone (the last 8 MiB). */
  stdout(): string;
  /** What it wrote to stderr alone (the last 8 MiB). */
  stderr(): string;
  exited(): boolean;
  /** SIGTERM, then SIGKILL after a few seconds; resolves once the process is gone. */
  stop(): Promise<void>;
}

const MAX_OUTPUT = 8 * 1024 * 1024;

function describeCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map((a) => (/[\s'"]/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

/** Spawns a server and resolves once `ready` matches its output; rejects (and kills it) otherwise. */
export async function spawnServer(options: SpawnServerOptions): Promise<SpawnedServer> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let output = '';
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of listeners) listener();
  };
  const separate = { stdout: '', stderr: '' };
  const onData = (stream: 'stdout' | 'stderr') => (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    output += text;
    if (output.length > MAX_OUTPUT) output = output.slice(output.length - MAX_OUTPUT / 2);
    separate[stream] += text;
    if (separate[stream].length > MAX_OUTPUT) separate[stream] = separate[stream].slice(separate[stream].length - MAX_OUTPUT / 2);
    notify();
  };
  child.stdout!.on('data', onData('stdout'));
  child.stderr!.on('data', onData('stderr'));
  child.on('exit', (code, signal) => {
    exitInfo = { code, signal };
    if (child.pid !== undefined) liveChildren.delete(child.pid);
    notify();
  });
  child.on('error', (err) => {
    spawnError = err;
    notify();
  });
  if (child.pid !== undefined) track(child.pid);

  const commandLine = describeCommand(options.command, options.args);
  const failure = (why: string): Error =>
    new Error(`${options.name} ${why}\ncommand: ${commandLine}\n--- captured output ---\n${output || '(none)'}\n--- end ---`);

  let match: RegExpMatchArray;
  try {
    match = await new Promise<RegExpMatchArray>((resolveReady, reject) => {
      const check = (): void => {
        const m = options.ready.exec(output);
        if (m) return done(() => resolveReady(m));
        if (spawnError) return done(() => reject(failure(`could not be started: ${spawnError!.message}`)));
        if (exitInfo)
          return done(() =>
            reject(failure(`exited (code ${exitInfo!.code}, signal ${exitInfo!.signal}) before it was ready (waiting for ${options.ready})`)),
          );
      };
      const timer = setTimeout(
        () => done(() => reject(failure(`was not ready within ${timeoutMs} ms (waiting for ${options.ready} in its output)`))),
        timeoutMs,
      );
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        listeners.delete(check);
        settle();
      };
      listeners.add(check);
      check();
    });
  } catch (err) {
    if (child.pid !== undefined) await stopProcess(child.pid, { hasExited: () => exitInfo !== undefined });
    throw err;
  }

  const pid = child.pid!;
  return {
    name: options.name,
    pid,
    child,
    match,
    output: () => output,
    stdout: () => separate.stdout,
    stderr: () => separate.stderr,
    exited: () => exitInfo !== undefined,
    stop: () => stopProcess(pid, { hasExited: () => exitInfo !== undefined }),
  };
}

/** One GET, any status; certificates are not verified (this only asks "is it up?"). */
function probe(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolveProbe, reject) => {
    const target = new URL(url);
    const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)(
      target,
      { method: 'GET', timeout: timeoutMs, rejectUnauthorized: false },
      (response) => {
        response.resume();
        response.on('end', () => resolveProbe(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end();
  });
}

/**
 * Polls `url` (http or https, certificate not verified) until it answers with any HTTP status, or
 * one that `accept(status)` likes; e.g. a registry with auth answers /v2/ with 401 once it is up.
 */
export async function waitForHttp(
  url: string,
  options: { timeoutMs?: number; accept?: (status: number) => boolean; isDead?: () => boolean } = {},
): Promise<number> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let last = 'no attempt';
  while (Date.now() < deadline) {
    if (options.isDead?.()) throw new Error(`gave up waiting for ${url}: the server exited`);
    try {
      const status = await probe(url, 2000);
      if (!options.accept || options.accept(status)) return status;
      last = `HTTP ${status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(50);
  }
  throw new Error(`${url} did not answer in time (last: ${last})`);
}

// ---------------------------------------------------------------------------------------------
// Running a command to completion

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program, collecting stdout (as bytes) and stderr; never throws for a non-zero exit. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) track(child.pid);
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timeoutMs = options.timeoutMs ?? 120_000;
    const timer = setTimeout(() => {
      stderr += `\n[killed: still running after ${timeoutMs} ms]`;
      if (child.pid !== undefined) void stopProcess(child.pid, { graceMs: 1000, hasExited: () => child.exitCode !== null || child.signalCode !== null });
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${describeCommand(command, args)}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (child.pid !== undefined) liveChildren.delete(child.pid);
      resolveRun({ code, signal, stdout: Buffer.concat(stdout), stderr });
    });
  });
}

/** Runs a program and throws (with its whole output) unless it exits 0. */
export async function runChecked(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `command failed (exit ${result.code}${result.signal ? `, signal ${result.signal}` : ''}): ${describeCommand(command, args)}\n` +
        `--- stderr ---\n${result.stderr}\n--- stdout ---\n${result.stdout.toString('utf8').slice(0, 20_000)}\n--- end ---`,
    );
  }
  return result;
}

/**
 * Runs `skopeo --insecure-policy ARGS…` (the policy flag keeps the tests independent of
 * /etc/containers/policy.json) and throws with its output unless it succeeds.
 */
export function skopeo(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<CommandResult> {
  return runChecked(requireExecutable('skopeo'), ['--insecure-policy', ...args], { timeoutMs: options.timeoutMs ?? 90_000 });
}

// ---------------------------------------------------------------------------------------------
// The two registries

export interface RegistryHandle {
  /** e.g. http://127.0.0.1:PORT */
  url: string;
  /** e.g. 127.0.0.1:PORT, for docker:// references */
  host: string;
  port: number;
  pid: number;
  /** The temp directory holding the config (removed by stop()). */
  dir: string;
  configPath: string;
  /** Everything the server wrote to stdout/stderr so far (its logs, access log included). */
  output(): string;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its temp config directory. */
  stop(): Promise<void>;
}

/** A minimal regate config.yml over a filesystem root or the inmemory driver, bound to 127.0.0.1:0. */
/** A storage.swift section as a config.yml holds it (Distribution's keys). */
export interface SwiftSection {
  authurl: string;
  username?: string;
  password?: string;
  container: string;
  chunksize?: number;
  prefix?: string;
  /** Any other storage.swift key (tenant, domain, applicationcredentialid, …). */
  [key: string]: unknown;
}

export function regateConfigYaml(storage: { rootDir: string } | { swift: SwiftSection } | 'inmemory', extra: Record<string, unknown> = {}): string {
  const config = {
    version: 0.1,
    log: { level: 'info', formatter: 'text' },
    storage: {
      ...(storage === 'inmemory' ? { inmemory: {} } : 'swift' in storage ? { swift: storage.swift } : { filesystem: { rootdirectory: storage.rootDir } }),
      delete: { enabled: true },
    },
    http: { addr: '127.0.0.1:0' },
  };
  return stringifyYaml(deepMerge(config, extra));
}

/** Starts `node dist/src/main.js serve --config FILE`; ready when it logs `listening on http://127.0.0.1:PORT`. */
export async function startRegate(options: { configYaml: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RegistryHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'regate-test-server-'));
  const configPath = join(dir, 'config.yml');
  writeFileSync(configPath, options.configYaml);
  let server: SpawnedServer;
  try {
    server = await spawnServer({
      name: 'regate',
      ...regateServeCommand(configPath, options.env),
      ready: /listening on http:\/\/127\.0\.0\.1:(\d+)/,
      timeoutMs: options.timeoutMs,
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const port = Number(server.match[1]);
  return handle(server, port, dir, configPath, `http://127.0.0.1:${port}`);
}

/**
 * Starts CNCF Distribution (/usr/bin/docker-registry serve CONFIG) on 127.0.0.1:<free port> over a
 * filesystem root; ready once GET /v2/ answers. `extraYaml` is merged into the generated config
 * (e.g. `auth:` or `http.tls:` sections).
 */
export async function startDistribution(options: { rootDir?: string; swift?: SwiftSection; extraYaml?: string; timeoutMs?: number }): Promise<RegistryHandle> {
  const binary = requireExecutable(DISTRIBUTION_BINARY);
  const dir = mkdtempSync(join(tmpdir(), 'regate-test-distribution-'));
  const configPath = join(dir, 'config.yml');
  const extra = options.extraYaml ? (parseYaml(options.extraYaml) as Record<string, unknown>) : {};
  let lastError: unknown;
  // freePort() cannot reserve the port: if another process takes it first, try another one.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = deepMerge(
      {
        version: 0.1,
        log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
        storage: { ...(options.swift ? { swift: options.swift } : { filesystem: { rootdirectory: options.rootDir } }), delete: { enabled: true } },
        http: { addr: `127.0.0.1:${port}`, secret: 'regate-interop-test-secret' },
      },
      extra,
    );
    writeFileSync(configPath, stringifyYaml(config));
    let server: SpawnedServer | undefined;
    try {
      server = await spawnServer({
        name: 'distribution',
        command: binary,
        args: ['serve', configPath],
        ready: /listening on /,
        timeoutMs: options.timeoutMs,
      });
      const scheme = (config.http as { tls?: unknown }).tls ? 'https' : 'http';
      const url = `${scheme}://127.0.0.1:${port}`;
      const live = server;
      await waitForHttp(`${url}/v2/`, { timeoutMs: options.timeoutMs, isDead: () => live.exited() });
      return handle(server, port, dir, configPath, url);
    } catch (err) {
      lastError = err;
      if (server) await server.stop();
      if (!/address already in use/.test(String((err as Error).message))) break;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

function handle(server: SpawnedServer, port: number, dir: string, configPath: string, url: string): RegistryHandle {
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    pid: server.pid,
    dir,
    configPath,
    output: server.output,
    stop: async () => {
      try {
        await server.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `extra` merged into `base`, objects recursively; other values replace. */
export function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? deepMerge(out[key] as Record<string, unknown>, value) : value;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Temp directories

/** A fresh temp directory and a function that removes it. */
export function makeTempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
