// A small text file that is reloaded live (the htpasswd users file, the access groups file):
// fingerprint, wait until stable, parse fresh, swap whole, keep last good.
//
//   - A change is noticed by watching the DIRECTORY (editors, `mv` and regate's own CLI replace
//     the inode) and by a stat every `pollIntervalMs` (250 ms) as a backstop where watching does
//     not work (NFS, some container mounts). The fingerprint is (dev, ino, size, mtimeMs, ctimeMs).
//   - A file caught mid-write is never served. Apache's `htpasswd` and `cp` rewrite the file IN
//     PLACE: truncated, then written, so for an instant it is empty or half there. A new
//     fingerprint is only read once it has been seen unchanged for `stableMs` (120 ms), and the
//     read counts only if the fingerprint is still the same afterwards.
//   - A file that suddenly parses to nothing (0 entries where there were some) is suspect: the last
//     good entries stay in service and the file is read again every `SUSPECT_RECHECK_MS`; only an
//     empty file that stays so for `SUSPECT_HOLD_MS` is believed (an operator really removing
//     everyone), with a warning.
//   - Two writes within one filesystem timestamp tick that leave the size unchanged (a bcrypt hash
//     replaced by another is the same length) have the same fingerprint. As git does for its index,
//     a load whose mtime is younger than RACY_WINDOW_MS is "racy": later polls re-read the content
//     and compare its digest until the file is old enough for the fingerprint alone to be trusted.
//   - A file with parse errors on reload keeps the previous entries in service (the owner logs the
//     line numbers); at start (nothing to fall back to) its valid lines are served.
//   - A missing file at start serves nothing; a file that disappears later keeps the previous
//     entries until it is back (deleting the file is not how entries are removed). A file that
//     exists but cannot be read at start (permissions, a directory) makes start() reject.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '../log/logger.js';

export interface LineError {
  /** 1-based. */
  line: number;
  message: string;
}

export interface ParsedFile<T> {
  value: T;
  /** How many entries `value` holds (users, groups): 0 after a non-empty load is suspect. */
  entries: number;
  errors: LineError[];
}

export type LiveFileProblem = 'parse' | 'missing' | 'read';

export interface LiveFileOptions<T> {
  path: string;
  logger: Logger;
  /** What the file is, for log lines ("htpasswd", "access groups"). */
  label: string;
  /** What its entries are, for log lines ("user(s)", "group(s)"). */
  noun: string;
  parse(text: string): ParsedFile<T>;
  /** A new value is in service. */
  onSwap(value: T, entries: number, generation: number): void;
  /** A load was refused or the file is missing; `entries` are still in service. */
  onProblem?(reason: LiveFileProblem, errors: LineError[], entries: number): void;
  /** Backstop stat interval (default 250 ms). */
  pollIntervalMs?: number;
  /** Watch the directory with fs.watch (default true); false leaves polling alone. */
  watch?: boolean;
  /** How long a new fingerprint must stay unchanged before it is read (default 120 ms). */
  stableMs?: number;
}

/** A load whose file was modified less than this long before it was read is re-checked by content. */
export const RACY_WINDOW_MS = 1000;
export const DEFAULT_STABLE_MS = 120;
export const SUSPECT_RECHECK_MS = 200;
export const SUSPECT_HOLD_MS = 2000;
const DEBOUNCE_MS = 15;

