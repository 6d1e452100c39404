// The command a user types to run regate's CLI, for every hint regate prints ("change it with:
// … user passwd admin"). A hint must work where it is read: right after `npm install && npm start`
// the `regate` command is not on the PATH (only `npm link` or a global install puts it there), but
// `npx regate` works in the checkout, and `node /path/to/dist/src/main.js` works anywhere.
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This build's entry point: dist/src/main.js beside dist/src/cli-invocation.js. */
export const MAIN_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'main.js');

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** The first `regate` on `pathEnv` that is executable, resolved to its real file. */
function regateOnPath(pathEnv: string): string | undefined {
  for (const dir of pathEnv.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'regate');
    try {
      accessSync(candidate, constants.X_OK);
    } catch {
      continue;
    }
    return realpathOrUndefined(candidate);
  }
  return undefined;
}

export interface InvocationContext {
  cwd?: string;
  /** The PATH to look `regate` up in. */
  pathEnv?: string;
  /** The entry point that would run (this build's main.js by default). */
  mainScript?: string;
}

/**
 * `regate` when the `regate` on the PATH is this very build; `npx regate` in the checkout it was
 * built in (the package root, where package.json names it); otherwise `node <main.js>`.
 */
export function cliCommand(context: InvocationContext = {}): string {
  const cwd = context.cwd ?? process.cwd();
  const main = context.mainScript ?? MAIN_SCRIPT;
  const realMain = realpathOrUndefined(main) ?? resolve(main);
  if (regateOnPath(context.pathEnv ?? process.env.PATH ?? '') === realMain) return 'regate';
  const packageRoot = resolve(dirname(realMain), '..', '..');
  const realCwd = realpathOrUndefined(cwd) ?? resolve(cwd);
  if (existsSync(join(packageRoot, 'package.json')) && realCwd === packageRoot) return 'npx regate';
  const shown = relative(realCwd, realMain);
  return `node ${shown.startsWith('..') || shown === '' ? realMain : shown}`;
}
