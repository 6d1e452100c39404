// The default driver: driver paths map one-to-one onto files under a root directory, so a root
// written by Distribution's filesystem driver is served as-is. Validation and error mapping
// (ENOENT/ENOTDIR → PathNotFoundError, the rest → DriverError) live in the base wrapper; this file
// only speaks to the filesystem.
import { randomBytes } from 'node:crypto';
import { createReadStream, stat as statCallback } from 'node:fs';
import { writeFileAtomic } from '../../fs/atomic-file.js';
import { lstat, mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { writeToSink } from '../sink-write.js';
import {
  DriverError,
  InvalidOffsetError,
  PathNotFoundError,
  type FileInfo,
  type FileWriter,
  type ReadOptions,
  type StorageDriver,
} from '../driver.js';

// Large buffers keep syscalls per gigabyte low on both the read and the write path.
const STREAM_BUFFER = 1024 * 1024;

/** Stats in flight at once for modTimes (the libuv pool runs 4; more keeps it fed). */
const MOD_TIMES_AT_ONCE = 32;

// Temp files carry a `~`, which no valid driver path component may contain: they can never
// collide with a real object, and list/walk drop them by the same rule.
const TEMP_PREFIX = '~tmp-';
const COMPONENT = /^[A-Za-z0-9._-]+$/;

function isVisibleName(name: string): boolean {
  return COMPONENT.test(name) && name !== '.' && name !== '..';
}

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  readonly #root: string;

  constructor(rootDirectory: string) {
    this.#root = resolve(rootDirectory);
  }

  #full(path: string): string {
    // Paths reach here validated by the base wrapper (no `.`/`..` components), so a plain join
    // cannot escape the root.
    return path === '/' ? this.#root : join(this.#root, path);
  }

  // mkdir -p, reporting "a parent is a file" as a plain backend error rather than letting
  // ENOTDIR read as "path not found" for a write.
  async #mkdirs(driverPath: string, dir: string): Promise<void> {
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      const code = codeOf(err);
      if (code === 'ENOTDIR' || code === 'EEXIST') {
        throw new DriverError(this.name, `a parent of ${driverPath} is a file`, false, { cause: err });
      }
      throw err;
    }
  }

  async getContent(path: string): Promise<Buffer> {
    try {
      return await readFile(this.#full(path));
    } catch (err) {
      // Directories are not objects; Swift answers 404 for them too.
      if (codeOf(err) === 'EISDIR') throw new PathNotFoundError(this.name, path);
      throw err;
    }
  }

  async putContent(path: string, content: Buffer): Promise<void> {
    const full = this.#full(path);
    const dir = dirname(full);
    await this.#mkdirs(path, dir);
    // Many small objects: no fsync (as Distribution), created as any other writer of the root would.
    await writeFileAtomic(full, content, { mode: 'umask', durable: false, tempName: () => `${TEMP_PREFIX}${randomBytes(8).toString('hex')}` });
  }

  async reader(path: string, options: ReadOptions = {}): Promise<Readable> {
    const offset = options.offset ?? 0;
    const length = options.length;
    // Open first, then stat the handle: the size check and the read see the same file even if
    // the path is replaced in between, and open errors surface here rather than on the stream.
    const handle = await open(this.#full(path), 'r');
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw new PathNotFoundError(this.name, path);
      if (offset > info.size) throw new InvalidOffsetError(this.name, path, offset);
      if (offset === info.size || length === 0) {
        await handle.close();
        return Readable.from([], { objectMode: false });
      }
      return createReadStream('', {
        fd: handle,
        start: offset,
        end: length === undefined ? undefined : offset + length - 1,
        highWaterMark: STREAM_BUFFER,
      });
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  async pipeTo(path: string, sink: Writable, options: ReadOptions = {}): Promise<void> {
    const offset = options.offset ?? 0;
    const handle = await open(this.#full(path), 'r');
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw new PathNotFoundError(this.name, path);
      if (offset > info.size) throw new InvalidOffsetError(this.name, path, offset);
      const end = options.length === undefined ? info.size : Math.min(info.size, offset + options.length);
      await copyToSink(handle, offset, end, sink);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    const full = this.#full(path);
    await this.#mkdirs(path, dirname(full));
    const handle = await open(full, append ? 'a' : 'w');
    try {
      const existing = append ? (await handle.stat()).size : 0;
      return new FilesystemWriter(this.name, path, full, handle, existing);
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  async stat(path: string): Promise<FileInfo> {
    const info = await stat(this.#full(path));
    const isDir = info.isDirectory();
    return { path, size: isDir ? 0 : info.size, modTime: info.mtime, isDir };
  }

  async modTimes(paths: readonly string[]): Promise<Array<Date | undefined>> {
    // fs.stat's callback form: a promise per stat costs several times the stat itself here.
    const times = new Array<Date | undefined>(paths.length);
    let next = 0;
    const worker = (done: () => void): void => {
      const i = next++;
      if (i >= paths.length) return done();
      statCallback(this.#full(paths[i]!), (err, info) => {
        times[i] = err || info.isDirectory() ? undefined : info.mtime;
        worker(done);
      });
    };
    await Promise.all(Array.from({ length: Math.min(MOD_TIMES_AT_ONCE, paths.length) }, () => new Promise<void>((resolve) => worker(resolve))));
    return times;
  }

  async list(path: string): Promise<string[]> {
    let names: string[];
    try {
      names = await this.#children(this.#full(path));
    } catch (err) {
      // A fresh root directory may not exist yet; it is simply empty.
      if (path === '/' && codeOf(err) === 'ENOENT') return [];
      throw err;
    }
    return names.map((name) => childPath(path, name));
  }

  async move(sourcePath: string, destPath: string): Promise<void> {
    const source = this.#full(sourcePath);
    const dest = this.#full(destPath);
    // Check the source before creating destination directories, so a failed move leaves no trace.
    try {
      await lstat(source);
    } catch (err) {
      const code = codeOf(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new PathNotFoundError(this.name, sourcePath);
      throw err;
    }
    await this.#mkdirs(destPath, dirname(dest));
    try {
      await rename(source, dest);
    } catch (err) {
      // Lost a race with another mover or a delete: the source is gone.
      if (codeOf(err) === 'ENOENT') throw new PathNotFoundError(this.name, sourcePath);
      throw err;
    }
  }

  async delete(path: string): Promise<void> {
    const full = this.#full(path);
    await lstat(full);
    await rm(full, { recursive: true, force: true });
  }

  async walk(path: string, visit: (info: FileInfo) => Promise<void | 'skip'> | void | 'skip'): Promise<void> {
    let names: string[];
    try {
      names = await this.#children(this.#full(path));
    } catch (err) {
      if (path === '/' && codeOf(err) === 'ENOENT') return;
      throw err;
    }
    await this.#walkChildren(path, names, visit);
  }

  async #walkChildren(
    path: string,
    names: string[],
    visit: (info: FileInfo) => Promise<void | 'skip'> | void | 'skip',
  ): Promise<void> {
    for (const name of names) {
      const child = childPath(path, name);
      let info: FileInfo;
      try {
        info = await this.stat(child);
      } catch (err) {
        // Deleted while we walked: it is no longer part of the tree.
        if (codeOf(err) === 'ENOENT') continue;
        throw err;
      }
      const result = await visit(info);
      if (!info.isDir || result === 'skip') continue;
      let grandchildren: string[];
      try {
        grandchildren = await this.#children(this.#full(child));
      } catch (err) {
        if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') continue;
        throw err;
      }
      await this.#walkChildren(child, grandchildren, visit);
    }
  }

  async #children(dir: string): Promise<string[]> {
    const names = await readdir(dir);
    // Default sort compares UTF-16 code units, which for the ASCII-only path alphabet is byte order.
    return names.filter(isVisibleName).sort();
  }
}

// Serving reads recycle a few large buffers: fresh megabytes per read cost page faults and
// garbage, and a full garbage heap is what pushes memory up under concurrent pulls.
const spareReadBuffers: Buffer[] = [];
const MAX_SPARE_READ_BUFFERS = 4;

/**
 * Reads [start, end) into two alternating buffers: one is read into while the other is being
 * written to the sink. A buffer is reused only after the sink's write callback says the bytes
 * left it, and reading waits for that, so a slow client slows the reads (backpressure).
 */
async function copyToSink(handle: FileHandle, start: number, end: number, sink: Writable): Promise<void> {
  const buffers = [spareReadBuffers.pop() ?? Buffer.allocUnsafeSlow(STREAM_BUFFER), spareReadBuffers.pop() ?? Buffer.allocUnsafeSlow(STREAM_BUFFER)];
  const pending: Array<Promise<void> | undefined> = [undefined, undefined];
  let position = start;
  let current = 0;
  try {
    while (position < end) {
      const previous = pending[current];
      if (previous) await previous;
      const buffer = buffers[current]!;
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - position), position);
      if (bytesRead === 0) throw new DriverError('filesystem', 'file shrank while being read', false);
      position += bytesRead;
      const write = writeToSink(sink, buffer.subarray(0, bytesRead));
      write.catch(() => undefined); // awaited before the buffer is reused or the copy returns
      pending[current] = write;
      current ^= 1;
    }
    for (const write of pending) if (write) await write;
  } finally {
    // A buffer whose write never finished may still be referenced by the sink: not reused.
    const settled = await Promise.allSettled(pending.map((p) => p ?? Promise.resolve()));
    settled.forEach((result, i) => {
      if (result.status === 'fulfilled' && spareReadBuffers.length < MAX_SPARE_READ_BUFFERS) spareReadBuffers.push(buffers[i]!);
    });
  }
}

class FilesystemWriter implements FileWriter {
  #size: number;
  #error: Error | undefined;
  // Writes run one after another: two appends in flight on the thread pool could land reordered.
  #tail: Promise<void> = Promise.resolve();
  // 'failed': close/commit hit an error; only cancel (cleanup) is still allowed.
  #state: 'open' | 'ending' | 'done' | 'failed' = 'open';

  constructor(
    private readonly driverName: string,
    private readonly path: string,
    private readonly fullPath: string,
    private readonly handle: FileHandle,
    existingSize: number,
  ) {
    this.#size = existingSize;
  }

  get size(): number {
    return this.#size;
  }

  // Resolves once the bytes are in the file, so the caller may reuse the chunk's memory.
  write(chunk: Buffer): Promise<void> {
    if (this.#state !== 'open') return Promise.reject(this.#closedError('write'));
    if (this.#error) return Promise.reject(this.#error);
    this.#size += chunk.length;
    const next = this.#tail.then(() => this.#writeAll(chunk));
    this.#tail = next.catch((err: Error) => {
      this.#error ??= err;
    });
    return next;
  }

  async #writeAll(chunk: Buffer): Promise<void> {
    if (this.#error) throw this.#error;
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, offset, chunk.length - offset);
      offset += bytesWritten;
    }
  }

  close(): Promise<void> {
    return this.#end('close');
  }

  // Nothing more than close: uploads are verified and moved into place afterwards, and an fsync
  // per upload would cost more than the crash window it closes.
  commit(): Promise<void> {
    return this.#end('commit');
  }

  async cancel(): Promise<void> {
    if (this.#state !== 'open' && this.#state !== 'failed') throw this.#closedError('cancel');
    this.#state = 'ending';
    try {
      await this.#tail;
      await this.handle.close().catch(() => undefined);
      await rm(this.fullPath, { force: true });
      this.#state = 'done';
    } catch (err) {
      this.#state = 'failed';
      throw err;
    }
  }

  async #end(op: string): Promise<void> {
    if (this.#state !== 'open') throw this.#closedError(op);
    this.#state = 'ending';
    await this.#tail;
    try {
      await this.handle.close();
    } catch (err) {
      this.#error ??= err as Error;
    }
    if (this.#error) {
      this.#state = 'failed';
      throw this.#error;
    }
    this.#state = 'done';
  }

  #closedError(op: string): DriverError {
    return new DriverError(this.driverName, `${op} on a finished writer: ${this.path}`, false);
  }
}
