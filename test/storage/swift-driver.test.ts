// The shared driver suite against a real OpenStack Swift (the harness's all-in-one), one fresh
// container per driver, 1 MiB segments so large-object paths (segments, appends across writers,
// moves of manifests) are exercised by the suite's multi-MiB files.
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIRECTORY_ONLY, WriteConflictError } from '../../src/storage/driver.js';
import { SwiftDriver } from '../../src/storage/drivers/swift.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { swiftOptions } from '../support/swift-options.js';
import { runDriverSuite } from './driver-suite.js';
import { runUnnamedSweepTests } from './unnamed-sweep-suite.js';

let swift: SwiftAio;
before(async () => {
  swift = await startSwiftAio();
});
after(async () => {
  await swift?.stop();
});

runDriverSuite('swift (OpenStack Swift, tempauth)', async () => {
  const driver = new SwiftDriver(swiftOptions(swift, `suite-${randomBytes(4).toString('hex')}`));
  return { driver, cleanup: async () => driver.close() };
});

// kill -9 in the middle of a write: segments stored, the manifest not yet rewritten to list them.
// Those segments must stay owned by the object (deleted with it), never be left unnamed forever.
describe('swift driver: a writer that dies midway', () => {
  const MiB = 1024 * 1024;
  const opened: SwiftDriver[] = [];
  after(() => opened.forEach((d) => d.close()));
  const open = (container: string): SwiftDriver => {
    const d = new SwiftDriver(swiftOptions(swift, container));
    opened.push(d);
    return d;
  };

  async function segmentsOf(driver: SwiftDriver, path: string): Promise<string[]> {
    const info = await driver.client.head(`files${path}`, false);
    assert.ok(info?.dloManifest, `${path} is a large-object manifest`);
    const prefix = decodeURIComponent(info.dloManifest).split('/').slice(1).join('/');
    const names: string[] = [];
    for await (const e of driver.client.list({ prefix: `${prefix}/` })) names.push(e.name);
    return names;
  }

  /** Writes `bytes` through a writer of its own process-alike, waits for `segments` stored, then cuts every connection. */
  async function dieWhileWriting(container: string, path: string, append: boolean, bytes: number, segments: number): Promise<void> {
    const dying = open(container);
    const w = await dying.writer(path, append);
    const written = w.write(randomBytes(bytes));
    written.catch(() => undefined);
    for (const deadline = Date.now() + 20_000; (await segmentsOf(dying, path)).length < segments; ) {
      assert.ok(Date.now() < deadline, 'the dying writer stored its segments');
      await new Promise((r) => setTimeout(r, 50));
    }
    dying.close();
  }

  it('a new object: reads as empty, and deleting it deletes every segment the writer stored', async () => {
    const container = `dies-new-${randomBytes(3).toString('hex')}`;
    const path = '/dies/new';
    await dieWhileWriting(container, path, false, 2 * MiB + MiB / 2, 2);
    const survivor = open(container);
    assert.equal((await survivor.stat(path)).size, 0, 'what the writer never closed is not part of the object');
    assert.ok((await segmentsOf(survivor, path)).length >= 2);
    const before = await segmentsOf(survivor, path);
    await survivor.delete(path);
    for (const name of before) assert.equal(await survivor.client.head(name, false), undefined, `${name} deleted`);
  });

  it('an append: the object keeps what was closed, a new writer is told of the conflict, deleting it deletes the strays too', async () => {
    const container = `dies-append-${randomBytes(3).toString('hex')}`;
    const path = '/dies/append';
    const survivor = open(container);
    const closed = randomBytes(MiB + 5);
    const first = await survivor.writer(path, false);
    await first.write(closed);
    await first.close();
    await dieWhileWriting(container, path, true, 2 * MiB + MiB / 2, 4);
    assert.equal((await survivor.stat(path)).size, closed.length);
    assert.ok((await survivor.getContent(path)).equals(closed));
    await assert.rejects(
      (async () => {
        const w = await survivor.writer(path, true);
        await w.write(Buffer.from('more'));
        await w.close();
      })(),
      WriteConflictError,
    );
    const before = await segmentsOf(survivor, path);
    assert.ok(before.length >= 4, `closed and stray segments: ${before.length}`);
    await survivor.delete(path);
    for (const name of before) assert.equal(await survivor.client.head(name, false), undefined, `${name} deleted`);
  });

  it('two writers starting the same new object at once: it ends holding one of them whole, never a mix', async () => {
    const container = `race-new-${randomBytes(3).toString('hex')}`;
    const a = open(container);
    const b = open(container);
    await a.putContent('/warm', Buffer.from('x')); // the container exists before the race
    for (let round = 0; round < 10; round++) {
      const path = `/race/new-${round}`;
      const contents = [randomBytes(MiB + 7), randomBytes(MiB + 9)];
      const results = await Promise.allSettled([a, b].map(async (d, i) => {
        const w = await d.writer(path, true);
        await w.write(contents[i]!);
        await w.close();
      }));
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof WriteConflictError, String(r.reason));
      assert.ok(results.some((r) => r.status === 'fulfilled'), `round ${round}: one writer went through`);
      const stored = await a.getContent(path);
      assert.ok(stored.equals(contents[0]!) || stored.equals(contents[1]!), `round ${round}: ${stored.length} bytes, one writer's`);
    }
  });
});

