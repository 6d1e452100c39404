// The live users table behind Basic auth. The file itself is watched, debounced until stable,
// parsed fresh and swapped whole by LiveFile (live-file.ts: a file caught mid-write is never
// served, a file that suddenly holds no users is suspect, a broken file keeps the last good map).
//
//   - Every reload builds a NEW map from the whole file and swaps it in; nothing is merged, so a
//     removed user stops working. Parse errors name line numbers, never line content.
//   - verify(): unknown users pay for a bcrypt compare against a dummy hash of the same cost as the
//     file's users (DUMMY_BCRYPT_HASH at cost 10), and so do users with legacy hashes, so timing
//     tells neither who exists nor how their password is stored. Verified credentials are cached
//     under HMAC-SHA256(random per-process key, user NUL password) in a bounded LRU that is dropped
//     on every reload; concurrent checks of the same credentials share one run. Legacy hashes
//     ($apr1$, {SHA}) work and are warned about once per user per load.
//   - Passwords are never logged.
//
// Events: 'reload' (HtpasswdReloadEvent) after every successful load, 'reload-error'
// (HtpasswdReloadErrorEvent) when a load is refused or the file is missing.
import { EventEmitter } from 'node:events';
import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../log/logger.js';
import { bcryptCost, classifyHash, parseHtpasswd, type HtpasswdParseError } from './htpasswd-file.js';
import { LiveFile, type LineError, type LiveFileProblem } from './live-file.js';
import { DEFAULT_BCRYPT_COST, DUMMY_BCRYPT_HASH, dummyBcryptHash, type VerifyResult } from './password.js';
import { sharedPasswordPool } from './password-pool.js';
import { cliCommand } from '../cli-invocation.js';

export { RACY_WINDOW_MS } from './live-file.js';

export interface HtpasswdStoreOptions {
  path: string;
  logger: Logger;
  /** Backstop stat interval (default 250 ms). */
  pollIntervalMs?: number;
  /** Verified-credentials cache entries (default 1000; 0 disables the cache). */
  cacheSize?: number;
  /** Watch the directory with fs.watch (default true); false leaves polling alone (tests of the backstop). */
  watch?: boolean;
  /** How long a changed file must hold still before it is read (default 120 ms). */
  stableMs?: number;
  /** The password check; defaults to the shared low-priority thread pool (tests pass a spy). */
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

export class HtpasswdStore extends EventEmitter {
  private readonly logger: Logger;
  private readonly verifier: (password: string, hash: string) => Promise<VerifyResult>;
  private readonly cacheKey = randomBytes(32);
  private readonly file: LiveFile<Map<string, string>>;

  private entries = new Map<string, string>();
  /** Verified credentials, keyed by an HMAC of user and password; dropped on every reload. */
  private readonly cache: LRUCache<string, true> | undefined;
  private inflight = new Map<string, Promise<boolean>>();
  private warnedLegacy = new Set<string>();
  private currentDummyHash = DUMMY_BCRYPT_HASH;

  constructor(options: HtpasswdStoreOptions) {
    super();
    this.logger = options.logger;
    const cacheSize = Math.max(0, Math.floor(options.cacheSize ?? 1000));
    this.cache = cacheSize > 0 ? new LRUCache<string, true>({ max: cacheSize }) : undefined;
    this.verifier = options.verifier ?? sharedPasswordPool().verify;
    this.file = new LiveFile<Map<string, string>>({
      path: options.path,
      logger: options.logger,
      label: 'htpasswd',
      noun: 'user(s)',
      pollIntervalMs: options.pollIntervalMs,
      watch: options.watch,
      stableMs: options.stableMs,
      parse: (text) => {
        const parsed = parseHtpasswd(text);
        return { value: parsed.entries, entries: parsed.entries.size, errors: parsed.errors };
      },
      onSwap: (entries, _count, generation) => this.swap(entries, generation),
      onProblem: (reason, errors, users) => this.problem(reason, errors, users),
    });
  }

  get path(): string {
    return this.file.path;
  }

  /** Loads the file, then starts watching its directory and polling. */
  start(): Promise<void> {
    return this.file.start();
  }

