// A file regate must read (a TLS key, the users file) that it may not: the message says who regate
// runs as and who may read the file, so the fix is plain. This matters most in the container
// image, which runs as a dedicated non-root user where `registry:2` ran as root: a key that is
// `0600 root` on the host is readable there and not here (docs/deployment.md).
import { statSync } from 'node:fs';

/** Startup could not read a file it needs; `message` says why and what to do. */
export class FileAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileAccessError';
  }
}

/** For a file regate had to create and could not: who it runs as, and the two ways out. */
export function describeCreateError(err: unknown): string {
  const error = err as NodeJS.ErrnoException;
  if (error.code !== 'EACCES' && error.code !== 'EPERM' && error.code !== 'EROFS') return error.message;
  const uid = process.getuid?.();
  return `${error.message} (regate runs as uid ${uid}: create the file beforehand, e.g. with \`regate user add\`, or let uid ${uid} write to its directory)`;
}

/** `err`'s message, and for a permission error who regate runs as, the file's owner and mode. */
export function describeReadError(path: string, err: unknown): string {
  const error = err as NodeJS.ErrnoException;
  if (error.code !== 'EACCES' && error.code !== 'EPERM') return error.message;
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  let owner = '';
  try {
    const st = statSync(path);
    owner = `; it is mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, owner uid ${st.uid} gid ${st.gid}`;
  } catch {
    // The directory itself is closed to us: the message says so already.
  }
  return (
    `${error.message} (regate runs as uid ${uid} gid ${gid}${owner}: make it readable by uid ${uid} ` +
    `(chown ${uid} FILE, or chgrp ${gid} FILE and chmod 0640 FILE), or run regate as the file's owner)`
  );
}
