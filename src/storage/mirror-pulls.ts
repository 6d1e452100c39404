// When a mirrored manifest was last pulled, so a GC pass can drop what nobody pulled for the
// mirror's ttl: one empty marker per repository and manifest, rewritten (its modification time is
// the pull's) at most once per REWRITE_EVERY of the ttl by each process, not on every pull.
//
//   /docker/registry/v2/regate/mirror-pulls/<name>/_pulls/<alg>/<hex>
//
// `_pulls` cannot be a component of a repository name (none starts with `_`), so one repository's
// markers never overlap another's.
import { LRUCache } from 'lru-cache';
import type { StorageDriver } from './driver.js';
import { FILE_ONLY } from './driver.js';
import { unlessMissing } from './links.js';
import { mirrorPullPath } from './paths.js';
import type { DigestParts } from './paths.js';

/** A marker younger than this share of the ttl is not rewritten. */
const REWRITE_EVERY = 0.1;
const MIN_REWRITE_MS = 60_000;

export class MirrorPulls {
  private readonly written = new LRUCache<string, number>({ max: 100_000 });

  constructor(private readonly driver: StorageDriver) {}

  /** Records a pull (cheaply: most calls write nothing). Never throws. */
  async note(name: string, digest: DigestParts, ttlMs: number): Promise<void> {
    const path = mirrorPullPath(name, digest);
    const last = this.written.get(path);
    if (last !== undefined && Date.now() - last < Math.max(MIN_REWRITE_MS, ttlMs * REWRITE_EVERY)) return;
    this.written.set(path, Date.now());
    await this.driver.putContent(path, Buffer.alloc(0)).catch(() => this.written.delete(path));
  }

  /** When the manifest was last pulled here, as far as the markers say (undefined: no marker). */
  async lastPull(name: string, digest: DigestParts): Promise<Date | undefined> {
    return (await unlessMissing(() => this.driver.stat(mirrorPullPath(name, digest), FILE_ONLY)))?.modTime;
  }

  /** Drops a manifest's marker (it was removed). */
  async forget(name: string, digest: DigestParts): Promise<void> {
    await unlessMissing(() => this.driver.delete(mirrorPullPath(name, digest)));
  }
}
