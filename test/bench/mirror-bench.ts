// `npm run bench -- mirror` (issue 31): pulls through regate's pull-through mirror against CNCF
// Distribution 2.8.2 as the upstream, both on tmpfs, plain HTTP, no auth, on this machine.
//
//   cold   a pull through the mirror of an image it has never seen (fetched, stored and streamed
//          at once) vs a pull of the same image straight from the upstream. Target ≥ 0.9×.
//   warm   a pull through the mirror of an image it holds vs a pull of the same image pushed to
//          regate as a repository of its own. Target ≥ 0.95×.
//   burst  32 clients cold-pulling one image at once: the upstream's requests, counted by a proxy
//          in front of it (a second mirror entry), one GET per blob expected.
//
// An image is a manifest, a config and 3 layers of LAYER_MiB (BENCH_QUICK=1: 16 MiB, else 64 MiB);
// a pull is what a client does: the manifest, then the layers side by side, every byte read.
// Each figure is the median of REPEATS runs, alternating which side goes first.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { startDistribution, startRegate, type RunningRegistry } from './registries.js';
import { median } from './phase.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { cpuSeconds } from './proc-stats.js';
import { sha256 } from '../support/test-data.js';

const QUICK = process.env.BENCH_QUICK === '1';
const LAYER_MIB = QUICK ? 16 : 64;
const REPEATS = QUICK ? 3 : 5;
const CLIENTS = 32;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const log = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);

interface Image {
  manifest: Buffer;
  blobs: Buffer[];
}

function makeImage(seed: number): Image {
  const layers = Array.from({ length: 3 }, () => randomBytes(LAYER_MIB * 1024 * 1024));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed, rootfs: { type: 'layers', diff_ids: layers.map(sha256) } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(l), size: l.length })),
  }));
  return { manifest, blobs: [config, ...layers] };
}

async function push(url: string, repo: string, image: Image): Promise<void> {
  for (const blob of image.blobs) {
    // POST, then one PUT with the bytes (Distribution 2.8 has no monolithic POST).
    const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await start.arrayBuffer();
    const location = new URL(start.headers.get('location') ?? '', url);
    if (start.status !== 202) throw new Error(`push ${repo} blob: POST answered HTTP ${start.status}`);
    location.searchParams.set('digest', sha256(blob));
    const res = await fetch(location, { method: 'PUT', body: new Uint8Array(blob), headers: { 'Content-Type': 'application/octet-stream' } });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`push ${repo} blob: HTTP ${res.status}`);
  }
  const res = await fetch(`${url}/v2/${repo}/manifests/1`, { method: 'PUT', body: new Uint8Array(image.manifest), headers: { 'Content-Type': OCI_MANIFEST } });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`push ${repo} manifest: HTTP ${res.status}`);
}

