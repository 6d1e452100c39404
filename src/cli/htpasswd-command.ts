// `regate htpasswd -Bbn USER PASSWORD`: Apache's htpasswd in display mode, so the seeds' way of
// making a users file with the registry's own image,
//
//   docker run --entrypoint htpasswd registry:2 -Bbn foo foo123 > htpasswd
//
// works with regate's image (which has an `htpasswd` that runs this) with only the image name
// changed. Only display mode, bcrypt only: regate stores nothing else (editing a file in place is
// `regate user`, which locks it and writes it atomically).
import type { Command } from 'commander';
import { validateUserName } from '../auth/htpasswd-file.js';
import { DEFAULT_BCRYPT_COST, hashPassword } from '../auth/password.js';
import { readPasswordLine } from './user-command.js';

interface HtpasswdOptions {
  n?: boolean;
  b?: boolean;
  i?: boolean;
  B?: boolean;
  C?: string;
}

export class HtpasswdUsageError extends Error {}

/** Apache's flags for other hash kinds and for editing files. */
const UNSUPPORTED = ['m', 'd', 's', 'p', 'c', 'D', 'v'];

/** The `user:hash` line for the arguments Apache's htpasswd takes in display mode. */
export async function htpasswdLine(args: readonly string[], options: HtpasswdOptions, stdin: () => Promise<string> = () => readPasswordLine()): Promise<string> {
  if (!options.n) throw new HtpasswdUsageError('only display mode (-n) is supported: it prints the line for a users file; to edit a file use `regate user add|passwd|rm`');
  const [user, ...rest] = args;
  if (user === undefined) throw new HtpasswdUsageError('usage: htpasswd -Bbn USER PASSWORD, or htpasswd -Bin USER with the password on stdin');
  const invalid = validateUserName(user);
  if (invalid) throw new HtpasswdUsageError(invalid);
  if (options.b && options.i) throw new HtpasswdUsageError('-b and -i exclude each other');
  let password: string;
  if (options.b) {
    if (rest.length !== 1) throw new HtpasswdUsageError('-b takes the password as the argument after the user name');
    password = rest[0]!;
  } else if (options.i) {
    if (rest.length !== 0) throw new HtpasswdUsageError('-i reads the password from stdin: give only the user name');
    password = await stdin();
  } else {
    throw new HtpasswdUsageError('give the password after the user name with -b, or on stdin with -i');
  }
  if (password === '') throw new HtpasswdUsageError('the password is empty');
  const cost = options.C === undefined ? DEFAULT_BCRYPT_COST : Number(options.C);
  if (!Number.isInteger(cost) || cost < 4 || cost > 17) throw new HtpasswdUsageError('-C takes a bcrypt cost from 4 to 17');
  return `${user}:${await hashPassword(password, cost)}`;
}

export function registerHtpasswdCommand(program: Command): void {
  const command = program
    .command('htpasswd')
    .description("print a users-file line, as Apache's `htpasswd -Bbn USER PASSWORD` (bcrypt)")
    .argument('[args...]', 'USER [PASSWORD]')
    .option('-n', 'display the line on stdout (required)')
    .option('-b', 'the password is the argument after the user name')
    .option('-i', 'read the password from stdin')
    .option('-B', 'bcrypt (the only kind regate writes; accepted for compatibility)')
    .option('-C <cost>', `bcrypt cost (default ${DEFAULT_BCRYPT_COST})`);
  for (const flag of UNSUPPORTED) {
    command.option(`-${flag}`, '(not supported)');
  }
  command.action(async (args: string[], options: HtpasswdOptions & Record<string, unknown>) => {
    const unsupported = UNSUPPORTED.filter((flag) => options[flag] === true);
    try {
      if (unsupported.length > 0) {
        throw new HtpasswdUsageError(`-${unsupported.join(', -')}: not supported; regate writes bcrypt lines only, in display mode (-Bbn); edit files with \`regate user\``);
      }
      process.stdout.write(`${await htpasswdLine(args, options)}\n`);
    } catch (err) {
      if (!(err instanceof HtpasswdUsageError)) throw err;
      process.stderr.write(`htpasswd: ${err.message}\n`);
      process.exit(2);
    }
  });
}
