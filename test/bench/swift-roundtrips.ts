// Part of `npm run bench -- swift`: what a push and a pull cost in Swift requests and in time when
// Swift is far away. The issue's image (10 layers of 1 MiB and a config, skopeo from an OCI
// layout) is pushed to a fresh repository, then to a second one (the blobs are stored already),
// then pulled, through regate and through Distribution 2.8.2's swift driver, each on its own
// container, with Swift on loopback and then behind a proxy adding BENCH_SWIFT_DELAY_MS (5) each
// way (test/support/swift-delay-proxy.ts, the same for every party). Prints the time and the
// Swift requests of each operation by kind, in all and per blob (the subrequests Swift makes
// itself, a COPY's source GET or a DLO's segments, are not counted: the proxy sees what the
// registry sends).
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOciImage } from '../support/image-builder.js';
import { regateConfigYaml, skopeo, startDistribution, startRegate, type RegistryHandle } from '../support/processes.js';
import { REQUEST_KINDS, startDelayProxy, type RequestKind } from '../support/swift-delay-proxy.js';
import type { SwiftAio } from '../support/swift-aio.js';

const MiB = 1024 * 1024;
const LAYERS = 10;
const BLOBS = LAYERS + 1; // and the config

interface Row {
  party: string;
  delayMs: number;
  op: string;
  seconds: number;
  counts: Record<RequestKind, number>;
}

const PARTIES = ['regate', 'Distribution 2.8.2'] as const;
const OPS = ['push, new blobs', 'push, blobs stored', 'pull'] as const;

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
  const header = ['party', 'delay', 'operation', 'time', 'requests', 'per blob', ...kinds];
  const lines = rows.map((r) => [
    r.party,
    `${r.delayMs} ms`,
    r.op,
    `${r.seconds.toFixed(2)} s`,
    String(total(r.counts)),
    (total(r.counts) / BLOBS).toFixed(1),
    ...kinds.map((k) => String(r.counts[k])),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    `Swift round trips: ${LAYERS} layers of 1 MiB + a config (${BLOBS} blobs), skopeo; Swift requests the registry sent (auth not counted)`,
    row(header),
    row(widths.map((w) => '-'.repeat(w))),
    ...lines.map(row),
  ].join('\n');
}

export async function runSwiftRoundTrips(swift: SwiftAio): Promise<string> {
  const delay = Number(process.env.BENCH_SWIFT_DELAY_MS ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'regate-bench-rtt-'));
  const rows: Row[] = [];
  let containers = 0;
  try {
    const image = buildOciImage({
      dir: join(dir, 'layout'),
      seed: 'swift-round-trips',
      layers: Array.from({ length: LAYERS }, (_, i) => ({ files: [{ name: `layer/${i}.bin`, size: MiB }] })),
    });
    for (const delayMs of [0, delay]) {
      for (const party of PARTIES) {
        process.stderr.write(`bench swift: round trips, ${party}, ${delayMs} ms each way…\n`);
        const proxy = await startDelayProxy(swift.proxyUrl, delayMs);
        let registry: RegistryHandle | undefined;
        try {
          const section = { authurl: `${proxy.url}/auth/v1.0`, username: swift.username, password: swift.password, container: `rtt-${++containers}` };
          registry =
            party === 'regate'
              ? await startRegate({ configYaml: regateConfigYaml({ swift: section }) })
              : await startDistribution({ swift: section, extraYaml: 'storage: {redirect: {disable: true}}' });
          const host = registry.host;
          const ops: Array<[string, () => Promise<unknown>]> = [
            [OPS[0], () => skopeo(['copy', '--dest-tls-verify=false', image.ociRef, `docker://${host}/rtt/first:1`])],
            [OPS[1], () => skopeo(['copy', '--dest-tls-verify=false', image.ociRef, `docker://${host}/rtt/second:1`])],
            [OPS[2], () => skopeo(['copy', '--src-tls-verify=false', `docker://${host}/rtt/first:1`, `dir:${join(dir, `pulled-${containers}`)}`])],
          ];
          for (const [op, run] of ops) {
            if (process.env.BENCH_SWIFT_TRACE) appendFileSync(process.env.BENCH_SWIFT_TRACE, `# ${party}, ${delayMs} ms, ${op}\n`);
            rows.push({ party, delayMs, op, ...(await measure(run, proxy.counts, proxy.reset)) });
          }
        } finally {
          await registry?.stop();
          await proxy.stop();
        }
      }
    }
    return format(rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