  /** Stops watching and polling (the current map stays usable). */
  stop(): Promise<void> {
    return this.file.stop();
  }

  /** The users in service, in file order. */
  users(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * The user's stored hash as the file holds it now, or undefined when they are not in it. Web page
   * sessions carry a keyed digest of it, so a session ends when the user goes or their password changes.
   */
  hashOf(user: string): string | undefined {
    return this.entries.get(user);
  }

  /** How many maps have been swapped in (0 before the first successful load). */
  get generation(): number {
    return this.file.generation;
  }

  /** The hash unknown users are compared against (bcrypt, at the file's usual cost). */
  get dummyHash(): string {
    return this.currentDummyHash;
  }

  /** Checks the file now instead of waiting for the watcher or the next poll (waits while it settles). */
  checkNow(): Promise<void> {
    return this.file.checkNow();
  }

  /** Are these credentials valid right now? Never throws. */
  async verify(user: string, password: string): Promise<boolean> {
    if (typeof user !== 'string' || typeof password !== 'string') return false;
    const key = createHmac('sha256', this.cacheKey).update(`${user}\0${password}`, 'utf8').digest('base64');
    // A reload while bcrypt runs makes the answer stale: decide again against the new map.
    for (let attempt = 0; ; attempt++) {
      const generation = this.generation;
      if (this.cache?.get(key)) return true;
      let pending = this.inflight.get(key);
      if (!pending) {
        const created = this.compute(user, password, generation);
        pending = created;
        this.inflight.set(key, created);
        void created.then(() => {
          if (this.inflight.get(key) === created) this.inflight.delete(key);
        });
      }
      const ok = await pending;
      if (generation === this.generation || attempt >= 2) {
        if (ok && generation === this.generation) this.cache?.set(key, true);
        return ok;
      }
    }
  }

  private async compute(user: string, password: string, generation: number): Promise<boolean> {
    const hash = this.entries.get(user);
    if (hash === undefined) {
      // Same bcrypt work as a real user; the answer is no whatever the compare says.
      await this.verifier(password, this.currentDummyHash).catch(() => undefined);
      return false;
    }
    let result: VerifyResult;
    try {
      const format = classifyHash(hash);
      if (!('error' in format) && format.kind !== 'bcrypt') {
        // A legacy hash is checked in microseconds: pad it with the bcrypt work a bcrypt user
        // costs, in the same queue slot (both at once), so timing does not tell how a password
        // is stored, even when the checks wait in line.
        const [checked] = await Promise.all([this.verifier(password, hash), this.verifier(password, this.currentDummyHash).catch(() => undefined)]);
        result = checked;
      } else {
        result = await this.verifier(password, hash);
      }
    } catch (err) {
      this.logger.error(`htpasswd: could not check the password of user "${user}": ${(err as Error).message}`, { user });
      return false;
    }
    if (!result.ok) return false;
    if (generation !== this.generation) return true; // the caller decides again; nothing cached across a reload
    if (result.legacy && !this.warnedLegacy.has(user)) {
      this.warnedLegacy.add(user);
      this.logger.warn(
        `htpasswd: user "${user}" authenticated with a legacy ${result.legacy === 'apr1' ? '$apr1$ (Apache MD5)' : '{SHA}'} hash; ` +
          `replace it with bcrypt (${cliCommand()} user passwd ${user})`,
        { path: this.path, user, hash: result.legacy },
      );
    }
    return true;
  }

  private swap(entries: Map<string, string>, generation: number): void {
    this.entries = entries;
    this.cache?.clear();
    this.inflight = new Map();
    this.warnedLegacy = new Set();
    this.emit('reload', { path: this.path, users: entries.size, generation } satisfies HtpasswdReloadEvent);
    this.updateDummyHash(entries, generation);
  }

  private problem(reason: LiveFileProblem, errors: LineError[], users: number): void {
    this.emit('reload-error', { path: this.path, reason, errors, users } satisfies HtpasswdReloadErrorEvent);
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
        if (this.generation === generation) this.currentDummyHash = hash;
      },
      (err: Error) => this.logger.error(`htpasswd: could not make a dummy hash: ${err.message}`),
    );
  }
}
