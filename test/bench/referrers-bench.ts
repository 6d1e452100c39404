// `npm run bench -- referrers` (issue 12 §2): GET /v2/<name>/referrers/<digest> in a repository of
// 10,000 manifest revisions, on the filesystem driver (root on tmpfs) and on Swift (the test
// harness's one-node OpenStack Swift). The revisions are written straight through the storage layer
// (a PUT per manifest over HTTP would take minutes and measure the wrong thing), so the repository
// is exactly what an older regate or Distribution left: revisions, no referrers index. Of the
// 10,000: 10 refer to subject A, 300 to subject B, 1,000 to 100 other subjects (10 each), the rest
// to nothing. A real regate process then answers over HTTP:
//   scan      the query with no index marker: every revision read once, the index written (the
//             one-time backfill; what every cache-cold query cost before the index)
//   index     the same query afterwards, read from the subject's entries only
// for A (10 referrers), B (300) and a subject nobody refers to (0). Median of 7 indexed queries;
// the scan is run 3 times on the filesystem (index dropped each time) and once on Swift.
// BENCH_REFERRERS_STORAGE=filesystem,swift (default filesystem: about 20 s). Swift is opt-in: the
// one-node Swift takes ~3.5 min to take the 20,000 seed objects and ~1.5 min for the scan, ~6 min in
// all. BENCH_TMPFS_DIR (default /dev/shm).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { wrapDriver } from '../../src/storage/base-driver.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { FilesystemDriver } from '../../src/storage/drivers/filesystem.js';
import { SwiftDriver } from '../../src/storage/drivers/swift.js';
import { createRegistryStorage } from '../../src/storage/registry-storage.js';
import { referrersRootPath, type DigestParts } from '../../src/storage/paths.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { swiftOptions } from '../support/swift-options.js';
import { regateConfigYaml, startRegate, type RegistryHandle } from '../support/processes.js';
import { median } from './phase.js';

const log = (msg: string): void => void process.stderr.write(`bench referrers: ${msg}\n`);

const REPO = 'bench/referrers';
const TOTAL = 10_000;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY = Buffer.from('{}');
const EMPTY_DIGEST = sha256(EMPTY);

function sha256(data: Buffer): DigestParts {
  return { algorithm: 'sha256', encoded: createHash('sha256').update(data).digest('hex') };
}
const str = (d: DigestParts): string => `${d.algorithm}:${d.encoded}`;

interface Tree {
  subjectA: string;
  subjectB: string;
  unreferenced: string;
}

/** A small OCI artifact manifest, unique by `i`, with a subject when one is given. */
function manifest(i: number, subject?: DigestParts): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: i % 3 === 0 ? 'application/vnd.example.sbom' : 'application/vnd.example.signature',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: str(EMPTY_DIGEST), size: 2 },
    layers: [],
    ...(subject ? { subject: { mediaType: OCI_MANIFEST, digest: str(subject), size: 1234 } } : {}),
    annotations: { 'org.example.index': String(i) },
  }));
}

