// The auth-head scenario (issue 3): authenticated `HEAD /v2/<repo>/manifests/<tag>` with N
// concurrent keep-alive connections, regate vs Distribution 2.8.2, both TLS + htpasswd with one
// bcrypt cost-10 user. HEAD is driven by ab (`ab -i`); wrk cannot send HEAD (see wrk.ts), so it
// drives an authenticated GET of the same manifest as a cross-check. Per registry, one at a time,
// on a fresh process:
//   1. two authenticated `HEAD /v2/` with curl, each on a new connection, timed: the first pays one
//      bcrypt compare; the second shows whether the registry caches verified credentials;
//   2. push a tiny OCI image (config + one 32 KiB layer + manifest tagged `latest`) with curl;
//   3. check the HEAD answers 200 with the manifest's digest with credentials, 401 without;
//   4. per load generator: warm-up (untimed), wait for the registry to go idle (Distribution keeps
//      comparing bcrypt for requests the warm-up left in flight), then the measured run, with the
//      registry's CPU and RSS and the machine's busy cores sampled over it.
// Any socket error, timeout or non-2xx/3xx answer marks the measurement invalid (a flood of fast
// 401s or 429s must not pass for speed) and the ratio is then not computed.
// Optionally the same against regate with auth off (TLS only): what auth itself costs regate.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { runAb } from './ab.js';
import { removePathNow, trackPath } from './cleanup.js';
import { headRequest, putManifest, startUpload, uploadAndCommit } from './curl.js';
import { timed } from './phase.js';
import { REGISTRY_LABEL, type RegistryKind } from './registries.js';
import { finishAuthHeadRow, type AuthHeadRow, type HeadMeasurement } from './report.js';
import { startSecureRegate, startSecureRegistry, type SecureMaterial, type SecureRegistry } from './secure-registries.js';
import { cpuSeconds } from './proc-stats.js';
import { runWrk, writeWrkScript, type LoadResult } from './wrk.js';

const MiB = 1024 * 1024;
const REPO = 'bench/head';
const TAG = 'latest';
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
/** What `docker pull` sends when it resolves a tag. */
const ACCEPT = [
  MANIFEST_TYPE,
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

export type HeadClient = 'ab' | 'wrk';
export const HEAD_CLIENTS: readonly HeadClient[] = ['ab', 'wrk'];
const METHOD: Record<HeadClient, 'HEAD' | 'GET'> = { ab: 'HEAD', wrk: 'GET' };

export interface AuthHeadOptions {
  /** ab (HEAD, the issue's measurement) and/or wrk (GET, cross-check). */
  clients: HeadClient[];
  /** Paths of the tools (wrk only when used). */
  ab?: string;
  wrk?: string;
  seconds: number;
  warmupSeconds: number;
  connections: number;
  threads: number;
  timeoutSeconds: number;
  registries: RegistryKind[];
  /** Also run regate with auth off (TLS only) as a reference. */
  reference: boolean;
}

interface Seed {
  manifestDigest: string;
}

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Pushes a one-layer OCI image tagged TAG through the registry's TLS (+ auth). */
async function seedImage(reg: SecureRegistry, dir: string): Promise<Seed> {
  mkdirSync(dir, { recursive: true });
  const layer = randomBytes(32 * 1024);
  const layerDigest = sha256(layer);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layerDigest] } }),
  );
  const configDigest = sha256(config);
  for (const [name, data, digest] of [
    ['config.json', config, configDigest],
    ['layer.bin', layer, layerDigest],
  ] as const) {
    const file = join(dir, name);
    writeFileSync(file, data);
    const uploadUrl = await startUpload(reg.url, REPO, reg.curlArgs);
    await uploadAndCommit(reg.url, REPO, uploadUrl, file, data.length, digest, reg.curlArgs);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
    }),
  );
  const manifestFile = join(dir, 'manifest.json');
  writeFileSync(manifestFile, manifest);
  await putManifest(reg.url, REPO, TAG, manifestFile, MANIFEST_TYPE, reg.curlArgs);
  return { manifestDigest: sha256(manifest) };
}

