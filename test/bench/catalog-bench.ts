// `npm run bench -- catalog` (issue 12 §2): GET /v2/_catalog on a big tree, regate vs
// Distribution 2.8.2 on the same filesystem root (tmpfs), plain HTTP, no auth. The tree is
// Distribution's layout with N repositories `team<i/200>/app<i>` (each with a `_layers`
// directory, which is what makes a repository for both). Per size (10,000 and 100,000): the first
// page (`n=100`) and the page after `last=team<N/400>/app<N/2>` (the middle), 50 warm-up requests, then
// 15 measured, the median in ms side by side. Target: every page no slower than Distribution's on the same tree.
// BENCH_QUICK=1: 10,000 only.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type RunningRegistry } from './registries.js';
import { median } from './phase.js';

const WARMUP_REQUESTS = 50;
const MEASURED_REQUESTS = 15;

const log = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);

function buildTree(root: string, count: number): void {
  const repos = join(root, 'docker/registry/v2/repositories');
  for (let i = 0; i < count; i++) mkdirSync(join(repos, `team${Math.floor(i / 200)}`, `app${i}`, '_layers'), { recursive: true });
}

async function timedGet(url: string): Promise<{ ms: number; count: number }> {
  const started = performance.now();
  const res = await fetch(url);
  const body = (await res.json()) as { repositories?: string[] };
  const ms = performance.now() - started;
  if (res.status !== 200 || !Array.isArray(body.repositories)) throw new Error(`${url}: HTTP ${res.status}`);
  return { ms, count: body.repositories.length };
}

async function measure(registry: RunningRegistry, path: string): Promise<{ ms: number; count: number }> {
  // Warm the caches both sides (and, for regate, let the JIT compile the walk: a freshly started
  // Node process runs its first requests interpreted and optimises a function only after some tens
  // of calls, which is not the steady state of a registry serving its catalog; measured here, the
  // first page still took 5 ms after 5 requests and 2.5 ms after 30).
  for (let i = 0; i < WARMUP_REQUESTS; i++) await timedGet(`${registry.url}${path}`);
  const runs: number[] = [];
  let count = 0;
  for (let i = 0; i < MEASURED_REQUESTS; i++) {
    const r = await timedGet(`${registry.url}${path}`);
    runs.push(r.ms);
    count = r.count;
  }
  return { ms: median(runs), count };
}

export async function runCatalogBench(): Promise<void> {
  const sizes = process.env.BENCH_QUICK === '1' ? [10_000] : [10_000, 100_000];
  const lines: string[] = ['', `catalog: GET /v2/_catalog on a tree of N repositories (tmpfs), median of ${MEASURED_REQUESTS} after ${WARMUP_REQUESTS} warm-up requests, ms (lower is better)`];
  lines.push(`  ${'N'.padStart(7)}  ${'page'.padEnd(34)} ${'regate'.padStart(9)} ${'Distribution'.padStart(13)}  ratio   target`);
  for (const size of sizes) {
    const base = mkdtempSync(join(process.env.BENCH_TMPFS_DIR ?? '/dev/shm', 'regate-bench-catalog-'));
    const registries: RunningRegistry[] = [];
    try {
      log(`building a tree of ${size} repositories`);
      buildTree(join(base, 'root'), size);
      const paths = [`/v2/_catalog?n=100`, `/v2/_catalog?n=100&last=team${Math.floor(size / 400)}/app${size / 2}`];
      const results = new Map<string, Map<string, { ms: number; count: number }>>();
      for (const kind of ['regate', 'distribution'] as const) {
        const registry = await startRegistry(kind, join(base, `work-${kind}`), join(base, 'root'));
        registries.push(registry);
        const byPath = new Map<string, { ms: number; count: number }>();
        for (const path of paths) byPath.set(path, await measure(registry, path));
        results.set(kind, byPath);
        await registry.stop();
        registries.pop();
      }
      for (const path of paths) {
        const r = results.get('regate')!.get(path)!;
        const d = results.get('distribution')!.get(path)!;
        const ratio = r.ms / d.ms;
        lines.push(
          `  ${String(size).padStart(7)}  ${path.replace('/v2/_catalog', '').padEnd(34)} ${r.ms.toFixed(1).padStart(9)} ${d.ms.toFixed(1).padStart(13)}  ${ratio.toFixed(2)}×  ≤ 1×  ${ratio <= 1 ? 'met' : 'MISSED'}` +
            (r.count !== d.count ? `  (regate returned ${r.count} names, Distribution ${d.count})` : ''),
        );
      }
    } finally {
      for (const registry of registries) await registry.stop();
      rmSync(base, { recursive: true, force: true });
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