/** Writes the repository's 10,000 revisions through the storage layer, a few at once. */
async function seed(driver: StorageDriver, concurrency: number): Promise<Tree> {
  const storage = createRegistryStorage(driver);
  const fake = (label: string): DigestParts => sha256(Buffer.from(`${label}-${randomBytes(8).toString('hex')}`));
  const subjectA = fake('A');
  const subjectB = fake('B');
  const others = Array.from({ length: 100 }, (_, i) => fake(`other-${i}`));
  const subjectOf = (i: number): DigestParts | undefined =>
    i < 10 ? subjectA : i < 310 ? subjectB : i < 1310 ? others[(i - 310) % 100] : undefined;
  await storage.blobs.putContent(EMPTY_DIGEST, EMPTY);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < TOTAL) {
      const i = next++;
      const content = manifest(i, subjectOf(i));
      await storage.manifests.put(REPO, sha256(content), content);
      if (++done % 2500 === 0) log(`  ${done}/${TOTAL} revisions written`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { subjectA: str(subjectA), subjectB: str(subjectB), unreferenced: str(fake('none')) };
}

async function query(registry: RegistryHandle, subject: string): Promise<{ ms: number; count: number }> {
  const started = performance.now();
  const res = await fetch(`${registry.url}/v2/${REPO}/referrers/${subject}`);
  const body = (await res.json()) as { manifests?: unknown[] };
  const ms = performance.now() - started;
  if (res.status !== 200 || !Array.isArray(body.manifests)) throw new Error(`referrers ${subject}: HTTP ${res.status}`);
  return { ms, count: body.manifests.length };
}

interface Row {
  storage: string;
  subject: string;
  expected: number;
  scanMs?: number;
  scanRuns?: number;
  indexMs: number;
  count: number;
}

async function measureTarget(
  storageLabel: string,
  driver: StorageDriver,
  configYaml: string,
  seedConcurrency: number,
  scanRuns: number,
): Promise<Row[]> {
  log(`${storageLabel}: writing ${TOTAL} revisions (no index)`);
  const started = performance.now();
  const tree = await seed(driver, seedConcurrency);
  log(`${storageLabel}: written in ${((performance.now() - started) / 1000).toFixed(1)} s; starting regate`);
  const registry = await startRegate({ configYaml });
  try {
    const subjects: [string, string, number][] = [
      ['A (10 referrers)', tree.subjectA, 10],
      ['B (300 referrers)', tree.subjectB, 300],
      ['none (0 referrers)', tree.unreferenced, 0],
    ];
    // The scan: the query that finds no marker. Dropping the index makes the next query scan again.
    const scans: number[] = [];
    for (let run = 0; run < scanRuns; run++) {
      await driver.delete(referrersRootPath(REPO)).catch(() => undefined);
      const r = await query(registry, tree.subjectA);
      if (r.count !== 10) throw new Error(`scan returned ${r.count} referrers of A, not 10`);
      scans.push(r.ms);
      log(`${storageLabel}: scan ${run + 1}/${scanRuns}: ${r.ms.toFixed(0)} ms`);
    }
    const rows: Row[] = [];
    for (const [label, subject, expected] of subjects) {
      await query(registry, subject); // warm-up
      const runs: number[] = [];
      let count = 0;
      for (let i = 0; i < 7; i++) {
        const r = await query(registry, subject);
        runs.push(r.ms);
        count = r.count;
      }
      const row: Row = { storage: storageLabel, subject: label, expected, indexMs: median(runs), count };
      if (subject === tree.subjectA) Object.assign(row, { scanMs: median(scans), scanRuns });
      rows.push(row);
    }
    return rows;
  } finally {
    await registry.stop();
  }
}

function format(rows: Row[]): string {
  const lines = [
    '',
    `referrers: GET /v2/<name>/referrers/<digest> in one repository of ${TOTAL.toLocaleString('en')} manifests, ms (lower is better)`,
    '  scan = the query that finds no index (backfill: every revision read, entries written); index = median of 7 afterwards',
    `  ${'storage'.padEnd(18)} ${'subject'.padEnd(20)} ${'returned'.padStart(8)} ${'scan'.padStart(10)} ${'index'.padStart(9)}  speed-up`,
  ];
  for (const r of rows) {
    const scan = r.scanMs !== undefined ? `${r.scanMs.toFixed(0)}${r.scanRuns! > 1 ? '' : '*'}` : '';
    const speedUp = r.scanMs !== undefined ? `${(r.scanMs / r.indexMs).toFixed(0)}×` : '';
    const wrong = r.count !== r.expected ? `  (expected ${r.expected})` : '';
    lines.push(`  ${r.storage.padEnd(18)} ${r.subject.padEnd(20)} ${String(r.count).padStart(8)} ${scan.padStart(10)} ${r.indexMs.toFixed(1).padStart(9)}  ${speedUp.padStart(8)}${wrong}`);
  }
  if (rows.some((r) => r.scanRuns === 1)) lines.push('  * one scan run (median of 3 elsewhere)');
  lines.push('  target (issue 12 §2): an indexed query costs about what it returns, not the size of the repository');
  return lines.join('\n');
}

export async function runReferrersBench(): Promise<void> {
  const wanted = (process.env.BENCH_REFERRERS_STORAGE || 'filesystem').split(',').map((s) => s.trim());
  for (const w of wanted) if (w !== 'filesystem' && w !== 'swift') throw new Error(`BENCH_REFERRERS_STORAGE: unknown storage "${w}"`);
  const rows: Row[] = [];
  if (wanted.includes('filesystem')) {
    const base = mkdtempSync(join(process.env.BENCH_TMPFS_DIR ?? '/dev/shm', 'regate-bench-referrers-'));
    try {
      const root = join(base, 'root');
      const driver = wrapDriver(new FilesystemDriver(root));
      rows.push(...(await measureTarget('filesystem (tmpfs)', driver, regateConfigYaml({ rootDir: root }), 8, 3)));
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  }
  if (wanted.includes('swift')) {
    let swift: SwiftAio | undefined;
    let driver: SwiftDriver | undefined;
    try {
      log('starting OpenStack Swift');
      swift = await startSwiftAio();
      const container = `referrers-${randomBytes(4).toString('hex')}`;
      driver = new SwiftDriver(swiftOptions(swift, container));
      const section = { authurl: swift.authUrl, username: swift.username, password: swift.password, container };
      rows.push(...(await measureTarget('swift', wrapDriver(driver), regateConfigYaml({ swift: section }), 32, 1)));
    } finally {
      await driver?.close();
      await swift?.stop();
    }
  }
  process.stdout.write(`${format(rows)}\n`);
}