// Every request is a round trip and work for Swift's proxy, object and container servers: a write
// and a session's cleanup cost what they must, nothing more.
describe('swift driver: requests a write and a tree delete cost', () => {
  const MiB = 1024 * 1024;
  const methods = async (driver: SwiftDriver, run: () => Promise<void>): Promise<string[]> => {
    const seen: string[] = [];
    driver.client.hooks.beforeRequest = (method, object) => void seen.push(`${method} ${object ?? ''}`);
    try {
      await run();
    } finally {
      driver.client.hooks.beforeRequest = undefined;
    }
    return seen;
  };

  it('a new object: one HEAD, the manifest ahead, its segments, the manifest at close; no segment claimed', async () => {
    const driver = new SwiftDriver(swiftOptions(swift, `cost-${randomBytes(3).toString('hex')}`));
    try {
      await driver.putContent('/warm', Buffer.from('x'));
      const bytes = randomBytes(3 * MiB + 11);
      const seen = await methods(driver, async () => {
        const w = await driver.writer('/cost/new', false, { expectedBytes: bytes.length });
        await w.write(bytes);
        await w.commit();
      });
      assert.deepEqual(seen.map((s) => s.split(' ')[0]), ['HEAD', 'PUT', 'PUT', 'PUT', 'PUT', 'PUT', 'PUT'], seen.join('\n'));
      assert.equal(seen.filter((s) => s.includes('/0000000000000001')).length, 1, 'the first segment is PUT once');
      assert.ok((await driver.getContent('/cost/new')).equals(bytes));
    } finally {
      driver.close();
    }
  });

  it('an append to a set with segments still claims its first number, and a tree deleted as a directory is listed, not HEADed', async () => {
    const driver = new SwiftDriver(swiftOptions(swift, `cost-${randomBytes(3).toString('hex')}`));
    try {
      const first = randomBytes(MiB);
      const w = await driver.writer('/cost/dir/data', false);
      await w.write(first);
      await w.close();
      const more = randomBytes(MiB);
      const appended = await methods(driver, async () => {
        const a = await driver.writer('/cost/dir/data', true);
        await a.write(more);
        await a.close();
      });
      assert.equal(appended.filter((s) => s.includes('/0000000000000002')).length, 3, `claim, bytes, check:\n${appended.join('\n')}`);
      // A plain object appended to becomes segment 0 of a fresh set that its manifest lists at once:
      // another writer could append to it, so the first new number is claimed there too.
      await driver.putContent('/cost/plain', Buffer.from('plain bytes'));
      const carried = await methods(driver, async () => {
        const a = await driver.writer('/cost/plain', true);
        await a.write(more);
        await a.close();
      });
      assert.equal(carried.filter((s) => s.includes('/0000000000000001')).length, 3, `claim, bytes, check:\n${carried.join('\n')}`);
      assert.ok((await driver.getContent('/cost/plain')).equals(Buffer.concat([Buffer.from('plain bytes'), more])));
      assert.ok((await driver.getContent('/cost/dir/data')).equals(Buffer.concat([first, more])));
      await driver.putContent('/cost/dir/startedat', Buffer.from('now'));
      const deleted = await methods(driver, () => driver.delete('/cost/dir', DIRECTORY_ONLY));
      assert.ok(!deleted.includes('HEAD files/cost/dir'), deleted.join('\n'));
      await assert.rejects(driver.stat('/cost/dir/startedat'));
      await assert.rejects(driver.stat('/cost/dir/data'));
    } finally {
      driver.close();
    }
  });
});

