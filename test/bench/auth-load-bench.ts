// `npm run bench -- auth-load` (issue 11 §4): password checks must not slow the transfers.
// regate over TLS + htpasswd (bcrypt cost 10, `htpasswd -nbB -C 10` for the bench user, bcryptjs
// cost 10 for 200 more), filesystem root on tmpfs:
//   1. a 512 MiB push alone (POST, then curl -T PATCH, then PUT ?digest=), twice: the better one is
//      the push's speed alone;
//   2. the same push again, and once it streams, 200 logins with 200 distinct credentials at once
//      (GET /v2/, each on its own TLS connection from its own loopback address, as 200 users behind
//      200 machines would; none is cached); the push's speed then, and every login's status and time;
//   3. timing by user kind: wrong passwords for a bcrypt user, an unknown user, an $apr1$ user and a
//      {SHA} user, interleaved, 15 each on fresh connections; medians side by side.
// Targets: push under the burst ≥ 0.8× alone; every login 200 within 30 s; the medians of the four
// kinds within 20% of the bcrypt user's. BENCH_QUICK=1: 256 MiB and 100 logins.
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../src/auth/password.js';
import { startUpload, uploadAndCommit } from './curl.js';
import { prepareSecureMaterial, startSecureRegate, TLS13_CIPHERS } from './secure-registries.js';
import { makeLayer } from './swift-bench.js';
import { cpuSeconds } from './proc-stats.js';
import { median } from './phase.js';

const MiB = 1024 * 1024;
const MB = 1_000_000;
const require = createRequire(import.meta.url);
const apacheMd5 = require('apache-md5') as (password: string, salt?: string) => string;

interface Login {
  status: number;
  ms: number;
  error?: string;
}

const log = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);

