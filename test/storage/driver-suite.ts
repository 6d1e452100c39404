// The one conformance suite every storage driver must pass (docs/architecture.md, "Testing strategy"). It checks
// error types as well as data, because the layers above branch on PathNotFoundError and friends.
// It always runs the driver through wrapDriver — production never sees a bare driver, so the
// contract pinned here is the one callers get.
//
// Semantics pinned here beyond driver.ts:
// - writer bytes are at the path in place: after close() they are readable (stat/getContent) and
//   a new writer(path, true) continues from the previous size; after commit() they are readable.
// - cancel() removes the path, including content the writer appended to.
// - list and walk on a file, or on a missing path, are PathNotFoundError; list('/') and
//   walk('/') on an empty driver see nothing.
// - getContent/reader on a directory are PathNotFoundError (a directory is not an object).
// - walk is pre-order and sorted per directory level ("/a/b" comes before "/a.txt").
//
// makeDriver is called once per suite for the shared driver (tests use disjoint prefixes) and
// again for the few tests that need an empty one, so it must hand out independent drivers.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Writable, type Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { wrapDriver } from '../../src/storage/base-driver.js';
import {
  DriverError,
  FILE_ONLY,
  InvalidOffsetError,
  InvalidPathError,
  PathNotFoundError,
  StorageDriverError,
  type FileInfo,
  type StorageDriver,
} from '../../src/storage/driver.js';

export type MakeDriver = () => Promise<{ driver: StorageDriver; cleanup: () => Promise<void> }>;

type ErrorClass = new (...args: never[]) => StorageDriverError;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Asserts a typed driver error: right class, base class, and the driver's name on it. */
function assertDriverError(err: unknown, cls: ErrorClass, driver: StorageDriver, path?: string): void {
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${String((err as Error)?.name)}: ${String((err as Error)?.message)}`);
  assert.ok(err instanceof StorageDriverError);
  assert.equal(err.driverName, driver.name);
  assert.equal(err.name, cls.name);
  assert.ok(err.message.startsWith(`${driver.name}: `), err.message);
  if (path !== undefined) assert.equal((err as unknown as { path: string }).path, path);
}

async function rejectsWith(
  promise: Promise<unknown> | (() => Promise<unknown>),
  cls: ErrorClass,
  driver: StorageDriver,
  path?: string,
): Promise<StorageDriverError> {
  let caught: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected ${cls.name}, but the call succeeded`);
  assertDriverError(caught, cls, driver, path);
  return caught as StorageDriverError;
}