/** A client's pull: the manifest, then every blob side by side, each read to the end. Seconds. */
async function pull(url: string, repo: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${url}/v2/${repo}/manifests/1`, { headers: { Accept: OCI_MANIFEST } });
  if (res.status !== 200) throw new Error(`pull ${repo}: HTTP ${res.status}`);
  const manifest = (await res.json()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  await Promise.all(
    [manifest.config, ...manifest.layers].map(async ({ digest }) => {
      const blob = await fetch(`${url}/v2/${repo}/blobs/${digest}`);
      if (blob.status !== 200 || !blob.body) throw new Error(`pull ${repo} ${digest}: HTTP ${blob.status}`);
      const hash = createHash('sha256');
      for await (const chunk of blob.body) hash.update(chunk as Uint8Array);
      if (`sha256:${hash.digest('hex')}` !== digest) throw new Error(`pull ${repo} ${digest}: wrong bytes`);
    }),
  );
  return (performance.now() - started) / 1000;
}

export async function runMirrorBench(): Promise<void> {
  const base = mkdtempSync(join(process.env.BENCH_TMPFS_DIR ?? '/dev/shm', 'regate-bench-mirror-'));
  let upstream: RunningRegistry | undefined;
  let regate: RunningRegistry | undefined;
  let proxy: FaultProxy | undefined;
  try {
    upstream = await startDistribution(join(base, 'work-upstream'), join(base, 'upstream'));
    proxy = await startFaultProxy(upstream.url);
    regate = await startRegate(
      join(base, 'work-regate'),
      join(base, 'regate'),
      ['regate:', '  mirrors:', '    - name: docker.io', `      url: ${upstream.url}`, '    - name: counted.io', `      url: ${proxy.url}`, ''].join('\n'),
    );
    log(`pushing ${REPEATS + 1} images of 3 × ${LAYER_MIB} MiB to the upstream`);
    const images = Array.from({ length: REPEATS + 1 }, (_, i) => makeImage(i));
    for (let i = 0; i < images.length; i++) await push(upstream.url, `team/app-${i}`, images[i]!);
    await push(regate.url, 'own/app-0', images[0]!);

    const cold: { mirror: number[]; direct: number[] } = { mirror: [], direct: [] };
    // CPU seconds per cold pull, by party: this machine's 2 cores are shared by all of them.
    const cpu = { regate: 0, upstream: 0, client: 0, pulls: 0 };
    const cpuNow = (): { regate: number; upstream: number; client: number } => ({
      regate: cpuSeconds(regate!.pid) ?? 0,
      upstream: cpuSeconds(upstream!.pid) ?? 0,
      client: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    });
    for (let i = 1; i <= REPEATS; i++) {
      const mirrorFirst = i % 2 === 0;
      const viaMirror = async (): Promise<number> => {
        const before = cpuNow();
        const seconds = await pull(regate!.url, `docker.io/team/app-${i}`);
        const after = cpuNow();
        cpu.regate += after.regate - before.regate;
        cpu.upstream += after.upstream - before.upstream;
        cpu.client += after.client - before.client;
        cpu.pulls++;
        return seconds;
      };
      const direct = (): Promise<number> => pull(upstream!.url, `team/app-${i}`);
      if (mirrorFirst) {
        cold.mirror.push(await viaMirror());
        cold.direct.push(await direct());
      } else {
        cold.direct.push(await direct());
        cold.mirror.push(await viaMirror());
      }
    }
    await pull(regate.url, 'docker.io/team/app-0'); // now cached
    const warm: { mirror: number[]; own: number[] } = { mirror: [], own: [] };
    for (let i = 0; i < REPEATS; i++) {
      if (i % 2 === 0) {
        warm.mirror.push(await pull(regate.url, 'docker.io/team/app-0'));
        warm.own.push(await pull(regate.url, 'own/app-0'));
      } else {
        warm.own.push(await pull(regate.url, 'own/app-0'));
        warm.mirror.push(await pull(regate.url, 'docker.io/team/app-0'));
      }
    }

    log(`${CLIENTS} clients cold-pulling one image through the counted mirror`);
    const burstImage = makeImage(99);
    await push(upstream.url, 'team/burst', burstImage);
    const before = proxy.requests.length;
    const burstStarted = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, () => pull(regate!.url, 'counted.io/team/burst')));
    const burstSeconds = (performance.now() - burstStarted) / 1000;
    const seen = proxy.requests.slice(before);
    const blobGets = seen.filter((r) => r.startsWith('GET /v2/team/burst/blobs/')).length;
    const manifestGets = seen.filter((r) => r.startsWith('GET /v2/team/burst/manifests/')).length;

    const mib = (3 * LAYER_MIB).toString();
    const coldRatio = median(cold.direct) / median(cold.mirror);
    const warmRatio = median(warm.own) / median(warm.mirror);
    process.stdout.write(
      [
        '',
        `mirror (npm run bench -- mirror): images of 3 × ${LAYER_MIB} MiB (${mib} MiB), tmpfs, plain HTTP; median of ${REPEATS} pulls, seconds (lower is better)`,
        `  cold  through the mirror ${median(cold.mirror).toFixed(2)} s   straight from the upstream ${median(cold.direct).toFixed(2)} s   speed ${coldRatio.toFixed(2)}×  target ≥ 0.9×  ${coldRatio >= 0.9 ? 'met' : 'MISSED'}`,
        `        CPU per cold pull through the mirror: regate ${(cpu.regate / cpu.pulls).toFixed(2)} s, the upstream ${(cpu.upstream / cpu.pulls).toFixed(2)} s, the client ${(cpu.client / cpu.pulls).toFixed(2)} s (${cpus().length} cores)`,
        `  warm  through the mirror ${median(warm.mirror).toFixed(2)} s   the same image pushed to regate ${median(warm.own).toFixed(2)} s   speed ${warmRatio.toFixed(2)}×  target ≥ 0.95×  ${warmRatio >= 0.95 ? 'met' : 'MISSED'}`,
        `  burst ${CLIENTS} clients cold-pull one image at once: ${burstSeconds.toFixed(2)} s; the upstream got ${manifestGets} manifest GET(s), ${blobGets} blob GETs for 4 blobs (${seen.length} requests in all)  target: 4 blob GETs  ${blobGets === 4 ? 'met' : 'MISSED'}`,
        '',
      ].join('\n'),
    );
  } finally {
    await regate?.stop();
    await proxy?.close();
    await upstream?.stop();
    rmSync(base, { recursive: true, force: true });
  }
}
