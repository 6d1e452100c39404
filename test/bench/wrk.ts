// A load generator of the auth-head scenario: wrk (Debian package `wrk`, HTTP/1.1, keep-alive,
// does not verify certificates). wrk cannot measure HEAD: its response parser is never told that a
// HEAD answer has no body, so an answer with `Content-Length: N` (a manifest HEAD always has one)
// leaves it waiting for N bytes and no request ever completes (wg/wrk#198, open; seen here: 0
// requests in 3 s). The scenario therefore runs wrk with GET of the same manifest (same route,
// same auth path, ~400 bytes of body) and measures HEAD itself with ab (ab.ts). A small Lua script sets the method, the path and the headers once
// (a static request: no per-request Lua, so wrk stays cheap) and its done() hook prints the exact
// totals and latency percentiles as JSON, so nothing is parsed from wrk's rounded text.
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { trackChild } from './cleanup.js';

const MARK = '@@regate-bench-wrk@@';

function onPath(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/**
 * The path of wrk. When it is missing and we run as root with apt-get, installs the Debian package
 * (`apt-get install -y --no-install-recommends wrk`, after `apt-get update` if the first attempt
 * fails), saying so; otherwise throws with the command to run.
 */
export function ensureWrk(log: (msg: string) => void): string {
  const found = process.env.BENCH_WRK_BIN ?? onPath('wrk');
  if (found) return found;
  const hint = 'install it with: apt-get install -y --no-install-recommends wrk';
  if (process.getuid?.() !== 0 || !onPath('apt-get')) throw new Error(`wrk is needed for the auth-head scenario and is not on PATH; ${hint}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): void => {
    log('wrk is missing: running apt-get install -y --no-install-recommends wrk (output follows on stderr)');
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'wrk'], { stdio: ['ignore', 2, 2], env });
  };
  try {
    install();
  } catch {
    log('apt-get install failed: running apt-get update, then trying once more');
    execFileSync('apt-get', ['update'], { stdio: ['ignore', 2, 2], env });
    install();
  }
  const installed = onPath('wrk');
  if (!installed) throw new Error(`apt-get installed wrk but it is still not on PATH; ${hint}`);
  log(`installed ${installed}`);
  return installed;
}

export function wrkVersion(wrk: string): string {
  try {
    // `wrk -v` prints its version and usage, then exits 1.
    execFileSync(wrk, ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const out = String((err as { stdout?: string }).stdout ?? '');
    const line = out.split('\n').find((l) => l.startsWith('wrk '));
    if (line) return line.trim();
  }
  return 'wrk (version unknown)';
}

const luaString = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;

/**
 * Writes a wrk script for one static request (mode 0600: it holds the Authorization header) and
 * returns its path.
 */
export function writeWrkScript(path: string, request: { method: string; path: string; headers: Record<string, string> }): string {
  const lines = [
    `wrk.method = ${luaString(request.method)}`,
    `wrk.path = ${luaString(request.path)}`,
    ...Object.entries(request.headers).map(([name, value]) => `wrk.headers[${luaString(name)}] = ${luaString(value)}`),
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    `  io.write(string.format("${MARK}{\\"requests\\":%.0f,\\"durationUs\\":%.0f,\\"bytes\\":%.0f,` +
      `\\"connect\\":%.0f,\\"read\\":%.0f,\\"write\\":%.0f,\\"status\\":%.0f,\\"timeout\\":%.0f,` +
      `\\"meanUs\\":%.3f,\\"stdevUs\\":%.3f,\\"maxUs\\":%.0f,\\"p50Us\\":%.0f,\\"p90Us\\":%.0f,\\"p99Us\\":%.0f,\\"p999Us\\":%.0f}\\n",`,
    '    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,',
    '    latency.mean, latency.stdev, latency.max, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))',
    'end',
    '',
  ];
  writeFileSync(path, lines.join('\n'), { mode: 0o600 });
  return path;
}

export interface WrkOptions {
  url: string;
  script: string;
  connections: number;
  threads: number;
  seconds: number;
  /** Per-request timeout (wrk's default of 2 s would count Distribution's slow answers as errors). */
  timeoutSeconds: number;
}

/** What a load generator (wrk here, ab in ab.ts) reports for one run. */
export interface LoadResult {
  requests: number;
  seconds: number;
  requestsPerSec: number;
  bytes: number;
  /** p999 only from wrk; ab's table stops at whole percents. */
  latencyMs: { mean: number; stdev: number; p50: number; p90: number; p99: number; p999?: number; max: number };
  /** Socket errors and responses outside 2xx/3xx (wrk's "status" errors). */
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
  /** ab only: answers received on a kept-alive connection. */
  keepAliveRequests?: number;
  /** The tool's own text report, for the log. */
  text: string;
  /** Without credentials. */
  commandLine: string;
}

interface DoneJson {
  requests: number;
  durationUs: number;
  bytes: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  meanUs: number;
  stdevUs: number;
  maxUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
}

export function runWrk(wrk: string, options: WrkOptions): Promise<LoadResult> {
  const args = [
    '-t', String(options.threads),
    '-c', String(options.connections),
    '-d', `${options.seconds}s`,
    '--timeout', `${options.timeoutSeconds}s`,
    '--latency',
    '-s', options.script,
    options.url,
  ];
  const commandLine = [wrk, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const at = stdout.indexOf(MARK);
      if (code !== 0 || at < 0) {
        reject(new Error(`${commandLine}: exited ${code}: ${stderr.trim()} ${stdout.slice(0, 2000)}`));
        return;
      }
      const done = JSON.parse(stdout.slice(at + MARK.length).split('\n')[0]!) as DoneJson;
      const seconds = done.durationUs / 1e6;
      const ms = (us: number): number => us / 1000;
      resolve({
        requests: done.requests,
        seconds,
        requestsPerSec: seconds > 0 ? done.requests / seconds : 0,
        bytes: done.bytes,
        latencyMs: {
          mean: ms(done.meanUs),
          stdev: ms(done.stdevUs),
          p50: ms(done.p50Us),
          p90: ms(done.p90Us),
          p99: ms(done.p99Us),
          p999: ms(done.p999Us),
          max: ms(done.maxUs),
        },
        errors: { connect: done.connect, read: done.read, write: done.write, timeout: done.timeout, status: done.status },
        text: stdout.slice(0, at).trimEnd(),
        commandLine,
      });
    });
  });
}
