// The base wrapper every driver runs behind. It owns the checks all backends share — path and
// offset validation, error normalisation, slow-call logging, the operation metrics (count, latency
// and errors by driver and operation, src/metrics/metrics.ts) — so a driver holds backend code only
// and can assume its inputs are well formed. Production code and the conformance suite both see
// drivers through this wrapper, so the suite pins the behaviour callers actually get.
//
// Hot paths stay plain: reader streams are returned as-is (no Transform in the byte path) and
// writer.write adds one promise hop, never a copy, and is not timed or counted (a reader's or
// writer's operation is its opening and its close/commit/cancel).
import type { Readable, Writable } from 'node:stream';
import {
  DriverError,
  InvalidOffsetError,
  InvalidPathError,
  PathNotFoundError,
  StorageDriverError,
  type FileInfo,
  type FileWriter,
  type ReadOptions,
  type StorageDriver,
  type UnnamedSweepOptions,
} from './driver.js';
import { operationMetrics, type OperationMetrics, type StorageErrorKind } from '../metrics/metrics.js';

export interface WrapDriverOptions {
  logger?: { debug(msg: string, meta?: object): void };
  /** Calls taking at least this long are logged at debug level (default 1000 ms). */
  slowCallMs?: number;
}

// Distribution's path grammar. `.` and `..` match it, so they are rejected separately: a driver
// mapping paths onto a filesystem must never be handed a component that escapes its root.
const PATH_PATTERN = /^(\/[A-Za-z0-9._-]+)+$/;

/** True when `path` is a valid driver path; `/` is valid only where `allowRoot` (list, walk). */
export function isValidDriverPath(path: unknown, allowRoot = false): path is string {
  if (typeof path !== 'string') return false;
  if (path === '/') return allowRoot;
  if (!PATH_PATTERN.test(path)) return false;
  for (const part of path.split('/')) {
    if (part === '.' || part === '..') return false;
  }
  return true;
}

// Backend conditions that usually clear on their own; callers may retry these.
const TRANSIENT_CODES = new Set([
  'EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'ETIMEDOUT', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED',
  'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN',
]);

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Maps anything a driver threw into the closed set of typed errors. */
export function normaliseDriverError(driverName: string, path: string, err: unknown): StorageDriverError {
  if (err instanceof StorageDriverError) return err;
  const code = errorCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') return new PathNotFoundError(driverName, path);
  const message = err instanceof Error ? err.message : String(err);
  return new DriverError(driverName, message, code !== undefined && TRANSIENT_CODES.has(code), { cause: err });
}

function errorKind(err: StorageDriverError): StorageErrorKind {
  if (err instanceof PathNotFoundError) return 'not_found';
  if (err instanceof InvalidPathError) return 'invalid_path';
  if (err instanceof InvalidOffsetError) return 'invalid_offset';
  return 'backend';
}

function isValidOffset(n: number | undefined): boolean {
  return n === undefined || (Number.isSafeInteger(n) && n >= 0);
}

// Marks wrapped drivers so wrapping is idempotent: the suite wraps whatever it is given, and a
// factory that already wrapped does not pay for a second layer.
const wrapped = new WeakSet<StorageDriver>();

