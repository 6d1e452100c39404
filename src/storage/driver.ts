// The one storage driver interface, modelled on CNCF Distribution's StorageDriver but shaped
// for an object store like Swift: there is no rename (move may be copy + delete), listings may
// lag writes, large objects may be stored as segments, reads take an offset, and any call may
// fail transiently. Drivers know nothing of OCI; paths are opaque slash-separated keys.
import type { Readable, Writable } from 'node:stream';

export interface FileInfo {
  /** The path that was stat'ed. */
  readonly path: string;
  /** Size in bytes; 0 for directories. */
  readonly size: number;
  readonly modTime: Date;
  readonly isDir: boolean;
  /**
   * Names the stored content: it changes whenever any writer, in any process, replaces or extends
   * the file. Undefined where the driver cannot tell (then nothing is compared).
   */
  readonly version?: string;
}

/** A move's precondition. */
export interface MoveOptions {
  /**
   * The source must still hold this content (FileInfo.version, FileWriter.version): otherwise the
   * move fails with WriteConflictError and changes nothing. Ignored by drivers without versions.
   */
  version?: string;
  /**
   * The caller has just found nothing at the destination (a hint: the driver need not look again;
   * something written there meanwhile is replaced, as by any move).
   */
  destMissing?: boolean;
}

/**
 * A streaming writer. Bytes become readable at the path after close() or commit(); close() leaves
 * the content open to a later writer(path, append=true) (resumable uploads), commit() makes it final.
 * An object store publishes on close (Distribution's Swift driver writes the manifest then).
 */
export interface FileWriter {
  /** Total bytes at the path once committed: pre-existing bytes (append) plus bytes written. */
  readonly size: number;
  /**
   * FileInfo.version of the content this writer continues (when opened: undefined for nothing),
   * then of what it stored (after close or commit). Undefined where the driver has no versions.
   */
  readonly version?: string;
  /**
   * Resolves when the backend has taken the chunk; awaiting it is the backpressure. The caller may
   * reuse the chunk's memory only after that (uploads recycle their batch buffers), so a driver
   * that keeps the bytes longer must copy them.
   */
  write(chunk: Buffer): Promise<void>;
  /** Flush and release resources without making the write final; the data remains for append. */
  close(): Promise<void>;
  /** Flush and make the content durable and readable at the path. */
  commit(): Promise<void>;
  /** Discard everything this writer wrote, including pre-existing content it appended to. */
  cancel(): Promise<void>;
}

export interface GetOptions {
  /**
   * A miss costs the caller nothing but repeated work (a push that looks for a layer uploads it
   * again): the driver may answer it at once rather than ask a second time to rule out a false
   * miss (an object store's GET racing an overwrite of the object).
   */
  quickMiss?: boolean;
}

/** A whole file opened for reading (StorageDriver.open): its size known before any byte is sent. */
export interface OpenedFile {
  readonly size: number;
  readonly version?: string;
  /** Streams every byte into sink with backpressure, without ending it. Call at most once. */
  pipeTo(sink: Writable): Promise<void>;
  /** Gives the read up unread (the caller decided not to serve it). */
  cancel(): void;
}

export interface ReadOptions {
  /** First byte to read. An offset past the end is InvalidOffsetError. */
  offset?: number;
  /** Maximum number of bytes to read (a range read); undefined reads to the end. */
  length?: number;
  /**
   * FileInfo.version of the content the caller stat'ed, with `length` within it: a driver may read
   * those bytes straight away instead of looking at the path again. The read then fails if the
   * path no longer holds that content (PathNotFoundError, or a driver error), never serves other bytes.
   */
  version?: string;
}

