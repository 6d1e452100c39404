// The blob descriptor cache in Redis (storage.cache.blobdescriptor: redis), shared by every
// process on the same storage, with Distribution's keys, so a Distribution using the same Redis
// reads and invalidates the same entries:
//   blobs::<digest>                         hash {digest, size, mediatype}
//   repository::<name>::blobs               set of digests the repository links
//   repository::<name>::blobs::<digest>     hash {digest, size, mediatype}
// Requests never wait for Redis beyond its timeouts and never queue while it is down (ioredis'
// offline queue is off): a failed command is a miss, logged once per outage. While it is down
// requests skip Redis at once (one probe a second), and an invalidation that could not reach it
// is kept and replayed before the cache serves again: a Redis that was only unreachable (paused,
// partitioned) still holds the entry, and serving it after a delete would be wrong.
import { Redis } from 'ioredis';
import type { RedisConfig } from '../config/cache-config.js';
import { InvalidationClock, type BlobDescriptorCache, type CacheInstant } from './blob-descriptor-cache.js';
import type { DigestParts } from './paths.js';
import { digestString } from './links.js';

export interface CacheLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  error?(message: string, meta?: Record<string, unknown>): void;
}

export interface RedisCacheOptions {
  /** Entries we write expire: what another process changed behind our back stays wrong this long at most. */
  entryTtlSeconds?: number;
  /** Invalidations kept while Redis is unreachable; beyond this the cache stops serving for good. */
  maxPendingInvalidations?: number;
  probeIntervalMs?: number;
}

const MEDIA_TYPE = 'application/octet-stream';

export class RedisBlobDescriptorCache implements BlobDescriptorCache {
  private readonly redis: Redis;
  private readonly clock = new InvalidationClock();
  private readonly ttl: number;
  private readonly maxPending: number;
  private readonly probeIntervalMs: number;
  private down = false;
  /** Too many invalidations were lost to an outage: nothing Redis says can be trusted any more. */
  private untrusted = false;
  private readonly pending = new Map<string, () => Promise<unknown>>();
  private probe?: NodeJS.Timeout;
  private recovering = false;

  constructor(
    config: RedisConfig,
    private readonly logger?: CacheLogger,
    options: RedisCacheOptions = {},
  ) {
    this.ttl = options.entryTtlSeconds ?? 600;
    this.maxPending = options.maxPendingInvalidations ?? 100_000;
    this.probeIntervalMs = options.probeIntervalMs ?? 1_000;
    const colon = config.addr.lastIndexOf(':');
    this.redis = new Redis({
      host: config.addr.slice(0, colon),
      port: Number(config.addr.slice(colon + 1)),
      db: config.db,
      ...(config.password !== undefined ? { password: config.password } : {}),
      ...(config.tls ? { tls: {} } : {}),
      connectTimeout: config.dialTimeoutMs,
      commandTimeout: Math.max(config.readTimeoutMs, config.writeTimeoutMs),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(100 * times, 2_000),
    });
    // ioredis reports connection trouble as events; unheard, they would crash the process.
    this.redis.on('error', (err: Error) => this.outage(err));
    this.redis.on('ready', () => void this.recover());
  }

  now(): CacheInstant {
    return this.clock.now();
  }

  async size(digest: DigestParts): Promise<number | undefined> {
    const d = digestString(digest);
    if (this.pending.has(`blob ${d}`)) return undefined;
    const value = await this.attempt(() => this.redis.hget(`blobs::${d}`, 'size'));
    const size = value === undefined || value === null ? NaN : Number(value);
    return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
  }

  async linked(name: string, digest: DigestParts): Promise<true | undefined> {
    const d = digestString(digest);
    if (this.pending.has(`link ${name} ${d}`)) return undefined;
    // The repository-scoped hash rather than the set: it carries our expiry.
    return (await this.attempt(() => this.redis.exists(`repository::${name}::blobs::${d}`))) === 1 ? true : undefined;
  }

  async remember(name: string, digest: DigestParts, size: number, since: CacheInstant): Promise<void> {
    const d = digestString(digest);
    if (!this.clock.unchangedSince(since) || this.pending.has(`blob ${d}`) || this.pending.has(`link ${name} ${d}`)) return;
    const blobKey = `blobs::${d}`;
    const linkKey = `repository::${name}::blobs::${d}`;
    await this.attempt(() =>
      this.redis
        .multi()
        .hset(blobKey, 'digest', d, 'size', String(size))
        .hsetnx(blobKey, 'mediatype', MEDIA_TYPE)
        .expire(blobKey, this.ttl)
        .hset(linkKey, 'digest', d, 'size', String(size))
        .hsetnx(linkKey, 'mediatype', MEDIA_TYPE)
        .expire(linkKey, this.ttl)
        .sadd(`repository::${name}::blobs`, d)
        .exec(),
    );
  }

  async forgetLink(name: string, digest: DigestParts): Promise<void> {
    const d = digestString(digest);
    await this.invalidate(`link ${name} ${d}`, () => this.redis.multi().srem(`repository::${name}::blobs`, d).del(`repository::${name}::blobs::${d}`).exec());
  }

  async forget(digest: DigestParts): Promise<void> {
    const d = digestString(digest);
    await this.invalidate(`blob ${d}`, () => this.redis.del(`blobs::${d}`));
  }

  async close(): Promise<void> {
    clearInterval(this.probe);
    if (this.pending.size > 0) {
      this.logger?.warn(
        `blob descriptor cache: ${this.pending.size} invalidations never reached Redis; the entries they concern expire within ${this.ttl} s`,
      );
    }
    this.redis.disconnect();
  }

  private async attempt<T>(command: () => Promise<T>): Promise<T | undefined> {
    if (this.down || this.untrusted) return undefined;
    try {
      return await command();
    } catch (err) {
      this.outage(err as Error);
      return undefined;
    }
  }

  private async invalidate(key: string, command: () => Promise<unknown>): Promise<void> {
    this.clock.tick();
    if (this.untrusted) return;
    if (!this.down) {
      try {
        await command();
        return;
      } catch (err) {
        this.outage(err as Error);
      }
    }
    this.pending.delete(key); // re-inserted last: replayed in the order they happened
    this.pending.set(key, command);
    if (this.pending.size > this.maxPending) {
      this.untrusted = true;
      this.pending.clear();
      clearInterval(this.probe);
      (this.logger?.error ?? this.logger?.warn)?.call(
        this.logger,
        `blob descriptor cache: more than ${this.maxPending} invalidations could not reach Redis; the cache is off until regate restarts`,
      );
    }
  }

  private outage(err: Error): void {
    if (this.down || this.untrusted) return;
    this.down = true;
    this.logger?.warn(`blob descriptor cache: Redis unavailable, serving from storage until it is back (${err.message})`);
    this.probe = setInterval(() => void this.recover(), this.probeIntervalMs);
    this.probe.unref();
  }

  /** Redis answers again: the invalidations it missed go first, then it serves. */
  private async recover(): Promise<void> {
    if (!this.down || this.untrusted || this.recovering) return;
    this.recovering = true;
    try {
      await this.redis.ping();
      for (const [key, command] of this.pending) {
        await command();
        // A newer invalidation of the same key may have replaced this one meanwhile; it stays.
        if (this.pending.get(key) === command) this.pending.delete(key);
      }
      if (this.pending.size > 0) return;
      this.down = false;
      clearInterval(this.probe);
      this.probe = undefined;
      this.logger?.info('blob descriptor cache: Redis is back');
    } catch {
      // still unreachable: the next probe tries again
    } finally {
      this.recovering = false;
    }
  }
}
