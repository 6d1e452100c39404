// Part of `npm run bench -- swift`: what a push and a pull cost in Swift requests and in time when
// Swift is far away. Three images, each through regate and through Distribution 2.8.2's swift
// driver, each without a blob descriptor cache and with one in memory, each party on its own container, with Swift on loopback and then behind a proxy adding
// BENCH_SWIFT_DELAY_MS (5) each way (test/support/swift-delay-proxy.ts, the same for every party):
// - "10 × 1 MiB": 10 layers of 1 MiB and a config, skopeo from an OCI layout: pushed to a fresh
//   repository, then to a second one (the blobs are stored already), then pulled;
// - "40 × 64 KiB–8 MiB": 40 layers of sizes spread evenly on a log scale, the same three steps;
// - "docker push": the Docker engine's own push of a 10 × 1 MiB image (several layers at once,
//   chunked PATCHes with no length). Skipped where no Docker engine can start.
// Prints the time and the Swift requests of each operation by kind, in all and per blob (the
// subrequests Swift makes itself, a COPY's source GET or a DLO's segments, are not counted: the
// proxy sees what the registry sends). Last, the same operations against regate on a local
// filesystem: what the clients and this machine cost without Swift, the floor under every figure.
// BENCH_SWIFT_TRACE=<file> logs every request there;
// BENCH_SWIFT_ONLY=regate measures regate alone, at the delay only (=floor: the floor alone).
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOciImage } from '../support/image-builder.js';
import { regateConfigYaml, skopeo, startDistribution, startRegate, type RegistryHandle } from '../support/processes.js';
import { startDockerd, type DockerEngine } from '../support/dockerd.js';
import { REQUEST_KINDS, startDelayProxy, type RequestKind } from '../support/swift-delay-proxy.js';
import type { SwiftAio } from '../support/swift-aio.js';

const MiB = 1024 * 1024;
const KiB = 1024;

interface Row {
  party: string;
  delayMs: number;
  image: string;
  op: string;
  seconds: number;
  blobs: number;
  counts: Record<RequestKind, number>;
}

/**
 * Each registry without a cache and with `storage.cache.blobdescriptor: inmemory` (the seeds' Ceph
 * configuration has it, as has Distribution's own sample config).
 */
const PARTIES = ['regate', 'regate, cache', 'Distribution 2.8.2', 'Distribution 2.8.2, cache'] as const;

async function measure(op: () => Promise<unknown>, counts: () => Record<RequestKind, number>, reset: () => void): Promise<{ seconds: number; counts: Record<RequestKind, number> }> {
  reset();
  const started = process.hrtime.bigint();
  await op();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, counts: counts() };
}

function total(counts: Record<RequestKind, number>): number {
  return REQUEST_KINDS.filter((k) => k !== 'auth').reduce((sum, k) => sum + counts[k], 0);
}

function format(rows: Row[]): string {
  const kinds = REQUEST_KINDS.filter((k) => k !== 'auth');
  const header = ['party', 'delay', 'image', 'operation', 'time', 'requests', 'per blob', ...kinds];
  const lines = rows.map((r) => [
    r.party,
    r.party.includes('filesystem') ? 'no Swift' : `${r.delayMs} ms`,
    r.image,
    r.op,
    `${r.seconds.toFixed(2)} s`,
    String(total(r.counts)),
    (total(r.counts) / r.blobs).toFixed(1),
    ...kinds.map((k) => String(r.counts[k])),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    'Swift round trips: Swift requests the registry sent (auth not counted); "per blob" counts the config and layers, the manifest\'s requests included',
    row(header),
    row(widths.map((w) => '-'.repeat(w))),
    ...lines.map(row),
  ].join('\n');
}

/** Layer sizes from `from` to `to` bytes, evenly spread on a log scale. */
function logSpread(count: number, from: number, to: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.round(from * (to / from) ** (i / (count - 1))));
}

interface SkopeoImage {
  label: string;
  ociRef: string;
  blobs: number;
}

