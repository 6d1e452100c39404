// Starting and stopping the two registries under test, each on 127.0.0.1 over a filesystem root.
// regate binds port 0 and reports its port on stderr; Distribution 2.8.2 cannot report a port-0
// bind, so it gets a free port picked here and is polled until /v2/ answers. The TLS + htpasswd
// variants of both (secure-registries.ts) reuse the helpers exported here.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { trackChild, untrackChild } from './cleanup.js';
import { regateServeCommand } from '../support/processes.js';

export type RegistryKind = 'regate' | 'distribution';

export const REGISTRY_LABEL: Record<RegistryKind, string> = {
  regate: 'regate',
  distribution: 'Distribution 2.8.2',
};

export interface RunningRegistry {
  kind: RegistryKind;
  pid: number;
  url: string;
  /** The last lines the registry wrote to stdout/stderr, for error reports. */
  logTail(): string;
  stop(): Promise<void>;
}

export const DISTRIBUTION_BINARY = process.env.BENCH_DISTRIBUTION_BIN ?? '/usr/bin/docker-registry';


export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class LogTail {
  #lines: string[] = [];
  #partial = '';
  constructor(private readonly max = 60) {}
  push(chunk: Buffer): string[] {
    const text = this.#partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.#partial = parts.pop() ?? '';
    for (const line of parts) {
      this.#lines.push(line);
      if (this.#lines.length > this.max) this.#lines.shift();
    }
    return parts;
  }
  toString(): string {
    return [...this.#lines, this.#partial].filter((l) => l !== '').join('\n');
  }
}

export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      untrackChild(child);
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      untrackChild(child);
      resolve();
    });
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      clearTimeout(timer);
      untrackChild(child);
      resolve();
    }
  });
}

export function exitedError(name: string, child: ChildProcess, tail: LogTail): Error {
  return new Error(`${name} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready:\n${tail}`);
}

/** `extraYaml`: more top-level config (e.g. a `regate:` section with mirrors). */
export async function startRegate(workDir: string, rootDirectory: string, extraYaml = ''): Promise<RunningRegistry> {
  mkdirSync(workDir, { recursive: true });
  const configPath = join(workDir, 'regate.yml');
  writeFileSync(
    configPath,
    [
      'version: 0.1',
      'log:',
      '  level: info',
      '  formatter: text',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${JSON.stringify(rootDirectory)}`,
      '  delete:',
      '    enabled: true',
      'http:',
      '  addr: 127.0.0.1:0',
      extraYaml,
    ].join('\n'),
  );
  const serve = regateServeCommand(configPath);
  const child = spawn(serve.command, serve.args, { env: serve.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);
  const tail = new LogTail();
  child.stdout!.on('data', (chunk: Buffer) => tail.push(chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`regate did not report listening within 20 s:\n${tail}`)), 20_000);
    const onExit = (): void => {
      clearTimeout(timer);
      reject(exitedError('regate', child, tail));
    };
    child.once('exit', onExit);
    child.stderr!.on('data', (chunk: Buffer) => {
      for (const line of tail.push(chunk)) {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(m[1]!);
        }
      }
    });
  }).catch(async (err: unknown) => {
    await stopChild(child);
    throw err;
  });
  return {
    kind: 'regate',
    pid: child.pid!,
    url,
    logTail: () => tail.toString(),
    stop: () => stopChild(child),
  };
}

async function waitForV2(url: string, child: ChildProcess, tail: LogTail, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw exitedError('Distribution', child, tail);
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`Distribution did not answer ${url}/v2/ within ${timeoutMs} ms:\n${tail}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startDistribution(workDir: string, rootDirectory: string): Promise<RunningRegistry> {
  mkdirSync(workDir, { recursive: true });
  const port = await freePort();
  const configPath = join(workDir, 'distribution.yml');
  writeFileSync(
    configPath,
    [
      'version: 0.1',
      'log:',
      '  level: info',
      '  formatter: text',
      '  accesslog:',
      '    disabled: false',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${JSON.stringify(rootDirectory)}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '  secret: regate-bench-secret',
      '',
    ].join('\n'),
  );
  const child = spawn(DISTRIBUTION_BINARY, ['serve', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);
  const tail = new LogTail();
  child.stdout!.on('data', (chunk: Buffer) => tail.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => tail.push(chunk));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const url = `http://127.0.0.1:${port}`;
  try {
    await Promise.race([waitForV2(url, child, tail, 20_000), spawnError]);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  spawnError.catch(() => undefined);
  return {
    kind: 'distribution',
    pid: child.pid!,
    url,
    logTail: () => tail.toString(),
    stop: () => stopChild(child),
  };
}

export function startRegistry(kind: RegistryKind, workDir: string, rootDirectory: string): Promise<RunningRegistry> {
  return kind === 'regate' ? startRegate(workDir, rootDirectory) : startDistribution(workDir, rootDirectory);
}