export function runDriverSuite(name: string, makeDriver: MakeDriver): void {
  describe(`storage driver conformance: ${name}`, () => {
    let driver: StorageDriver;
    let cleanup: (() => Promise<void>) | undefined;
    // Every test works under its own prefix of the shared driver.
    const run = randomBytes(4).toString('hex');
    let seq = 0;
    const prefix = (label: string): string => `/suite-${run}/${++seq}-${label.replace(/[^A-Za-z0-9._-]/g, '-')}`;

    before(async () => {
      const made = await makeDriver();
      driver = wrapDriver(made.driver);
      cleanup = made.cleanup;
    });

    after(async () => {
      await cleanup?.();
    });

    async function withFreshDriver(fn: (d: StorageDriver) => Promise<void>): Promise<void> {
      const made = await makeDriver();
      try {
        await fn(wrapDriver(made.driver));
      } finally {
        await made.cleanup();
      }
    }

    async function walkPaths(path: string, skip: Set<string> = new Set()): Promise<string[]> {
      const seen: string[] = [];
      await driver.walk(path, (info) => {
        seen.push(info.path);
        return skip.has(info.path) ? 'skip' : undefined;
      });
      return seen;
    }

    describe('putContent / getContent', () => {
      it('round-trips small content', async () => {
        const p = `${prefix('small')}/file`;
        await driver.putContent(p, Buffer.from('hello, registry'));
        assert.deepEqual(await driver.getContent(p), Buffer.from('hello, registry'));
      });

      it('round-trips empty content', async () => {
        const p = `${prefix('empty')}/file`;
        await driver.putContent(p, Buffer.alloc(0));
        const got = await driver.getContent(p);
        assert.equal(got.length, 0);
        assert.equal((await driver.stat(p)).size, 0);
      });

      it('round-trips every byte value', async () => {
        const p = `${prefix('binary')}/file`;
        const data = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
        await driver.putContent(p, data);
        assert.deepEqual(await driver.getContent(p), data);
      });

      it('round-trips content larger than 1 MiB', async () => {
        const p = `${prefix('large')}/file`;
        const data = randomBytes(3 * 1024 * 1024 + 17);
        await driver.putContent(p, data);
        const got = await driver.getContent(p);
        assert.equal(got.length, data.length);
        assert.equal(sha256(got), sha256(data));
      });

      it('overwrites with shorter and then longer content', async () => {
        const p = `${prefix('overwrite')}/file`;
        await driver.putContent(p, Buffer.from('a fairly long first value'));
        await driver.putContent(p, Buffer.from('short'));
        assert.deepEqual(await driver.getContent(p), Buffer.from('short'));
        assert.equal((await driver.stat(p)).size, 5);
        await driver.putContent(p, Buffer.from('a longer value again'));
        assert.deepEqual(await driver.getContent(p), Buffer.from('a longer value again'));
      });

      it('creates intermediate directories', async () => {
        const base = prefix('deep');
        await driver.putContent(`${base}/a/b/c/d/file`, Buffer.from('x'));
        for (const dir of [`${base}/a`, `${base}/a/b`, `${base}/a/b/c`, `${base}/a/b/c/d`]) {
          assert.equal((await driver.stat(dir)).isDir, true, dir);
        }
      });

      it('stores a copy: mutating the caller buffer or the returned buffer changes nothing', async () => {
        const p = `${prefix('alias')}/file`;
        const data = Buffer.from('original');
        await driver.putContent(p, data);
        data.fill(0);
        const first = await driver.getContent(p);
        assert.deepEqual(first, Buffer.from('original'));
        first.fill(0);
        assert.deepEqual(await driver.getContent(p), Buffer.from('original'));
      });

      it('accepts unusual but valid names (dots, underscores, dashes)', async () => {
        const p = `${prefix('names')}/_uploads/.hidden/..dots/.../A-Z_0.9`;
        await driver.putContent(p, Buffer.from('ok'));
        assert.deepEqual(await driver.getContent(p), Buffer.from('ok'));
      });

      it('getContent of a missing path is PathNotFoundError', async () => {
        const p = `${prefix('missing')}/nothing`;
        await rejectsWith(driver.getContent(p), PathNotFoundError, driver, p);
      });

      it('getContent of a directory is PathNotFoundError', async () => {
        const base = prefix('dir-content');
        await driver.putContent(`${base}/dir/file`, Buffer.from('x'));
        await rejectsWith(driver.getContent(`${base}/dir`), PathNotFoundError, driver, `${base}/dir`);
      });

      it('a file/directory conflict is a typed error or a no-op, never corruption', async () => {
        const base = prefix('conflict');
        await driver.putContent(`${base}/file`, Buffer.from('file'));
        await driver.putContent(`${base}/dir/child`, Buffer.from('child'));
        for (const attempt of [
          () => driver.putContent(`${base}/file/child`, Buffer.from('x')),
          () => driver.putContent(`${base}/dir`, Buffer.from('x')),
        ]) {
          try {
            await attempt();
          } catch (err) {
            assert.ok(err instanceof StorageDriverError, String(err));
            assert.equal(err.driverName, driver.name);
          }
        }
        assert.deepEqual(await driver.getContent(`${base}/file`), Buffer.from('file'));
        assert.deepEqual(await driver.getContent(`${base}/dir/child`), Buffer.from('child'));
      });
    });

    describe('stat', () => {
      it('describes a file', async () => {
        const p = `${prefix('stat-file')}/file`;
        const before = Date.now();
        await driver.putContent(p, Buffer.from('12345'));
        const info = await driver.stat(p);
        assert.equal(info.path, p);
        assert.equal(info.isDir, false);
        assert.equal(info.size, 5);
        assert.ok(info.modTime instanceof Date);
        // Generous bounds: filesystem timestamps are coarse and clocks may be skewed slightly.
        assert.ok(info.modTime.getTime() >= before - 5000, 'modTime not before the write');
        assert.ok(info.modTime.getTime() <= Date.now() + 5000, 'modTime not in the future');
      });

      it('describes a directory with size 0', async () => {
        const base = prefix('stat-dir');
        await driver.putContent(`${base}/dir/file`, Buffer.from('12345'));
        const info = await driver.stat(`${base}/dir`);
        assert.equal(info.path, `${base}/dir`);
        assert.equal(info.isDir, true);
        assert.equal(info.size, 0);
        assert.ok(info.modTime instanceof Date);
      });

      it('a missing path is PathNotFoundError', async () => {
        const p = `${prefix('stat-missing')}/nothing`;
        await rejectsWith(driver.stat(p), PathNotFoundError, driver, p);
      });

      it('FILE_ONLY: a file is described the same, a missing one is PathNotFoundError', async () => {
        const p = `${prefix('stat-file-only')}/file`;
        await driver.putContent(p, Buffer.from('1234567'));
        const info = await driver.stat(p, FILE_ONLY);
        assert.equal(info.isDir, false);
        assert.equal(info.size, 7);
        const missing = `${prefix('stat-file-only')}/nothing`;
        await rejectsWith(driver.stat(missing, FILE_ONLY), PathNotFoundError, driver, missing);
      });
    });

    describe('pipeTo', () => {
      // Several read buffers' worth, so buffer recycling is exercised.
      const data = randomBytes(5 * 1024 * 1024 + 321);
      let p: string;

      /** A sink that holds on to nothing it is not told to copy, and can be slow. */
      const collector = (delayMs = 0): { sink: Writable; bytes: () => Buffer } => {
        const parts: Buffer[] = [];
        const sink = new Writable({
          highWaterMark: 16 * 1024,
          write(chunk: Buffer, _enc, done) {
            parts.push(Buffer.from(chunk)); // copy: the driver may reuse its buffer afterwards
            if (delayMs) setTimeout(done, delayMs);
            else done();
          },
        });
        return { sink, bytes: () => Buffer.concat(parts) };
      };

      before(async () => {
        p = `${prefix('pipeto')}/file`;
        await driver.putContent(p, data);
      });

      it('streams everything, a tail, and a range, without ending the sink', async () => {
        const all = collector();
        await driver.pipeTo(p, all.sink);
        assert.equal(sha256(all.bytes()), sha256(data));
        assert.equal(all.sink.writableEnded, false);
        const tail = collector();
        await driver.pipeTo(p, tail.sink, { offset: 3_000_000 });
        assert.ok(tail.bytes().equals(data.subarray(3_000_000)));
        const range = collector();
        await driver.pipeTo(p, range.sink, { offset: 1_048_570, length: 2_100_000 });
        assert.ok(range.bytes().equals(data.subarray(1_048_570, 1_048_570 + 2_100_000)));
      });

      it('a slow sink still gets every byte in order', async () => {
        const slow = collector(2);
        await driver.pipeTo(p, slow.sink, { offset: 0, length: 3 * 1024 * 1024 });
        assert.ok(slow.bytes().equals(data.subarray(0, 3 * 1024 * 1024)));
      });

      it('concurrent pipes of one object do not mix their bytes', async () => {
        const sinks = Array.from({ length: 4 }, () => collector());
        await Promise.all(sinks.map((c, i) => driver.pipeTo(p, c.sink, { offset: i * 1000 })));
        sinks.forEach((c, i) => assert.ok(c.bytes().equals(data.subarray(i * 1000)), `sink ${i}`));
      });

      it('a sink that is destroyed midway rejects the pipe', async () => {
        const sink = new Writable({
          write(_chunk, _enc, done) {
            setTimeout(done, 5);
          },
        });
        setTimeout(() => sink.destroy(), 10);
        await assert.rejects(driver.pipeTo(p, sink));
      });

      it('offset past the end is InvalidOffsetError; a missing path is PathNotFoundError', async () => {
        await rejectsWith(driver.pipeTo(p, collector().sink, { offset: data.length + 1 }), InvalidOffsetError, driver, p);
        const m = `${prefix('pipeto-missing')}/nothing`;
        await rejectsWith(driver.pipeTo(m, collector().sink), PathNotFoundError, driver, m);
      });
    });

    describe('reader', () => {
      const data = randomBytes(1024 * 1024 + 123);
      let p: string;

      before(async () => {
        p = `${prefix('reader')}/file`;
        await driver.putContent(p, data);
      });

      it('reads everything from offset 0 (and by default)', async () => {
        assert.equal(sha256(await readAll(await driver.reader(p))), sha256(data));
        assert.equal(sha256(await readAll(await driver.reader(p, { offset: 0 }))), sha256(data));
      });

      it('reads from the middle to the end', async () => {
        const offset = 654_321;
        const got = await readAll(await driver.reader(p, { offset }));
        assert.equal(got.length, data.length - offset);
        assert.ok(got.equals(data.subarray(offset)));
      });

      it('offset == size gives an empty stream', async () => {
        const got = await readAll(await driver.reader(p, { offset: data.length }));
        assert.equal(got.length, 0);
      });

      it('offset past the end is InvalidOffsetError', async () => {
        const err = await rejectsWith(driver.reader(p, { offset: data.length + 1 }), InvalidOffsetError, driver, p);
        assert.equal((err as InvalidOffsetError).offset, data.length + 1);
      });

      it('reads a length-limited range', async () => {
        const got = await readAll(await driver.reader(p, { offset: 1000, length: 4096 }));
        assert.ok(got.equals(data.subarray(1000, 1000 + 4096)));
      });

      it('a range running past the end stops at the end', async () => {
        const got = await readAll(await driver.reader(p, { offset: data.length - 10, length: 100 }));
        assert.ok(got.equals(data.subarray(data.length - 10)));
      });

      it('length 0 gives an empty stream', async () => {
        const got = await readAll(await driver.reader(p, { offset: 5, length: 0 }));
        assert.equal(got.length, 0);
      });

      it('reads an empty file', async () => {
        const e = `${prefix('reader-empty')}/file`;
        await driver.putContent(e, Buffer.alloc(0));
        assert.equal((await readAll(await driver.reader(e))).length, 0);
        await rejectsWith(driver.reader(e, { offset: 1 }), InvalidOffsetError, driver, e);
      });

      it('negative or fractional offsets and lengths are InvalidOffsetError', async () => {
        for (const options of [{ offset: -1 }, { offset: 1.5 }, { offset: Number.NaN }, { length: -1 }, { length: 2.5 }]) {
          await rejectsWith(driver.reader(p, options), InvalidOffsetError, driver, p);
        }
      });

      it('a missing path is PathNotFoundError', async () => {
        const m = `${prefix('reader-missing')}/nothing`;
        await rejectsWith(driver.reader(m), PathNotFoundError, driver, m);
        await rejectsWith(driver.reader(m, { offset: 10 }), PathNotFoundError, driver, m);
      });

      it('a directory is PathNotFoundError', async () => {
        const base = prefix('reader-dir');
        await driver.putContent(`${base}/dir/file`, Buffer.from('x'));
        await rejectsWith(driver.reader(`${base}/dir`), PathNotFoundError, driver, `${base}/dir`);
      });
    });

    describe('writer', () => {
      it('names the content it stored as stat does, and an appending writer starts from that name', async () => {
        const p = `${prefix('writer-version')}/file`;
        const first = await driver.writer(p, false);
        await first.write(randomBytes(2 * 1024 * 1024 + 1));
        await first.close();
        const stored = (await driver.stat(p)).version;
        assert.equal(first.version, stored, 'the version a writer reports is the one stat reads back');
        const next = await driver.writer(p, true);
        assert.equal(next.version, stored, 'an append continues the content stat names');
        await next.write(randomBytes(1024 * 1024 + 3));
        await next.close();
        assert.equal(next.version, (await driver.stat(p)).version);
        if (stored !== undefined) assert.notEqual(next.version, stored, 'an append changes the name');
      });

      it('writes a new file, readable after commit', async () => {
        const p = `${prefix('writer-new')}/file`;
        const w = await driver.writer(p, false);
        assert.equal(w.size, 0);
        await w.write(Buffer.from('hello, '));
        assert.equal(w.size, 7);
        await w.write(Buffer.from('world'));
        assert.equal(w.size, 12);
        await w.commit();
        assert.equal(w.size, 12);
        assert.deepEqual(await driver.getContent(p), Buffer.from('hello, world'));
        assert.equal((await driver.stat(p)).size, 12);
      });

      it('commits an empty file', async () => {
        const p = `${prefix('writer-empty')}/file`;
        const w = await driver.writer(p, false);
        await w.commit();
        assert.equal((await driver.getContent(p)).length, 0);
        assert.equal((await driver.stat(p)).isDir, false);
      });

      it('after close the bytes are kept and a new writer appends, size continuing', async () => {
        const p = `${prefix('writer-append')}/file`;
        const first = await driver.writer(p, false);
        await first.write(Buffer.from('part one;'));
        await first.close();
        assert.equal(first.size, 9);
        // Pinned: writers write in place, so closed bytes are visible.
        assert.equal((await driver.stat(p)).size, 9);
        assert.deepEqual(await driver.getContent(p), Buffer.from('part one;'));

        const second = await driver.writer(p, true);
        assert.equal(second.size, 9);
        await second.write(Buffer.from('part two;'));
        assert.equal(second.size, 18);
        await second.close();

        const third = await driver.writer(p, true);
        assert.equal(third.size, 18);
        await third.write(Buffer.from('three'));
        assert.equal(third.size, 23);
        await third.commit();
        assert.deepEqual(await driver.getContent(p), Buffer.from('part one;part two;three'));
      });

      it('appends to content written by putContent', async () => {
        const p = `${prefix('writer-append-put')}/file`;
        await driver.putContent(p, Buffer.from('12345'));
        const w = await driver.writer(p, true);
        assert.equal(w.size, 5);
        await w.write(Buffer.from('678'));
        assert.equal(w.size, 8);
        await w.commit();
        assert.deepEqual(await driver.getContent(p), Buffer.from('12345678'));
      });

      it('writer(path, false) replaces existing content', async () => {
        const p = `${prefix('writer-truncate')}/file`;
        await driver.putContent(p, Buffer.from('old content that is long'));
        const w = await driver.writer(p, false);
        assert.equal(w.size, 0);
        await w.write(Buffer.from('new'));
        await w.commit();
        assert.deepEqual(await driver.getContent(p), Buffer.from('new'));
      });

      it('cancel removes what was written', async () => {
        const p = `${prefix('writer-cancel')}/file`;
        const w = await driver.writer(p, false);
        await w.write(Buffer.from('doomed'));
        await w.cancel();
        await rejectsWith(driver.getContent(p), PathNotFoundError, driver, p);
        await rejectsWith(driver.stat(p), PathNotFoundError, driver, p);
      });

      it('cancel of an appending writer removes the pre-existing content too', async () => {
        const p = `${prefix('writer-cancel-append')}/file`;
        const first = await driver.writer(p, false);
        await first.write(Buffer.from('kept for now'));
        await first.close();
        const second = await driver.writer(p, true);
        await second.write(Buffer.from(' and more'));
        await second.cancel();
        await rejectsWith(driver.stat(p), PathNotFoundError, driver, p);
      });

      it('a finished writer rejects further writes and ends', async () => {
        const base = prefix('writer-finished');
        for (const end of ['close', 'commit', 'cancel'] as const) {
          const w = await driver.writer(`${base}/${end}`, false);
          await w.write(Buffer.from('x'));
          await w[end]();
          await assert.rejects(w.write(Buffer.from('y')), StorageDriverError);
          await assert.rejects(w.commit(), StorageDriverError);
          await assert.rejects(w.close(), StorageDriverError);
          await assert.rejects(w.cancel(), StorageDriverError);
        }
        // The rejected calls changed nothing: closed and committed content stays.
        assert.deepEqual(await driver.getContent(`${base}/close`), Buffer.from('x'));
        assert.deepEqual(await driver.getContent(`${base}/commit`), Buffer.from('x'));
        await rejectsWith(driver.stat(`${base}/cancel`), PathNotFoundError, driver);
      });

      it('writes issued without awaiting each keep their order', async () => {
        const p = `${prefix('writer-order')}/file`;
        const w = await driver.writer(p, false);
        const parts = Array.from({ length: 200 }, (_, i) => Buffer.from(`${i},`));
        await Promise.all(parts.map((part) => w.write(part)));
        await w.commit();
        assert.deepEqual(await driver.getContent(p), Buffer.concat(parts));
      });

      it('writes 20 MiB in 64 KiB chunks intact', async () => {
        const p = `${prefix('writer-large')}/file`;
        const chunkSize = 64 * 1024;
        const count = 320;
        const seed = randomBytes(chunkSize);
        const chunks: Buffer[] = [];
        const hash = createHash('sha256');
        const w = await driver.writer(p, false);
        for (let i = 0; i < count; i++) {
          // A fresh buffer per chunk, each one different, so misordered or repeated chunks show.
          const chunk = Buffer.from(seed);
          chunk.writeUInt32BE(i, 0);
          chunk.writeUInt32BE(i, chunkSize - 4);
          chunks.push(chunk);
          hash.update(chunk);
          await w.write(chunk);
          assert.equal(w.size, (i + 1) * chunkSize);
        }
        await w.commit();
        const expected = hash.digest('hex');
        assert.equal((await driver.stat(p)).size, count * chunkSize);
        const streamed = createHash('sha256');
        for await (const chunk of await driver.reader(p)) streamed.update(chunk as Buffer);
        assert.equal(streamed.digest('hex'), expected);
        // A range crossing chunk boundaries.
        const offset = 100 * chunkSize - 10;
        const range = await readAll(await driver.reader(p, { offset, length: 2 * chunkSize + 20 }));
        assert.ok(range.equals(Buffer.concat(chunks).subarray(offset, offset + 2 * chunkSize + 20)));
      });

      it('expectedBytes: a writer given all it expects stores it whole; one given less keeps a prefix a new writer continues', async () => {
        const base = prefix('writer-expected');
        const data = randomBytes(2 * 1024 * 1024 + 333);
        const whole = await driver.writer(`${base}/whole`, true, { expectedBytes: data.length });
        for (let off = 0; off < data.length; off += 100_000) await whole.write(data.subarray(off, off + 100_000));
        await whole.commit();
        assert.ok((await driver.getContent(`${base}/whole`)).equals(data));

        // The body stops after 1.5 MiB of the announced bytes (a client that went away).
        const cut = await driver.writer(`${base}/cut`, true, { expectedBytes: data.length });
        await cut.write(data.subarray(0, 1536 * 1024));
        await cut.close();
        const kept = (await driver.stat(`${base}/cut`)).size;
        assert.ok(kept <= 1536 * 1024, `kept ${kept}`);
        assert.ok((await driver.getContent(`${base}/cut`)).equals(data.subarray(0, kept)), 'what is kept is what was written, from the start');
        const rest = await driver.writer(`${base}/cut`, true, { expectedBytes: data.length - kept });
        assert.equal(rest.size, kept);
        await rest.write(data.subarray(kept));
        await rest.commit();
        assert.ok((await driver.getContent(`${base}/cut`)).equals(data));
      });

      it('a large upload resumed across writers is intact', async () => {
        const p = `${prefix('writer-resume')}/file`;
        const all: Buffer[] = [];
        for (let session = 0; session < 3; session++) {
          const w = await driver.writer(p, session > 0);
          assert.equal(w.size, session * 2 * 1024 * 1024);
          for (let i = 0; i < 32; i++) {
            const chunk = randomBytes(64 * 1024);
            all.push(chunk);
            await w.write(chunk);
          }
          await (session === 2 ? w.commit() : w.close());
        }
        assert.equal(sha256(await driver.getContent(p)), sha256(Buffer.concat(all)));
      });
    });

    describe('move', () => {
      it('moves a file: content at the destination, gone from the source', async () => {
        const base = prefix('move-file');
        await driver.putContent(`${base}/src`, Buffer.from('payload'));
        await driver.move(`${base}/src`, `${base}/dst`);
        assert.deepEqual(await driver.getContent(`${base}/dst`), Buffer.from('payload'));
        await rejectsWith(driver.getContent(`${base}/src`), PathNotFoundError, driver, `${base}/src`);
      });

      it('replaces the destination', async () => {
        const base = prefix('move-replace');
        await driver.putContent(`${base}/src`, Buffer.from('new'));
        await driver.putContent(`${base}/dst`, Buffer.from('old and longer'));
        await driver.move(`${base}/src`, `${base}/dst`);
        assert.deepEqual(await driver.getContent(`${base}/dst`), Buffer.from('new'));
        await rejectsWith(driver.stat(`${base}/src`), PathNotFoundError, driver);
      });

      it('creates destination directories', async () => {
        const base = prefix('move-deep');
        await driver.putContent(`${base}/src`, Buffer.from('x'));
        await driver.move(`${base}/src`, `${base}/a/b/c/dst`);
        assert.deepEqual(await driver.getContent(`${base}/a/b/c/dst`), Buffer.from('x'));
      });

      it('moves a large file intact', async () => {
        const base = prefix('move-large');
        const data = randomBytes(2 * 1024 * 1024 + 5);
        await driver.putContent(`${base}/src`, data);
        await driver.move(`${base}/src`, `${base}/dst`);
        assert.equal(sha256(await driver.getContent(`${base}/dst`)), sha256(data));
      });

      it('a large file written by a writer replaces a large destination', async () => {
        const base = prefix('move-replace-large');
        const old = randomBytes(3 * 1024 * 1024 + 1);
        const fresh = randomBytes(2 * 1024 * 1024 + 9);
        for (const [path, bytes] of [[`${base}/dst`, old], [`${base}/src`, fresh]] as const) {
          const w = await driver.writer(path, false);
          await w.write(bytes);
          await w.commit();
        }
        await driver.move(`${base}/src`, `${base}/dst`);
        assert.equal(sha256(await driver.getContent(`${base}/dst`)), sha256(fresh));
        await rejectsWith(driver.stat(`${base}/src`), PathNotFoundError, driver);
      });

      it('a missing source is PathNotFoundError and the destination is untouched', async () => {
        const base = prefix('move-missing');
        await driver.putContent(`${base}/dst`, Buffer.from('keep'));
        await rejectsWith(driver.move(`${base}/src`, `${base}/dst`), PathNotFoundError, driver, `${base}/src`);
        assert.deepEqual(await driver.getContent(`${base}/dst`), Buffer.from('keep'));
      });

      it('concurrent moves of identical content to one destination both succeed', async () => {
        const base = prefix('move-race');
        const data = randomBytes(256 * 1024);
        await driver.putContent(`${base}/upload-1`, data);
        await driver.putContent(`${base}/upload-2`, data);
        const results = await Promise.allSettled([
          driver.move(`${base}/upload-1`, `${base}/blob/data`),
          driver.move(`${base}/upload-2`, `${base}/blob/data`),
        ]);
        assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled']);
        assert.equal(sha256(await driver.getContent(`${base}/blob/data`)), sha256(data));
      });
    });

    describe('delete', () => {
      it('deletes a file', async () => {
        const base = prefix('delete-file');
        await driver.putContent(`${base}/file`, Buffer.from('x'));
        await driver.putContent(`${base}/other`, Buffer.from('y'));
        await driver.delete(`${base}/file`);
        await rejectsWith(driver.getContent(`${base}/file`), PathNotFoundError, driver);
        await rejectsWith(driver.stat(`${base}/file`), PathNotFoundError, driver);
        assert.deepEqual(await driver.getContent(`${base}/other`), Buffer.from('y'));
      });

      it('deletes a whole tree', async () => {
        const base = prefix('delete-tree');
        const files = [`${base}/t/a`, `${base}/t/b/c`, `${base}/t/b/d/e`, `${base}/t/f/g`];
        for (const f of files) await driver.putContent(f, Buffer.from(f));
        await driver.delete(`${base}/t`);
        await rejectsWith(driver.stat(`${base}/t`), PathNotFoundError, driver);
        await rejectsWith(driver.list(`${base}/t`), PathNotFoundError, driver);
        for (const f of files) await rejectsWith(driver.getContent(f), PathNotFoundError, driver, f);
      });

      it('a missing path is PathNotFoundError', async () => {
        const p = `${prefix('delete-missing')}/nothing`;
        await rejectsWith(driver.delete(p), PathNotFoundError, driver, p);
      });

      it('a path deleted twice is PathNotFoundError the second time', async () => {
        const p = `${prefix('delete-twice')}/file`;
        await driver.putContent(p, Buffer.from('x'));
        await driver.delete(p);
        await rejectsWith(driver.delete(p), PathNotFoundError, driver, p);
      });

      it('does not touch siblings sharing a name prefix', async () => {
        const base = prefix('delete-prefix');
        await driver.putContent(`${base}/a/b/x`, Buffer.from('doomed'));
        await driver.putContent(`${base}/a/bc`, Buffer.from('bc'));
        await driver.putContent(`${base}/a/b-c/y`, Buffer.from('b-c'));
        await driver.putContent(`${base}/a/b.d`, Buffer.from('b.d'));
        await driver.putContent(`${base}/a/bcd`, Buffer.from('bcd'));
        await driver.delete(`${base}/a/b`);
        assert.deepEqual(await driver.list(`${base}/a`), [`${base}/a/b-c`, `${base}/a/b.d`, `${base}/a/bc`, `${base}/a/bcd`]);
        await driver.delete(`${base}/a/bc`);
        assert.deepEqual(await driver.getContent(`${base}/a/bcd`), Buffer.from('bcd'));
        assert.deepEqual(await driver.getContent(`${base}/a/b-c/y`), Buffer.from('b-c'));
        assert.deepEqual(await driver.getContent(`${base}/a/b.d`), Buffer.from('b.d'));
      });
    });

    describe('list', () => {
      it('lists direct children as full, sorted paths', async () => {
        const base = prefix('list');
        await driver.putContent(`${base}/l/c-1`, Buffer.from('x'));
        await driver.putContent(`${base}/l/b/d`, Buffer.from('x'));
        await driver.putContent(`${base}/l/a`, Buffer.from('x'));
        await driver.putContent(`${base}/l/b/c`, Buffer.from('x'));
        await driver.putContent(`${base}/l/b/e/f`, Buffer.from('x'));
        assert.deepEqual(await driver.list(`${base}/l`), [`${base}/l/a`, `${base}/l/b`, `${base}/l/c-1`]);
        assert.deepEqual(await driver.list(`${base}/l/b`), [`${base}/l/b/c`, `${base}/l/b/d`, `${base}/l/b/e`]);
      });

      it('a missing path is PathNotFoundError', async () => {
        const p = `${prefix('list-missing')}/nothing`;
        await rejectsWith(driver.list(p), PathNotFoundError, driver, p);
      });

      it('a file is PathNotFoundError', async () => {
        const p = `${prefix('list-file')}/file`;
        await driver.putContent(p, Buffer.from('x'));
        await rejectsWith(driver.list(p), PathNotFoundError, driver, p);
      });

      it('the root of an empty driver lists nothing; then its top-level entries', async () => {
        await withFreshDriver(async (d) => {
          assert.deepEqual(await d.list('/'), []);
          await d.putContent('/x/y', Buffer.from('1'));
          await d.putContent('/w', Buffer.from('2'));
          assert.deepEqual(await d.list('/'), ['/w', '/x']);
        });
      });

      it('shows no temporary or partial entries after many writes', async () => {
        const base = prefix('list-clean');
        const names = Array.from({ length: 20 }, (_, i) => `${base}/d/f${String(i).padStart(2, '0')}`);
        await Promise.all(names.map((n) => driver.putContent(n, randomBytes(64 * 1024))));
        await Promise.all(names.map((n) => driver.putContent(n, randomBytes(1024))));
        assert.deepEqual(await driver.list(`${base}/d`), names);
        const walked = await walkPaths(`${base}/d`);
        assert.deepEqual(walked, names);
      });
    });

    describe('walk', () => {
      let base: string;
      let tree: string[];

      before(async () => {
        base = prefix('walk');
        // Per-level order puts "a/b" before "a.txt" and "a/b/c.txt" before "a/b-c", unlike a
        // flat sort of full paths ('-' and '.' sort before '/').
        await driver.putContent(`${base}/a/b/c.txt`, Buffer.from('abc'));
        await driver.putContent(`${base}/a/b-c`, Buffer.from('12345'));
        await driver.putContent(`${base}/a/bc/d`, Buffer.from(''));
        await driver.putContent(`${base}/a.txt`, Buffer.from('a'));
        await driver.putContent(`${base}/b/y/z`, Buffer.from('z'));
        await driver.putContent(`${base}/b/x`, Buffer.from('xx'));
        tree = [
          'a', 'a/b', 'a/b/c.txt', 'a/b-c', 'a/bc', 'a/bc/d', 'a.txt', 'b', 'b/x', 'b/y', 'b/y/z',
        ].map((s) => `${base}/${s}`);
      });

      it('visits depth first in lexical order per directory', async () => {
        assert.deepEqual(await walkPaths(base), tree);
      });

      it('reports file sizes and directory flags', async () => {
        const infos = new Map<string, FileInfo>();
        await driver.walk(base, (info) => {
          infos.set(info.path, info);
        });
        assert.equal(infos.get(`${base}/a`)?.isDir, true);
        assert.equal(infos.get(`${base}/a`)?.size, 0);
        assert.equal(infos.get(`${base}/a/b-c`)?.isDir, false);
        assert.equal(infos.get(`${base}/a/b-c`)?.size, 5);
        assert.equal(infos.get(`${base}/b/x`)?.size, 2);
        assert.equal(infos.get(`${base}/a/bc/d`)?.size, 0);
        assert.ok(infos.get(`${base}/b/x`)?.modTime instanceof Date);
      });

      it("'skip' on a directory does not descend into it", async () => {
        const seen = await walkPaths(base, new Set([`${base}/a`, `${base}/b/y`]));
        assert.deepEqual(seen, ['a', 'a.txt', 'b', 'b/x', 'b/y'].map((s) => `${base}/${s}`));
      });

      it('walks a subtree without visiting its root', async () => {
        assert.deepEqual(await walkPaths(`${base}/b`), ['b/x', 'b/y', 'b/y/z'].map((s) => `${base}/${s}`));
      });

      it('awaits an async callback before moving on', async () => {
        const events: string[] = [];
        await driver.walk(`${base}/b`, async (info) => {
          events.push(`start ${info.path}`);
          await new Promise((r) => setTimeout(r, 2));
          events.push(`end ${info.path}`);
        });
        assert.deepEqual(events, ['b/x', 'b/y', 'b/y/z'].flatMap((s) => [`start ${base}/${s}`, `end ${base}/${s}`]));
      });

      it("the callback's error stops the walk and comes back unchanged", async () => {
        const boom = new Error('stop here');
        const seen: string[] = [];
        await assert.rejects(
          driver.walk(base, (info) => {
            seen.push(info.path);
            if (info.path === `${base}/a/b-c`) throw boom;
          }),
          (err) => err === boom,
        );
        assert.deepEqual(seen, ['a', 'a/b', 'a/b/c.txt', 'a/b-c'].map((s) => `${base}/${s}`));
      });

      it('a missing path or a file is PathNotFoundError', async () => {
        await rejectsWith(driver.walk(`${base}/nothing`, () => undefined), PathNotFoundError, driver, `${base}/nothing`);
        await rejectsWith(driver.walk(`${base}/a.txt`, () => undefined), PathNotFoundError, driver, `${base}/a.txt`);
      });

      it('walks the root of a driver', async () => {
        await withFreshDriver(async (d) => {
          const seen: string[] = [];
          await d.walk('/', (info) => {
            seen.push(info.path);
          });
          assert.deepEqual(seen, []);
          await d.putContent('/r/s', Buffer.from('1'));
          await d.putContent('/q', Buffer.from('2'));
          const after: string[] = [];
          await d.walk('/', (info) => {
            after.push(info.path);
          });
          assert.deepEqual(after, ['/q', '/r', '/r/s']);
        });
      });
    });

    describe('typed errors', () => {
      it('every typed error carries the driver name and its class', async () => {
        const base = prefix('errors');
        await driver.putContent(`${base}/file`, Buffer.from('abc'));
        const cases: Array<[() => Promise<unknown>, ErrorClass]> = [
          [() => driver.getContent(`${base}/missing`), PathNotFoundError],
          [() => driver.stat(`${base}/missing`), PathNotFoundError],
          [() => driver.reader(`${base}/missing`), PathNotFoundError],
          [() => driver.list(`${base}/missing`), PathNotFoundError],
          [() => driver.move(`${base}/missing`, `${base}/x`), PathNotFoundError],
          [() => driver.delete(`${base}/missing`), PathNotFoundError],
          [() => driver.walk(`${base}/missing`, () => undefined), PathNotFoundError],
          [() => driver.reader(`${base}/file`, { offset: 4 }), InvalidOffsetError],
          [() => driver.reader(`${base}/file`, { offset: -1 }), InvalidOffsetError],
          [() => driver.getContent(`${base}/../file`), InvalidPathError],
          [() => driver.putContent('relative', Buffer.alloc(0)), InvalidPathError],
        ];
        for (const [call, cls] of cases) await rejectsWith(call, cls, driver);
        // The classes are distinct: a PathNotFoundError is not an InvalidPathError, and so on.
        const notFound = await rejectsWith(driver.stat(`${base}/missing`), PathNotFoundError, driver);
        assert.ok(!(notFound instanceof InvalidPathError));
        assert.ok(!(notFound instanceof InvalidOffsetError));
        assert.ok(!(notFound instanceof DriverError));
      });
    });

    describe('invalid paths', () => {
      const badPaths = [
        '', 'relative', 'a/b', '/a/../b', '/..', '/a/..', '/.', '/a/./b', '//', '//a', '/a//b', '/a/', '/a/b/',
        '/a\0b', '/a b', '/a/ü', '/a\\b', '/a\nb', '/a:b', '/a?b', '/a%2fb', ' /a',
      ];

      it('every method rejects invalid paths with InvalidPathError, touching nothing', async () => {
        await withFreshDriver(async (d) => {
          await d.putContent('/valid/source', Buffer.from('src'));
          const calls: Array<[string, (p: string) => Promise<unknown>, boolean]> = [
            ['getContent', (p) => d.getContent(p), false],
            ['putContent', (p) => d.putContent(p, Buffer.from('x')), false],
            ['reader', (p) => d.reader(p), false],
            ['writer', (p) => d.writer(p, false), false],
            ['writer(append)', (p) => d.writer(p, true), false],
            ['stat', (p) => d.stat(p), false],
            ['list', (p) => d.list(p), true],
            ['move(source)', (p) => d.move(p, '/valid/dest'), false],
            ['move(dest)', (p) => d.move('/valid/source', p), false],
            ['delete', (p) => d.delete(p), false],
            ['walk', (p) => d.walk(p, () => undefined), true],
          ];
          for (const [method, call, rootAllowed] of calls) {
            const paths = rootAllowed ? badPaths : [...badPaths, '/'];
            for (const bad of paths) {
              let caught: unknown;
              try {
                await call(bad);
              } catch (err) {
                caught = err;
              }
              assert.ok(caught instanceof InvalidPathError, `${method}(${JSON.stringify(bad)}) gave ${String(caught)}`);
              assertDriverError(caught, InvalidPathError, d, bad);
            }
          }
          // Nothing was created, moved or deleted by the rejected calls.
          assert.deepEqual(await d.list('/'), ['/valid']);
          assert.deepEqual(await d.list('/valid'), ['/valid/source']);
          assert.deepEqual(await d.getContent('/valid/source'), Buffer.from('src'));
        });
      });

      it("'/' is a valid path for list and walk", async () => {
        await driver.list('/');
        await driver.walk('/', () => 'skip');
      });
    });

    describe('concurrency', () => {
      it('50 concurrent putContent calls to different paths all land', async () => {
        const base = prefix('concurrent-many');
        const items = Array.from({ length: 50 }, (_, i) => ({
          path: `${base}/${i % 5}/item-${i}`,
          data: randomBytes(1024 + i * 97),
        }));
        await Promise.all(items.map((item) => driver.putContent(item.path, item.data)));
        for (const item of items) assert.ok((await driver.getContent(item.path)).equals(item.data), item.path);
      });

      it('10 concurrent putContent calls to one path leave one complete value', async () => {
        const p = `${prefix('concurrent-same')}/file`;
        const values = Array.from({ length: 10 }, (_, i) => Buffer.alloc(256 * 1024 + i, i + 1));
        await Promise.all(values.map((v) => driver.putContent(p, v)));
        const got = await driver.getContent(p);
        assert.ok(values.some((v) => v.equals(got)), `content is not one of the written values (${got.length} bytes)`);
      });

      it('readers racing overwrites see a whole old or new value', async () => {
        const p = `${prefix('concurrent-read')}/file`;
        const values = Array.from({ length: 8 }, (_, i) => Buffer.alloc(512 * 1024, i + 1));
        await driver.putContent(p, values[0] as Buffer);
        const reads: Array<Promise<Buffer>> = [];
        const writes: Array<Promise<void>> = [];
        for (const v of values) {
          writes.push(driver.putContent(p, v));
          reads.push(driver.getContent(p));
        }
        await Promise.all(writes);
        for (const got of await Promise.all(reads)) {
          assert.ok(values.some((v) => v.equals(got)), 'a read saw a partial or mixed value');
        }
      });
    });
  });
}
