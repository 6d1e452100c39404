// A Swift that stops sending in the middle of a body (the connection stays open, nothing arrives):
// a read must not hang. The driver talks to the real all-in-one Swift through a TCP relay that can
// freeze one connection's server-to-client direction after some bytes (a fault-injecting wrapper
// around the real part); with a 1 s idle timeout the read gives up on that response and resumes by
// Range, byte-identical. A slow sink, which leaves Swift's socket idle on purpose, is no stall.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { SwiftDriver } from '../../src/storage/drivers/swift.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { swiftOptions } from '../support/swift-options.js';

interface StallRelay {
  url: string;
  /** The next connection to send this many bytes towards the client freezes there, once. */
  arm(afterBytes: number): void;
  stalls: number;
  /** GET requests seen (client to server), a retry included. */
  gets: number;
  close(): Promise<void>;
}

async function startStallRelay(target: URL): Promise<StallRelay> {
  const sockets = new Set<Socket>();
  let armedAt: number | undefined;
  const relay: StallRelay = {
    url: '',
    stalls: 0,
    gets: 0,
    arm(afterBytes) {
      armedAt = afterBytes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    let sent = 0;
    let frozen = false;
    client.on('data', (chunk: Buffer) => {
      relay.gets += chunk.toString('latin1').split('GET /').length - 1;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (frozen) return; // swallowed: the connection stays open and silent
      if (armedAt !== undefined && sent + chunk.length > armedAt) {
        client.write(chunk.subarray(0, Math.max(0, armedAt - sent)));
        armedAt = undefined;
        frozen = true;
        relay.stalls++;
        return;
      }
      sent += chunk.length;
      client.write(chunk);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  relay.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return relay;
}

/** Collects what is written, optionally holding the first write's callback for `holdMs`. */
function collector(holdMs = 0): { sink: Writable; hash(): string; size(): number } {
  const h = createHash('sha256');
  let size = 0;
  let held = false;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      h.update(chunk);
      size += chunk.length;
      if (holdMs > 0 && !held) {
        held = true;
        setTimeout(done, holdMs);
      } else done();
    },
  });
  return { sink, hash: () => h.digest('hex'), size: () => size };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('Swift reads with a stalled backend', { timeout: 180_000 }, () => {
  let swift: SwiftAio;
  let relay: StallRelay;
  let driver: SwiftDriver;
  before(async () => {
    swift = await startSwiftAio();
    relay = await startStallRelay(new URL(swift.proxyUrl));
    driver = new SwiftDriver(
      swiftOptions(swift, `stall-${randomBytes(4).toString('hex')}`, {
        // Auth against the real proxy, every storage request through the relay.
        storageUrl: `${relay.url}/v1/AUTH_demo`,
        idleTimeoutMs: 1_000,
      }),
    );
  });
  after(async () => {
    await driver?.close();
    await relay?.close();
    await swift?.stop();
  });

  for (const [kind, bytes] of [
    ['a segmented object (3.5 MiB in 1 MiB segments)', 3.5 * 1024 * 1024],
    ['a plain object (700 KiB)', 700 * 1024],
  ] as const) {
    it(`${kind}: the frozen response is abandoned after the idle timeout and the read resumes by Range`, async () => {
      const content = randomBytes(bytes);
      const path = `/stall/${randomBytes(4).toString('hex')}`;
      const w = await driver.writer(path, false);
      await w.write(content);
      await w.commit();
      await w.close();
      const stalls = relay.stalls;
      relay.arm(bytes > 1024 * 1024 ? 1_500_000 : 300_000);
      const out = collector();
      await driver.pipeTo(path, out.sink, { offset: 0 });
      assert.equal(relay.stalls, stalls + 1, 'one response froze mid-body');
      assert.equal(out.size(), content.length);
      assert.equal(out.hash(), sha(content), 'byte-identical after the resume');
    });
  }

  it('a sink slower than the idle timeout is not a stall: no request is retried', async () => {
    const content = randomBytes(2.5 * 1024 * 1024);
    const path = `/slow/${randomBytes(4).toString('hex')}`;
    const w = await driver.writer(path, false);
    await w.write(content);
    await w.commit();
    await w.close();
    const out = collector(2_500);
    const gets = relay.gets;
    await driver.pipeTo(path, out.sink, { offset: 0 });
    assert.equal(out.hash(), sha(content));
    // A manifest read, then one GET per segment (3), sent ahead while the sink held the first write.
    assert.ok(relay.gets - gets <= 5, `${relay.gets - gets} GETs: a slow sink caused retries`);
  });
});
