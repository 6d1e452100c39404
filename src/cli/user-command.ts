// `regate user add|passwd|rm|list|verify` over an htpasswd file (the one the gateway serves).
//
//   regate user add <user>     [--file F] [--password-stdin] [--cost N]   fails if the user exists
//   regate user passwd <user>  [--file F] [--password-stdin] [--cost N]   fails if the user is absent
//   regate user rm <user>      [--file F]                                  fails if the user is absent
//   regate user list           [--file F]                                  exit 1 when the file has errors
//   regate user verify <user>  [--file F] [--password-stdin]               exit 0 correct / 1 otherwise
//
// The password comes from the first line of stdin with --password-stdin, otherwise from a prompt on
// the terminal with echo off (twice for a new password). Edits are the pure text → text functions
// of src/auth/htpasswd-file.ts applied under `<file>.lock` and written atomically (temp + rename),
// so comments and unknown lines survive, a running regate sees the old file or the new one, and two
// operators never lose each other's edits. An edit whose result would not load cleanly (a line with
// an error elsewhere in the file) is refused: a running regate would keep its old users.
import type { Command } from 'commander';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DEFAULT_HTPASSWD_PATH } from '../auth/initial-user.js';
import { cliCommand } from '../cli-invocation.js';
import { hasUser, parseHtpasswd, removeUser, setUser, UserNotFoundError, validateUserName } from '../auth/htpasswd-file.js';
import { withFileLock, writeFileAtomic } from '../auth/lock.js';
import {
  BCRYPT_MAX_PASSWORD_BYTES,
  DEFAULT_BCRYPT_COST,
  hashPassword,
  validateBcryptCost,
  verifyPassword,
} from '../auth/password.js';

/** A failure the CLI reports as one line on stderr, exit status 1. */
export class UserCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserCommandError';
  }
}

// ---------------------------------------------------------------------------------------------
// File operations (also used by tests and by anything else that edits users)

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Applies `edit` to the file's text under the lock file and writes the result atomically. `edit`
 * gets `undefined` when the file does not exist (the directory is created, 0700). The result must
 * parse without errors, else nothing is written.
 */
export async function editHtpasswdFile(file: string, edit: (text: string | undefined) => string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await withFileLock(file, async (lock) => {
    const next = edit(await readIfExists(file));
    const { errors } = parseHtpasswd(next);
    if (errors.length > 0) {
      throw new UserCommandError(
        `refusing to write ${file}: it has errors a running regate would not load (${errors
          .map((e) => `line ${e.line}: ${e.message}`)
          .join('; ')}); fix those lines first`,
      );
    }
    lock.assertHeld();
    await writeFileAtomic(file, next);
  });
}

function checkUser(user: string): void {
  const invalid = validateUserName(user);
  if (invalid) throw new UserCommandError(`invalid user name: ${invalid}`);
}

/** Why a new password is unusable, or null. */
export function validateNewPassword(password: string): string | null {
  if (password.length === 0) return 'the password is empty';
  if (Buffer.byteLength(password, 'utf8') > BCRYPT_MAX_PASSWORD_BYTES) {
    return `the password is longer than ${BCRYPT_MAX_PASSWORD_BYTES} bytes (bcrypt would ignore the rest)`;
  }
  return null;
}

function checkNewPassword(password: string): void {
  const invalid = validateNewPassword(password);
  if (invalid) throw new UserCommandError(invalid);
}

/** Adds `user` (bcrypt at `cost`); fails when the user already has a line. Creates the file if needed. */
export async function addUserToFile(file: string, user: string, password: string, cost: number = DEFAULT_BCRYPT_COST): Promise<void> {
  checkUser(user);
  checkNewPassword(password);
  const hash = await hashPassword(password, cost); // before taking the lock: bcrypt is slow by design
  await editHtpasswdFile(file, (text) => {
    if (text !== undefined && hasUser(text, user)) throw new UserCommandError(`user "${user}" already exists in ${file}`);
    return setUser(text ?? '', user, hash);
  });
}

