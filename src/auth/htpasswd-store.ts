// The live users table behind Basic auth: fingerprint, parse fresh, swap whole, keep last good.
//
//   - Reload when the file's fingerprint (dev, ino, size, mtimeMs, ctimeMs) changes. Editors, `mv`
//     and regate's own CLI replace the inode, so the DIRECTORY is watched (fs.watch), and the file is
//     also stat'ed every `pollIntervalMs` (250 ms) as a backstop for filesystems where watching does
//     not work (NFS, some container mounts). A change is in service within ~0.3 s.
//   - Two writes within one filesystem timestamp tick that leave the size unchanged (a bcrypt hash
//     replaced by another is the same length) have the same fingerprint. As git does for its index,
//     a load whose mtime is younger than RACY_WINDOW_MS is "racy": later polls re-read the content
//     and compare its digest until the file is old enough for the fingerprint alone to be trusted.
//   - Every reload builds a NEW map from the whole file and swaps it in; nothing is merged, so a
//     removed user stops working. A file with any error on reload keeps the previous map in service
//     and logs the offending line numbers. At start (nothing to fall back to) the valid lines of a
//     file with errors are served and each bad line is logged.
//   - A missing file at start serves nobody (logged as an error; the gateway calls
//     ensureHtpasswdFile() first); a file that disappears later keeps the previous map (logged)
//     until it is back: deleting the file is not how users are removed. A file that exists but
//     cannot be read at start (permissions, a directory) makes start() reject.
//   - verify(): unknown users pay for a bcrypt compare against a dummy hash of the same cost as the
//     file's users (DUMMY_BCRYPT_HASH at cost 10), so timing does not tell who exists. Verified
//     credentials are cached under HMAC-SHA256(random per-process key, user NUL password) in a
//     bounded LRU that is dropped on every reload; concurrent checks of the same credentials share
//     one bcrypt run. Legacy hashes ($apr1$, {SHA}) work and are warned about once per user per load.
//   - Passwords are never logged; parse errors name line numbers, never line content.
//
// Events: 'reload' (HtpasswdReloadEvent) after every successful load, 'reload-error'
// (HtpasswdReloadErrorEvent) when a load is refused or the file is missing.
import { EventEmitter } from 'node:events';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { watch, type FSWatcher, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '../log/logger.js';
import { bcryptCost, parseHtpasswd, type HtpasswdParseError } from './htpasswd-file.js';
import { DEFAULT_BCRYPT_COST, DUMMY_BCRYPT_HASH, dummyBcryptHash, verifyPassword, type VerifyResult } from './password.js';

export interface HtpasswdStoreOptions {
  path: string;
  logger: Logger;
  /** Backstop stat interval (default 250 ms). */
  pollIntervalMs?: number;
  /** Verified-credentials cache entries (default 1000; 0 disables the cache). */
  cacheSize?: number;
  /** Watch the directory with fs.watch (default true); false leaves polling alone (tests of the backstop). */
  watch?: boolean;
  /** The password check; defaults to verifyPassword (tests pass a spy). */
  verifier?: (password: string, hash: string) => Promise<VerifyResult>;
}

export interface HtpasswdReloadEvent {
  path: string;
  users: number;
  /** Increases by one with every map swapped in. */
  generation: number;
}

export interface HtpasswdReloadErrorEvent {
  path: string;
  reason: 'parse' | 'missing' | 'read';
  /** Parse errors with 1-based line numbers (reason 'parse'). */
  errors: HtpasswdParseError[];
  /** Users still in service. */
  users: number;
}

/** A load whose file was modified less than this long before it was read is re-checked by content. */
export const RACY_WINDOW_MS = 1000;
const DEBOUNCE_MS = 15;
const UNSTABLE_RETRY_MS = 25;

function fingerprintOf(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

function digestOf(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export class HtpasswdStore extends EventEmitter {
  readonly path: string;
  private readonly logger: Logger;
  private readonly pollIntervalMs: number;
  private readonly cacheSize: number;
  private readonly watchEnabled: boolean;
  private readonly verifier: (password: string, hash: string) => Promise<VerifyResult>;
  private readonly cacheKey = randomBytes(32);

  private entries = new Map<string, string>();
  private gen = 0;
  private cache = new Map<string, true>();
  private inflight = new Map<string, Promise<boolean>>();
  private warnedLegacy = new Set<string>();
  private currentDummyHash = DUMMY_BCRYPT_HASH;

  private fingerprint: string | undefined;
  private digest: string | undefined;
  private racy = false;
  private lastProblem: string | undefined;

  private watcher: FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private recheck = false;
  private running = false;

  constructor(options: HtpasswdStoreOptions) {
    super();
    this.path = resolve(options.path);
    this.logger = options.logger;
    this.pollIntervalMs = Math.max(10, options.pollIntervalMs ?? 250);
    this.cacheSize = Math.max(0, Math.floor(options.cacheSize ?? 1000));
    this.watchEnabled = options.watch ?? true;
    this.verifier = options.verifier ?? verifyPassword;
  }

  /** Loads the file, then starts watching its directory and polling. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.load(true);
    } catch (err) {
      this.running = false;
      throw err; // unreadable (permissions, a directory …): the caller cannot serve auth
    }
    this.ensureWatcher();
    this.pollTimer = setInterval(() => {
      this.ensureWatcher();
      void this.runCheck();
    }, this.pollIntervalMs);
    this.pollTimer.unref();
  }

  /** Stops watching and polling (the current map stays usable). */
  async stop(): Promise<void> {
    this.running = false;
    for (const timer of [this.pollTimer, this.debounceTimer, this.retryTimer]) if (timer) clearTimeout(timer);
    this.pollTimer = this.debounceTimer = this.retryTimer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    await this.checking;
  }

  /** The users in service, in file order. */
  users(): string[] {
    return [...this.entries.keys()];
  }

  /** How many maps have been swapped in (0 before the first successful load). */
  get generation(): number {
    return this.gen;
  }

  /** The hash unknown users are compared against (bcrypt, at the file's usual cost). */
  get dummyHash(): string {
    return this.currentDummyHash;
  }

  /** Checks the file now instead of waiting for the watcher or the next poll. */
  checkNow(): Promise<void> {
    return this.runCheck();
  }

  /** Are these credentials valid right now? Never throws. */
  async verify(user: string, password: string): Promise<boolean> {
    if (typeof user !== 'string' || typeof password !== 'string') return false;
    const key = createHmac('sha256', this.cacheKey).update(`${user}\0${password}`, 'utf8').digest('base64');
    // A reload while bcrypt runs makes the answer stale: decide again against the new map.
    for (let attempt = 0; ; attempt++) {
      const generation = this.gen;
      if (this.cache.has(key)) {
        this.cache.delete(key);
        this.cache.set(key, true);
        return true;
      }
      let pending = this.inflight.get(key);
      if (!pending) {
        const created = this.compute(user, password, key, generation);
        pending = created;
        this.inflight.set(key, created);
        void created.then(() => {
          if (this.inflight.get(key) === created) this.inflight.delete(key);
        });
      }
      const ok = await pending;
      if (generation === this.gen || attempt >= 2) return ok;
    }
  }

  private async compute(user: string, password: string, key: string, generation: number): Promise<boolean> {
    const hash = this.entries.get(user);
    if (hash === undefined) {
      // Same bcrypt work as a real user; the answer is no whatever the compare says.
      await this.verifier(password, this.currentDummyHash).catch(() => undefined);
      return false;
    }
    let result: VerifyResult;
    try {
      result = await this.verifier(password, hash);
    } catch (err) {
      this.logger.error(`htpasswd: could not check the password of user "${user}": ${(err as Error).message}`, { user });
      return false;
    }
    if (!result.ok) return false;
    if (generation !== this.gen) return true; // the caller decides again; nothing cached across a reload
    if (result.legacy && !this.warnedLegacy.has(user)) {
      this.warnedLegacy.add(user);
      this.logger.warn(
        `htpasswd: user "${user}" authenticated with a legacy ${result.legacy === 'apr1' ? '$apr1$ (Apache MD5)' : '{SHA}'} hash; ` +
          `replace it with bcrypt (regate user passwd ${user})`,
        { path: this.path, user, hash: result.legacy },
      );
    }
    if (this.cacheSize > 0) {
      this.cache.set(key, true);
      if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    }
    return true;
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
        this.logger.warn(`htpasswd: watching ${dirname(this.path)} failed (${err.message}); polling continues`, { path: this.path });
        watcher.close();
        if (this.watcher === watcher) this.watcher = undefined;
      });
      this.watcher = watcher;
    } catch {
      // The directory may not exist yet; polling covers it and the next tick tries again.
    }
  }

  private schedule(delayMs = DEBOUNCE_MS): void {
    if (!this.running || this.debounceTimer) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      void this.runCheck();
    }, delayMs);
    this.debounceTimer.unref();
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
        this.problem('read', `htpasswd: checking ${this.path} failed: ${(err as Error).message}`);
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
    let before: Stats;
    try {
      before = await stat(this.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        this.fingerprint = 'missing';
        this.racy = false;
        const message = initial
          ? `htpasswd: ${this.path} does not exist: no user can authenticate until it is created`
          : `htpasswd: ${this.path} has disappeared; keeping the previous ${this.entries.size} user(s) until it is back`;
        this.problem('missing', message, [], initial ? 'error' : 'warn');
        return;
      }
      throw err;
    }
    const fingerprint = fingerprintOf(before);
    if (!initial && fingerprint === this.fingerprint && !this.racy) return;

    const readStartedAt = Date.now();
    const data = await readFile(this.path);
    const after = await stat(this.path);
    if (fingerprintOf(after) !== fingerprint) {
      // Written to while being read: look again in a moment, commit nothing half-read.
      this.retryLater();
      return;
    }
    const digest = digestOf(data);
    const racy = readStartedAt - Math.max(after.mtimeMs, after.ctimeMs) < RACY_WINDOW_MS;
    if (!initial && digest === this.digest) {
      // Same bytes (a touch, a chmod, a tool rewriting the file unchanged): the map in service is
      // already what they say, and swapping would only drop the credentials cache, making every
      // active user pay a bcrypt compare again. Maybe the file is now old enough to trust.
      this.fingerprint = fingerprint;
      this.racy = racy;
      return;
    }
    this.fingerprint = fingerprint;
    this.digest = digest;
    this.racy = racy;

    const parsed = parseHtpasswd(data.toString('utf8'));
    if (parsed.errors.length > 0) {
      for (const error of parsed.errors) {
        this.logger.error(`htpasswd: ${this.path} line ${error.line}: ${error.message}`, { path: this.path, line: error.line });
      }
      if (!initial) {
        this.problem(
          'parse',
          `htpasswd: ${this.path} has ${parsed.errors.length} error(s) (line ${parsed.errors.map((e) => e.line).join(', ')}); ` +
            `keeping the previous ${this.entries.size} user(s) in service`,
          parsed.errors,
        );
        return;
      }
      this.logger.error(
        `htpasswd: ${this.path} has ${parsed.errors.length} error(s) (line ${parsed.errors.map((e) => e.line).join(', ')}); ` +
          `serving the ${parsed.entries.size} valid user(s) only`,
        { path: this.path },
      );
    }
    this.swap(parsed.entries);
  }

  private swap(entries: Map<string, string>): void {
    this.entries = entries;
    this.gen += 1;
    this.cache = new Map();
    this.inflight = new Map();
    this.warnedLegacy = new Set();
    this.lastProblem = undefined;
    const generation = this.gen;
    this.logger.info(`htpasswd: loaded ${entries.size} user(s) from ${this.path}`, { path: this.path, users: entries.size, generation });
    this.emit('reload', { path: this.path, users: entries.size, generation } satisfies HtpasswdReloadEvent);
    this.updateDummyHash(entries, generation);
  }

  /** The unknown-user compare uses the cost most of the file's bcrypt users have (ties: the higher). */
  private updateDummyHash(entries: Map<string, string>, generation: number): void {
    const counts = new Map<number, number>();
    for (const hash of entries.values()) {
      const cost = bcryptCost(hash);
      if (cost !== null) counts.set(cost, (counts.get(cost) ?? 0) + 1);
    }
    let best = DEFAULT_BCRYPT_COST;
    let bestCount = 0;
    for (const [cost, count] of counts) {
      if (count > bestCount || (count === bestCount && cost > best)) [best, bestCount] = [cost, count];
    }
    if (bcryptCost(this.currentDummyHash) === best) return;
    dummyBcryptHash(best).then(
      (hash) => {
        if (this.gen === generation) this.currentDummyHash = hash;
      },
      (err: Error) => this.logger.error(`htpasswd: could not make a dummy hash: ${err.message}`),
    );
  }

  private retryLater(delayMs = UNSTABLE_RETRY_MS): void {
    if (!this.running || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.runCheck();
    }, delayMs);
    this.retryTimer.unref();
  }

  /**
   * Logs a problem and emits 'reload-error'. A missing or unreadable file is seen by every poll, so
   * those are reported once until something changes; a parse error is only met when the content
   * changed, and is always reported.
   */
  private problem(
    reason: HtpasswdReloadErrorEvent['reason'],
    message: string,
    errors: HtpasswdParseError[] = [],
    level: 'error' | 'warn' = 'error',
  ): void {
    const signature = `${reason}\n${message}`;
    if (reason !== 'parse' && signature === this.lastProblem) return;
    this.lastProblem = signature;
    this.logger.log(level, message, { path: this.path });
    this.emit('reload-error', { path: this.path, reason, errors, users: this.entries.size } satisfies HtpasswdReloadErrorEvent);
  }
}