/** The HEAD answers 200 + the right digest with credentials, and 401 + a Basic challenge without. */
async function preflight(reg: SecureRegistry, seed: Seed, url: string): Promise<void> {
  const ok = await headRequest(url, [`Accept: ${ACCEPT}`], reg.curlArgs);
  if (ok.status !== 200) throw new Error(`HEAD ${url} with credentials answered ${ok.status}, not 200`);
  const digest = ok.headers.get('docker-content-digest');
  if (digest !== seed.manifestDigest) throw new Error(`HEAD ${url}: Docker-Content-Digest ${digest}, pushed ${seed.manifestDigest}`);
  if (reg.auth) {
    const anonymous = await headRequest(url, [`Accept: ${ACCEPT}`], ['--cacert', reg.caFile]);
    const challenge = anonymous.headers.get('www-authenticate') ?? '';
    if (anonymous.status !== 401 || !/^basic /i.test(challenge)) {
      throw new Error(`HEAD ${url} without credentials answered ${anonymous.status} (${challenge || 'no challenge'}), not 401 + Basic`);
    }
  }
}

/** Busy CPU ticks of the whole machine (all cores), from the first line of /proc/stat. */
function machineBusyTicks(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields.map(Number);
  return user + nice + system + irq + softirq + steal;
}

/** Waits (up to 10 s) until the registry uses under ~4 % of a core over two 250 ms looks. */
async function quiesce(pid: number): Promise<void> {
  let calm = 0;
  let before = cpuSeconds(pid) ?? 0;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && calm < 2; ) {
    await new Promise((r) => setTimeout(r, 250));
    const now = cpuSeconds(pid) ?? 0;
    calm = now - before <= 0.01 ? calm + 1 : 0;
    before = now;
  }
}

interface Prepared {
  reg: SecureRegistry;
  workDir: string;
  path: string;
  authProbeMs?: HeadMeasurement['authProbeMs'];
}

async function prepare(reg: SecureRegistry, workDir: string): Promise<Prepared> {
  let authProbeMs: HeadMeasurement['authProbeMs'];
  if (reg.auth) {
    // Before anything else has authenticated: nothing can be cached yet.
    const first = await headRequest(`${reg.url}/v2/`, [], reg.curlArgs);
    const second = await headRequest(`${reg.url}/v2/`, [], reg.curlArgs);
    if (first.status !== 200 || second.status !== 200) throw new Error(`HEAD /v2/ with credentials answered ${first.status}/${second.status}`);
    authProbeMs = { first: first.timeTotal * 1000, second: second.timeTotal * 1000 };
  }
  const seed = await seedImage(reg, join(workDir, 'seed'));
  const path = `/v2/${REPO}/manifests/${TAG}`;
  await preflight(reg, seed, `${reg.url}${path}`);
  return { reg, workDir, path, ...(authProbeMs ? { authProbeMs } : {}) };
}

const errorCount = (r: LoadResult): number => Object.values(r.errors).reduce((a, b) => a + b, 0);

async function measureWith(client: HeadClient, p: Prepared, options: AuthHeadOptions, log: (msg: string) => void): Promise<HeadMeasurement> {
  const { reg } = p;
  const url = `${reg.url}${p.path}`;
  const headers = { Accept: ACCEPT, ...(reg.authorization ? { Authorization: reg.authorization } : {}) };
  let run: (seconds: number) => Promise<LoadResult>;
  if (client === 'wrk') {
    const script = writeWrkScript(join(p.workDir, 'get.lua'), { method: METHOD.wrk, path: p.path, headers });
    run = (seconds) =>
      runWrk(options.wrk!, { url, script, connections: options.connections, threads: options.threads, timeoutSeconds: options.timeoutSeconds, seconds });
  } else {
    run = (seconds) =>
      runAb(options.ab!, {
        url,
        method: METHOD.ab,
        headers,
        connections: options.connections,
        timeoutSeconds: options.timeoutSeconds,
        seconds,
        csvFile: join(p.workDir, 'ab-percentiles.csv'),
      });
  }
  const what = `${client} ${METHOD[client]}`;
  const warm = await run(options.warmupSeconds);
  log(`  ${what} warm-up ${options.warmupSeconds} s: ${warm.requestsPerSec.toFixed(1)} req/s, p99 ${warm.latencyMs.p99.toFixed(2)} ms${errorCount(warm) ? `, ${errorCount(warm)} ERRORS` : ''}`);
  await quiesce(reg.pid);
  const load1 = loadavg()[0] ?? 0;
  const busyBefore = machineBusyTicks();
  const phase = await timed(reg.pid, () => run(options.seconds));
  const busyCores = (machineBusyTicks() - busyBefore) / 100 / phase.seconds;
  const res = phase.result;
  const errors = errorCount(res);
  const m: HeadMeasurement = {
    setup: reg.auth ? 'TLS + htpasswd bcrypt-10' : 'TLS, auth off',
    client,
    method: METHOD[client],
    connections: options.connections,
    threads: client === 'wrk' ? options.threads : 1,
    seconds: res.seconds,
    requests: res.requests,
    requestsPerSec: res.requestsPerSec,
    latencyMs: res.latencyMs,
    errors: res.errors,
    valid: errors === 0 && res.requests > 0,
    peakRssMiB: phase.stats.peakRssBytes / MiB,
    cpuSeconds: phase.stats.cpuSeconds,
    cpuMsPerRequest: res.requests > 0 ? (phase.stats.cpuSeconds * 1000) / res.requests : 0,
    machineBusyCores: busyCores,
    loadAvg1: load1,
    tls: reg.tls,
    warmup: { seconds: options.warmupSeconds, requests: warm.requests, requestsPerSec: warm.requestsPerSec, p99Ms: warm.latencyMs.p99, errors: errorCount(warm) },
    wrkCommand: res.commandLine,
  };
  if (res.keepAliveRequests !== undefined) {
    m.keepAliveRequests = res.keepAliveRequests;
    if (res.keepAliveRequests < res.requests - options.connections) log(`  WARNING: only ${res.keepAliveRequests} of ${res.requests} answers came on kept-alive connections`);
  }
  if (p.authProbeMs) m.authProbeMs = p.authProbeMs;
  log(
    `  ${what}: ${m.requestsPerSec.toFixed(1)} req/s, p50 ${m.latencyMs.p50.toFixed(2)} ms, p99 ${m.latencyMs.p99.toFixed(2)} ms, ` +
      `${m.requests} requests, registry CPU ${m.cpuSeconds.toFixed(2)} s (${m.cpuMsPerRequest.toFixed(3)} ms/req), machine ${busyCores.toFixed(2)} cores busy ` +
      `(load avg before ${load1.toFixed(2)}), peak RSS ${m.peakRssMiB.toFixed(1)} MiB` +
      (errors || !m.valid ? `; ${errors} ERRORS (${JSON.stringify(res.errors)}): INVALID` : ''),
  );
  log(`  ${res.commandLine}\n${res.text.replace(/^/gm, '    | ')}`);
  return m;
}

