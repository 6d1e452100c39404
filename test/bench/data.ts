// Where the bench keeps its bytes: a tmpfs directory and a disk directory, each with its own copy of
// the random source layers (so the tmpfs variant reads its sources from RAM too) and the registries'
// data roots. Source files are generated once, hashed while they are written, and described by a
// manifest so a `--keep` run can reuse them.
import { execFileSync } from 'node:child_process';
import { createHash, randomFill } from 'node:crypto';
import { copyFile, mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync, mkdirSync, readFileSync, realpathSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { trackMount, trackPath } from './cleanup.js';

const randomFillAsync = (buf: Buffer): Promise<void> => promisify(randomFill)(buf) as Promise<unknown> as Promise<void>;

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export interface Layer {
  name: string;
  size: number;
  digest: string;
}

export interface SourceSet {
  dir: string;
  /** A small layer pushed and pulled before the timed phases, so both registries start warm. */
  warm: Layer;
  single: Layer;
  many: Layer[];
}

export interface LayerSpec {
  singleBytes: number;
  manyBytes: number;
  manyCount: number;
}

export const WARM_BYTES = 4 * 1024 * 1024;

export function totalBytes(spec: LayerSpec): number {
  return WARM_BYTES + spec.singleBytes + spec.manyBytes * spec.manyCount;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The filesystem type of the mount holding `dir` (longest mount-point prefix in /proc/mounts). */
export function fsTypeOf(dir: string): { type: string; mountPoint: string } {
  const real = realpathSync(dir);
  let best = { type: 'unknown', mountPoint: '' };
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, mp, type] = line.split(' ');
    if (!mp || !type) continue;
    const mountPoint = unescapeMount(mp);
    const inside = mountPoint === '/' || real === mountPoint || real.startsWith(`${mountPoint}/`);
    // Later lines of the same mount point shadow earlier ones, so >= rather than >.
    if (inside && mountPoint.length >= best.mountPoint.length) best = { type, mountPoint };
  }
  return best;
}

export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