export interface WriterOptions {
  expectedBytes?: number;
  /**
   * The caller has just found nothing at the path (a hint: the driver need not look again). A
   * writer that starts the same path meanwhile is still noticed where the driver notices it.
   */
  missing?: boolean;
  /**
   * The caller has not looked and believes nothing is there (the first write to a session this
   * process just created). Where the backend refuses a create atomically, the writer only creates,
   * and writer() rejects with WriteConflictError, before taking any byte, when something is there
   * after all (the caller then looks and opens again); elsewhere the writer looks first, as without
   * the hint. Never with `missing`.
   */
  unread?: boolean;
  /**
   * For a body of unknown length (no expectedBytes): the caller accepts that whole pieces of an
   * unfinished write may become readable before close(), always a prefix of what was written (an
   * upload session, which reports what it holds and is resumed from there). An object store may
   * then keep a body that turns out small as one object, with no manifest before or after it.
   * Without it, nothing of a write is readable before close().
   */
  prefixMayShow?: boolean;
}

export interface StatOptions {
  file?: boolean;
}

/** stat() of a path that can only be a file. */
export const FILE_ONLY: StatOptions = Object.freeze({ file: true });

export interface DeleteOptions {
  directory?: boolean;
  /**
   * The caller knows only a file can be there: no tree below it is looked for. With `whole`, it
   * is known to be one whole object (written by putContent, or a version copyVersion copied), so
   * an object store deletes it by name alone, with no look at what it is first.
   */
  file?: boolean;
  whole?: boolean;
  /**
   * With `file`: what the caller last found there (FileInfo.version). A driver that can tell from
   * it that the file is one whole object deletes it by name alone, as with `whole`.
   */
  version?: string | undefined;
}

/** delete() of a small file written by putContent. */
export const WHOLE_FILE: DeleteOptions = Object.freeze({ file: true, whole: true });

/** delete() of a path that can only be a directory. */
export const DIRECTORY_ONLY: DeleteOptions = Object.freeze({ directory: true });

export interface StorageDriver {
  /** Short driver name (filesystem, inmemory, swift): carried by every error it raises. */
  readonly name: string;
  getContent(path: string, options?: GetOptions): Promise<Buffer>;
  /** Atomically replaces the content at path: readers see the old or the new bytes, never a mix. */
  putContent(path: string, content: Buffer): Promise<void>;
  reader(path: string, options?: ReadOptions): Promise<Readable>;
  /**
   * Streams the bytes (or a range) into sink with backpressure, without ending it; resolves when
   * everything was handed to the sink. The serving path: a driver may recycle its read buffers
   * here, which a Readable handed to unknown consumers cannot.
   */
  pipeTo(path: string, sink: Writable, options?: ReadOptions): Promise<void>;
  /**
   * `expectedBytes`: how many bytes the caller means to write (an upload body's Content-Length).
   * A hint: a driver may send its pieces with known lengths; a writer given fewer bytes still
   * closes, keeping what it stored whole.
   */
  writer(path: string, append: boolean, options?: WriterOptions): Promise<FileWriter>;
  /**
   * What is at path, a file or a directory; PathNotFoundError when nothing. With `file`, the
   * caller knows only a file can be there: a missing one is not looked for as a directory (on an
   * object store, where a directory is only a shared name prefix, that saves a listing).
   */
  stat(path: string, options?: StatOptions): Promise<FileInfo>;
  /** Direct children of a directory, as full paths. PathNotFoundError when it does not exist. */
  list(path: string): Promise<string[]>;
  /** Moves an object; the destination is replaced. Not atomic on every backend (copy + delete). */
  move(sourcePath: string, destPath: string, options?: MoveOptions): Promise<void>;
  /**
   * Deletes an object or a whole tree. PathNotFoundError when nothing exists there. With
   * `directory`, the caller knows only a tree can be there: no object is looked for at the path
   * itself (on an object store, that saves a request).
   */
  delete(path: string, options?: DeleteOptions): Promise<void>;
  /**
   * Visits every file and directory below path, depth first, in lexical order. The callback may
   * return 'skip' on a directory to not descend into it.
   */
  walk(path: string, visit: (info: FileInfo) => Promise<void | 'skip'> | void | 'skip'): Promise<void>;
  /**
   * A URL the client may fetch the object from directly (Distribution's URLFor: a Swift TempURL),
   * or undefined when the driver serves it itself (not configured, or a large object that the
   * backend would serve through a rate-limited manifest). PathNotFoundError when it does not exist.
   */
  redirectUrl?(path: string, method: 'GET'): Promise<string | undefined>;
  /**
   * Optional: the whole file's size and bytes from one request where the backend can (a plain
   * object's GET answers both), for a caller that would otherwise stat and then read: one round
   * trip instead of two. PathNotFoundError when nothing is there.
   */
  open?(path: string): Promise<OpenedFile>;
  /**
   * Optional: a server-side copy of `sourcePath`'s content into `destPath` (replaced), on condition
   * the source still holds `version` (FileInfo.version), leaving the source in place, where the
   * backend makes it in one request. Resolves false, having sent nothing, where it cannot for this
   * version (then the caller moves). WriteConflictError when the source holds other content now,
   * PathNotFoundError when it is gone. A caller copies instead of moving when it cannot yet rely
   * on the copy (it may need the source again) and deletes the source itself afterwards.
   */
  copyVersion?(sourcePath: string, destPath: string, version: string): Promise<boolean>;
  /**
   * Storage the driver keeps beside the paths that nothing names any more (an object store's
   * large-object segments whose manifest is gone): deleted once passes at least `minAgeMs` apart
   * found it unnamed and untouched (a listing that lags must not make named storage look unnamed).
   */
  sweepUnnamed?(options: UnnamedSweepOptions): Promise<UnnamedSweepResult>;
  /**
   * Optional: every file below path with when it was last written, from a flat listing where the
   * backend has one (an object store lists thousands of objects a request; walking it directory by
   * directory would cost a request per directory). Sizes are not resolved. [] when nothing is there.
   */
  filesBelow?(path: string): Promise<Array<{ path: string; modTime: Date }>>;
  /**
   * Optional: when each file was last written (undefined where nothing is), in one call for many
   * files where the backend answers them cheaply side by side (a filesystem's stats), instead of a
   * driver call per file.
   */
  modTimes?(paths: readonly string[]): Promise<Array<Date | undefined>>;
}

