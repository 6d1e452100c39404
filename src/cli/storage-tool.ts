// What the offline storage commands (`regate gc`, `regate scrub`) share: the configured storage
// opened from a config file, a progress bar on a terminal's stderr, byte counts for people.
import cliProgress from 'cli-progress';
import type { RegateConfig } from '../config/config-types.js';
import { loadConfig } from '../config/load-config.js';
import type { BlobDescriptorCache } from '../storage/blob-descriptor-cache.js';
import { createBlobDescriptorCache } from '../storage/cache-factory.js';
import type { StorageDriver } from '../storage/driver.js';
import { createDriver } from '../storage/factory.js';

export interface OpenedStorage {
  config: RegateConfig;
  driver: StorageDriver;
  /** The shared (Redis) blob descriptor cache other processes read, to keep current; none in memory. */
  cache?: BlobDescriptorCache;
}

export function openStorage(configPath: string): OpenedStorage {
  const config = loadConfig(configPath);
  if (!config.storage) throw new Error('the config has no storage section (upstream mode keeps no data here)');
  const cache = config.storage.cache?.blobDescriptor === 'redis' ? createBlobDescriptorCache(config.storage.cache) : undefined;
  return { config, driver: createDriver(config.storage), ...(cache ? { cache } : {}) };
}

/** A progress bar on stderr when it is a terminal; undefined otherwise (pipes and CI get none). */
export function progressBar(format: string): cliProgress.SingleBar | undefined {
  return process.stderr.isTTY ? new cliProgress.SingleBar({ format, hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
