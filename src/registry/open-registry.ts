// The embedded registry as a running service: the configured storage driver, the registry over it,
// and the storage maintenance that belongs with it (upload purging). The gateway mounts the result
// and closes it on shutdown, without reaching into the storage layer itself.
import type { StorageConfig } from '../config/config-types.js';
import { createDriver } from '../storage/factory.js';
import { scheduleUploadPurging } from '../storage/upload-purge-schedule.js';
import type { RegistrySettings } from './context.js';
import { createRegistry, type Registry, type RegistryLogger } from './registry.js';
import { StorageHealth, type StorageHealthSettings } from './storage-health.js';
import type { HealthCheck } from '../debug/health-checks.js';

export interface RunningRegistry extends Registry {
  /** health.storagedriver as the debug listener reports it (empty when the check is off). */
  readonly checks: readonly HealthCheck[];
  /** Stops background maintenance. */
  close(): void;
}

export function openRegistry(
  storage: StorageConfig,
  limits: Pick<RegistrySettings, 'manifestMaxBytes' | 'blobMaxBytes'>,
  logger: RegistryLogger & { info(message: string, meta?: Record<string, unknown>): void },
  healthCheck?: StorageHealthSettings,
): RunningRegistry {
  const driver = createDriver(storage);
  const health = healthCheck ? new StorageHealth(driver, healthCheck, logger) : undefined;
  const registry = createRegistry(driver, { ...limits, deleteEnabled: storage.deleteEnabled, readOnly: storage.readOnly, redirect: storage.redirect }, logger, health);
  const purging = storage.uploadPurging;
  const stopPurging = purging.enabled && !storage.readOnly ? scheduleUploadPurging(driver, purging, logger) : () => undefined;
  health?.start();
  const close = (): void => {
    stopPurging();
    health?.stop();
  };
  // Distribution's check name, e.g. storagedriver_filesystem; health.storagedriver covers every driver.
  const checks: HealthCheck[] = health ? [{ name: `storagedriver_${driver.name}`, get problem() { return health.problem; } }] : [];
  return { ...registry, checks, close };
}
