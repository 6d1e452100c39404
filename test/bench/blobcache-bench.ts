// `npm run bench -- blobcache` (issue 13 §3): blob HEAD requests per second on the test OpenStack
// Swift (stock, one node), without a blob descriptor cache, with the in-memory one and with a real
// redis-server. The registry runs in this process over plain HTTP; ab (apache2-utils) sends HEAD
// with keep-alive from its own process, 16 connections, 10 s per variant (BENCH_QUICK=1: 4 s).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { createRegistry } from '../../src/registry/registry.js';
import { wrapDriver } from '../../src/storage/base-driver.js';
import { SwiftDriver } from '../../src/storage/drivers/swift.js';
import { InMemoryBlobDescriptorCache, type BlobDescriptorCache } from '../../src/storage/blob-descriptor-cache.js';
import { RedisBlobDescriptorCache } from '../../src/storage/redis-descriptor-cache.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { swiftOptions } from '../support/swift-options.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { abPath, runAb } from './ab.js';

const log = (msg: string): void => void process.stderr.write(`bench blobcache: ${msg}\n`);

async function serve(driver: SwiftDriver, cache: BlobDescriptorCache | undefined): Promise<{ server: Server; url: string }> {
  const registry = createRegistry(wrapDriver(driver), {}, undefined, undefined, undefined, cache);
  const server = createServer((req, res) => void registry.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function runBlobCacheBench(): Promise<void> {
  const seconds = process.env.BENCH_QUICK === '1' ? 4 : 10;
  const ab = abPath();
  const dir = mkdtempSync(join(tmpdir(), 'regate-bench-blobcache-'));
  let swift: SwiftAio | undefined;
  let redis: TestRedis | undefined;
  const lines = ['', `blobcache: blob HEAD on OpenStack Swift (one node), ab -k -c 16, ${seconds} s each, requests/s (higher is better)`];
  lines.push(`  ${'cache'.padEnd(10)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)}  vs none`);
  try {
    log('starting OpenStack Swift and redis-server…');
    swift = await startSwiftAio();
    redis = await startRedis();
    const driver = new SwiftDriver(swiftOptions(swift, `bench-cache-${randomBytes(3).toString('hex')}`));
    const blob = randomBytes(64 * 1024);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    let baseline: number | undefined;
    const variants: Array<[string, () => BlobDescriptorCache | undefined]> = [
      ['none', () => undefined],
      ['inmemory', () => new InMemoryBlobDescriptorCache(10_000)],
      ['redis', () => new RedisBlobDescriptorCache({ addr: redis!.addr, db: 0, dialTimeoutMs: 1000, readTimeoutMs: 500, writeTimeoutMs: 500, tls: false })],
    ];
    for (const [name, make] of variants) {
      const cache = make();
      const { server, url } = await serve(driver, cache);
      try {
        if (name === 'none') {
          const res = await fetch(`${url}/v2/bench/app/blobs/uploads/?digest=${digest}`, { method: 'POST', body: blob, headers: { 'Content-Type': 'application/octet-stream' } });
          if (res.status !== 201) throw new Error(`push: HTTP ${res.status}`);
        }
        const warm = await fetch(`${url}/v2/bench/app/blobs/${digest}`, { method: 'HEAD' });
        if (warm.status !== 200) throw new Error(`HEAD: HTTP ${warm.status}`);
        log(`${name}: ${seconds} s of HEAD…`);
        const r = await runAb(ab, { url: `${url}/v2/bench/app/blobs/${digest}`, method: 'HEAD', headers: {}, connections: 16, seconds, timeoutSeconds: 10, csvFile: join(dir, `${name}.csv`) });
        baseline ??= r.requestsPerSec;
        const errors = r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout + r.errors.status;
        lines.push(
          `  ${name.padEnd(10)} ${r.requestsPerSec.toFixed(0).padStart(9)} ${r.latencyMs.p50.toFixed(1).padStart(8)} ${r.latencyMs.p99.toFixed(1).padStart(8)} ${String(errors).padStart(7)}  ${(r.requestsPerSec / baseline).toFixed(2)}×`,
        );
      } finally {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await cache?.close();
      }
    }
    await driver.close();
  } finally {
    await redis?.stop();
    await swift?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
