// `npm run bench -- ui` (issue 30): the server time of the web page's requests on a big registry.
// A filesystem root on tmpfs holds 100,000 repositories (`team<i/200>/app<i>`, each a `_layers`
// directory, as the catalog bench builds them), one repository `web/many` with 10,000 tags (pushed
// one after another: each tag's link has its own time) on one image, and a usage report for all
// of them (as a GC pass writes it). regate serves it, plain HTTP, no auth; each request is timed
// from the client over loopback (so it includes the loopback round trip): the first time (cold)
// and the median of MEASURED after WARMUP, then once more after IDLE_MS without requests (the
// caches of push times and of the usage report have expired by then: what a user who comes back
// later waits). A page's server time is the sum of its requests'.
// Target: every page under 200 ms.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type RunningRegistry } from './registries.js';
import { median } from './phase.js';

const REPOSITORIES = process.env.BENCH_QUICK === '1' ? 10_000 : 100_000;
const TAGS = 10_000;
const WARMUP = 20;
const MEASURED = 15;
const PAGE = 50;
const TARGET_MS = 200;
const IDLE_MS = 6000;

const log = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function writeBlob(v2: string, bytes: Buffer): string {
  const hex = sha(bytes);
  const dir = join(v2, 'blobs/sha256', hex.slice(0, 2), hex);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'data'), bytes);
  return hex;
}

function link(path: string, hex: string, at?: Date): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `sha256:${hex}`);
  if (at) utimesSync(path, at, at);
}

/** The tree: 100,000 repositories, web/many with 10,000 tags, and a usage report for them all. */
function buildTree(root: string): void {
  const v2 = join(root, 'docker/registry/v2');
  const repos = join(v2, 'repositories');
  for (let i = 0; i < REPOSITORIES; i++) mkdirSync(join(repos, `team${Math.floor(i / 200)}`, `app${i}`, '_layers'), { recursive: true });
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: '2026-12-01T00:00:00Z', config: { Labels: { app: 'many' } }, rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = Buffer.alloc(4096, 7);
  const configHex = writeBlob(v2, config);
  const layerHex = writeBlob(v2, layer);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configHex}`, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${layerHex}`, size: layer.length }],
  }));
  const manifestHex = writeBlob(v2, manifest);
  const many = join(repos, 'web/many');
  for (const hex of [configHex, layerHex]) link(join(many, '_layers/sha256', hex, 'link'), hex);
  link(join(many, '_manifests/revisions/sha256', manifestHex, 'link'), manifestHex);
  const start = Date.now() - TAGS * 1000;
  for (let i = 0; i < TAGS; i++) {
    const tag = `tag-${String(i).padStart(5, '0')}`;
    // Pushed in an order that is not the names' order, a second apart.
    const at = new Date(start + ((i * 7919) % TAGS) * 1000);
    link(join(many, '_manifests/tags', tag, 'current/link'), manifestHex, at);
    link(join(many, '_manifests/tags', tag, 'index/sha256', manifestHex, 'link'), manifestHex);
  }
  const repositories: Record<string, { unique: number; shared: number; blobs: number }> = {};
  for (let i = 0; i < REPOSITORIES; i++) repositories[`team${Math.floor(i / 200)}/app${i}`] = { unique: i * 1000, shared: 5000, blobs: 3 };
  repositories['web/many'] = { unique: config.length + layer.length + manifest.length, shared: 0, blobs: 3 };
  mkdirSync(join(v2, 'regate'), { recursive: true });
  writeFileSync(join(v2, 'regate/usage'), JSON.stringify({ measuredAt: new Date().toISOString(), by: 'gc', repositories }));
}

async function timedGet(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
  await res.arrayBuffer();
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return ms;
}

async function measure(registry: RunningRegistry, path: string): Promise<{ cold: number; warm: number }> {
  const cold = await timedGet(`${registry.url}${path}`);
  for (let i = 0; i < WARMUP; i++) await timedGet(`${registry.url}${path}`);
  const runs: number[] = [];
  for (let i = 0; i < MEASURED; i++) runs.push(await timedGet(`${registry.url}${path}`));
  return { cold, warm: median(runs) };
}

/** The `last` the page's search sends for a prefix (src/ui/browser/api.ts, searchRepositories). */
function searchStart(prefix: string): string {
  return `${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) - 1)}~`;
}