export interface UnnamedSweepOptions {
  minAgeMs: number;
  /** Count what would be deleted, delete nothing. */
  dryRun: boolean;
}

export interface UnnamedSweepResult {
  /** Pieces (segment sets) found unnamed in this pass. */
  found: number;
  /** Pieces deleted (or that a dry run would delete), and their bytes. */
  deleted: number;
  bytesFreed: number;
}

/** The closed set of typed errors a driver raises; anything else is a DriverError. */
export class StorageDriverError extends Error {
  constructor(
    readonly driverName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${driverName}: ${message}`, options);
    this.name = new.target.name;
  }
}

export class PathNotFoundError extends StorageDriverError {
  constructor(driverName: string, readonly path: string) {
    super(driverName, `path not found: ${path}`);
  }
}

export class InvalidPathError extends StorageDriverError {
  constructor(driverName: string, readonly path: string) {
    super(driverName, `invalid path: ${JSON.stringify(path)}`);
  }
}

export class InvalidOffsetError extends StorageDriverError {
  constructor(driverName: string, readonly path: string, readonly offset: number) {
    super(driverName, `invalid offset ${offset} for ${path}`);
  }
}

/**
 * Another writer is appending to the same object at the same time (an object store cannot lock):
 * this writer got nothing in. The caller should re-read the size and try again.
 */
export class WriteConflictError extends StorageDriverError {
  constructor(driverName: string, readonly path: string, message = `another writer is appending to ${path}`) {
    super(driverName, message);
  }
}

/** A backend failure (I/O error, network, server error). `transient` marks ones worth retrying. */
export class DriverError extends StorageDriverError {
  constructor(driverName: string, message: string, readonly transient: boolean, options?: { cause?: unknown }) {
    super(driverName, message, options);
  }
}