// CI farms push the same base layer from many jobs at once. Each upload's segments are handed to
// the blob by its commit; two commits racing for one missing blob must not both hand theirs over,
// or the loser's segments end up named by nothing and are kept forever.
describe('swift: uploads of the same blob committed at once', () => {
  it('the blob is one of them, whole, and no segment is left that nothing names', async () => {
    const { wrapDriver } = await import('../../src/storage/base-driver.js');
    const { BlobStore } = await import('../../src/storage/blob-store.js');
    const { UploadStore } = await import('../../src/storage/upload-store.js');
    const { createHash } = await import('node:crypto');
    const { Readable } = await import('node:stream');
    const raw = new SwiftDriver(swiftOptions(swift, `same-blob-${randomBytes(3).toString('hex')}`));
    try {
      const driver = wrapDriver(raw);
      const blobs = new BlobStore(driver);
      const uploads = new UploadStore(driver, blobs);
      const data = randomBytes(3 * 1024 * 1024 + 5);
      const digest = { algorithm: 'sha256', encoded: createHash('sha256').update(data).digest('hex') };
      const sessions = await Promise.all(['ci/a', 'ci/b', 'ci/c', 'ci/d'].map(async (name) => ({ name, id: await uploads.create(name) })));
      await Promise.all(sessions.map((s) => uploads.append(s.name, s.id, Readable.from([data]))));
      await Promise.all(sessions.map((s) => uploads.commit(s.name, s.id, digest)));
      assert.ok((await blobs.getContent(digest)).equals(data));
      const blobManifest = await raw.client.head(`files/docker/registry/v2/blobs/sha256/${digest.encoded.slice(0, 2)}/${digest.encoded}/data`, true);
      assert.ok(blobManifest?.dloManifest, 'the blob is a manifest over segments');
      const named = decodeURIComponent(blobManifest.dloManifest).split('/').slice(1).join('/');
      const left: string[] = [];
      for await (const e of raw.client.list({ prefix: 'segments/' })) if (!e.name.startsWith(`${named}/`)) left.push(e.name);
      assert.deepEqual(left, [], 'segments of the uploads that did not become the blob are deleted');
    } finally {
      raw.close();
    }
  });
});