export async function runSwiftRoundTrips(swift: SwiftAio): Promise<string> {
  const delay = Number(process.env.BENCH_SWIFT_DELAY_MS ?? 5);
  const trace = process.env.BENCH_SWIFT_TRACE;
  const dir = mkdtempSync(join(tmpdir(), 'regate-bench-rtt-'));
  const rows: Row[] = [];
  let containers = 0;
  let engine: DockerEngine | undefined;
  try {
    const images: SkopeoImage[] = [
      { label: '10 × 1 MiB', layers: Array.from({ length: 10 }, () => MiB) },
      { label: '40 × 64 KiB–8 MiB', layers: logSpread(40, 64 * KiB, 8 * MiB) },
    ].map(({ label, layers }, n) => {
      const image = buildOciImage({
        dir: join(dir, `layout-${n}`),
        seed: `swift-round-trips-${n}`,
        layers: layers.map((size, i) => ({ files: [{ name: `layer/${i}.bin`, size }] })),
      });
      return { label, ociRef: image.ociRef, blobs: layers.length + 1 };
    });
    // The Docker engine's own push: an image made of the first one's layers, loaded into a
    // private dockerd (docker re-compresses on push: its blobs are new to every registry).
    const dockerImage = 'regate-bench/rtt:1';
    try {
      engine = await startDockerd();
      await skopeo(['copy', '--dest-daemon-host', engine.socket, images[0]!.ociRef, `docker-daemon:${dockerImage}`], { timeoutMs: 300_000 });
    } catch (err) {
      process.stderr.write(`bench swift: no docker push (${(err as Error).message.split('\n')[0]})\n`);
      await engine?.stop();
      engine = undefined;
    }
    /** The three operations on each image, then docker's push, against `host`, each measured by `run`. */
    const operations = async (host: string, tag: string, run: (image: string, blobs: number, op: string, work: () => Promise<unknown>) => Promise<void>): Promise<void> => {
      for (const [n, image] of images.entries()) {
        await run(image.label, image.blobs, 'push, new blobs', () => skopeo(['copy', '--dest-tls-verify=false', image.ociRef, `docker://${host}/rtt/first-${n}:1`], { timeoutMs: 300_000 }));
        await run(image.label, image.blobs, 'push, blobs stored', () => skopeo(['copy', '--dest-tls-verify=false', image.ociRef, `docker://${host}/rtt/second-${n}:1`], { timeoutMs: 300_000 }));
        await run(image.label, image.blobs, 'pull', () => skopeo(['copy', '--src-tls-verify=false', `docker://${host}/rtt/first-${n}:1`, `dir:${join(dir, `pulled-${tag}-${n}`)}`], { timeoutMs: 300_000 }));
      }
      if (engine) {
        const target = `${host}/rtt/docker:1`;
        await engine.dockerChecked(['tag', dockerImage, target]);
        await run('docker push', images[0]!.blobs, 'push, new blobs', () => engine!.dockerChecked(['push', target], { timeoutMs: 300_000 }));
        await engine.docker(['rmi', target]);
      }
    };
    // BENCH_SWIFT_ONLY=regate (or Distribution) measures one party, at the delay only, for a look at
    // a change; BENCH_SWIFT_ONLY=floor only the filesystem floor.
    const only = process.env.BENCH_SWIFT_ONLY?.toLowerCase();
    const parties = only ? PARTIES.filter((p) => p.toLowerCase().startsWith(only)) : PARTIES;
    for (const delayMs of only ? [delay] : [0, delay]) {
      for (const party of parties) {
        process.stderr.write(`bench swift: round trips, ${party}, ${delayMs} ms each way…\n`);
        const proxy = await startDelayProxy(swift.proxyUrl, delayMs);
        let registry: RegistryHandle | undefined;
        try {
          const section = { authurl: `${proxy.url}/auth/v1.0`, username: swift.username, password: swift.password, container: `rtt-${++containers}` };
          const cached = party.endsWith(', cache');
          registry = party.startsWith('regate')
            ? await startRegate({ configYaml: regateConfigYaml({ swift: section }, cached ? { storage: { cache: { blobdescriptor: 'inmemory' } } } : {}) })
            : await startDistribution({ swift: section, extraYaml: `storage: {redirect: {disable: true}${cached ? ', cache: {blobdescriptor: inmemory}' : ''}}` });
          await operations(registry.host, String(containers), async (image, blobs, op, work) => {
            if (trace) appendFileSync(trace, `# ${party}, ${delayMs} ms, ${image}, ${op}\n`);
            rows.push({ party, delayMs, image, op, blobs, ...(await measure(work, proxy.counts, proxy.reset)) });
          });
        } finally {
          await registry?.stop();
          await proxy.stop();
        }
      }
    }
    if (!only || only === 'floor') {
      // The clients' own floor on this machine: the same operations against regate on a local
      // filesystem (tmpfs where /tmp is), no Swift at all.
      const party = 'regate, filesystem (floor)';
      process.stderr.write(`bench swift: round trips, ${party}…\n`);
      const registry = await startRegate({ configYaml: regateConfigYaml({ rootDir: mkdtempSync(join(dir, 'floor-')) }) });
      const none = (): Record<RequestKind, number> => Object.fromEntries(REQUEST_KINDS.map((k) => [k, 0])) as Record<RequestKind, number>;
      try {
        await operations(registry.host, 'floor', async (image, blobs, op, work) => {
          rows.push({ party, delayMs: 0, image, op, blobs, ...(await measure(work, none, () => undefined)) });
        });
      } finally {
        await registry.stop();
      }
    }
    return format(rows);
  } finally {
    await engine?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
