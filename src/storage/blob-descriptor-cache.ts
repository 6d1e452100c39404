// The blob descriptor cache (storage.cache.blobdescriptor), in front of the blob store: what
// Distribution caches, a digest's size and which repositories link it, so a blob HEAD costs no
// storage request. Only answers that can be wrong in the safe direction are served from it: a
// manifest PUT, a mount and an upload commit always ask storage (after their GC claim), and every
// path that deletes (blob DELETE, GC, scrub) invalidates before it answers. A cache that fails
// (Redis down) is a miss: slower, never wrong, never an error to the client.
import { LRUCache } from 'lru-cache';
import type { DigestParts } from './paths.js';
import { digestString } from './links.js';

/** A moment on a cache's invalidation clock, taken before asking storage. */
export type CacheInstant = number;

export interface BlobDescriptorCache {
  /** Taken before asking storage: remember() with it is dropped if anything was invalidated since. */
  now(): CacheInstant;
  /** The size of the digest's bytes, or undefined on a miss. Never throws. */
  size(digest: DigestParts): Promise<number | undefined>;
  /** true when the repository is known to link the digest, undefined on a miss. Never throws. */
  linked(name: string, digest: DigestParts): Promise<true | undefined>;
  /**
   * The repository links the digest, whose bytes have this size, as storage said after `since`.
   * Dropped when an invalidation came in between (a DELETE racing the lookup). Never throws.
   */
  remember(name: string, digest: DigestParts, size: number, since: CacheInstant): Promise<void>;
  /** The repository no longer links the digest. Never throws. */
  forgetLink(name: string, digest: DigestParts): Promise<void>;
  /** The digest's bytes are gone (or moved aside). Never throws. */
  forget(digest: DigestParts): Promise<void>;
  close(): Promise<void>;
}

/**
 * Counts invalidations, so an answer storage gave before a concurrent delete is not cached after
 * it. One counter for every key: a delete anywhere drops the remembers in flight, which costs a
 * later miss, never a wrong answer.
 */
export class InvalidationClock {
  private count = 0;
  now(): CacheInstant {
    return this.count;
  }
  tick(): void {
    this.count++;
  }
  unchangedSince(since: CacheInstant): boolean {
    return this.count === since;
  }
}

/**
 * In this process's memory, bounded. Entries also age out after a minute: another process (a
 * `regate gc` run) may delete a blob this cache still remembers, and that staleness stays short.
 */
export class InMemoryBlobDescriptorCache implements BlobDescriptorCache {
  private readonly sizes: LRUCache<string, number>;
  private readonly links: LRUCache<string, true>;
  private readonly clock = new InvalidationClock();

  constructor(maxEntries = 10_000, ttlMs = 60_000) {
    this.sizes = new LRUCache<string, number>({ max: maxEntries, ttl: ttlMs });
    this.links = new LRUCache<string, true>({ max: maxEntries, ttl: ttlMs });
  }

  now(): CacheInstant {
    return this.clock.now();
  }

  async size(digest: DigestParts): Promise<number | undefined> {
    return this.sizes.get(digestString(digest));
  }

  async linked(name: string, digest: DigestParts): Promise<true | undefined> {
    return this.links.get(`${name}\0${digestString(digest)}`);
  }

  async remember(name: string, digest: DigestParts, size: number, since: CacheInstant): Promise<void> {
    if (!this.clock.unchangedSince(since)) return;
    this.sizes.set(digestString(digest), size);
    this.links.set(`${name}\0${digestString(digest)}`, true);
  }

  async forgetLink(name: string, digest: DigestParts): Promise<void> {
    this.clock.tick();
    this.links.delete(`${name}\0${digestString(digest)}`);
  }

  async forget(digest: DigestParts): Promise<void> {
    this.clock.tick();
    this.sizes.delete(digestString(digest));
  }

  async close(): Promise<void> {
    this.sizes.clear();
    this.links.clear();
  }
}
