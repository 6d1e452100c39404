// The one way regate writes a whole file so that a reader never sees part of it: a temp file in the
// same directory (same filesystem, so rename and link are atomic), created exclusively, written,
// then published. Users files, TLS material, the first users file and small storage objects all
// go through here.
import { randomBytes } from 'node:crypto';
import { link, open, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /**
   * Mode of a new file (default 0600; open()'s mode is filtered by the umask, so it is chmod'ed too).
   * 'umask': the process default, as any other program writing there would create it.
   */
  mode?: number | 'umask';
  /** Keep the replaced file's permission bits (and, as root, its owner) instead of `mode`. */
  keepExisting?: boolean;
  /** Follow a symlink at the path: its target is replaced and the link stays. */
  followSymlink?: boolean;
  /** fsync the file and its directory so the write survives a crash (default true). */
  durable?: boolean;
  /** Name of the temp file inside the directory (default: hidden, pid and random suffix). */
  tempName?: (base: string) => string;
}

function defaultTempName(base: string): string {
  return `.${base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function resolveTarget(path: string, followSymlink: boolean): Promise<string> {
  if (!followSymlink) return path;
  try {
    return await realpath(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return path;
  }
}

/** Writes `data` under a fresh temp name beside `target`; the caller publishes or removes it. */
async function writeTemp(target: string, data: string | Buffer, mode: number | 'umask', options: AtomicWriteOptions, owner?: { uid: number; gid: number }): Promise<string> {
  const temp = join(dirname(target), (options.tempName ?? defaultTempName)(basename(target)));
  const handle = await open(temp, 'wx', mode === 'umask' ? 0o666 : 0o600);
  try {
    await handle.writeFile(data);
    if (mode !== 'umask') await handle.chmod(mode);
    if (owner && process.getuid?.() === 0) await handle.chown(owner.uid, owner.gid).catch(() => undefined);
    if (options.durable ?? true) await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  return temp;
}

/** Replaces (or creates) `path` with `data` atomically. */
export async function writeFileAtomic(path: string, data: string | Buffer, options: AtomicWriteOptions = {}): Promise<void> {
  const target = await resolveTarget(path, options.followSymlink ?? false);
  const existing = options.keepExisting ? await statOrUndefined(target) : undefined;
  const mode = existing ? existing.mode & 0o7777 : (options.mode ?? 0o600);
  const temp = await writeTemp(target, data, mode, options, existing ? { uid: existing.uid, gid: existing.gid } : undefined);
  try {
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  if (options.durable ?? true) await fsyncDirectory(dirname(target));
}

/**
 * Creates `path` with `data` only if it does not exist, never overwriting: published with link(2),
 * which fails when another process created `path` meanwhile. Returns false when `path` existed.
 */
export async function createFileExclusive(path: string, data: string | Buffer, mode: number = 0o600): Promise<boolean> {
  const temp = await writeTemp(path, data, mode, { mode });
  try {
    await link(temp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw err;
    // A filesystem without hard links: exclusive create is the next best no-clobber publish.
    try {
      await writeFile(path, data, { mode, flag: 'wx' });
    } catch (createErr) {
      if ((createErr as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw createErr;
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await fsyncDirectory(dirname(path));
  return true;
}

/** Makes a rename durable; not every platform or filesystem can fsync a directory, so it is best effort. */
async function fsyncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
