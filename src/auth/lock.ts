// Safe edits of a small file shared with a running server and other operators:
//
//   - `withFileLock(path, fn)` runs `fn` while holding `<path>.lock` (a directory made by
//     proper-lockfile next to the file; its mtime is refreshed while held, and a lock left by a
//     process that died is taken over once it is older than `staleMs`). Two `regate user …`
//     commands never interleave their read-modify-write.
//   - `writeFileAtomic(path, text)` writes a temp file in the same directory, fsyncs it and renames
//     it over the target: readers (the htpasswd store) see the old file or the new one, never half of
//     one. The existing file's mode (and, for root, its owner) is kept; a new file is 0600.
import lockfile from 'proper-lockfile';
import { writeFileAtomic as writeAtomic } from '../fs/atomic-file.js';

export interface FileLock {
  /** The lock directory's path. */
  readonly lockPath: string;
  /** Throws LockError when the lock was lost (e.g. taken over as stale): call it before writing. */
  assertHeld(): void;
}

export class LockError extends Error {
  constructor(
    message: string,
    readonly lockPath: string,
  ) {
    super(message);
    this.name = 'LockError';
  }
}

export interface LockOptions {
  /** A lock not refreshed for this long is stale and may be taken over (≥ 2000; default 10 s). */
  staleMs?: number;
  /** How long to keep retrying a held lock before giving up (default 20 s, beyond staleMs). */
  waitMs?: number;
}

/** `<path>.lock`, the lock directory guarding `path`. */
export function lockPathFor(path: string): string {
  return `${path}.lock`;
}

/**
 * Runs `fn` under the lock file next to `path` (the file itself need not exist; its directory
 * must). The lock is released when `fn` settles, whatever the outcome.
 */
export async function withFileLock<T>(path: string, fn: (lock: FileLock) => Promise<T>, options: LockOptions = {}): Promise<T> {
  const staleMs = Math.max(2000, options.staleMs ?? 10_000);
  const waitMs = options.waitMs ?? 20_000;
  const lockPath = lockPathFor(path);
  let compromised: Error | undefined;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(path, {
      realpath: false,
      lockfilePath: lockPath,
      stale: staleMs,
      update: Math.floor(staleMs / 4),
      // Exponential back-off capped at 500 ms, enough attempts to cover waitMs.
      retries: { retries: Math.max(1, Math.ceil(waitMs / 500) + 6), factor: 1.5, minTimeout: 25, maxTimeout: 500 },
      onCompromised: (err) => {
        compromised = err;
      },
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOCKED') {
      throw new LockError(
        `${path} is locked by another process (${lockPath}); try again, or remove that directory if no other regate user command is running`,
        lockPath,
      );
    }
    throw err;
  }
  const handle: FileLock = {
    lockPath,
    assertHeld() {
      if (compromised) throw new LockError(`lost the lock on ${path} (${lockPath}): ${compromised.message}`, lockPath);
    },
  };
  try {
    return await fn(handle);
  } finally {
    try {
      await release();
    } catch (err) {
      // Releasing a lock that was compromised fails; the outcome of fn() matters more.
      if (!compromised) throw err;
    }
  }
}

/**
 * Replaces `path` with `text` atomically (src/fs/atomic-file.ts): a symlink at `path` is followed
 * (its target is replaced, the link stays); the existing file's permission bits and owner are kept;
 * a new file gets `mode` (default 0600).
 */
export async function writeFileAtomic(path: string, text: string, mode: number = 0o600): Promise<void> {
  await writeAtomic(path, text, { mode, keepExisting: true, followSymlink: true });
}