describe('swift driver: a move into a destination', () => {
  const MiB = 1024 * 1024;
  const manifestPrefix = async (driver: SwiftDriver, path: string): Promise<string> => {
    const info = await driver.client.head(`files${path}`, true);
    assert.ok(info?.dloManifest, `${path} is a large-object manifest`);
    return decodeURIComponent(info.dloManifest).split('/').slice(1).join('/');
  };
  const segmentsOutside = async (driver: SwiftDriver, prefix: string): Promise<string[]> => {
    const left: string[] = [];
    for await (const e of driver.client.list({ prefix: 'segments/' })) if (!e.name.startsWith(`${prefix}/`)) left.push(e.name);
    return left;
  };
  const write = async (driver: SwiftDriver, path: string, bytes: Buffer): Promise<void> => {
    const w = await driver.writer(path, false);
    await w.write(bytes);
    await w.commit();
  };

  it('that holds segments of its own: they go with what it held', async () => {
    const driver = new SwiftDriver(swiftOptions(swift, `move-over-${randomBytes(3).toString('hex')}`));
    try {
      await write(driver, '/blob', randomBytes(3 * MiB));
      const bytes = randomBytes(2 * MiB + 3);
      await write(driver, '/upload', bytes);
      await driver.move('/upload', '/blob');
      assert.ok((await driver.getContent('/blob')).equals(bytes));
      assert.deepEqual(await segmentsOutside(driver, await manifestPrefix(driver, '/blob')), []);
      await assert.rejects(driver.stat('/upload'));
    } finally {
      driver.close();
    }
  });

  it('moved into by another process while it was missing: the later move drops the set it replaced', async () => {
    const container = `move-race-${randomBytes(3).toString('hex')}`;
    const [a, b] = [new SwiftDriver(swiftOptions(swift, container)), new SwiftDriver(swiftOptions(swift, container))];
    try {
      const bytes = randomBytes(3 * MiB + 1);
      await Promise.all([write(a, '/a', bytes), write(b, '/b', bytes)]);
      // b found the destination missing; a moves into it before b writes it.
      let aMoved!: () => void;
      const aDone = new Promise<void>((resolve) => (aMoved = resolve));
      let bWaits!: () => void;
      const bAboutToWrite = new Promise<void>((resolve) => (bWaits = resolve));
      const bSaw: string[] = [];
      b.client.hooks.beforeRequest = async (method, object) => {
        bSaw.push(`${method} ${object ?? ''}`);
        if (method === 'PUT' && object === 'files/blob' && bSaw.filter((r) => r === 'PUT files/blob').length === 1) {
          bWaits();
          await aDone;
        }
      };
      const bMove = b.move('/b', '/blob');
      await bAboutToWrite;
      await a.move('/a', '/blob');
      aMoved();
      await bMove;
      b.client.hooks.beforeRequest = undefined;
      assert.equal(bSaw.filter((r) => r === 'PUT files/blob').length, 2, `b's first write was refused, it wrote again:\n${bSaw.join('\n')}`);
      assert.ok((await a.getContent('/blob')).equals(bytes));
      await assert.rejects(a.stat('/a'));
      await assert.rejects(a.stat('/b'));
      assert.deepEqual(await segmentsOutside(a, await manifestPrefix(a, '/blob')), [], 'no segment is left that nothing names');
    } finally {
      a.close();
      b.close();
    }
  });

  it('cut off after the destination took the segments: a retry only finishes it, no copy, nothing lost', async () => {
    const driver = new SwiftDriver(swiftOptions(swift, `move-retry-${randomBytes(3).toString('hex')}`));
    try {
      const bytes = randomBytes(3 * MiB + 7);
      await write(driver, '/upload', bytes);
      driver.client.hooks.beforeRequest = (method, object) => {
        if (method === 'DELETE' && object === 'files/upload') throw new Error('cut off');
      };
      await assert.rejects(driver.move('/upload', '/blob'), /cut off/);
      const seen: string[] = [];
      driver.client.hooks.beforeRequest = (method, object) => void seen.push(`${method} ${object ?? ''}`);
      await driver.move('/upload', '/blob');
      driver.client.hooks.beforeRequest = undefined;
      assert.ok(!seen.some((s) => s.startsWith('PUT files/blob')), `the destination is not written again:\n${seen.join('\n')}`);
      assert.ok((await driver.getContent('/blob')).equals(bytes));
      await assert.rejects(driver.stat('/upload'));
      assert.deepEqual(await segmentsOutside(driver, await manifestPrefix(driver, '/blob')), []);
      await driver.delete('/blob');
      const left: string[] = [];
      for await (const e of driver.client.list({ prefix: 'segments/' })) left.push(e.name);
      assert.deepEqual(left, [], 'the blob owned its segments');
    } finally {
      driver.client.hooks.beforeRequest = undefined;
      driver.close();
    }
  });
});


runUnnamedSweepTests('OpenStack Swift', () => new SwiftDriver(swiftOptions(swift, `unnamed-${randomBytes(3).toString('hex')}`)));
