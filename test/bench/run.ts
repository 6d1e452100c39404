// `npm run bench`: regate against CNCF Distribution 2.8.2, both on the filesystem driver, once with
// the root (and the source layers) on tmpfs and once on the disk under os.tmpdir(). Per registry and
// storage: push one big layer (PATCH streamed by curl -T, then PUT ?digest=), pull it back, then 8
// concurrent pushes of distinct layers and 8 concurrent pulls. The registry's RSS is sampled every
// ~50 ms per phase. Prints a side-by-side table with the issue's targets and writes .bench/results.json.
//
// Scenarios (--scenarios=…, default all, run in this order):
//   transfer       the above, plain HTTP, no auth (issue 2)
//   tls-transfer   push + pull of the single big layer through TLS + Basic auth, regate vs
//                  Distribution with http.tls + auth.htpasswd, per storage variant and repeat (issue 3)
//   auth-head      authenticated HEAD of a manifest, 16 concurrent keep-alive connections, a warm-up
//                  then a measured run per registry, one registry at a time; requests/s and p99 side
//                  by side, plus regate with auth off as a reference (issue 3). HEAD is driven by ab
//                  (apache2-utils): wrk cannot send HEAD (its parser waits for the body a HEAD answer
//                  announces but never has: wg/wrk#198), so wrk drives an authenticated GET of the
//                  same manifest as a cross-check row.
// Both TLS scenarios use one openssl certificate (ECDSA P-256) and one users file of bcrypt cost 10
// (`htpasswd -nbB -C 10`) for both registries (secure-registries.ts). wrk is installed with apt-get
// when missing and running as root (said on stderr).
// e.g. `npm run bench -- --scenarios=auth-head,tls-transfer --storage=tmpfs`
//
// Options (argument or environment):
//   --scenarios=transfer,tls-transfer,auth-head | BENCH_SCENARIOS   which scenarios to run
//   --auth-head-seconds=N | BENCH_AUTH_HEAD_SECONDS    measured run per registry and client (default 10, quick 3)
//   --auth-head-warmup=N  | BENCH_AUTH_HEAD_WARMUP     warm-up per registry and client (default 3, quick 1)
//   --auth-head-connections=N | BENCH_AUTH_HEAD_CONNECTIONS   concurrent connections (default 16)
//   --head-clients=ab,wrk | BENCH_HEAD_CLIENTS         load generators for auth-head (default both:
//                                                      ab HEAD = the measurement, wrk GET = cross-check)
//   --wrk-threads=N | BENCH_WRK_THREADS                wrk threads (default 1: 2-core machine, leave the
//                                                      other core to the registry)
//   --no-auth-head-reference | BENCH_NO_AUTH_HEAD_REFERENCE   skip the regate auth-off reference run
//   --quick | BENCH_QUICK=1             128 MiB + 8×32 MiB instead of 1 GiB + 8×256 MiB
//   --keep  | BENCH_KEEP=1              keep the generated source layers (and reuse them next time)
//   --registries=regate,distribution    | BENCH_REGISTRIES   which registries to run
//   --storage=tmpfs,disk                | BENCH_STORAGE      which storage variants to run
//   --repeat=N | BENCH_REPEAT=N         runs per registry and storage, interleaved, order alternating;
//                                       the table shows the median (default 3, quick 1); peak RSS is the max
//   --no-prewarm | BENCH_NO_PREWARM=1   skip touching memory once before measuring (see prewarmMemory)
//   BENCH_TMPFS_DIR (default /dev/shm), BENCH_DISK_DIR (default os.tmpdir()), BENCH_DISTRIBUTION_BIN,
//   BENCH_WRK_BIN, BENCH_AB_BIN (default: wrk / ab on PATH)
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupAllSync, installSignalHandlers, removePathNow, setKeep, trackPath } from './cleanup.js';
import { pullBlob, pullDigest, startUpload, uploadAndCommit } from './curl.js';
import { HEAD_CLIENTS, runAuthHead, type AuthHeadOptions } from './auth-head.js';
import { abPath } from './ab.js';
import { timed, type Phase } from './phase.js';
import { prepareSecureMaterial, startSecureRegistry, type SecureMaterial, type SecureRegistry } from './secure-registries.js';
import { ensureWrk, wrkVersion } from './wrk.js';
import {
  GiB,
  MiB,
  copySources,
  crossCheckDigest,
  ensureSources,
  prepareDiskBase,
  prepareTmpfsBase,
  type Layer,
  type LayerSpec,
  totalBytes,
  type SourceSet,
  type StorageBase,
} from './data.js';
import { hwmBytes, rssBytes } from './proc-stats.js';
import { DISTRIBUTION_BINARY, REGISTRY_LABEL, startRegistry, type RegistryKind, type RunningRegistry } from './registries.js';
import {
  finishRow,
  formatAuthHead,
  formatResults,
  formatTargets,
  measurement,
  TARGETS,
  type AuthHeadRow,
  type Measurement,
  type ProcessPeak,
  type Row,
  type Scenario,
} from './report.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REPO = 'bench';

