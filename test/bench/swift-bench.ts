// `npm run bench -- swift`: the Swift driver against the backend's own ceiling and Distribution
// 2.8.2's swift driver, in one run on one one-node OpenStack Swift (the test harness's, stock
// large-object rate limits, devices on disk under os.tmpdir()):
//   raw Swift      the same bytes PUT as one object and GET back with curl (X-Auth-Token)
//   regate         POST, curl -T PATCH, PUT ?digest= (20 MiB segments, the default); GET
//   Distribution   the same through its swift driver (20 MiB segments, DLO, reads through the manifest)
// Scenarios: one 1 GiB layer, then 8 concurrent 128 MiB layers (BENCH_QUICK=1: 256 MiB and 8×32
// MiB; BENCH_SCENARIO=one or many runs one of them), then the round trips of swift-roundtrips.ts
// (BENCH_SCENARIO=roundtrips runs those alone), each BENCH_REPEAT times (default 3; quick: 1)
// in rotated order, since raw Swift alone swings from 240 to 460 MB/s between runs on this machine.
// Every pull, raw ones included, is hashed by
// this process as it arrives, to prove the bytes came back: the same client work on every row. The registry's peak
// RSS is sampled every 50 ms. Prints a table with ratios to raw Swift and the issue's targets.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { startDistribution, startRegate, type RegistryHandle } from '../support/processes.js';
import { regateConfigYaml } from '../support/processes.js';
import { pullDigest, startUpload, uploadAndCommit } from './curl.js';
import { cpuOfMatching, RssSampler, waitedChildrenCpuSeconds } from './proc-stats.js';
import { median } from './phase.js';
import { runSwiftRoundTrips } from './swift-roundtrips.js';

const MiB = 1024 * 1024;
const MB = 1_000_000;

interface Layer {
  file: string;
  size: number;
  digest: string;
}

interface Result {
  who: string;
  scenario: string;
  pushMBs: number;
  pullMBs: number;
  peakRssMiB?: number;
  /** CPU seconds during the push: the registry (none for raw), Swift's servers, the curl clients. */
  pushCpu: { registry: number; swift: number; proxy: number; clients: number };
}

const SWIFT_SERVERS = /swift-(proxy|object|container|account)-server/;
// One process each (workers = 0): the proxy is the one every byte crosses twice, on one core.
const SWIFT_PROXY = /swift-proxy-server/;

/** Measures the CPU that `run` costs each party; `registryPid` may be undefined (raw Swift). */
async function cpuDuring(registryPid: number | undefined, run: () => Promise<number>): Promise<{ seconds: number; cpu: Result['pushCpu'] }> {
  const registry = registryPid === undefined ? undefined : new RssSampler(registryPid);
  const swift = cpuOfMatching(SWIFT_SERVERS);
  const proxy = cpuOfMatching(SWIFT_PROXY);
  const clients = waitedChildrenCpuSeconds();
  const seconds = await run();
  return {
    seconds,
    cpu: {
      registry: registry?.stop().cpuSeconds ?? 0,
      swift: cpuOfMatching(SWIFT_SERVERS) - swift,
      proxy: cpuOfMatching(SWIFT_PROXY) - proxy,
      clients: waitedChildrenCpuSeconds() - clients,
    },
  };
}

