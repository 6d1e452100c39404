// Small helpers the end-to-end client tests share: run a program with bytes on its stdin (for
// `docker login --password-stdin`, `podman login --password-stdin`), find a program with an install
// hint, make sure `ip6-localhost` names ::1 in /etc/hosts, and list the processes that still mention
// a directory (how the tests prove that nothing they started is left running).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stopProcess, requireExecutable, type CommandResult } from './processes.js';

/** Runs a program with `input` written to its stdin; never throws for a non-zero exit. */
export function runWithInput(
  command: string,
  args: readonly string[],
  input: string | Buffer,
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdin.on('error', () => {
      // the program may exit before reading its input; its exit status tells the story
    });
    child.stdin.end(input);
    const timeoutMs = options.timeoutMs ?? 120_000;
    const timer = setTimeout(() => {
      stderr += `\n[killed: still running after ${timeoutMs} ms]`;
      if (child.pid !== undefined)
        void stopProcess(child.pid, { graceMs: 1000, hasExited: () => child.exitCode !== null || child.signalCode !== null });
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${command} ${args.join(' ')}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout: Buffer.concat(stdout), stderr });
    });
  });
}

/** Everything a command said, for assertion messages. */
export function describeResult(result: CommandResult): string {
  return `exit ${result.code}${result.signal ? ` (signal ${result.signal})` : ''}\n--- stderr ---\n${result.stderr}\n--- stdout ---\n${result.stdout
    .toString('utf8')
    .slice(0, 10_000)}\n--- end ---`;
}

/** requireExecutable with the Debian package to install in the message. */
export function requireProgram(path: string, debianPackage: string): string {
  try {
    return requireExecutable(path);
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\nInstall it with: apt-get install -y --no-install-recommends ${debianPackage} (or run scripts/install-test-deps.sh)`,
    );
  }
}

const HOSTS_FILE = '/etc/hosts';

/**
 * Makes sure `ip6-localhost` resolves to ::1 through /etc/hosts (Debian usually has the line; some
 * images do not). Adds `::1 ip6-localhost ip6-loopback` when missing; needs root then.
 */
export function ensureIp6Localhost(): void {
  const text = readFileSync(HOSTS_FILE, 'utf8');
  const present = text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim().split(/\s+/))
    .some((fields) => fields[0] === '::1' && fields.slice(1).includes('ip6-localhost'));
  if (present) return;
  try {
    writeFileSync(HOSTS_FILE, `${text.endsWith('\n') || text === '' ? text : `${text}\n`}::1\tip6-localhost ip6-loopback\n`);
  } catch (err) {
    throw new Error(
      `ip6-localhost is not in ${HOSTS_FILE} and it could not be added (${(err as Error).message}); ` +
        `add the line "::1 ip6-localhost ip6-loopback" (scripts/install-test-deps.sh does)`,
    );
  }
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  cmdline: string;
}

/** Every process of this machine (from /proc): pid, parent pid, command line. */
export function listProcesses(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
      out.push({ pid: Number(name), ppid, cmdline });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** The live processes whose command line mentions `text` (e.g. a test's temp directory). */
export function processesMentioning(text: string): ProcessInfo[] {
  return listProcesses().filter((p) => p.pid !== process.pid && p.cmdline.includes(text));
}

/** All descendants of `pid` (children, their children, …). */
export function descendantsOf(pid: number): ProcessInfo[] {
  const all = listProcesses();
  const found: ProcessInfo[] = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const parent = frontier.pop()!;
    for (const p of all) {
      if (p.ppid === parent) {
        found.push(p);
        frontier.push(p.pid);
      }
    }
  }
  return found;
}