/** What identifies a file's state without reading it: a change of any part is a change. */
export function fingerprintOf(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

function digestOf(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export class LiveFile<T> {
  readonly path: string;
  private readonly options: LiveFileOptions<T>;
  private readonly logger: Logger;
  private readonly pollIntervalMs: number;
  private readonly stableMs: number;
  private readonly watchEnabled: boolean;

  private entryCount = 0;
  private gen = 0;
  private fingerprint: string | undefined;
  private digest: string | undefined;
  private racy = false;
  private lastProblem: string | undefined;
  /** A new fingerprint waiting to be seen unchanged for stableMs. */
  private candidate: { fingerprint: string; since: number } | undefined;
  /** The content of a suspiciously empty file, and since when it has been seen. */
  private suspect: { digest: string; since: number } | undefined;

  private watcher: FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private recheck = false;
  private running = false;

  constructor(options: LiveFileOptions<T>) {
    this.options = options;
    this.path = resolve(options.path);
    this.logger = options.logger;
    this.pollIntervalMs = Math.max(10, options.pollIntervalMs ?? 250);
    this.stableMs = Math.max(0, options.stableMs ?? DEFAULT_STABLE_MS);
    this.watchEnabled = options.watch ?? true;
  }

  /** How many values have been swapped in (0 before the first successful load). */
  get generation(): number {
    return this.gen;
  }

  /** Loads the file, then starts watching its directory and polling. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.load(true);
    } catch (err) {
      this.running = false;
      throw err; // unreadable (permissions, a directory …): the owner cannot serve
    }
    this.ensureWatcher();
    this.pollTimer = setInterval(() => {
      this.ensureWatcher();
      void this.runCheck();
    }, this.pollIntervalMs);
    this.pollTimer.unref();
  }

  /** Stops watching and polling (the value in service stays). */
  async stop(): Promise<void> {
    this.running = false;
    for (const timer of [this.pollTimer, this.debounceTimer, this.retryTimer]) if (timer) clearTimeout(timer);
    this.pollTimer = this.debounceTimer = this.retryTimer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    await this.checking;
  }

  /**
   * Checks the file now instead of waiting for the watcher or the next poll, and waits while a
   * change is still settling (at most a few seconds), so that on return what the file says is
   * in service (or refused).
   */
  async checkNow(): Promise<void> {
    const deadline = Date.now() + SUSPECT_HOLD_MS + 1000;
    await this.runCheck();
    while ((this.candidate || this.suspect) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.max(10, Math.min(this.stableMs, SUSPECT_RECHECK_MS))));
      await this.runCheck();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Watching

  private ensureWatcher(): void {
    if (!this.running || !this.watchEnabled || this.watcher) return;
    const name = basename(this.path);
    try {
      const watcher = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
        if (filename === null || filename === undefined || filename.toString() === name) this.schedule();
      });
      watcher.on('error', (err) => {
        this.logger.warn(`${this.options.label}: watching ${dirname(this.path)} failed (${err.message}); polling continues`, { path: this.path });
        watcher.close();
        if (this.watcher === watcher) this.watcher = undefined;
      });
      this.watcher = watcher;
    } catch {
      // The directory may not exist yet; polling covers it and the next tick tries again.
    }
  }

  private schedule(): void {
    if (!this.running || this.debounceTimer) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      void this.runCheck();
    }, DEBOUNCE_MS);
    this.debounceTimer.unref();
  }

  private retryLater(delayMs: number): void {
    if (!this.running) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.runCheck();
    }, Math.max(1, delayMs));
    this.retryTimer.unref();
  }

  private runCheck(): Promise<void> {
    if (this.checking) {
      this.recheck = true;
      return this.checking;
    }
    const run = (async () => {
      try {
        do {
          this.recheck = false;
          await this.load(false);
        } while (this.recheck);
      } catch (err) {
        this.problem('read', `${this.options.label}: checking ${this.path} failed: ${(err as Error).message}`);
      } finally {
        this.checking = undefined;
      }
    })();
    this.checking = run;
    return run;
  }

  // -------------------------------------------------------------------------------------------
  // Loading

  private async load(initial: boolean): Promise<void> {
    const { label, noun } = this.options;
    let before: Stats;
    try {
      before = await stat(this.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        this.fingerprint = 'missing';
        this.racy = false;
        this.candidate = undefined;
        const message = initial
          ? `${label}: ${this.path} does not exist: nothing is served from it until it is created`
          : `${label}: ${this.path} has disappeared; keeping the previous ${this.entryCount} ${noun} until it is back`;
        this.problem('missing', message, [], initial ? 'error' : 'warn');
        return;
      }
      throw err;
    }
    const fingerprint = fingerprintOf(before);
    const known = fingerprint === this.fingerprint;
    if (!initial && known && !this.racy && !this.suspect) return;

    if (!initial && !known && this.stableMs > 0) {
      // Read a new fingerprint only once it has held still: a file being rewritten in place is
      // empty or partial for an instant, and must never be what is served.
      const now = Date.now();
      if (this.candidate?.fingerprint !== fingerprint) {
        this.candidate = { fingerprint, since: now };
        this.retryLater(this.stableMs);
        return;
      }
      if (now - this.candidate.since < this.stableMs) {
        this.retryLater(this.stableMs - (now - this.candidate.since));
        return;
      }
    }

    const readStartedAt = Date.now();
    const data = await readFile(this.path);
    const after = await stat(this.path);
    if (fingerprintOf(after) !== fingerprint) {
      // Written to while being read: wait for it to hold still again, commit nothing half-read.
      this.candidate = { fingerprint: fingerprintOf(after), since: Date.now() };
      this.retryLater(this.stableMs || 25);
      return;
    }
    this.candidate = undefined;
    const digest = digestOf(data);
    const racy = readStartedAt - Math.max(after.mtimeMs, after.ctimeMs) < RACY_WINDOW_MS;
    if (!initial && digest === this.digest) {
      // Same bytes (a touch, a chmod, a tool rewriting the file unchanged): the value in service
      // is already what they say, and swapping would only drop what the owner caches.
      this.fingerprint = fingerprint;
      this.racy = racy;
      this.suspect = undefined;
      return;
    }

    const parsed = this.options.parse(data.toString('utf8'));
    if (!initial && parsed.entries === 0 && parsed.errors.length === 0 && this.entryCount > 0) {
      // Suddenly nothing: most likely caught between a truncate and the write that follows.
      const now = Date.now();
      if (this.suspect?.digest !== digest) this.suspect = { digest, since: now };
      if (now - this.suspect.since < SUSPECT_HOLD_MS) {
        if (now === this.suspect.since) {
          this.logger.warn(
            `${label}: ${this.path} now holds no ${noun}; keeping the previous ${this.entryCount} ${noun} while it is read again`,
            { path: this.path },
          );
        }
        this.retryLater(SUSPECT_RECHECK_MS);
        return; // fingerprint not recorded: the next look reads it again
      }
      this.logger.warn(`${label}: ${this.path} has held no ${noun} for ${SUSPECT_HOLD_MS} ms: serving none`, { path: this.path });
    }
    this.suspect = undefined;
    this.fingerprint = fingerprint;
    this.digest = digest;
    this.racy = racy;

    if (parsed.errors.length > 0) {
      for (const error of parsed.errors) {
        this.logger.error(`${label}: ${this.path} line ${error.line}: ${error.message}`, { path: this.path, line: error.line });
      }
      const lines = parsed.errors.map((e) => e.line).join(', ');
      if (!initial) {
        this.problem(
          'parse',
          `${label}: ${this.path} has ${parsed.errors.length} error(s) (line ${lines}); keeping the previous ${this.entryCount} ${noun} in service`,
          parsed.errors,
        );
        return;
      }
      this.logger.error(
        `${label}: ${this.path} has ${parsed.errors.length} error(s) (line ${lines}); serving the ${parsed.entries} valid ${noun} only`,
        { path: this.path },
      );
    }
    this.entryCount = parsed.entries;
    this.gen += 1;
    this.lastProblem = undefined;
    this.logger.info(`${label}: loaded ${parsed.entries} ${noun} from ${this.path}`, { path: this.path, entries: parsed.entries, generation: this.gen });
    this.options.onSwap(parsed.value, parsed.entries, this.gen);
  }

  /**
   * Logs a problem and tells the owner. A missing or unreadable file is seen by every poll, so
   * those are reported once until something changes; a parse error is only met when the content
   * changed, and is always reported.
   */
  private problem(reason: LiveFileProblem, message: string, errors: LineError[] = [], level: 'error' | 'warn' = 'error'): void {
    const signature = `${reason}\n${message}`;
    if (reason !== 'parse' && signature === this.lastProblem) return;
    this.lastProblem = signature;
    this.logger.log(level, message, { path: this.path });
    this.options.onProblem?.(reason, errors, this.entryCount);
  }
}