/** Replaces `user`'s password (bcrypt at `cost`), in place; fails when the user is absent. */
export async function setPasswordInFile(file: string, user: string, password: string, cost: number = DEFAULT_BCRYPT_COST): Promise<void> {
  checkUser(user);
  checkNewPassword(password);
  const hash = await hashPassword(password, cost);
  await editHtpasswdFile(file, (text) => {
    if (text === undefined) throw new UserCommandError(`${file} does not exist`);
    if (!hasUser(text, user)) throw new UserCommandError(`user "${user}" not found in ${file}`);
    return setUser(text, user, hash);
  });
}

/** Removes `user`; fails when the user is absent. */
export async function removeUserFromFile(file: string, user: string): Promise<void> {
  checkUser(user);
  await editHtpasswdFile(file, (text) => {
    if (text === undefined) throw new UserCommandError(`${file} does not exist`);
    try {
      return removeUser(text, user);
    } catch (err) {
      if (err instanceof UserNotFoundError) throw new UserCommandError(`user "${user}" not found in ${file}`);
      throw err;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Reading passwords

/** The first line of `stream` (without its line terminator); stops reading at the first newline. */
export async function readPasswordLine(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    chunks.push(buffer);
    if (buffer.includes(0x0a)) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const newline = text.indexOf('\n');
  let line = newline === -1 ? text : text.slice(0, newline);
  if (line.endsWith('\r')) line = line.slice(0, -1);
  return line;
}

/** Reads a line from the terminal with echo off (the prompt goes to stderr). */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolvePrompt, reject) => {
    let value = '';
    const finish = (err?: Error): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolvePrompt(value);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new UserCommandError('aborted'));
        if (ch === '\u0004') {
          if (value === '') return finish(new UserCommandError('aborted'));
          continue;
        }
        if (ch === '\u007f' || ch === '\b') {
          value = [...value].slice(0, -1).join('');
          continue;
        }
        if (ch === '\u0015') {
          value = '';
          continue;
        }
        if (ch < ' ') continue;
        value += ch;
      }
    };
    process.stderr.write(prompt);
    stdin.setEncoding('utf8');
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
  });
}

function requireTerminal(): void {
  if (!process.stdin.isTTY) {
    throw new UserCommandError('stdin is not a terminal, so there is no way to prompt for the password: pipe it in with --password-stdin');
  }
}

async function readNewPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin) return readPasswordLine();
  requireTerminal();
  const first = await promptHidden('New password: ');
  checkNewPassword(first);
  const second = await promptHidden('Re-type new password: ');
  if (first !== second) throw new UserCommandError('the passwords do not match');
  return first;
}

async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin) return readPasswordLine();
  requireTerminal();
  return promptHidden('Password: ');
}

// ---------------------------------------------------------------------------------------------
// Commands

interface FileOptions {
  file: string;
}
interface PasswordOptions extends FileOptions {
  passwordStdin?: boolean;
}
interface NewPasswordOptions extends PasswordOptions {
  cost: string;
}

function parseCost(value: string): number {
  const cost = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  const invalid = validateBcryptCost(cost);
  if (invalid) throw new UserCommandError(`--cost ${value}: ${invalid}`);
  if (cost < DEFAULT_BCRYPT_COST) process.stderr.write(`regate: warning: bcrypt cost ${cost} is below the recommended ${DEFAULT_BCRYPT_COST}\n`);
  return cost;
}

/** Runs a command body: a UserCommandError (or any error) becomes one stderr line and exit status 1. */
function run(name: string, body: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`regate user ${name}: ${message}\n`);
      process.exitCode = 1;
    }
  };
}

