// health.storagedriver: a periodic check of the storage backend, as Distribution does it. After
// `threshold` failures in a row the registry answers every request with 503 UNAVAILABLE and says
// why; the first check that passes again makes it healthy again, by itself.
import type { StorageDriver } from '../storage/driver.js';
import { PathNotFoundError } from '../storage/driver.js';

export interface StorageHealthSettings {
  intervalMs: number;
  threshold: number;
}

export interface StorageHealthLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
}

export class StorageHealth {
  #failures = 0;
  #problem: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(
    private readonly driver: StorageDriver,
    private readonly settings: StorageHealthSettings,
    private readonly logger?: StorageHealthLogger,
  ) {}

  /** Why the backend is considered down; undefined while healthy. */
  get problem(): string | undefined {
    return this.#problem;
  }

  start(): void {
    this.#timer = setInterval(() => void this.check(), this.settings.intervalMs);
    this.#timer.unref();
    void this.check();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One check (also run by the timer); a check still running is not started twice. */
  async check(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      await withTimeout(this.#probe(), Math.max(1000, this.settings.intervalMs));
      if (this.#problem) this.logger?.info('storage backend healthy again', { driver: this.driver.name });
      this.#failures = 0;
      this.#problem = undefined;
    } catch (err) {
      this.#failures++;
      const why = err instanceof Error ? err.message : String(err);
      if (this.#failures >= this.settings.threshold && this.#problem === undefined) {
        this.logger?.warn('storage backend unhealthy: answering 503 until it recovers', { driver: this.driver.name, failures: this.#failures, error: why });
      }
      if (this.#failures >= this.settings.threshold) this.#problem = why;
    } finally {
      this.#running = false;
    }
  }

  async #probe(): Promise<void> {
    try {
      await this.driver.list('/');
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    }
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the storage backend within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