export function wrapDriver(inner: StorageDriver, opts: WrapDriverOptions = {}): StorageDriver {
  if (wrapped.has(inner)) return inner;
  const name = inner.name;
  const logger = opts.logger;
  const slowMs = opts.slowCallMs ?? 1000;

  // The metric children of each operation, bound on first use (the set of operations is fixed).
  const metrics = new Map<string, OperationMetrics>();
  const metricsOf = (method: string): OperationMetrics => {
    let m = metrics.get(method);
    if (!m) metrics.set(method, (m = operationMetrics(name, method)));
    return m;
  };

  async function call<T>(method: string, path: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    const m = metricsOf(method);
    try {
      return await fn();
    } catch (err) {
      const normalised = normaliseDriverError(name, path, err);
      m.failed(errorKind(normalised));
      throw normalised;
    } finally {
      const ms = performance.now() - start;
      m.done(ms / 1000);
      if (logger && ms >= slowMs) logger.debug(`storage driver ${name}: slow ${method}`, { driver: name, method, path, ms: Math.round(ms) });
    }
  }

  function checkPath(path: string, allowRoot = false): void {
    if (!isValidDriverPath(path, allowRoot)) throw new InvalidPathError(name, path);
  }

  const driver: StorageDriver = {
    name,

    async getContent(path, options) {
      checkPath(path);
      return call('getContent', path, () => inner.getContent(path, options));
    },

    async putContent(path, content) {
      checkPath(path);
      return call('putContent', path, () => inner.putContent(path, content));
    },

    async reader(path, options?: ReadOptions) {
      checkPath(path);
      const offset = options?.offset;
      const length = options?.length;
      if (!isValidOffset(offset)) throw new InvalidOffsetError(name, path, offset as number);
      if (!isValidOffset(length)) throw new InvalidOffsetError(name, path, length as number);
      const stream = await call('reader', path, () => inner.reader(path, options));
      return normaliseStreamErrors(stream, name, path);
    },

    async pipeTo(path, sink, options?: ReadOptions) {
      checkPath(path);
      if (!isValidOffset(options?.offset)) throw new InvalidOffsetError(name, path, options?.offset as number);
      if (!isValidOffset(options?.length)) throw new InvalidOffsetError(name, path, options?.length as number);
      return call('pipeTo', path, () => inner.pipeTo(path, sink, options));
    },

    ...(inner.redirectUrl
      ? {
          async redirectUrl(path: string, method: 'GET') {
            checkPath(path);
            return call('redirectUrl', path, () => inner.redirectUrl!(path, method));
          },
        }
      : {}),

    ...(inner.open
      ? {
          async open(path: string) {
            checkPath(path);
            const opened = await call('open', path, () => inner.open!(path));
            return {
              size: opened.size,
              version: opened.version,
              pipeTo: (sink: Writable) => call('pipeTo', path, () => opened.pipeTo(sink)),
              cancel: () => opened.cancel(),
            };
          },
        }
      : {}),

    ...(inner.copyVersion
      ? {
          async copyVersion(sourcePath: string, destPath: string, version: string) {
            checkPath(sourcePath);
            checkPath(destPath);
            return call('copyVersion', sourcePath, () => inner.copyVersion!(sourcePath, destPath, version));
          },
        }
      : {}),

    ...(inner.filesBelow
      ? {
          async filesBelow(path: string) {
            checkPath(path, true);
            return call('filesBelow', path, () => inner.filesBelow!(path));
          },
        }
      : {}),

    ...(inner.modTimes
      ? {
          async modTimes(paths: readonly string[]) {
            for (const path of paths) checkPath(path);
            return call('modTimes', paths[0] ?? '/', () => inner.modTimes!(paths));
          },
        }
      : {}),

    ...(inner.sweepUnnamed
      ? {
          async sweepUnnamed(options: UnnamedSweepOptions) {
            return call('sweepUnnamed', '/', () => inner.sweepUnnamed!(options));
          },
        }
      : {}),

    async writer(path, append, options) {
      checkPath(path);
      const w = await call('writer', path, () => inner.writer(path, append, options));
      return wrapWriter(w, name, path, call);
    },

    async stat(path, options): Promise<FileInfo> {
      checkPath(path);
      return call('stat', path, () => inner.stat(path, options));
    },

    async list(path) {
      checkPath(path, true);
      return call('list', path, () => inner.list(path));
    },

    async move(sourcePath, destPath, options) {
      checkPath(sourcePath);
      checkPath(destPath);
      return call('move', sourcePath, () => inner.move(sourcePath, destPath, options));
    },

    async delete(path, options) {
      checkPath(path);
      return call('delete', path, () => inner.delete(path, options));
    },

    async walk(path, visit) {
      checkPath(path, true);
      // The caller's own errors must come back unchanged, not dressed up as a DriverError.
      let visitError: { error: unknown } | undefined;
      const guarded = async (info: FileInfo): Promise<void | 'skip'> => {
        try {
          return await visit(info);
        } catch (error) {
          visitError = { error };
          throw error;
        }
      };
      try {
        await call('walk', path, () => inner.walk(path, guarded));
      } catch (err) {
        if (visitError) throw visitError.error;
        throw err;
      }
    },
  };
  wrapped.add(driver);
  return driver;
}

type Call = <T>(method: string, path: string, fn: () => Promise<T>) => Promise<T>;

function wrapWriter(inner: FileWriter, driverName: string, path: string, call: Call): FileWriter {
  // 'failed' means a close/commit threw: the data is in doubt, so only cancel (cleanup) remains.
  let state: 'open' | 'ending' | 'closed' | 'committed' | 'cancelled' | 'failed' = 'open';
  const refuse = (op: string): Promise<never> =>
    Promise.reject(new DriverError(driverName, `${op} on a writer that is ${state}: ${path}`, false));

  const end = async (op: 'close' | 'commit' | 'cancel', done: 'closed' | 'committed' | 'cancelled'): Promise<void> => {
    state = 'ending';
    try {
      await call(`writer.${op}`, path, () => inner[op]());
      state = done;
    } catch (err) {
      state = 'failed';
      throw err;
    }
  };

  return {
    get size() {
      return inner.size;
    },
    get version() {
      return inner.version;
    },
    write(chunk: Buffer): Promise<void> {
      if (state !== 'open') return refuse('write');
      // One extra promise per chunk and no timing: this is the upload hot path.
      const fail = (err: unknown): never => {
        throw normaliseDriverError(driverName, path, err);
      };
      try {
        return inner.write(chunk).then(undefined, fail);
      } catch (err) {
        return Promise.reject(normaliseDriverError(driverName, path, err));
      }
    },
    close: () => (state === 'open' ? end('close', 'closed') : refuse('close')),
    commit: () => (state === 'open' ? end('commit', 'committed') : refuse('commit')),
    // Refused after a successful close or commit: it would delete data someone means to keep.
    cancel: () => (state === 'open' || state === 'failed' ? end('cancel', 'cancelled') : refuse('cancel')),
  };
}

// Errors surfacing on a stream after reader() resolved go through stream.destroy(err); patching
// that one method on the instance normalises them with no per-chunk cost. A consumer that
// destroys the stream with its own error gets it back wrapped, with the original as `cause`.
function normaliseStreamErrors(stream: Readable, driverName: string, path: string): Readable {
  const destroy = stream.destroy;
  stream.destroy = function (this: Readable, err?: Error) {
    return destroy.call(this, err ? normaliseDriverError(driverName, path, err) : err);
  } as Readable['destroy'];
  return stream;
}