function login(url: string, ca: Buffer, user: string, password: string, localAddress: string): Promise<Login> {
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
const loopback = (n: number): string => `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`;

export async function runAuthLoadBench(): Promise<void> {
  const quick = process.env.BENCH_QUICK === '1';
  const layerBytes = (quick ? 256 : 512) * MiB;
  const logins = quick ? 100 : 200;
  const work = mkdtempSync(join(tmpdir(), 'regate-bench-auth-'));
  const tmpfs = mkdtempSync(join(process.env.BENCH_TMPFS_DIR ?? '/dev/shm', 'regate-bench-auth-'));
  let stop: (() => Promise<void>) | undefined;
  try {
    const material = await prepareSecureMaterial(join(work, 'tls'), log);
    log(`hashing ${logins + 1} users at bcrypt cost 10 and two legacy ones`);
    const users: Array<[string, string]> = [];
    const lines: string[] = [];
    for (let i = 0; i <= logins; i++) {
      const password = randomBytes(12).toString('base64url');
      users.push([`user${i}`, password]);
      lines.push(`user${i}:${await hashPassword(password, 10)}`);
    }
    lines.push(`legacy-apr1:${apacheMd5('apr1-password')}`);
    lines.push(`legacy-sha:{SHA}${createHash('sha1').update('sha-password').digest('base64')}`);
    appendFileSync(material.htpasswdPath, `${lines.join('\n')}\n`);

    const registry = await startSecureRegate(join(work, 'regate'), join(tmpfs, 'root'), material);
    stop = registry.stop;
    const ca = readFileSync(material.certs.caFile);
    const layer = await makeLayer(tmpfs, 'layer', layerBytes);
    const push = async (): Promise<number> => {
      const uploadUrl = await startUpload(registry.url, 'bench/auth', registry.curlArgs);
      const started = performance.now();
      await uploadAndCommit(registry.url, 'bench/auth', uploadUrl, layer.file, layer.size, layer.digest, registry.curlArgs);
      const seconds = (performance.now() - started) / 1000;
      // The same blob again would be a no-op commit: remove it so every push stores the bytes.
      execFileSync('curl', ['-sS', '-o', '/dev/null', '-X', 'DELETE', ...registry.curlArgs, `${registry.url}/v2/bench/auth/blobs/${layer.digest}`]);
      return layer.size / MB / seconds;
    };
    log('push alone (twice)');
    const alone = Math.max(await push(), await push());

    interface During {
      speed: number;
      results: Login[];
      seconds: number;
      /** CPU seconds of regate and of this process (the login clients) while the push ran. */
      registryCpu: number;
      clientCpu: number;
    }
    const pushDuring = async (credentials: Array<[string, string]>): Promise<During> => {
      const registryCpu0 = cpuSeconds(registry.pid) ?? NaN;
      const pushing = push();
      await new Promise((r) => setTimeout(r, 300)); // the push is streaming by now
      const started = performance.now();
      const client0 = process.cpuUsage();
      const burst = Promise.all(credentials.map(([user, password], i) => login(registry.url, ca, user, password, loopback(i + 1))));
      const speed = await pushing;
      const client = process.cpuUsage(client0);
      const registryCpu = (cpuSeconds(registry.pid) ?? NaN) - registryCpu0;
      const results = await burst;
      return { speed, results, seconds: (performance.now() - started) / 1000, registryCpu, clientCpu: (client.user + client.system) / 1e6 };
    };
    // The same number of connections and requests with one credential already verified (cached):
    // what the TLS handshakes and requests alone take from the push, without any password check.
    log(`push with ${logins} logins of one cached user arriving at once (connections only)`);
    const cachedUser = users[logins]!;
    await login(registry.url, ca, cachedUser[0], cachedUser[1], loopback(logins + 5));
    const control = await pushDuring(users.map(() => cachedUser));
    log(`push with ${logins} logins with distinct credentials arriving at once`);
    const distinct = await pushDuring(users.slice(0, logins));
    const { speed: underLoad, results, seconds: burstSeconds } = distinct;
    const ok = results.filter((r) => r.status === 200).length;
    const slowest = Math.max(...results.map((r) => r.ms)) / 1000;
    const failures = results.filter((r) => r.status !== 200).slice(0, 3).map((r) => r.error ?? `HTTP ${r.status}`);

    log('timing by user kind (wrong passwords, fresh connections)');
    const kinds: Array<[string, string]> = [
      ['bcrypt user', 'user0'],
      ['unknown user', 'nobody-here'],
      ['$apr1$ user', 'legacy-apr1'],
      ['{SHA} user', 'legacy-sha'],
    ];
    const times = new Map<string, number[]>(kinds.map(([k]) => [k, []]));
    let address = logins + 10;
    for (let round = 0; round < 15; round++) {
      for (const [kind, user] of kinds) {
        const r = await login(registry.url, ca, user, `wrong-${round}`, loopback(address++));
        if (r.status === 401) times.get(kind)!.push(r.ms);
      }
    }

    const ratio = underLoad / alone;
    const out: string[] = [];
    out.push('');
    out.push(`auth under load: regate, TLS + htpasswd (bcrypt cost 10), ${layerBytes / MiB} MiB push, ${logins} distinct logins at once`);
    out.push(`  push alone                 ${alone.toFixed(0).padStart(6)} MB/s`);
    out.push(`  push during cached logins  ${control.speed.toFixed(0).padStart(6)} MB/s   ${(control.speed / alone).toFixed(2)}× alone   (the ${logins} connections alone, no password check)`);
    out.push(`    CPU while the push ran: regate ${control.registryCpu.toFixed(2)} s, the login clients ${control.clientCpu.toFixed(2)} s`);
    out.push(`  push during the logins     ${underLoad.toFixed(0).padStart(6)} MB/s   ${ratio.toFixed(2)}× alone   (target ≥ 0.80×)  ${ratio >= 0.8 ? 'met' : 'MISSED'}`);
    out.push(`    CPU while the push ran: regate ${distinct.registryCpu.toFixed(2)} s (password threads at nice 19 included), the login clients ${distinct.clientCpu.toFixed(2)} s`);
    out.push(`    the password checks' own cost to the push: ${(underLoad / control.speed).toFixed(2)}× the connections-only run`);
    out.push(`  logins answered 200        ${String(ok).padStart(6)} of ${logins}, slowest ${slowest.toFixed(1)} s, all done ${burstSeconds.toFixed(1)} s after the burst (target: all, ≤ 30 s)  ${ok === logins && slowest <= 30 ? 'met' : 'MISSED'}`);
    if (failures.length > 0) out.push(`    first failures: ${failures.join('; ')}`);
    const base = median(times.get('bcrypt user')!);
    out.push('  a wrong password, median of 15 fresh TLS connections each:');
    for (const [kind] of kinds) {
      const m = median(times.get(kind)!);
      out.push(`    ${kind.padEnd(14)} ${m.toFixed(1).padStart(7)} ms   ${(m / base).toFixed(2)}× the bcrypt user   (target 0.80–1.20×)  ${Math.abs(m / base - 1) <= 0.2 ? 'met' : 'MISSED'}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await stop?.();
    rmSync(tmpfs, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
