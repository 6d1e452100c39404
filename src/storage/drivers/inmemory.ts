// A driver that keeps everything in process memory, for tests and throwaway registries. It is a
// tree rather than a flat map so it behaves like the filesystem driver where the two could
// otherwise drift: a file cannot also be a directory, directories outlive their last file, and
// writer bytes land in place as they are written.
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

// Served in slices, so a slow reader applies backpressure as with the other drivers.
const PIPE_SLICE = 1024 * 1024;

interface FileNode {
  kind: 'file';
  // Kept as chunks so appends are O(chunk); joined only when read.
  chunks: Buffer[];
  size: number;
  modTime: Date;
}

interface DirNode {
  kind: 'dir';
  children: Map<string, Node>;
  modTime: Date;
}

type Node = FileNode | DirNode;

function newDir(): DirNode {
  return { kind: 'dir', children: new Map(), modTime: new Date() };
}

function newFile(chunks: Buffer[] = [], size = 0): FileNode {
  return { kind: 'file', chunks, size, modTime: new Date() };
}

function components(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function contentOf(file: FileNode): Buffer {
  return Buffer.concat(file.chunks, file.size);
}

export class InMemoryDriver implements StorageDriver {
  readonly name = 'inmemory';
  readonly #root: DirNode = newDir();

  #find(path: string): Node | undefined {
    let node: Node = this.#root;
    for (const part of components(path)) {
      if (node.kind !== 'dir') return undefined;
      const next = node.children.get(part);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  #file(path: string): FileNode {
    const node = this.#find(path);
    if (!node || node.kind !== 'file') throw new PathNotFoundError(this.name, path);
    return node;
  }

  #dir(path: string): DirNode {
    const node = this.#find(path);
    if (!node || node.kind !== 'dir') throw new PathNotFoundError(this.name, path);
    return node;
  }

  /** mkdir -p of the parent of `path`; returns the parent and the last component. */
  #parentOf(path: string): { parent: DirNode; name: string } {
    const parts = components(path);
    const name = parts.pop() as string;
    let dir = this.#root;
    for (const part of parts) {
      let next = dir.children.get(part);
      if (!next) {
        next = newDir();
        dir.children.set(part, next);
        dir.modTime = new Date();
      }
      if (next.kind !== 'dir') throw new DriverError(this.name, `a parent of ${path} is a file`, false);
      dir = next;
    }
    return { parent: dir, name };
  }

  /** Looks up the parent without creating anything. */
  #existingParentOf(path: string): { parent: DirNode; name: string } | undefined {
    const parts = components(path);
    const name = parts.pop() as string;
    const parent = this.#find(parts.length === 0 ? '/' : `/${parts.join('/')}`);
    return parent?.kind === 'dir' ? { parent, name } : undefined;
  }

  #placeFile(path: string, file: FileNode): void {
    const { parent, name } = this.#parentOf(path);
    if (parent.children.get(name)?.kind === 'dir') throw new DriverError(this.name, `${path} is a directory`, false);
    parent.children.set(name, file);
    parent.modTime = new Date();
  }

  async getContent(path: string): Promise<Buffer> {
    // concat always allocates, so callers never hold a view of the stored bytes.
    return contentOf(this.#file(path));
  }

  async putContent(path: string, content: Buffer): Promise<void> {
    // Copy: the caller may reuse its buffer, and stored bytes must not change under us.
    this.#placeFile(path, newFile([Buffer.from(content)], content.length));
  }

  async reader(path: string, options: ReadOptions = {}): Promise<Readable> {
    const file = this.#file(path);
    const offset = options.offset ?? 0;
    if (offset > file.size) throw new InvalidOffsetError(this.name, path, offset);
    const end = options.length === undefined ? file.size : Math.min(file.size, offset + options.length);
    // A snapshot: later writes to the path do not leak into a read already started.
    const data = contentOf(file).subarray(offset, end);
    return Readable.from(data.length === 0 ? [] : [data], { objectMode: false });
  }

  async pipeTo(path: string, sink: Writable, options: ReadOptions = {}): Promise<void> {
    const file = this.#file(path);
    const offset = options.offset ?? 0;
    if (offset > file.size) throw new InvalidOffsetError(this.name, path, offset);
    const end = options.length === undefined ? file.size : Math.min(file.size, offset + options.length);
    const data = contentOf(file).subarray(offset, end);
    for (let i = 0; i < data.length; i += PIPE_SLICE) await writeToSink(sink, data.subarray(i, i + PIPE_SLICE));
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    const existing = this.#find(path);
    let file: FileNode;
    if (append && existing?.kind === 'file') {
      file = existing;
    } else {
      file = newFile();
      this.#placeFile(path, file);
    }
    return new InMemoryWriter(this.name, path, file, () => this.#removeIfCurrent(path, file));
  }

  async stat(path: string): Promise<FileInfo> {
    const node = this.#find(path);
    if (!node) throw new PathNotFoundError(this.name, path);
    return node.kind === 'dir'
      ? { path, size: 0, modTime: node.modTime, isDir: true }
      : { path, size: node.size, modTime: node.modTime, isDir: false };
  }

  async list(path: string): Promise<string[]> {
    const dir = this.#dir(path);
    return [...dir.children.keys()].sort().map((name) => childPath(path, name));
  }

  async move(sourcePath: string, destPath: string): Promise<void> {
    const from = this.#existingParentOf(sourcePath);
    const node = from?.parent.children.get(from.name);
    if (!from || !node) throw new PathNotFoundError(this.name, sourcePath);
    if (sourcePath === destPath) return;
    if (destPath.startsWith(`${sourcePath}/`)) {
      throw new DriverError(this.name, `cannot move ${sourcePath} into itself`, false);
    }
    const { parent, name } = this.#parentOf(destPath);
    const target = parent.children.get(name);
    // Mirror rename(2): a file replaces a file, a directory replaces only an empty directory.
    if (target && (target.kind !== node.kind || (target.kind === 'dir' && target.children.size > 0))) {
      throw new DriverError(this.name, `cannot replace ${destPath}`, false);
    }
    from.parent.children.delete(from.name);
    from.parent.modTime = new Date();
    parent.children.set(name, node);
    parent.modTime = new Date();
  }

  async delete(path: string): Promise<void> {
    const at = this.#existingParentOf(path);
    if (!at || !at.parent.children.delete(at.name)) throw new PathNotFoundError(this.name, path);
    at.parent.modTime = new Date();
  }

  async walk(path: string, visit: (info: FileInfo) => Promise<void | 'skip'> | void | 'skip'): Promise<void> {
    await this.#walkDir(path, this.#dir(path), visit);
  }

  async #walkDir(
    path: string,
    dir: DirNode,
    visit: (info: FileInfo) => Promise<void | 'skip'> | void | 'skip',
  ): Promise<void> {
    for (const name of [...dir.children.keys()].sort()) {
      const node = dir.children.get(name);
      // Removed by the callback or a concurrent caller since the listing.
      if (!node) continue;
      const child = childPath(path, name);
      const isDir = node.kind === 'dir';
      const result = await visit({ path: child, size: isDir ? 0 : node.size, modTime: node.modTime, isDir });
      if (isDir && result !== 'skip') await this.#walkDir(child, node, visit);
    }
  }

  // A cancelled writer drops its file only if the path still holds it, not a newer put's.
  #removeIfCurrent(path: string, file: FileNode): void {
    const at = this.#existingParentOf(path);
    if (at && at.parent.children.get(at.name) === file) {
      at.parent.children.delete(at.name);
      at.parent.modTime = new Date();
    }
  }
}

class InMemoryWriter implements FileWriter {
  #finished = false;
  readonly #file: FileNode;

  constructor(
    private readonly driverName: string,
    private readonly path: string,
    file: FileNode,
    private readonly remove: () => void,
  ) {
    this.#file = file;
  }

  get size(): number {
    return this.#file.size;
  }

  // Bytes land in the stored file as they arrive, like the filesystem driver writing in place.
  async write(chunk: Buffer): Promise<void> {
    if (this.#finished) throw this.#closedError('write');
    this.#file.chunks.push(Buffer.from(chunk));
    this.#file.size += chunk.length;
    this.#file.modTime = new Date();
  }

  async close(): Promise<void> {
    this.#finish('close');
  }

  async commit(): Promise<void> {
    this.#finish('commit');
  }

  async cancel(): Promise<void> {
    this.#finish('cancel');
    this.remove();
  }

  #finish(op: string): void {
    if (this.#finished) throw this.#closedError(op);
    this.#finished = true;
  }

  #closedError(op: string): DriverError {
    return new DriverError(this.driverName, `${op} on a finished writer: ${this.path}`, false);
  }
}