const SCENARIO_NAMES = ['transfer', 'tls-transfer', 'auth-head'] as const;
type ScenarioName = (typeof SCENARIO_NAMES)[number];

interface Options {
  scenarios: ScenarioName[];
  authHead: Omit<AuthHeadOptions, 'registries' | 'ab' | 'wrk'>;
  quick: boolean;
  keep: boolean;
  repeat: number;
  prewarm: boolean;
  registries: RegistryKind[];
  storages: ('tmpfs' | 'disk')[];
}

function parseList<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T[] {
  if (value === undefined || value === '') return [...allowed];
  const items = value.split(',').map((s) => s.trim()) as T[];
  for (const item of items) if (!allowed.includes(item)) throw new Error(`unknown ${what} "${item}" (allowed: ${allowed.join(', ')})`);
  return items;
}

function parseOptions(argv: string[]): Options {
  const truthy = (v: string | undefined): boolean => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
  let quick = truthy(process.env.BENCH_QUICK);
  let keep = truthy(process.env.BENCH_KEEP);
  let registries = process.env.BENCH_REGISTRIES;
  let storages = process.env.BENCH_STORAGE;
  let repeat = process.env.BENCH_REPEAT;
  let prewarm = !truthy(process.env.BENCH_NO_PREWARM);
  let scenarios = process.env.BENCH_SCENARIOS;
  let headSeconds = process.env.BENCH_AUTH_HEAD_SECONDS;
  let headWarmup = process.env.BENCH_AUTH_HEAD_WARMUP;
  let headConnections = process.env.BENCH_AUTH_HEAD_CONNECTIONS;
  let wrkThreads = process.env.BENCH_WRK_THREADS;
  let headReference = !truthy(process.env.BENCH_NO_AUTH_HEAD_REFERENCE);
  let headClients = process.env.BENCH_HEAD_CLIENTS;
  const value = (arg: string, name: string): string | undefined => (arg.startsWith(`--${name}=`) ? arg.slice(name.length + 3) : undefined);
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (value(arg, 'scenarios') !== undefined) scenarios = value(arg, 'scenarios');
    else if (value(arg, 'auth-head-seconds') !== undefined) headSeconds = value(arg, 'auth-head-seconds');
    else if (value(arg, 'auth-head-warmup') !== undefined) headWarmup = value(arg, 'auth-head-warmup');
    else if (value(arg, 'auth-head-connections') !== undefined) headConnections = value(arg, 'auth-head-connections');
    else if (value(arg, 'wrk-threads') !== undefined) wrkThreads = value(arg, 'wrk-threads');
    else if (arg === '--no-auth-head-reference') headReference = false;
    else if (value(arg, 'head-clients') !== undefined) headClients = value(arg, 'head-clients');
    else if (arg.startsWith('--repeat=')) repeat = arg.slice('--repeat='.length);
    else if (arg === '--no-prewarm') prewarm = false;
    else if (arg === '--keep') keep = true;
    else if (arg.startsWith('--registries=')) registries = arg.slice('--registries='.length);
    else if (arg.startsWith('--storage=')) storages = arg.slice('--storage='.length);
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).join('\n') + '\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  const repeats = repeat === undefined || repeat === '' ? (quick ? 1 : 3) : Number(repeat);
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeat must be a positive integer, not ${repeat}`);
  const positive = (v: string | undefined, fallback: number, what: string, min = 1): number => {
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`${what} must be a number ≥ ${min}, not ${v}`);
    return n;
  };
  const connections = Math.floor(positive(headConnections, 16, '--auth-head-connections'));
  const threads = Math.floor(positive(wrkThreads, 1, '--wrk-threads'));
  if (threads > connections) throw new Error(`--wrk-threads (${threads}) cannot exceed --auth-head-connections (${connections})`);
  return {
    scenarios: parseList(scenarios, SCENARIO_NAMES, 'scenario'),
    authHead: {
      clients: parseList(headClients, HEAD_CLIENTS, 'auth-head load generator'),
      seconds: positive(headSeconds, quick ? 3 : 10, '--auth-head-seconds'),
      warmupSeconds: positive(headWarmup, quick ? 1 : 3, '--auth-head-warmup'),
      connections,
      threads,
      // wrk's default (2 s) would count Distribution's queued bcrypt answers as timeouts.
      timeoutSeconds: 30,
      reference: headReference,
    },
    quick,
    keep,
    repeat: repeats,
    prewarm,
    registries: parseList(registries, ['regate', 'distribution'] as const, 'registry'),
    storages: parseList(storages, ['tmpfs', 'disk'] as const, 'storage variant'),
  };
}

const log = (msg: string): void => {
  process.stderr.write(`bench: ${msg}\n`);
};

const mib = (v: number | undefined): string => (v === undefined ? '?' : v.toFixed(1));

const sizeLabel = (n: number): string => (n >= GiB && n % GiB === 0 ? `${n / GiB} GiB` : `${n / MiB} MiB`);

/** Single-core sha256 speed of this Node, the ceiling for a registry that hashes as it receives. */
function sha256Reference(): number {
  const buf = randomBytes(64 * MiB);
  createHash('sha256').update(buf).digest();
  const rounds = 4;
  const start = performance.now();
  for (let i = 0; i < rounds; i++) createHash('sha256').update(buf).digest();
  return (rounds * buf.length) / ((performance.now() - start) / 1000) / 1e6;
}

function syncDisks(): void {
  try {
    execFileSync('sync');
  } catch {
    // best effort
  }
}

type Measured = Partial<Record<Scenario, Measurement>>;

async function benchRegistry(
  reg: RunningRegistry,
  sources: SourceSet,
  settle: () => void,
  onWarm: () => void,
): Promise<Measured> {
  const out: Measured = {};
  const record = (scenario: Scenario, bytes: number, phase: Phase<unknown>): void => {
    out[scenario] = measurement(bytes, phase.seconds, phase.stats.peakRssBytes, phase.stats.samples, phase.stats.cpuSeconds);
    const m = out[scenario]!;
    log(`  ${scenario}: ${m.mbPerSec.toFixed(0)} MB/s (${m.seconds.toFixed(2)} s, peak RSS ${m.peakRssMiB.toFixed(1)} MiB, CPU ${m.cpuSeconds.toFixed(2)} s)`);
  };
  const single = sources.single;
  const fileOf = (layer: Layer): string => join(sources.dir, layer.name);

  // Warm-up, untimed: one small push and pull so JIT, first-request and first-directory costs are
  // not charged to the first measured phase.
  const warmUrl = await startUpload(reg.url, REPO);
  await uploadAndCommit(reg.url, REPO, warmUrl, fileOf(sources.warm), sources.warm.size, sources.warm.digest);
  const warmBytes = await pullBlob(`${reg.url}/v2/${REPO}/blobs/${sources.warm.digest}`);
  if (warmBytes !== sources.warm.size) throw new Error(`warm-up pull returned ${warmBytes} of ${sources.warm.size} bytes`);
  settle();
  onWarm();

  // (a) one big layer: POST untimed, PATCH + PUT timed.
  const uploadUrl = await startUpload(reg.url, REPO);
  const push = await timed(reg.pid, () => uploadAndCommit(reg.url, REPO, uploadUrl, fileOf(single), single.size, single.digest));
  record('push-single', single.size, push);
  settle();

  // (b) pull it back; bytes checked here, the digest in a separate untimed GET.
  const blobUrl = `${reg.url}/v2/${REPO}/blobs/${single.digest}`;
  const pull = await timed(reg.pid, () => pullBlob(blobUrl));
  if (pull.result !== single.size) throw new Error(`pull of ${single.name} returned ${pull.result} of ${single.size} bytes`);
  record('pull-single', single.size, pull);
  const check = await pullDigest(blobUrl);
  if (check.digest !== single.digest || check.bytes !== single.size) {
    throw new Error(`pulled ${single.name} is ${check.digest} (${check.bytes} bytes), pushed ${single.digest}`);
  }
  settle();

  // (c) concurrent pushes of distinct layers, then concurrent pulls of them.
  const many = sources.many;
  const manyBytes = many.reduce((n, l) => n + l.size, 0);
  const uploadUrls: string[] = [];
  for (let i = 0; i < many.length; i++) uploadUrls.push(await startUpload(reg.url, REPO));
  const pushMany = await timed(reg.pid, () =>
    Promise.all(many.map((layer, i) => uploadAndCommit(reg.url, REPO, uploadUrls[i]!, fileOf(layer), layer.size, layer.digest))),
  );
  record('push-concurrent', manyBytes, pushMany);
  settle();

  const pullMany = await timed(reg.pid, () => Promise.all(many.map((layer) => pullBlob(`${reg.url}/v2/${REPO}/blobs/${layer.digest}`))));
  pullMany.result.forEach((bytes, i) => {
    if (bytes !== many[i]!.size) throw new Error(`concurrent pull of ${many[i]!.name} returned ${bytes} of ${many[i]!.size} bytes`);
  });
  record('pull-concurrent', manyBytes, pullMany);
  return out;
}

/**
 * The single big layer through TLS + Basic auth: warm-up push/pull of the small layer (untimed, it
 * also authenticates once so the first timed request does not pay the first bcrypt compare), then
 * PATCH + PUT timed, the pull timed, the digest checked in an untimed GET. Same curl calls as the
 * plain-HTTP phases, plus `--cacert CA -u USER:PASS`.
 */
async function benchTlsRegistry(reg: SecureRegistry, sources: SourceSet, settle: () => void, onWarm: () => void): Promise<Measured> {
  const out: Measured = {};
  const auth = reg.curlArgs;
  const record = (scenario: Scenario, bytes: number, phase: Phase<unknown>): void => {
    out[scenario] = measurement(bytes, phase.seconds, phase.stats.peakRssBytes, phase.stats.samples, phase.stats.cpuSeconds);
    const m = out[scenario]!;
    log(`  ${scenario}: ${m.mbPerSec.toFixed(0)} MB/s (${m.seconds.toFixed(2)} s, peak RSS ${m.peakRssMiB.toFixed(1)} MiB, CPU ${m.cpuSeconds.toFixed(2)} s)`);
  };
  const fileOf = (layer: Layer): string => join(sources.dir, layer.name);
  const warmUrl = await startUpload(reg.url, REPO, auth);
  await uploadAndCommit(reg.url, REPO, warmUrl, fileOf(sources.warm), sources.warm.size, sources.warm.digest, auth);
  const warmBytes = await pullBlob(`${reg.url}/v2/${REPO}/blobs/${sources.warm.digest}`, auth);
  if (warmBytes !== sources.warm.size) throw new Error(`TLS warm-up pull returned ${warmBytes} of ${sources.warm.size} bytes`);
  settle();
  onWarm();

  const single = sources.single;
  const uploadUrl = await startUpload(reg.url, REPO, auth);
  const push = await timed(reg.pid, () => uploadAndCommit(reg.url, REPO, uploadUrl, fileOf(single), single.size, single.digest, auth));
  record('tls-push-single', single.size, push);
  settle();

  const blobUrl = `${reg.url}/v2/${REPO}/blobs/${single.digest}`;
  const pull = await timed(reg.pid, () => pullBlob(blobUrl, auth));
  if (pull.result !== single.size) throw new Error(`TLS pull of ${single.name} returned ${pull.result} of ${single.size} bytes`);
  record('tls-pull-single', single.size, pull);
  const check = await pullDigest(blobUrl, auth);
  if (check.digest !== single.digest || check.bytes !== single.size) {
    throw new Error(`TLS-pulled ${single.name} is ${check.digest} (${check.bytes} bytes), pushed ${single.digest}`);
  }
  return out;
}

/**
 * The median run by throughput (its time and CPU with it), the highest peak RSS of all runs, and
 * every run's MB/s for the record.
 */
function combine(all: (Measurement | undefined)[]): Measurement | undefined {
  const runs = all.filter((m): m is Measurement => m !== undefined);
  if (runs.length === 0) return undefined;
  const sorted = [...runs].sort((a, b) => a.mbPerSec - b.mbPerSec);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return {
    ...median,
    peakRssMiB: Math.max(...runs.map((m) => m.peakRssMiB)),
    runsMbPerSec: runs.map((m) => Math.round(m.mbPerSec)),
  };
}

/**
 * Touches (then frees) `bytes` of memory in a child process. On a VM whose guest memory is backed
 * lazily by the host, the first touch of a page is several times slower than any later one; without
 * this, whichever registry runs first on fresh memory is charged for it (seen here: the same
 * regate push at ~250 MB/s on first-touched memory and ~670 MB/s afterwards).
 */
function prewarmMemory(bytes: number): void {
  const available = memAvailable();
  const target = Math.min(bytes, Math.max(0, available - 2 * GiB));
  if (target < 256 * MiB) return;
  const chunks = Math.floor(target / (256 * MiB));
  const start = performance.now();
  execFileSync(process.execPath, ['-e', `const a = []; for (let i = 0; i < ${chunks}; i++) a.push(Buffer.alloc(${256 * MiB}, 1));`], {
    stdio: 'ignore',
  });
  const seconds = (performance.now() - start) / 1000;
  log(`pre-touched ${(chunks / 4).toFixed(2)} GiB of memory in ${seconds.toFixed(1)} s (${((chunks * 256 * MiB) / seconds / 1e6).toFixed(0)} MB/s)`);
}

function memAvailable(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function versionOf(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]!.trim();
  } catch (err) {
    throw new Error(`${cmd} is needed for the benchmark: ${(err as Error).message}`);
  }
}

/** `npm run bench -- <name>`: benches that run on their own, each loaded only when asked for. */
const SINGLE_BENCHES: Record<string, () => Promise<void>> = {
  swift: async () => (await import('./swift-bench.js')).runSwiftBench(),
  catalog: async () => (await import('./catalog-bench.js')).runCatalogBench(),
  referrers: async () => (await import('./referrers-bench.js')).runReferrersBench(),
  blobcache: async () => (await import('./blobcache-bench.js')).runBlobCacheBench(),
  push: async () => (await import('./push-scale-bench.js')).runPushScaleBench(),
  'auth-load': async () => (await import('./auth-load-bench.js')).runAuthLoadBench(),
  upstream: async () => (await import('./upstream-bench.js')).runUpstreamBench(),
  ui: async () => (await import('./web-ui-bench.js')).runWebUiBench(),
  mirror: async () => (await import('./mirror-bench.js')).runMirrorBench(),
};

async function main(): Promise<void> {
  const name = process.argv[2] ?? '';
  const single = Object.hasOwn(SINGLE_BENCHES, name) ? SINGLE_BENCHES[name] : undefined;
  if (single) {
    await single();
    return;
  }
  const options = parseOptions(process.argv.slice(2));
  setKeep(options.keep);
  installSignalHandlers();
  const wants = (name: ScenarioName): boolean => options.scenarios.includes(name);
  const spec: LayerSpec = options.quick
    ? { singleBytes: 128 * MiB, manyBytes: 32 * MiB, manyCount: 8 }
    : { singleBytes: GiB, manyBytes: 256 * MiB, manyCount: 8 };
  const specTag = `${spec.singleBytes / MiB}m-${spec.manyCount}x${spec.manyBytes / MiB}m`;
  const runId = `${process.pid}`;
  const needSources = wants('transfer') || wants('tls-transfer');

  const curlVersion = versionOf('curl', ['--version']);
  const distributionVersion = options.registries.includes('distribution') ? versionOf(DISTRIBUTION_BINARY, ['--version']) : 'not run';
  if (!existsSync(fileURLToPath(new URL('../../src/main.js', import.meta.url)))) throw new Error('dist/src/main.js is missing: run npm run build');
  // Before anything long: a missing wrk is installed (or reported) now, not after minutes of transfers.
  const wrk = wants('auth-head') && options.authHead.clients.includes('wrk') ? ensureWrk(log) : undefined;
  const wrkVersionText = wrk ? wrkVersion(wrk) : 'not run';
  const ab = wants('auth-head') && options.authHead.clients.includes('ab') ? abPath() : undefined;
  const abVersionText = ab ? versionOf(ab, ['-V']) : 'not run';

  log(`scenarios: ${options.scenarios.join(', ')}; registries: ${options.registries.join(', ')}`);
  if (needSources) {
    log(
      `mode ${options.quick ? 'quick' : 'full'}: push/pull 1×${sizeLabel(spec.singleBytes)}` +
        (wants('transfer') ? `, then ${spec.manyCount}×${sizeLabel(spec.manyBytes)} concurrently` : '') +
        (wants('tls-transfer') ? `; 1×${sizeLabel(spec.singleBytes)} again through TLS + auth` : '') +
        `; ${options.repeat} run(s) per registry and storage`,
    );
  }
  if (wants('auth-head')) {
    const h = options.authHead;
    log(
      `auth-head: ${h.connections} connections, ${h.warmupSeconds} s warm-up + ${h.seconds} s measured per registry and client: ` +
        h.clients.map((c) => (c === 'ab' ? `ab HEAD (${abVersionText})` : `wrk -t${h.threads} GET (${wrkVersionText})`)).join(', '),
    );
  }
  const shaMBps = sha256Reference();
  log(`reference: Node sha256 on one core ≈ ${shaMBps.toFixed(0)} MB/s`);

  const bases: StorageBase[] = [];
  const skipped: Record<string, string> = {};
  // The disk base always exists: it holds the generated sources that the tmpfs copy comes from.
  const disk = prepareDiskBase(spec);
  if ('skip' in disk) throw new Error(disk.skip);
  log(`disk:  ${disk.note}`);
  if (options.storages.includes('tmpfs')) {
    const tmpfs = prepareTmpfsBase(spec, runId);
    if ('skip' in tmpfs) {
      skipped.tmpfs = tmpfs.skip;
      log(`tmpfs: SKIPPED — ${tmpfs.skip}`);
    } else {
      log(`tmpfs: ${tmpfs.note}`);
      bases.push(tmpfs);
    }
  }
  if (options.storages.includes('disk')) bases.push(disk);
  if (bases.length === 0) throw new Error(`no storage variant left to run (${JSON.stringify(skipped)})`);

  const sourcesFor = new Map<StorageBase, SourceSet>();
  if (needSources) {
    const diskSources = await ensureSources(join(disk.dir, `src-${specTag}`), spec, log);
    crossCheckDigest(diskSources.dir, diskSources.single);
    for (const base of bases) {
      sourcesFor.set(base, base === disk ? diskSources : await copySources(diskSources, join(base.dir, `src-${specTag}`), spec, log));
    }
    syncDisks();
  }

  // Certificate + users file for the TLS scenarios, shared by both registries.
  let material: SecureMaterial | undefined;
  if (wants('tls-transfer') || wants('auth-head')) {
    const materialDir = join(disk.dir, `secure-${runId}`);
    trackPath(materialDir, true);
    material = await prepareSecureMaterial(materialDir, log);
  }

  const rows: Row[] = [];
  const peaks: ProcessPeak[] = [];
  const scenarios: { scenario: Scenario; label: string }[] = [
    { scenario: 'push-single', label: `push 1×${sizeLabel(spec.singleBytes)}` },
    { scenario: 'pull-single', label: `pull 1×${sizeLabel(spec.singleBytes)}` },
    { scenario: 'push-concurrent', label: `push ${spec.manyCount}×${sizeLabel(spec.manyBytes)} concurrent` },
    { scenario: 'pull-concurrent', label: `pull ${spec.manyCount}×${sizeLabel(spec.manyBytes)} concurrent` },
  ];
  const tlsScenarios: { scenario: Scenario; label: string }[] = [
    { scenario: 'tls-push-single', label: `push 1×${sizeLabel(spec.singleBytes)} TLS+auth` },
    { scenario: 'tls-pull-single', label: `pull 1×${sizeLabel(spec.singleBytes)} TLS+auth` },
  ];
  const tlsNegotiated: Record<string, string> = {};

  if (options.prewarm && needSources) prewarmMemory(2 * totalBytes(spec) + GiB);

  // One transfer scenario (plain or TLS + auth) over every storage variant, repeats interleaved.
  const runTransfers = async (
    name: 'transfer' | 'tls-transfer',
    rowScenarios: { scenario: Scenario; label: string }[],
    start: (kind: RegistryKind, workDir: string, root: string) => Promise<RunningRegistry>,
    bench: (reg: RunningRegistry, sources: SourceSet, settle: () => void, onWarm: () => void) => Promise<Measured>,
  ): Promise<void> => {
    for (const base of bases) {
      const sources = sourcesFor.get(base)!;
      const settle = base.variant === 'disk' ? syncDisks : (): void => undefined;
      const runs: Partial<Record<RegistryKind, Measured[]>> = {};
      for (let rep = 0; rep < options.repeat; rep++) {
        // Alternate who goes first, so neither registry always inherits the other's page-cache state.
        const order = rep % 2 === 0 ? options.registries : [...options.registries].reverse();
        for (const kind of order) {
          const runDir = join(base.dir, `run-${runId}`, `${name}-${kind}`);
          trackPath(join(base.dir, `run-${runId}`), true);
          mkdirSync(runDir, { recursive: true });
          const repNote = options.repeat > 1 ? ` run ${rep + 1}/${options.repeat}` : '';
          log(`${name}: ${REGISTRY_LABEL[kind]} on ${base.variant}${repNote} (${runDir})`);
          const reg = await start(kind, runDir, join(runDir, 'root'));
          const startRss = rssBytes(reg.pid);
          let warmRss: number | undefined;
          try {
            const measured = await bench(reg, sources, settle, () => {
              warmRss = rssBytes(reg.pid);
            });
            (runs[kind] ??= []).push(measured);
            const maxSampled = Math.max(...Object.values(measured).map((m) => m.peakRssMiB));
            const hwm = hwmBytes(reg.pid);
            const peak: ProcessPeak = { registry: kind, storage: base.variant, run: rep + 1, maxSampledRssMiB: maxSampled };
            if (name !== 'transfer') peak.scenario = name;
            if (startRss !== undefined) peak.startRssMiB = startRss / MiB;
            if (warmRss !== undefined) peak.warmRssMiB = warmRss / MiB;
            if (hwm !== undefined) peak.vmHwmMiB = hwm / MiB;
            peaks.push(peak);
            log(`  RSS at start ${mib(peak.startRssMiB)} MiB, after warm-up ${mib(peak.warmRssMiB)} MiB, max sampled ${mib(maxSampled)} MiB, VmHWM ${mib(peak.vmHwmMiB)} MiB`);
          } catch (err) {
            process.stderr.write(`bench: ${name} against ${REGISTRY_LABEL[kind]} on ${base.variant} failed; its log ends with:\n${reg.logTail()}\n`);
            throw err;
          } finally {
            await reg.stop();
            removePathNow(runDir);
            settle();
          }
        }
      }
      for (const { scenario, label } of rowScenarios) {
        const row: Row = { scenario, label, storage: base.variant, ratioTarget: 0 };
        const r = combine((runs.regate ?? []).map((m) => m[scenario]));
        const d = combine((runs.distribution ?? []).map((m) => m[scenario]));
        if (r) row.regate = r;
        if (d) row.distribution = d;
        rows.push(finishRow(row));
      }
    }
  };

  if (wants('transfer')) {
    await runTransfers('transfer', scenarios, (kind, workDir, root) => startRegistry(kind, workDir, root), benchRegistry);
  }
  if (wants('tls-transfer')) {
    await runTransfers(
      'tls-transfer',
      tlsScenarios,
      async (kind, workDir, root) => {
        const reg = await startSecureRegistry(kind, workDir, root, material!);
        tlsNegotiated[kind] = reg.tls;
        log(`  TLS: ${reg.tls}`);
        return reg;
      },
      (reg, sources, settle, onWarm) => benchTlsRegistry(reg as SecureRegistry, sources, settle, onWarm),
    );
  }

  const authHead: AuthHeadRow[] = [];
  if (wants('auth-head')) {
    // One storage variant is enough for a manifest HEAD (a few small files, page-cached): tmpfs
    // when it runs, else disk.
    const base = bases[0]!;
    authHead.push(
      ...(await runAuthHead(
        base,
        runId,
        material!,
        { ...options.authHead, registries: options.registries, ...(ab ? { ab } : {}), ...(wrk ? { wrk } : {}) },
        log,
      )),
    );
  }

  const table = rows.length > 0 ? formatResults(rows) : '(no transfer scenario run)';
  const targets = formatTargets(rows, authHead);
  const hwmLines = peaks.map(
    (p) =>
      `  ${REGISTRY_LABEL[p.registry].padEnd(18)} ${(p.scenario ?? 'transfer').padEnd(12)} on ${p.storage.padEnd(5)}${options.repeat > 1 ? ` run ${p.run}` : ''}: at start ${mib(p.startRssMiB)}, after warm-up ${mib(p.warmRssMiB)}, ` +
      `max sampled VmRSS ${mib(p.maxSampledRssMiB)}, VmHWM ${mib(p.vmHwmMiB)} (MiB)`,
  );
  const tlsNote = Object.keys(tlsNegotiated).length
    ? `TLS + auth rows: HTTPS, both registries with the same ECDSA P-256 certificate and a bcrypt cost-10 htpasswd user; negotiated ${Object.entries(tlsNegotiated)
        .map(([k, v]) => `${REGISTRY_LABEL[k as RegistryKind]} ${v}`)
        .join(', ')}`
    : undefined;
  process.stdout.write(
    [
      '',
      `regate vs ${distributionVersion} — ${options.quick ? 'QUICK' : 'full'} run, scenarios ${options.scenarios.join(', ')}`,
      ...(rows.length > 0
        ? [
            `transfers: MB/s = 10^6 bytes/s, client curl, loopback HTTP/1.1; ${options.repeat === 1 ? 'one run per registry and storage' : `median of ${options.repeat} interleaved runs per registry and storage (peak RSS: max over runs)`}`,
            ...(tlsNote ? [tlsNote] : []),
          ]
        : []),
      `storage: ${bases.map((b) => `${b.variant} = ${b.dir} (${b.fsType})`).join('; ')}${Object.keys(skipped).length ? `; skipped: ${JSON.stringify(skipped)}` : ''}`,
      `reference: Node sha256 one core ≈ ${shaMBps.toFixed(0)} MB/s; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`,
      '',
      table,
      ...(peaks.length > 0
        ? ['', 'memory per registry process (VmRSS at start / after warm-up / max of the 50 ms samples, and the kernel\'s lifetime VmHWM):', ...hwmLines]
        : []),
      ...(authHead.length > 0 ? ['', formatAuthHead(authHead)] : []),
      '',
      targets,
      '',
    ].join('\n'),
  );

  const jsonPath = join(PROJECT_ROOT, '.bench', 'results.json');
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(
    jsonPath,
    JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        mode: options.quick ? 'quick' : 'full',
        scenarios: options.scenarios,
        repeat: options.repeat,
        prewarm: options.prewarm,
        layers: spec,
        units: { throughput: 'MB/s (10^6 bytes per second)', rss: 'MiB', latency: 'ms', rate: 'requests per second' },
        machine: {
          cpus: cpus().length,
          cpuModel: cpus()[0]?.model,
          node: process.version,
          curl: curlVersion,
          distribution: distributionVersion,
          wrk: wrkVersionText,
          ab: abVersionText,
        },
        reference: { nodeSha256OneCoreMBps: shaMBps },
        storage: Object.fromEntries(bases.map((b) => [b.variant, { dir: b.dir, fsType: b.fsType, mountPoint: b.mountPoint, note: b.note }])),
        skipped,
        targets: TARGETS,
        ...(material
          ? {
              tlsAuth: {
                certificate: 'ECDSA P-256, openssl (test/support/tls-auth-target.ts makeTestCertificates), same for both registries',
                users: `1 user, htpasswd -nbB -C 10 (${material.hashPrefix})`,
                negotiated: tlsNegotiated,
              },
            }
          : {}),
        rows,
        authHead,
        processPeaks: peaks,
      },
      null,
      2,
    ) + '\n',
  );
  log(`wrote ${jsonPath}`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench: FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
} finally {
  cleanupAllSync();
}