export function registerUserCommand(program: Command): void {
  const user = program
    .command('user')
    .description(`manage the users of an htpasswd file (default ${DEFAULT_HTPASSWD_PATH})`);

  const fileOption = ['-f, --file <path>', 'the htpasswd file', DEFAULT_HTPASSWD_PATH] as const;
  const stdinOption = ['--password-stdin', 'read the password from the first line of stdin'] as const;
  const costOption = ['--cost <n>', `bcrypt cost, 4 to 31`, String(DEFAULT_BCRYPT_COST)] as const;

  user
    .command('add')
    .description('add a user (fails if the user exists)')
    .argument('<user>')
    .option(...fileOption)
    .option(...stdinOption)
    .option(...costOption)
    .action((name: string, options: NewPasswordOptions) =>
      run('add', async () => {
        checkUser(name);
        const cost = parseCost(options.cost);
        const current = await readIfExists(options.file);
        if (current !== undefined && hasUser(current, name)) throw new UserCommandError(`user "${name}" already exists in ${options.file}`);
        const password = await readNewPassword(options.passwordStdin === true);
        await addUserToFile(options.file, name, password, cost);
        process.stdout.write(`added user "${name}" to ${options.file}\n`);
      })(),
    );

  user
    .command('passwd')
    .description("change a user's password (fails if the user is absent)")
    .argument('<user>')
    .option(...fileOption)
    .option(...stdinOption)
    .option(...costOption)
    .action((name: string, options: NewPasswordOptions) =>
      run('passwd', async () => {
        checkUser(name);
        const cost = parseCost(options.cost);
        const current = await readIfExists(options.file);
        if (current === undefined) throw new UserCommandError(`${options.file} does not exist`);
        if (!hasUser(current, name)) throw new UserCommandError(`user "${name}" not found in ${options.file}`);
        const password = await readNewPassword(options.passwordStdin === true);
        await setPasswordInFile(options.file, name, password, cost);
        process.stdout.write(`changed the password of user "${name}" in ${options.file}\n`);
      })(),
    );

  user
    .command('rm')
    .description('remove a user (fails if the user is absent)')
    .argument('<user>')
    .option(...fileOption)
    .action((name: string, options: FileOptions) =>
      run('rm', async () => {
        await removeUserFromFile(options.file, name);
        process.stdout.write(`removed user "${name}" from ${options.file}\n`);
      })(),
    );

  user
    .command('list')
    .description('list the users, one per line (exit 1 when the file has errors, reported on stderr)')
    .option(...fileOption)
    .action((options: FileOptions) =>
      run('list', async () => {
        const text = await readIfExists(options.file);
        if (text === undefined) throw new UserCommandError(`${options.file} does not exist`);
        const { entries, errors } = parseHtpasswd(text);
        for (const name of entries.keys()) process.stdout.write(`${name}\n`);
        if (errors.length > 0) {
          for (const e of errors) process.stderr.write(`${options.file} line ${e.line}: ${e.message}\n`);
          throw new UserCommandError(`${options.file} has ${errors.length} error(s); a running regate would not reload it`);
        }
      })(),
    );

  user
    .command('verify')
    .description("check a user's password (exit 0 when correct, 1 otherwise)")
    .argument('<user>')
    .option(...fileOption)
    .option(...stdinOption)
    .action((name: string, options: PasswordOptions) =>
      run('verify', async () => {
        checkUser(name);
        const text = await readIfExists(options.file);
        if (text === undefined) throw new UserCommandError(`${options.file} does not exist`);
        const { entries, errors } = parseHtpasswd(text);
        for (const e of errors) process.stderr.write(`regate: warning: ${options.file} line ${e.line}: ${e.message}\n`);
        const hash = entries.get(name);
        if (hash === undefined) throw new UserCommandError(`user "${name}" not found in ${options.file}`);
        const result = await verifyPassword(await readPassword(options.passwordStdin === true), hash);
        if (!result.ok) throw new UserCommandError(`password verification failed for user "${name}"`);
        process.stdout.write(`password for user "${name}" is correct\n`);
        if (result.legacy) {
          process.stderr.write(
            `regate: warning: user "${name}" has a legacy ${result.legacy === 'apr1' ? '$apr1$' : '{SHA}'} hash; ` +
              `change it to bcrypt with: ${cliCommand()} user passwd ${name}\n`,
          );
        }
      })(),
    );
}
