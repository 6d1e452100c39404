// Process-wide cleanup for the benchmark: every child process and temp path the bench creates is
// registered here, so normal completion (finally blocks) and SIGINT/SIGTERM both leave nothing behind.
// Children are stopped by their own PID only; paths are removed synchronously so a signal handler
// can finish the job before the process exits.
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const children = new Set<ChildProcess>();
const paths = new Set<string>();
const mounts = new Set<string>();
let keepPaths = false;

export function setKeep(keep: boolean): void {
  keepPaths = keep;
}

export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function untrackChild(child: ChildProcess): void {
  children.delete(child);
}

/** A path to delete at the end. `always` ignores --keep (registry data roots, for instance). */
export function trackPath(path: string, always = false): void {
  if (always || !keepPaths) paths.add(path);
}

export function untrackPath(path: string): void {
  paths.delete(path);
}

/** A tmpfs the bench mounted itself: unmounted (after its contents are gone) at the end. */
export function trackMount(path: string): void {
  mounts.add(path);
}

export function removePathNow(path: string): void {
  rmSync(path, { recursive: true, force: true });
  paths.delete(path);
}

/** Synchronous, idempotent: kill tracked children by PID, delete tracked paths, unmount mounts. */
export function cleanupAllSync(): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const path of [...paths].sort((a, b) => b.length - a.length)) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch (err) {
      process.stderr.write(`bench: could not remove ${path}: ${(err as Error).message}\n`);
    }
  }
  paths.clear();
  for (const mount of mounts) {
    try {
      execFileSync('umount', [mount], { stdio: 'ignore' });
      rmSync(mount, { recursive: true, force: true });
    } catch (err) {
      process.stderr.write(`bench: could not unmount ${mount}: ${(err as Error).message}\n`);
    }
  }
  mounts.clear();
}

let installed = false;

export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal} received, stopping registries and removing temp data\n`);
      cleanupAllSync();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  process.once('exit', () => cleanupAllSync());
}
