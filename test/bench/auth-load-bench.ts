// `npm run bench -- auth-load` (issue 11 §4): password checks must not slow the transfers.
// regate over TLS + htpasswd (bcrypt cost 10, `htpasswd -nbB -C 10` for the bench user, bcryptjs
// cost 10 for 200 more), filesystem root on tmpfs:
//   1. rounds (5; BENCH_QUICK 2) of: a 512 MiB push alone (POST, then curl -T PATCH, then PUT
//      ?digest=), then the same push again and, once it streams, 200 logins with 200 distinct
//      credentials at once (GET /v2/, each on its own TLS connection from its own loopback address,
//      as 200 users behind 200 machines would); before each round the users file is rewritten, which
//      drops the verified-credentials cache (a rotation), so none of the 200 is cached. Each round's
//      ratio compares the push under the burst with the push alone right before it (the speed of a
//      lone TLS push swings by half between runs on this machine: one pair could say anything); the
//      median ratio is the result, and every round is printed;
//   2. once, the same push while 200 logins of one already-verified user arrive (the connections
//      alone, no password check);
//   The logins come from a child process at the idle scheduling policy (login-client.ts): they
//   stand for 200 other machines, so their own TLS work must not be what slows the push here;
//   regate's side of each connection (handshake, request, password check) is all measured.
//   3. timing by user kind: wrong passwords for a bcrypt user, an unknown user, an $apr1$ user and a
//      {SHA} user, interleaved, 15 each on fresh connections; medians side by side.
// Targets: push under the burst ≥ 0.8× alone; every login 200 within 30 s; the medians of the four
// kinds within 20% of the bcrypt user's. BENCH_QUICK=1: 256 MiB, 100 logins, 2 rounds.
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../src/auth/password.js';
import { startUpload, uploadAndCommit } from './curl.js';
import { prepareSecureMaterial, startSecureRegate } from './secure-registries.js';
import { login, loopback, prepareBurst, type Login } from './login-client.js';
import { makeLayer } from './swift-bench.js';
import { cpuSeconds } from './proc-stats.js';
import { median } from './phase.js';

const MiB = 1024 * 1024;
const MB = 1_000_000;
const require = createRequire(import.meta.url);
const apacheMd5 = require('apache-md5') as (password: string, salt?: string) => string;

const log = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);


export async function runAuthLoadBench(): Promise<void> {
  const quick = process.env.BENCH_QUICK === '1';
  const layerBytes = (quick ? 256 : 512) * MiB;
  const logins = quick ? 100 : 200;
  const roundCount = quick ? 2 : 5;
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
    await push(); // warms the process: its first push is not a steady-state one

    interface During {
      speed: number;
      results: Login[];
      seconds: number;
      /** CPU seconds of regate while the push ran, and of the login clients for the whole burst. */
      registryCpu: number;
      clientCpu: number;
    }
    let burstNumber = 0;
    const pushDuring = async (credentials: Array<[string, string]>): Promise<During> => {
      const burst = await prepareBurst(registry.url, material.certs.caFile, credentials, 1, join(work, `burst-${++burstNumber}.json`));
      try {
        const registryCpu0 = cpuSeconds(registry.pid) ?? NaN;
        const pushing = push();
        await new Promise((r) => setTimeout(r, 300)); // the push is streaming by now
        const started = performance.now();
        const answered = burst.go();
        const speed = await pushing;
        const registryCpu = (cpuSeconds(registry.pid) ?? NaN) - registryCpu0;
        const { results, cpuSeconds: clientCpu } = await answered;
        return { speed, results, seconds: (performance.now() - started) / 1000, registryCpu, clientCpu };
      } finally {
        burst.kill();
      }
    };
    // The same number of connections and requests with one credential already verified (cached):
    // what the TLS handshakes and requests alone take from the push, without any password check.
    log(`push with ${logins} logins of one cached user arriving at once (connections only)`);
    const cachedUser = users[logins]!;
    await login(registry.url, ca, cachedUser[0], cachedUser[1], loopback(logins + 5));
    const controlAlone = await push();
    const control = await pushDuring(users.map(() => cachedUser));

    interface Round {
      alone: number;
      during: During;
    }
    const rounds: Round[] = [];
    for (let round = 1; round <= roundCount; round++) {
      // A rotation: the rewritten file is reloaded and the verified-credentials cache dropped.
      appendFileSync(material.htpasswdPath, `# round ${round}\n`);
      await new Promise((r) => setTimeout(r, 1_000));
      log(`round ${round}/${roundCount}: push alone, then with ${logins} logins with distinct credentials arriving at once`);
      const alone = await push();
      rounds.push({ alone, during: await pushDuring(users.slice(0, logins)) });
    }
    const ratios = rounds.map((r) => r.during.speed / r.alone);
    const ratio = median(ratios);
    const allResults = rounds.flatMap((r) => r.during.results);
    const ok = allResults.filter((r) => r.status === 200).length;
    const slowest = Math.max(...allResults.map((r) => r.ms)) / 1000;
    const burstSeconds = Math.max(...rounds.map((r) => r.during.seconds));
    // Every login of every round went through a password check: a cached one answers in milliseconds.
    const checked = rounds.map((r) => Math.max(...r.during.results.map((x) => x.ms)) / 1000);
    const failures = allResults.filter((r) => r.status !== 200).slice(0, 3).map((r) => r.error ?? `HTTP ${r.status}`);

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

    const out: string[] = [];
    out.push('');
    out.push(`auth under load: regate, TLS + htpasswd (bcrypt cost 10), ${layerBytes / MiB} MiB push, ${logins} distinct logins at once, ${roundCount} rounds`);
    rounds.forEach((r, i) => {
      out.push(
        `  round ${i + 1}: push alone ${r.alone.toFixed(0).padStart(4)} MB/s, during the logins ${r.during.speed.toFixed(0).padStart(4)} MB/s  ${ratios[i]!.toFixed(2)}×` +
          `   (CPU meanwhile: regate ${r.during.registryCpu.toFixed(2)} s with the password threads at the idle policy, login clients ${r.during.clientCpu.toFixed(2)} s at the idle policy; slowest login ${checked[i]!.toFixed(1)} s)`,
      );
    });
    out.push(`  push during the logins     median ${ratio.toFixed(2)}× alone   (target ≥ 0.80×)  ${ratio >= 0.8 ? 'met' : 'MISSED'}`);
    out.push(`  push during cached logins  ${control.speed.toFixed(0).padStart(6)} MB/s   ${(control.speed / controlAlone).toFixed(2)}× alone (${controlAlone.toFixed(0)} MB/s)   (the ${logins} connections alone, no password check)`);
    out.push(`    CPU while the push ran: regate ${control.registryCpu.toFixed(2)} s; the login clients ${control.clientCpu.toFixed(2)} s (idle policy)`);
    out.push(`  logins answered 200        ${String(ok).padStart(6)} of ${logins * roundCount}, slowest ${slowest.toFixed(1)} s, all done ${burstSeconds.toFixed(1)} s after the burst (target: all, ≤ 30 s)  ${ok === logins * roundCount && slowest <= 30 ? 'met' : 'MISSED'}`);
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
