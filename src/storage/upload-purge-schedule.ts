// Upload purging in the background (storage.maintenance.uploadpurging), on the maintenance schedule.
import type { StorageDriver } from './driver.js';
import { scheduleMaintenance, type MaintenanceLogger } from './maintenance-schedule.js';
import { purgeUploads } from './upload-purger.js';

export interface PurgeSchedule {
  ageMs: number;
  intervalMs: number;
  dryRun: boolean;
  /** Delay before the first run (default: 1 to 6 minutes, random). */
  firstRunMs?: number;
}

export function scheduleUploadPurging(driver: StorageDriver, schedule: PurgeSchedule, logger: MaintenanceLogger): () => void {
  return scheduleMaintenance('upload purge', schedule, async () => {
    const result = await purgeUploads(driver, new Date(Date.now() - schedule.ageMs), { dryRun: schedule.dryRun });
    if (result.purged.length > 0 || schedule.dryRun) {
      logger.info(`upload purge: ${schedule.dryRun ? 'would delete' : 'deleted'} ${result.purged.length} of ${result.seen} upload sessions`, {
        purged: result.purged.length,
        seen: result.seen,
        dryRun: schedule.dryRun,
      });
    }
  }, logger);
}