function memAvailableBytes(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export interface StorageBase {
  variant: 'tmpfs' | 'disk';
  /** Directory the bench owns for this variant (sources + registry roots). */
  dir: string;
  fsType: string;
  mountPoint: string;
  note: string;
}

const fmtGiB = (n: number): string => `${(n / GiB).toFixed(1)} GiB`;

/**
 * A tmpfs directory with room for the sources plus one registry's copy of them: /dev/shm (or
 * BENCH_TMPFS_DIR) if it is tmpfs with room, else a tmpfs mounted for the bench when root.
 * Undefined (with a reason) when none is possible.
 */
export function prepareTmpfsBase(spec: LayerSpec, runId: string): StorageBase | { skip: string } {
  const need = 2 * totalBytes(spec) + 512 * MiB;
  if (memAvailableBytes() < need + GiB) {
    return { skip: `not enough free memory for a tmpfs run (need ~${fmtGiB(need + GiB)}, MemAvailable ${fmtGiB(memAvailableBytes())})` };
  }
  const candidate = process.env.BENCH_TMPFS_DIR ?? '/dev/shm';
  if (existsSync(candidate)) {
    const { type, mountPoint } = fsTypeOf(candidate);
    const free = freeBytes(candidate);
    if (type === 'tmpfs' && free >= need) {
      const dir = join(candidate, 'regate-bench');
      mkdirSync(dir, { recursive: true });
      trackPath(dir);
      return { variant: 'tmpfs', dir, fsType: type, mountPoint, note: `${candidate} is tmpfs, ${fmtGiB(free)} free` };
    }
  }
  if (process.getuid?.() !== 0) {
    return { skip: `${candidate} is not a tmpfs with ${fmtGiB(need)} free, and mounting one needs root` };
  }
  const dir = join(tmpdir(), `regate-bench-tmpfs-${runId}`);
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(need / MiB)}m,mode=0700`, 'tmpfs', dir]);
  trackMount(dir);
  return { variant: 'tmpfs', dir, fsType: 'tmpfs', mountPoint: dir, note: `mounted a ${fmtGiB(need)} tmpfs at ${dir}` };
}

export function prepareDiskBase(spec: LayerSpec): StorageBase | { skip: string } {
  const base = process.env.BENCH_DISK_DIR ?? tmpdir();
  const need = 2 * totalBytes(spec) + GiB;
  const free = freeBytes(base);
  if (free < need) return { skip: `${base} has ${fmtGiB(free)} free, the disk run needs ~${fmtGiB(need)}` };
  const { type, mountPoint } = fsTypeOf(base);
  const dir = join(base, 'regate-bench');
  mkdirSync(dir, { recursive: true });
  trackPath(dir);
  const warn = type === 'tmpfs' ? ' (WARNING: this is tmpfs, not a disk)' : '';
  return { variant: 'disk', dir, fsType: type, mountPoint, note: `${base} is ${type} on ${mountPoint}, ${fmtGiB(free)} free${warn}` };
}

async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'w');
  try {
    const chunk = Buffer.allocUnsafe(Math.min(8 * MiB, size));
    let written = 0;
    while (written < size) {
      const n = Math.min(chunk.length, size - written);
      const part = chunk.subarray(0, n);
      await randomFillAsync(part);
      hash.update(part);
      await handle.write(part, 0, n);
      written += n;
    }
  } finally {
    await handle.close();
  }
  return `sha256:${hash.digest('hex')}`;
}

async function runLimited<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

const MANIFEST = 'manifest.json';

async function reusable(dir: string, spec: LayerSpec): Promise<SourceSet | undefined> {
  try {
    const set = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as SourceSet & { spec: LayerSpec };
    if (JSON.stringify(set.spec) !== JSON.stringify(spec)) return undefined;
    if (!set.warm) return undefined;
    for (const layer of [set.warm, set.single, ...set.many]) {
      if ((await stat(join(dir, layer.name))).size !== layer.size) return undefined;
    }
    return { dir, warm: set.warm, single: set.single, many: set.many };
  } catch {
    return undefined;
  }
}

/** Random layers in `dir`, generated (2 at a time) unless a matching kept set is already there. */
export async function ensureSources(dir: string, spec: LayerSpec, log: (msg: string) => void): Promise<SourceSet> {
  const existing = await reusable(dir, spec);
  if (existing) {
    log(`reusing source layers in ${dir}`);
    return existing;
  }
  await mkdir(dir, { recursive: true });
  const wanted = [
    { name: 'warmup.bin', size: WARM_BYTES },
    { name: 'single.bin', size: spec.singleBytes },
    ...Array.from({ length: spec.manyCount }, (_, i) => ({ name: `many-${i}.bin`, size: spec.manyBytes })),
  ];
  const started = performance.now();
  const digests = await runLimited(
    wanted.map((w) => () => writeRandomFile(join(dir, w.name), w.size)),
    2,
  );
  const layers: Layer[] = wanted.map((w, i) => ({ ...w, digest: digests[i]! }));
  const set: SourceSet = { dir, warm: layers[0]!, single: layers[1]!, many: layers.slice(2) };
  await writeFile(join(dir, MANIFEST), JSON.stringify({ ...set, spec }, null, 2));
  log(`generated ${layers.length} random layers (${fmtGiB(totalBytes(spec))}) in ${dir} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return set;
}

/** A copy of a source set in another directory (the tmpfs one), reusing a matching kept copy. */
export async function copySources(from: SourceSet, dir: string, spec: LayerSpec, log: (msg: string) => void): Promise<SourceSet> {
  const existing = await reusable(dir, spec);
  if (existing && existing.single.digest === from.single.digest) {
    log(`reusing source layers in ${dir}`);
    return existing;
  }
  await mkdir(dir, { recursive: true });
  const set: SourceSet = { dir, warm: from.warm, single: from.single, many: from.many };
  for (const layer of [set.warm, set.single, ...set.many]) await copyFile(join(from.dir, layer.name), join(dir, layer.name));
  await writeFile(join(dir, MANIFEST), JSON.stringify({ ...set, spec }, null, 2));
  log(`copied source layers to ${dir}`);
  return set;
}

/** sha256sum of the single layer, as an independent check of the digests computed while writing. */
export function crossCheckDigest(dir: string, layer: Layer): void {
  const out = execFileSync('sha256sum', [join(dir, layer.name)], { encoding: 'utf8' });
  const hex = out.split(' ')[0];
  if (`sha256:${hex}` !== layer.digest) throw new Error(`sha256sum of ${layer.name} disagrees with the manifest: ${hex} vs ${layer.digest}`);
}
