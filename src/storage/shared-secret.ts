// A random secret kept in storage so every replica on the same storage uses the same one without
// anyone configuring it: the web page's session key (a cookie one replica signs, another accepts).
// Whoever can read the storage can read it; they can already rewrite every image there.
//
// It is written once, by the first process that finds none; later reads never write (a read that
// fails or finds nothing keeps the key in hand). Two replicas starting at once on an empty storage
// may both write one: each reads back what is stored after writing, and one whose copy no longer
// verifies something reads again (`refresh`, at most once per REFRESH_MS), so they settle on the
// last one written.
import { randomBytes } from 'node:crypto';
import type { StorageDriver } from './driver.js';
import { unlessMissing } from './links.js';
import { sharedSecretPath } from './paths.js';

const SECRET_BYTES = 32;
const REFRESH_MS = 5000;

export class SharedSecret {
  private current: Promise<Buffer> | undefined;
  private readAt = 0;

  constructor(
    private readonly driver: StorageDriver,
    private readonly name: string,
  ) {}

  /** The secret, read (or created) once and then kept. */
  get(): Promise<Buffer> {
    if (!this.current) {
      const loading = this.load();
      this.current = loading;
      // A failed read is not kept: the next call tries again.
      loading.catch(() => {
        if (this.current === loading) this.current = undefined;
      });
    }
    return this.current;
  }

  /** Reads it again, unless that was done within REFRESH_MS; true when it changed. Never writes. */
  async refresh(): Promise<boolean> {
    if (Date.now() - this.readAt < REFRESH_MS) return false;
    this.readAt = Date.now();
    const before = await this.get().catch(() => undefined);
    const stored = await unlessMissing(() => this.driver.getContent(sharedSecretPath(this.name))).catch(() => undefined);
    if (!stored || stored.length !== SECRET_BYTES || (before && before.equals(stored))) return false;
    this.current = Promise.resolve(stored);
    return true;
  }

  private async load(): Promise<Buffer> {
    const path = sharedSecretPath(this.name);
    this.readAt = Date.now();
    const stored = await unlessMissing(() => this.driver.getContent(path));
    if (stored && stored.length === SECRET_BYTES) return stored;
    await this.driver.putContent(path, randomBytes(SECRET_BYTES));
    const settled = await this.driver.getContent(path);
    if (settled.length !== SECRET_BYTES) throw new Error(`the shared secret ${this.name} in storage is ${settled.length} bytes, not ${SECRET_BYTES}`);
    return settled;
  }
}