/** A file of `size` random bytes and its digest. */
export async function makeLayer(dir: string, name: string, size: number): Promise<Layer> {
  const file = join(dir, name);
  const out = createWriteStream(file);
  const hash = createHash('sha256');
  for (let left = size; left > 0; ) {
    const chunk = randomBytes(Math.min(left, 4 * MiB));
    hash.update(chunk);
    left -= chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { file, size, digest: `sha256:${hash.digest('hex')}` };
}

function curl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '--fail-with-body', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function swiftSession(swift: SwiftAio): Promise<{ storageUrl: string; token: string }> {
  const res = await fetch(swift.authUrl, { headers: { 'x-auth-user': swift.username, 'x-auth-key': swift.password } });
  await res.arrayBuffer();
  return { storageUrl: res.headers.get('x-storage-url')!, token: res.headers.get('x-auth-token')! };
}

async function timedAll<T>(items: T[], fn: (item: T, i: number) => Promise<void>): Promise<number> {
  const start = performance.now();
  await Promise.all(items.map(fn));
  return (performance.now() - start) / 1000;
}

async function rawSwift(swift: SwiftAio, scenario: string, layers: Layer[], n: number): Promise<Result> {
  const { storageUrl, token } = await swiftSession(swift);
  const container = `${storageUrl}/raw-${scenario.replace(/[^a-z0-9]/gi, '')}-${n}`;
  await curl(['-X', 'PUT', '-H', `X-Auth-Token: ${token}`, container]);
  const total = layers.reduce((a, l) => a + l.size, 0);
  const { seconds: push, cpu } = await cpuDuring(undefined, () => timedAll(layers, async (l, i) => {
    const r = await curl(['-X', 'PUT', '-H', `X-Auth-Token: ${token}`, '-T', l.file, `${container}/obj-${i}`]);
    if (r.code !== 0) throw new Error(`raw PUT: ${r.stderr} ${r.stdout}`);
  }));
  // The same client work as the registry pulls: curl's output hashed by this process.
  const pull = await timedAll(layers, async (l, i) => {
    const got = await pullDigest(`${container}/obj-${i}`, ['-H', `X-Auth-Token: ${token}`]);
    if (got.digest !== l.digest) throw new Error(`raw GET obj-${i}: ${got.digest} for ${l.digest}`);
  });
  return { who: 'raw Swift (curl)', scenario, pushMBs: total / MB / push, pullMBs: total / MB / pull, pushCpu: cpu };
}

async function throughRegistry(who: string, registry: RegistryHandle, scenario: string, layers: Layer[]): Promise<Result> {
  const total = layers.reduce((a, l) => a + l.size, 0);
  const repo = (i: number): string => `bench/${scenario.replace(/[^a-z0-9]/gi, '').toLowerCase()}-${i}`;
  const sampler = new RssSampler(registry.pid);
  const uploads = await Promise.all(layers.map((_, i) => startUpload(registry.url, repo(i))));
  const { seconds: push, cpu } = await cpuDuring(registry.pid, () => timedAll(layers, async (l, i) => {
    await uploadAndCommit(registry.url, repo(i), uploads[i]!, l.file, l.size, l.digest);
  }));
  const urls = layers.map((l, i) => `${registry.url}/v2/${repo(i)}/blobs/${l.digest}`);
  const start = performance.now();
  const pulled = await Promise.all(urls.map((u) => pullDigest(u)));
  const pull = (performance.now() - start) / 1000;
  const stats = sampler.stop();
  pulled.forEach((p, i) => {
    if (p.digest !== layers[i]!.digest) throw new Error(`${who}: pulled ${p.digest} for ${layers[i]!.digest}`);
  });
  return { who, scenario, pushMBs: total / MB / push, pullMBs: total / MB / pull, peakRssMiB: stats.peakRssBytes / MiB, pushCpu: cpu };
}

/** One party's runs of one scenario, each paired with raw Swift's run of the same round. */
interface Summary {
  who: string;
  scenario: string;
  runs: Result[];
  /** Ratios to raw Swift within each round (the machine drifts between rounds, not within one). */
  pushRatios: number[];
  pullRatios: number[];
}

function summarize(rounds: Result[][]): Summary[] {
  const summaries = new Map<string, Summary>();
  for (const round of rounds) {
    const raw = round.find((r) => r.who.startsWith('raw'))!;
    for (const r of round) {
      const key = `${r.scenario}\u0000${r.who}`;
      let s = summaries.get(key);
      if (!s) summaries.set(key, (s = { who: r.who, scenario: r.scenario, runs: [], pushRatios: [], pullRatios: [] }));
      s.runs.push(r);
      s.pushRatios.push(r.pushMBs / raw.pushMBs);
      s.pullRatios.push(r.pullMBs / raw.pullMBs);
    }
  }
  return [...summaries.values()];
}

function format(summaries: Summary[], repeat: number): string {
  const lines: string[] = [];
  const pad = (s: string, n: number): string => s.padEnd(n);
  const mid = (s: Summary, f: (r: Result) => number): number => median(s.runs.map(f));
  lines.push(`median of ${repeat} round(s); each round runs raw Swift, regate and Distribution one after another, in rotated order;`);
  lines.push('×raw is the median of the ratios to raw Swift within each round; peak RSS is the highest');
  lines.push(`${pad('scenario', 14)}${pad('who', 30)}${pad('push MB/s', 11)}${pad('×raw', 7)}${pad('pull MB/s', 11)}${pad('×raw', 7)}peak RSS`);
  for (const s of summaries) {
    const rss = s.runs.map((r) => r.peakRssMiB).filter((v): v is number => v !== undefined);
    lines.push(
      `${pad(s.scenario, 14)}${pad(s.who, 30)}${pad(mid(s, (r) => r.pushMBs).toFixed(0), 11)}${pad(median(s.pushRatios).toFixed(2), 7)}${pad(mid(s, (r) => r.pullMBs).toFixed(0), 11)}${pad(median(s.pullRatios).toFixed(2), 7)}${rss.length === 0 ? '' : `${Math.max(...rss).toFixed(0)} MiB`}`,
    );
  }
  if (repeat > 1) {
    lines.push('');
    lines.push('runs (push MB/s ×raw / pull MB/s ×raw, in round order):');
    for (const s of summaries) {
      const runs = s.runs.map((r, i) => `${r.pushMBs.toFixed(0)} ${s.pushRatios[i]!.toFixed(2)} / ${r.pullMBs.toFixed(0)} ${s.pullRatios[i]!.toFixed(2)}`);
      lines.push(`${pad(s.scenario, 14)}${pad(s.who, 30)}${runs.join(', ')}`);
    }
  }
  lines.push('');
  lines.push('CPU seconds during each push, median of the rounds (2 cores shared by all):');
  for (const s of summaries) {
    const cpu = (f: (c: Result['pushCpu']) => number): string => mid(s, (r) => f(r.pushCpu)).toFixed(2);
    lines.push(`${pad(s.scenario, 14)}${pad(s.who, 30)}registry ${cpu((c) => c.registry).padStart(6)}   Swift servers ${cpu((c) => c.swift).padStart(6)} (proxy ${cpu((c) => c.proxy)})   curl ${cpu((c) => c.clients).padStart(6)}`);
  }
  lines.push('targets (issue 9): regate push ≥ 0.8× raw, pull ≥ 0.7× raw, regate peak RSS ≤ 160 MiB');
  return lines.join('\n');
}

type Party = 'raw' | 'regate' | 'distribution';
const PARTIES: Party[] = ['raw', 'regate', 'distribution'];

export async function runSwiftBench(): Promise<void> {
  const quick = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
  const repeat = Number(process.env.BENCH_REPEAT ?? (quick ? 1 : 3));
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`BENCH_REPEAT: a whole number ≥ 1, not ${process.env.BENCH_REPEAT}`);
  const dir = mkdtempSync(join(tmpdir(), 'regate-bench-swift-'));
  let swift: SwiftAio | undefined;
  const running: RegistryHandle[] = [];
  const only = process.env.BENCH_SCENARIO;
  try {
    if (only === 'roundtrips') {
      process.stderr.write('bench swift: starting OpenStack Swift…\n');
      swift = await startSwiftAio();
      process.stdout.write(`\n${await runSwiftRoundTrips(swift)}\n`);
      return;
    }
    process.stderr.write('bench swift: generating layers…\n');
    const big = [await makeLayer(dir, 'big', quick ? 256 * MiB : 1024 * MiB)];
    const many: Layer[] = [];
    for (let i = 0; i < 8; i++) many.push(await makeLayer(dir, `many-${i}`, quick ? 32 * MiB : 128 * MiB));
    process.stderr.write('bench swift: starting OpenStack Swift…\n');
    swift = await startSwiftAio();
    const section = { authurl: swift.authUrl, username: swift.username, password: swift.password };
    const rounds: Result[][] = [];
    const scenarios = ([['one', quick ? '1×256MiB' : '1×1GiB', big], ['many', quick ? '8×32MiB' : '8×128MiB', many]] as const).filter(([key]) => !only || only === key);
    let containers = 0;
    const run = async (party: Party, scenario: string, layers: readonly Layer[]): Promise<Result> => {
      if (party === 'raw') return rawSwift(swift!, scenario, [...layers], ++containers);
      const container = `${party}-${++containers}`;
      const registry = party === 'regate'
        ? await startRegate({ configYaml: regateConfigYaml({ swift: { ...section, container } }) })
        // Redirects off: regate serves the bytes itself, so Distribution must too (no TempURL hop).
        : await startDistribution({ swift: { ...section, container }, extraYaml: 'storage: {redirect: {disable: true}}' });
      running.push(registry);
      try {
        return await throughRegistry(party === 'regate' ? 'regate' : 'Distribution 2.8.2 (swift)', registry, scenario, [...layers]);
      } finally {
        await registry.stop();
      }
    };
    for (const [, scenario, layers] of scenarios) {
      for (let round = 0; round < repeat; round++) {
        const order = PARTIES.map((_, i) => PARTIES[(i + round) % PARTIES.length]!);
        const results: Result[] = [];
        for (const party of order) {
          process.stderr.write(`bench swift: ${scenario} round ${round + 1}/${repeat}: ${party}…\n`);
          results.push(await run(party, scenario, layers));
        }
        // Table rows in one order whatever order the round ran in.
        rounds.push(PARTIES.map((_, i) => results[order.indexOf(PARTIES[i]!)]!));
      }
    }
    const table = format(summarize(rounds), repeat);
    process.stdout.write(`\n${table}\n`);
    if (!only) process.stdout.write(`\n${await runSwiftRoundTrips(swift)}\n`);
    mkdirSync('.bench', { recursive: true });
    writeFileSync(join('.bench', 'swift-results.json'), JSON.stringify(rounds, null, 2));
  } finally {
    for (const r of running) await r.stop().catch(() => undefined);
    await swift?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