export async function runWebUiBench(): Promise<void> {
  const base = mkdtempSync(join(process.env.BENCH_TMPFS_DIR ?? '/dev/shm', 'regate-bench-ui-'));
  let registry: RunningRegistry | undefined;
  try {
    log(`building ${REPOSITORIES} repositories and one with ${TAGS} tags`);
    buildTree(join(base, 'root'));
    registry = await startRegistry('regate', join(base, 'work'), join(base, 'root'));
    const middle = `team${Math.floor(REPOSITORIES / 400)}/app${REPOSITORIES / 2}`;
    const manifestPath = '/v2/web/many/manifests/tag-05000';
    const pages: Array<{ page: string; requests: Array<[string, string]> }> = [
      { page: 'the shell (HTML, CSS, 3 scripts)', requests: [['shell', '/ui/'], ['stylesheet', '/ui/app.css'], ['app.js', '/ui/js/app.js'], ['api.js', '/ui/js/api.js'], ['dom.js', '/ui/js/dom.js']] },
      { page: 'repositories, first page', requests: [['catalog n=50', `/v2/_catalog?n=${PAGE}`]] },
      { page: 'repositories, a middle page', requests: [['catalog n=50 after the middle', `/v2/_catalog?n=${PAGE}&last=${encodeURIComponent(middle)}`]] },
      { page: 'search "team250/app5000"', requests: [['catalog from the prefix', `/v2/_catalog?n=${PAGE}&last=${encodeURIComponent(searchStart('team250/app5000'))}`]] },
      { page: 'search "zzz" (no match)', requests: [['catalog from the prefix', `/v2/_catalog?n=${PAGE}&last=${encodeURIComponent(searchStart('zzz'))}`]] },
      {
        page: `web/many (${TAGS} tags) by name, page 100`,
        requests: [['tags/list n=50', `/v2/web/many/tags/list?n=${PAGE}&last=tag-04999`], ['usage', '/v2/web/many/_regate/usage']],
      },
      {
        page: `web/many (${TAGS} tags) newest push first`,
        requests: [['_regate/tags n=50', `/v2/web/many/_regate/tags?n=${PAGE}`], ['usage', '/v2/web/many/_regate/usage']],
      },
      { page: 'one tag row (of 50, 6 at a time)', requests: [['manifest', manifestPath], ['config', '/v2/web/many/blobs/sha256:CONFIG'], ['referrers', '/v2/web/many/referrers/sha256:MANIFEST']] },
    ];
    // The config's and manifest's digests, for the tag row.
    const manifest = await fetch(`${registry.url}${manifestPath}`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    const manifestDigest = manifest.headers.get('docker-content-digest')!;
    const configDigest = ((await manifest.json()) as { config: { digest: string } }).config.digest;
    const lines = ['', `web page (npm run bench -- ui): ${REPOSITORIES} repositories, one with ${TAGS} tags, tmpfs; ms per request from the client over loopback (first, then median of ${MEASURED} after ${WARMUP})`];
    lines.push(`  ${'page'.padEnd(44)} ${'request'.padEnd(30)} ${'first'.padStart(8)} ${'warm'.padStart(8)} ${'idle 6 s'.padStart(9)}`);
    const timings: Array<{ page: string; label: string; path: string; cold: number; warm: number; idle: number }> = [];
    for (const { page, requests } of pages) {
      for (const [label, raw] of requests) {
        const path = raw.replace('sha256:CONFIG', configDigest).replace('sha256:MANIFEST', manifestDigest);
        timings.push({ page, label, path, ...(await measure(registry, path)), idle: 0 });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    for (const t of timings) t.idle = await timedGet(`${registry.url}${t.path}`);
    for (const t of timings) lines.push(`  ${t.page.padEnd(44)} ${t.label.padEnd(30)} ${t.cold.toFixed(1).padStart(8)} ${t.warm.toFixed(1).padStart(8)} ${t.idle.toFixed(1).padStart(9)}`);
    lines.push('');
    for (const { page } of pages) {
      const mine = timings.filter((t) => t.page === page);
      const [cold, warm, idle] = (['cold', 'warm', 'idle'] as const).map((k) => mine.reduce((sum, t) => sum + t[k], 0)) as [number, number, number];
      lines.push(`  ${page.padEnd(44)} ${'page total'.padEnd(30)} ${cold.toFixed(1).padStart(8)} ${warm.toFixed(1).padStart(8)} ${idle.toFixed(1).padStart(9)}  < ${TARGET_MS} ms  ${Math.max(cold, warm, idle) < TARGET_MS ? 'met' : 'MISSED'}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await registry?.stop();
    rmSync(base, { recursive: true, force: true });
  }
}