/** The auth-head rows (one per load generator) for one storage directory; registries one at a time. */
export async function runAuthHead(
  base: { variant: string; dir: string },
  runId: string,
  material: SecureMaterial,
  options: AuthHeadOptions,
  log: (msg: string) => void,
): Promise<AuthHeadRow[]> {
  const rows = new Map<HeadClient, AuthHeadRow>();
  for (const client of options.clients) {
    rows.set(client, {
      scenario: 'auth-head',
      label: `authenticated ${METHOD[client]} manifest, ${options.connections} connections`,
      storage: base.variant,
      client,
      method: METHOD[client],
      crossCheck: client === 'wrk',
      ratioTarget: 0,
    });
  }
  const runs: { key: 'regate' | 'distribution' | 'regateNoAuth'; kind: RegistryKind; auth: boolean }[] = options.registries.map((kind) => ({
    key: kind,
    kind,
    auth: true,
  }));
  if (options.reference && options.registries.includes('regate')) runs.push({ key: 'regateNoAuth', kind: 'regate', auth: false });
  const top = join(base.dir, `auth-head-${runId}`);
  trackPath(top, true);
  for (const run of runs) {
    const workDir = join(top, run.key);
    mkdirSync(workDir, { recursive: true });
    const label = run.auth ? `${REGISTRY_LABEL[run.kind]} (TLS + htpasswd)` : `${REGISTRY_LABEL[run.kind]} (TLS, auth off: reference)`;
    log(`auth-head: ${label} on ${base.variant} (${workDir})`);
    const reg = run.auth
      ? await startSecureRegistry(run.kind, workDir, join(workDir, 'root'), material)
      : await startSecureRegate(workDir, join(workDir, 'root'), material, false);
    try {
      const prepared = await prepare(reg, workDir);
      if (prepared.authProbeMs) {
        log(`  first/second authenticated HEAD /v2/ (curl, new TLS connection each): ${prepared.authProbeMs.first.toFixed(1)}/${prepared.authProbeMs.second.toFixed(1)} ms`);
      }
      for (const client of options.clients) {
        rows.get(client)![run.key] = await measureWith(client, prepared, options, log);
        await quiesce(reg.pid);
      }
    } catch (err) {
      process.stderr.write(`bench: auth-head against ${label} failed; its log ends with:\n${reg.logTail()}\n`);
      throw err;
    } finally {
      await reg.stop();
      removePathNow(workDir);
    }
  }
  removePathNow(top);
  return [...rows.values()].map(finishAuthHeadRow);
}
