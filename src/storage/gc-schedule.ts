// Garbage collection in the background of `regate serve` (regate.gc.enabled), on the maintenance
// schedule. Each pass is safe beside the requests this process and any other one serves (gc.ts).
import type { StorageDriver } from './driver.js';
import { collectGarbage, type GcOptions, type GcResult } from './gc.js';
import { scheduleMaintenance, type MaintenanceLogger } from './maintenance-schedule.js';

export interface GcSchedule extends Omit<GcOptions, 'onProgress' | 'dryRun'> {
  intervalMs: number;
  firstRunMs?: number;
}

export function scheduleGarbageCollection(driver: StorageDriver, schedule: GcSchedule, logger: MaintenanceLogger, onPass?: (result: GcResult) => void): () => void {
  return scheduleMaintenance('garbage collection', schedule, async () => {
    const started = performance.now();
    const result = await collectGarbage(driver, schedule);
    onPass?.(result);
    const unnamed = result.unnamed ? `, ${result.unnamed.deleted} unnamed segment sets (${result.unnamed.bytesFreed} bytes)` : '';
    // The usage per repository is stored for the web page, not logged: it has a row per repository.
    const { usage: _usage, ...summary } = result;
    logger.info(`garbage collection: deleted ${result.blobsDeleted} blobs (${result.bytesFreed} bytes) and ${result.manifestsDeleted} untagged manifests${unnamed}`, {
      ...summary,
      durationMs: Math.round(performance.now() - started),
    });
  }, logger);
}
