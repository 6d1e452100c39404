// First start without a users file: create it with one user and a random password, as
// Distribution 2.7+ does, so a fresh install is never open. The caller prints the password once.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createFileExclusive } from '../fs/atomic-file.js';
import { DEFAULT_BCRYPT_COST, hashPassword } from './password.js';
import { setUser } from './htpasswd-file.js';
import { cliCommand } from '../cli-invocation.js';

/** The users file when none is configured, relative to the working directory (gateway and CLI alike). */
export const DEFAULT_HTPASSWD_PATH = 'htpasswd/htpasswd';
export const INITIAL_USER = 'admin';

export type EnsureHtpasswdResult = { created: false } | { created: true; user: string; password: string };

/** 32 URL-safe characters from 24 random bytes (192 bits). */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

const header = (): string =>
  `# regate users (htpasswd format, bcrypt). Manage with: ${cliCommand()} user add|passwd|rm|list|verify <user> --file <this file>\n`;

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
  await tightenDefaultDirectory(path);
  const password = generatePassword();
  const text = setUser(header(), INITIAL_USER, await hashPassword(password, options.cost ?? DEFAULT_BCRYPT_COST));
  if (!(await createFileExclusive(path, text, 0o600))) return { created: false };
  return { created: true, user: INITIAL_USER, password };
}

/**
 * The default users directory comes with the checkout, where git makes it 0755: when the first
 * users file is created in it, it is made 0700 (owner only), as a directory regate creates is.
 * Later starts leave it as the operator set it; a configured path's directory is never touched.
 */
async function tightenDefaultDirectory(path: string): Promise<void> {
  if (resolve(path) !== resolve(DEFAULT_HTPASSWD_PATH)) return;
  const dir = dirname(resolve(path));
  try {
    const st = await stat(dir);
    if (st.isDirectory() && (st.mode & 0o077) !== 0) await chmod(dir, st.mode & 0o700);
  } catch {
    // Missing (created 0700 below) or not ours to change (another user's checkout): left alone.
  }
}
