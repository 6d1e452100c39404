// First start without a users file: create it with one user and a random password, as
// Distribution 2.7+ does, so a fresh install is never open. The caller prints the password once.
import { randomBytes } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createFileExclusive } from '../fs/atomic-file.js';
import { DEFAULT_BCRYPT_COST, hashPassword } from './password.js';
import { setUser } from './htpasswd-file.js';

/** The users file when none is configured, relative to the working directory (gateway and CLI alike). */
export const DEFAULT_HTPASSWD_PATH = 'htpasswd/htpasswd';
export const INITIAL_USER = 'admin';

export type EnsureHtpasswdResult = { created: false } | { created: true; user: string; password: string };

/** 32 URL-safe characters from 24 random bytes (192 bits). */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

const HEADER =
  '# regate users (htpasswd format, bcrypt). Manage with: regate user add|passwd|rm|list|verify <user> --file <this file>\n';

/**
 * Creates `path` when it does not exist: its directory (0700, only the levels that are missing) and
 * the file (0600) holding `admin` with a fresh random password (bcrypt, cost 10). Never overwrites:
 * the file is written under a temp name and published with link(2), which fails when another
 * process created `path` meanwhile (then nothing is created here and `created` is false).
 */
export async function ensureHtpasswdFile(path: string, options: { cost?: number } = {}): Promise<EnsureHtpasswdResult> {
  try {
    await stat(path);
    return { created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const password = generatePassword();
  const text = setUser(HEADER, INITIAL_USER, await hashPassword(password, options.cost ?? DEFAULT_BCRYPT_COST));
  if (!(await createFileExclusive(path, text, 0o600))) return { created: false };
  return { created: true, user: INITIAL_USER, password };
}
