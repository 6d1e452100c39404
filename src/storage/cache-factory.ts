// The configured blob descriptor cache, or none.
import type { CacheConfig } from '../config/cache-config.js';
import { InMemoryBlobDescriptorCache, type BlobDescriptorCache } from './blob-descriptor-cache.js';
import { RedisBlobDescriptorCache, type CacheLogger } from './redis-descriptor-cache.js';

export function createBlobDescriptorCache(config: CacheConfig | undefined, logger?: CacheLogger): BlobDescriptorCache | undefined {
  if (!config) return undefined;
  if (config.blobDescriptor === 'redis') return new RedisBlobDescriptorCache(config.redis!, logger);
  return new InMemoryBlobDescriptorCache(config.size);
}
