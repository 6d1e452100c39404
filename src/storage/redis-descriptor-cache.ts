// The blob descriptor cache in Redis (storage.cache.blobdescriptor: redis), shared by every
// process on the same storage, with Distribution's keys, so a Distribution using the same Redis
// reads and invalidates the same entries:
//   blobs::<digest>                         hash {digest, size, mediatype}
//   repository::<name>::blobs               set of digests the repository links
//   repository::<name>::blobs::<digest>     hash {digest, size, mediatype}
// Requests never wait for Redis beyond its timeouts and never queue while it is down (ioredis'
// offline queue is off): a failed command is a miss, logged once per outage; ioredis reconnects
// by itself.
import { Redis } from 'ioredis';
import type { RedisConfig } from '../config/cache-config.js';
import type { BlobDescriptorCache } from './blob-descriptor-cache.js';
import type { DigestParts } from './paths.js';
import { digestString } from './links.js';

export interface CacheLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
}

const MEDIA_TYPE = 'application/octet-stream';

export class RedisBlobDescriptorCache implements BlobDescriptorCache {
  private readonly redis: Redis;
  private down = false;

  constructor(
    config: RedisConfig,
    private readonly logger?: CacheLogger,
  ) {
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
    this.redis.on('ready', () => {
      if (this.down) this.logger?.info('blob descriptor cache: Redis is back');
      this.down = false;
    });
  }

  async size(digest: DigestParts): Promise<number | undefined> {
    const value = await this.attempt(() => this.redis.hget(`blobs::${digestString(digest)}`, 'size'));
    const size = value === undefined || value === null ? NaN : Number(value);
    return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
  }

  async linked(name: string, digest: DigestParts): Promise<true | undefined> {
    return (await this.attempt(() => this.redis.sismember(`repository::${name}::blobs`, digestString(digest)))) === 1 ? true : undefined;
  }

  async remember(name: string, digest: DigestParts, size: number): Promise<void> {
    const d = digestString(digest);
    await this.attempt(() =>
      this.redis
        .multi()
        .hset(`blobs::${d}`, 'digest', d, 'size', String(size))
        .hsetnx(`blobs::${d}`, 'mediatype', MEDIA_TYPE)
        .hset(`repository::${name}::blobs::${d}`, 'digest', d, 'size', String(size))
        .hsetnx(`repository::${name}::blobs::${d}`, 'mediatype', MEDIA_TYPE)
        .sadd(`repository::${name}::blobs`, d)
        .exec(),
    );
  }

  async forgetLink(name: string, digest: DigestParts): Promise<void> {
    const d = digestString(digest);
    await this.attempt(() => this.redis.multi().srem(`repository::${name}::blobs`, d).del(`repository::${name}::blobs::${d}`).exec());
  }

  async forget(digest: DigestParts): Promise<void> {
    await this.attempt(() => this.redis.del(`blobs::${digestString(digest)}`));
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  private async attempt<T>(command: () => Promise<T>): Promise<T | undefined> {
    try {
      return await command();
    } catch (err) {
      this.outage(err as Error);
      return undefined;
    }
  }

  private outage(err: Error): void {
    if (this.down) return;
    this.down = true;
    this.logger?.warn(`blob descriptor cache: Redis unavailable, serving from storage until it is back (${err.message})`);
  }
}
