// Runs the upload purger in the background: first a few minutes after start (spread by jitter so
// replicas do not all walk the store at once), then every interval. Timers never keep the process
// alive, and a failed run is logged and retried at the next interval.
import type { StorageDriver } from './driver.js';
import { purgeUploads } from './upload-purger.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

export interface PurgeSchedule {
  ageMs: number;
  intervalMs: number;
  dryRun: boolean;
  /** Delay before the first run (default: 1 to 6 minutes, random). */
  firstRunMs?: number;
}

interface PurgeLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export function scheduleUploadPurging(driver: StorageDriver, schedule: PurgeSchedule, logger: PurgeLogger): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = async (): Promise<void> => {
    try {
      const result = await purgeUploads(driver, new Date(Date.now() - schedule.ageMs), { dryRun: schedule.dryRun });
      if (result.purged.length > 0 || schedule.dryRun) {
        logger.info(`upload purge: ${schedule.dryRun ? 'would delete' : 'deleted'} ${result.purged.length} of ${result.seen} upload sessions`, {
          purged: result.purged.length,
          seen: result.seen,
          dryRun: schedule.dryRun,
        });
      }
    } catch (err) {
      logger.error(`upload purge failed: ${(err as Error).message}`);
    }
    if (!stopped) arm(schedule.intervalMs);
  };
  const arm = (delay: number): void => {
    // setTimeout turns delays past 2^31-1 ms (~24.8 days) into 1 ms; purging sooner than asked is harmless.
    timer = setTimeout(() => void run(), Math.min(delay, MAX_TIMER_MS));
    timer.unref();
  };
  arm(schedule.firstRunMs ?? 60_000 + Math.floor(Math.random() * 300_000));
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
