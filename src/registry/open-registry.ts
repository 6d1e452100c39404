// The embedded registry as a running service: the configured storage driver, the registry over it,
// and the storage maintenance that belongs with it (upload purging, garbage collection). The gateway mounts the result
// and closes it on shutdown, without reaching into the storage layer itself.
import type { GcConfig, MirrorsConfig, StorageConfig } from '../config/config-types.js';
import { scheduleGarbageCollection } from '../storage/gc-schedule.js';
import { createBlobDescriptorCache } from '../storage/cache-factory.js';
import { createDriver } from '../storage/factory.js';
import { scheduleUploadPurging } from '../storage/upload-purge-schedule.js';
import type { RegistrySettings } from './context.js';
import { createRegistry, type Registry, type RegistryLogger } from './registry.js';
import { StorageHealth, type StorageHealthSettings } from './storage-health.js';
import type { EventSink } from './events.js';
import type { HealthCheck } from '../debug/health-checks.js';
import { recordGcPass } from '../metrics/metrics.js';
import { SharedSecret } from '../storage/shared-secret.js';
import { RevocationList } from '../storage/revocation-list.js';

export interface RunningRegistry extends Registry {
  /** health.storagedriver as the debug listener reports it (empty when the check is off). */
  readonly checks: readonly HealthCheck[];
  /**
   * A random secret every replica on this storage shares, created on first use (the web page's
   * session key); undefined when the storage is read-only and none can be written.
   */
  sharedSecret(name: string): SharedSecret | undefined;
  /** A list of revoked ids every replica on this storage honours (web page logouts); undefined when read-only. */
  revocations(name: string): RevocationList | undefined;
  /** Stops background maintenance. */
  close(): void;
}

/** What a GC pass needs of the mirrors: the names each caches, and how long unpulled content stays. */
export function mirrorExpiry(mirrors: MirrorsConfig): Array<{ prefix: string; ttlMs: number }> {
  return mirrors.mirrors.map((m) => ({ prefix: mirrors.pullOnly ? '' : `${m.name}/`, ttlMs: m.ttlMs }));
}

export function openRegistry(
  storage: StorageConfig,
  limits: Pick<RegistrySettings, 'manifestMaxBytes' | 'blobMaxBytes'>,
  logger: RegistryLogger & { info(message: string, meta?: Record<string, unknown>): void },
  healthCheck?: StorageHealthSettings,
  events?: EventSink,
  gc?: GcConfig,
  mirrors?: MirrorsConfig,
): RunningRegistry {
  const driver = createDriver(storage);
  const health = healthCheck ? new StorageHealth(driver, healthCheck, logger) : undefined;
  const cache = createBlobDescriptorCache(storage.cache, logger);
  const registry = createRegistry(driver, { ...limits, deleteEnabled: storage.deleteEnabled, readOnly: storage.readOnly, redirect: storage.redirect, ...(gc ? { gcLinkWindowMs: gc.linkWindowMs } : {}) }, logger, health, events, cache, mirrors);
  const purging = storage.uploadPurging;
  const stopPurging = purging.enabled && !storage.readOnly ? scheduleUploadPurging(driver, purging, logger) : () => undefined;
  const stopGc =
    gc?.enabled && !storage.readOnly
      ? scheduleGarbageCollection(driver, { intervalMs: gc.intervalMs, delayMs: gc.delayMs, deleteUntagged: gc.deleteUntagged, listingLagMs: gc.listingLagMs, linkWindowMs: gc.linkWindowMs, ...(cache ? { cache } : {}), ...(mirrors ? { mirrors: mirrorExpiry(mirrors) } : {}) }, logger, (result) => recordGcPass(result.bytesFreed + (result.unnamed?.bytesFreed ?? 0)))
      : () => undefined;
  health?.start();
  const close = (): void => {
    stopGc();
    stopPurging();
    void cache?.close();
    health?.stop();
  };
  // Distribution's check name, e.g. storagedriver_filesystem; health.storagedriver covers every driver.
  const checks: HealthCheck[] = health ? [{ name: `storagedriver_${driver.name}`, get problem() { return health.problem; } }] : [];
  const secrets = new Map<string, SharedSecret>();
  const sharedSecret = (name: string): SharedSecret | undefined => {
    if (storage.readOnly) return undefined;
    let secret = secrets.get(name);
    if (!secret) secrets.set(name, (secret = new SharedSecret(driver, name)));
    return secret;
  };
  const revocations = (name: string): RevocationList | undefined => (storage.readOnly ? undefined : new RevocationList(driver, name));
  return { ...registry, checks, sharedSecret, revocations, close: () => {
    close();
    registry.close?.();
  } };
}
