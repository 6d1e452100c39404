// One Basic-auth login (GET /v2/ on a fresh TLS connection from a chosen loopback address), and a
// burst of them run from a child process at the idle scheduling policy (login-burst.ts): the 200
// users of the auth-load bench stand for 200 machines, so their own TLS work must not take CPU
// from the push being measured on this one.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { fileURLToPath } from 'node:url';
import { TLS13_CIPHERS } from './secure-registries.js';
import { trackChild, untrackChild } from './cleanup.js';

export interface Login {
  status: number;
  ms: number;
  error?: string;
}

export function login(url: string, ca: Buffer | string, user: string, password: string, localAddress: string): Promise<Login> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = httpsRequest(
      `${url}/v2/`,
      {
        method: 'GET',
        ca,
        agent: false,
        localAddress,
        ciphers: TLS13_CIPHERS,
        timeout: 60_000,
        headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
    req.on('error', (err) => resolve({ status: 0, ms: performance.now() - started, error: err.message }));
    req.end();
  });
}

/** Loopback address number `n` (1-based) outside 127.0.0.1: 127.0.<hi>.<lo>. */
export const loopback = (n: number): string => `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`;

export interface Burst {
  /** Fires every login at once; resolves when all have answered. */
  go(): Promise<{ results: Login[]; cpuSeconds: number }>;
  kill(): void;
}

/** Starts the burst's process (under `chrt --idle 0`) and waits until it is ready to fire. */
export async function prepareBurst(url: string, caFile: string, credentials: Array<[string, string]>, firstAddress: number, specFile: string): Promise<Burst> {
  writeFileSync(specFile, JSON.stringify({ url, caFile, credentials, firstAddress }));
  const entry = fileURLToPath(new URL('./login-burst.js', import.meta.url));
  const child = spawn('chrt', ['--idle', '0', process.execPath, entry, specFile], { stdio: ['pipe', 'pipe', 'inherit'] });
  trackChild(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (output.includes('ready\n')) {
        clearInterval(poll);
        resolve();
      }
    }, 5);
    void exited.then((code) => {
      clearInterval(poll);
      reject(new Error(`login burst exited (${code}) before it was ready`));
    });
  });
  return {
    async go() {
      child.stdin!.end('go\n');
      const code = await exited;
      untrackChild(child);
      if (code !== 0) throw new Error(`login burst exited ${code}`);
      return JSON.parse(output.slice(output.indexOf('ready\n') + 'ready\n'.length)) as { results: Login[]; cpuSeconds: number };
    },
    kill() {
      child.kill('SIGKILL');
    },
  };
}
