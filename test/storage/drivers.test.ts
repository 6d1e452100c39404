// Runs the shared conformance suite against every local driver, plus unit tests of the base
// wrapper's own duties (error normalisation, stream errors, timing) that a real backend cannot
// be made to exercise on demand.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { isValidDriverPath, wrapDriver } from '../../src/storage/base-driver.js';
import {
  DriverError,
  InvalidPathError,
  PathNotFoundError,
  StorageDriverError,
  type FileInfo,
  type FileWriter,
  type StorageDriver,
} from '../../src/storage/driver.js';
import { FilesystemDriver } from '../../src/storage/drivers/filesystem.js';
import { InMemoryDriver } from '../../src/storage/drivers/inmemory.js';
import { runDriverSuite } from './driver-suite.js';

runDriverSuite('filesystem', async () => {
  const root = await mkdtemp(join(tmpdir(), 'regate-fs-driver-'));
  return {
    driver: new FilesystemDriver(root),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

runDriverSuite('inmemory', async () => ({
  driver: new InMemoryDriver(),
  cleanup: async () => undefined,
}));

describe('filesystem driver specifics', () => {
  it('serves a root directory that does not exist yet as empty, and creates it on first write', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'regate-fs-root-'));
    try {
      const driver = wrapDriver(new FilesystemDriver(join(parent, 'not', 'yet')));
      assert.deepEqual(await driver.list('/'), []);
      await driver.putContent('/docker/registry/v2/x', Buffer.from('1'));
      assert.deepEqual(await driver.list('/'), ['/docker']);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('leaves no temp files behind on disk after putContent', async () => {
    const root = await mkdtemp(join(tmpdir(), 'regate-fs-temp-'));
    try {
      const driver = wrapDriver(new FilesystemDriver(root));
      await Promise.all(Array.from({ length: 10 }, (_, i) => driver.putContent('/d/f', Buffer.alloc(1000, i))));
      assert.deepEqual(await readdir(join(root, 'd')), ['f']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

// A scriptable inner driver for exercising the wrapper alone.
class FakeDriver implements StorageDriver {
  readonly name = 'fake';
  calls = 0;
  failWith: unknown;
  stream: Readable | undefined;
  delayMs = 0;
  writer_: FileWriter | undefined;

  async #step(): Promise<void> {
    this.calls++;
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failWith !== undefined) throw this.failWith;
  }
  async getContent(): Promise<Buffer> {
    await this.#step();
    return Buffer.from('content');
  }
  async putContent(): Promise<void> {
    await this.#step();
  }
  async reader(): Promise<Readable> {
    await this.#step();
    return this.stream ?? Readable.from([Buffer.from('data')]);
  }
  async pipeTo(): Promise<void> {
    await this.#step();
  }
  async writer(): Promise<FileWriter> {
    await this.#step();
    return this.writer_ as FileWriter;
  }
  async stat(path: string): Promise<FileInfo> {
    await this.#step();
    return { path, size: 1, modTime: new Date(), isDir: false };
  }
  async list(): Promise<string[]> {
    await this.#step();
    return [];
  }
  async move(): Promise<void> {
    await this.#step();
  }
  async delete(): Promise<void> {
    await this.#step();
  }
  async walk(path: string, visit: (info: FileInfo) => Promise<void | 'skip'> | void | 'skip'): Promise<void> {
    await this.#step();
    await visit({ path: `${path}/child`, size: 1, modTime: new Date(), isDir: false });
  }
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

describe('wrapDriver', () => {
  it('validates paths by the Distribution grammar', () => {
    for (const good of ['/a', '/a/b', '/_uploads/x.y-z', '/...', '/.hidden', '/a/..b']) {
      assert.equal(isValidDriverPath(good), true, good);
    }
    for (const bad of ['', '/', 'a', '/a/', '//a', '/a//b', '/.', '/..', '/a/../b', '/a\0', '/a b', '/é']) {
      assert.equal(isValidDriverPath(bad), false, JSON.stringify(bad));
    }
    assert.equal(isValidDriverPath('/', true), true);
    assert.equal(isValidDriverPath(42 as unknown as string), false);
  });

  it('rejects invalid input without calling the driver', async () => {
    const inner = new FakeDriver();
    const driver = wrapDriver(inner);
    await assert.rejects(driver.getContent('/a/../b'), InvalidPathError);
    await assert.rejects(driver.reader('/a', { offset: -1 }), StorageDriverError);
    await assert.rejects(driver.move('/a', '/b/'), InvalidPathError);
    assert.equal(inner.calls, 0);
  });

  it('is idempotent', () => {
    const once = wrapDriver(new FakeDriver());
    assert.equal(wrapDriver(once), once);
  });

  it('maps ENOENT and ENOTDIR to PathNotFoundError for the requested path', async () => {
    const inner = new FakeDriver();
    const driver = wrapDriver(inner);
    for (const code of ['ENOENT', 'ENOTDIR']) {
      inner.failWith = errno(code);
      const err = await driver.stat('/x/y').catch((e: unknown) => e);
      assert.ok(err instanceof PathNotFoundError);
      assert.equal(err.path, '/x/y');
      assert.equal(err.driverName, 'fake');
    }
    inner.failWith = errno('ENOENT');
    const moved = await driver.move('/src', '/dst').catch((e: unknown) => e);
    assert.ok(moved instanceof PathNotFoundError);
    assert.equal(moved.path, '/src');
  });

  it('wraps anything else in a DriverError with the cause attached', async () => {
    const inner = new FakeDriver();
    const driver = wrapDriver(inner);
    const original = errno('EACCES');
    inner.failWith = original;
    const err = await driver.getContent('/x').catch((e: unknown) => e);
    assert.ok(err instanceof DriverError);
    assert.equal(err.cause, original);
    assert.equal(err.transient, false);
    assert.equal(err.driverName, 'fake');

    inner.failWith = errno('ECONNRESET');
    const transient = await driver.getContent('/x').catch((e: unknown) => e);
    assert.ok(transient instanceof DriverError);
    assert.equal(transient.transient, true);

    inner.failWith = 'a string, not even an Error';
    const weird = await driver.getContent('/x').catch((e: unknown) => e);
    assert.ok(weird instanceof DriverError);
    assert.equal(weird.cause, 'a string, not even an Error');
  });

  it('passes typed driver errors through untouched', async () => {
    const inner = new FakeDriver();
    const typed = new DriverError('fake', 'server said 503', true);
    inner.failWith = typed;
    await assert.rejects(wrapDriver(inner).list('/'), (err) => err === typed);
  });

  it("returns the walk callback's own error unchanged", async () => {
    const driver = wrapDriver(new FakeDriver());
    const mine = errno('ENOENT');
    await assert.rejects(
      driver.walk('/', () => {
        throw mine;
      }),
      (err) => err === mine,
    );
  });

  it('normalises errors surfacing on a reader stream, passing chunks through as-is', async () => {
    const inner = new FakeDriver();
    const chunk = Buffer.from('first');
    let pushed = false;
    inner.stream = new Readable({
      read() {
        if (!pushed) {
          pushed = true;
          this.push(chunk);
        } else {
          this.destroy(errno('EIO'));
        }
      },
    });
    const stream = await wrapDriver(inner).reader('/x');
    assert.equal(stream, inner.stream, 'no extra stream layer');
    const seen: Buffer[] = [];
    const err = await (async () => {
      for await (const c of stream) seen.push(c as Buffer);
    })().catch((e: unknown) => e);
    assert.equal(seen[0], chunk);
    assert.ok(err instanceof DriverError, String(err));
    assert.equal((err.cause as NodeJS.ErrnoException).code, 'EIO');
  });

  it('guards and normalises the writer', async () => {
    const inner = new FakeDriver();
    let writes = 0;
    let closes = 0;
    inner.writer_ = {
      get size() {
        return writes * 10;
      },
      async write() {
        writes++;
        if (writes === 3) throw errno('ENOSPC');
      },
      async close() {
        closes++;
      },
      async commit() {
        closes++;
      },
      async cancel() {
        closes++;
      },
    };
    const w = await wrapDriver(inner).writer('/upload', false);
    await w.write(Buffer.from('a'));
    await w.write(Buffer.from('b'));
    assert.equal(w.size, 20);
    const err = await w.write(Buffer.from('c')).catch((e: unknown) => e);
    assert.ok(err instanceof DriverError);
    assert.equal((err.cause as NodeJS.ErrnoException).code, 'ENOSPC');
    await w.close();
    await assert.rejects(w.write(Buffer.from('d')), DriverError);
    await assert.rejects(w.cancel(), DriverError);
    assert.equal(writes, 3);
    assert.equal(closes, 1);
  });

  it('still allows cancel to clean up after a failed commit', async () => {
    const inner = new FakeDriver();
    let cancelled = 0;
    inner.writer_ = {
      size: 0,
      async write() {},
      async close() {},
      async commit() {
        throw errno('EIO');
      },
      async cancel() {
        cancelled++;
      },
    };
    const w = await wrapDriver(inner).writer('/upload', false);
    await assert.rejects(w.commit(), DriverError);
    await assert.rejects(w.write(Buffer.from('x')), DriverError);
    await assert.rejects(w.close(), DriverError);
    await w.cancel();
    assert.equal(cancelled, 1);
    await assert.rejects(w.cancel(), DriverError);
  });

  it('logs slow calls at debug level when given a logger', async () => {
    const inner = new FakeDriver();
    inner.delayMs = 20;
    const logged: Array<{ msg: string; meta?: object }> = [];
    const driver = wrapDriver(inner, { logger: { debug: (msg, meta) => logged.push({ msg, meta }) }, slowCallMs: 10 });
    await driver.stat('/slow');
    inner.delayMs = 0;
    const fast = wrapDriver(new FakeDriver(), { logger: { debug: (msg, meta) => logged.push({ msg, meta }) } });
    await fast.stat('/fast');
    assert.equal(logged.length, 1);
    assert.match(logged[0]?.msg ?? '', /slow stat/);
    assert.deepEqual({ ...(logged[0]?.meta as object), ms: 0 }, { driver: 'fake', method: 'stat', path: '/slow', ms: 0 });
  });
});
