// ApacheBench (`ab`, Debian apache2-utils, already needed for `htpasswd`) as the load generator for
// a true HEAD: `ab -i` sends HEAD and knows its answer has no body. wrk cannot (a HEAD answer
// carrying Content-Length leaves its parser waiting for a body that never comes: wg/wrk#198), so
// the auth-head scenario measures HEAD with ab and, as a cross-check with the tool the issue's
// brief named, GET with wrk (wrk.ts).
//
// `-k` keep-alive, `-r` do not stop on socket errors (they are counted), `-t` seconds then a large
// `-n` (ab allocates its per-request table lazily: untouched pages cost nothing), `-e` a CSV with
// the latency percentiles 0..100 % at µs resolution (the text report rounds to whole ms).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { trackChild } from './cleanup.js';
import { requireProgram } from '../support/host-tools.js';
import type { LoadResult } from './wrk.js';

export function abPath(): string {
  return requireProgram(process.env.BENCH_AB_BIN ?? 'ab', 'apache2-utils');
}

export interface AbOptions {
  url: string;
  method: 'HEAD' | 'GET';
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  timeoutSeconds: number;
  /** Where ab writes its percentile CSV. */
  csvFile: string;
}

const redact = (name: string, value: string): string => (name.toLowerCase() === 'authorization' ? `${value.split(' ')[0]} <redacted>` : value);

function field(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}:\\s+([\\d.]+)`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

export function runAb(ab: string, options: AbOptions): Promise<LoadResult> {
  const headerArgs = Object.entries(options.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
  const args = [
    '-q',
    ...(options.method === 'HEAD' ? ['-i'] : []),
    '-k',
    '-r',
    '-c', String(options.connections),
    '-t', String(options.seconds),
    '-n', '5000000',
    '-s', String(options.timeoutSeconds),
    '-e', options.csvFile,
    ...headerArgs,
    options.url,
  ];
  const shown = [
    ab,
    ...args.map((a, i) => {
      if (args[i - 1] !== '-H') return a;
      const colon = a.indexOf(':');
      return `'${a.slice(0, colon)}: ${redact(a.slice(0, colon), a.slice(colon + 2))}'`;
    }),
  ].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(ab, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const text = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const complete = field(text, 'Complete requests');
      const seconds = field(text, 'Time taken for tests');
      if (code !== 0 || complete === undefined || seconds === undefined) {
        reject(new Error(`${shown}: exited ${code}: ${stderr.trim()} ${text.slice(0, 2000)}`));
        return;
      }
      const percentiles = new Map<number, number>();
      try {
        for (const line of readFileSync(options.csvFile, 'utf8').split('\n').slice(1)) {
          const [p, ms] = line.split(',');
          if (p !== undefined && ms !== undefined && p !== '') percentiles.set(Number(p), Number(ms));
        }
      } catch {
        // no CSV (no request completed): the percentiles stay 0
      }
      const pct = (p: number): number => percentiles.get(p) ?? 0;
      const failedBy = /\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)/.exec(text);
      const [connectFailed, receiveFailed, lengthFailed, exceptions] = failedBy ? failedBy.slice(1).map(Number) : [0, 0, 0, 0];
      const nonOk = field(text, 'Non-2xx responses') ?? 0;
      const keepAlive = field(text, 'Keep-Alive requests') ?? 0;
      // ab's "Time per request (mean)" is concurrency × time ÷ requests: the mean latency.
      const mean = /Time per request:\s+([\d.]+) \[ms\] \(mean\)$/m.exec(text);
      resolve({
        requests: complete,
        seconds,
        requestsPerSec: seconds > 0 ? complete / seconds : 0,
        bytes: field(text, 'Total transferred') ?? 0,
        latencyMs: { mean: mean ? Number(mean[1]) : 0, stdev: 0, p50: pct(50), p90: pct(90), p99: pct(99), max: pct(100) },
        errors: {
          connect: connectFailed ?? 0,
          read: (receiveFailed ?? 0) + (exceptions ?? 0),
          write: 0,
          timeout: 0,
          // Non-2xx answers, and answers whose length differs from the first one's (ab's "Length").
          status: nonOk + (lengthFailed ?? 0),
        },
        keepAliveRequests: keepAlive,
        text: text.slice(Math.max(0, text.indexOf('Concurrency Level'))).trimEnd(),
        commandLine: shown,
      });
    });
  });
}
