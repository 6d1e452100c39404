// Runs a storage maintenance job (upload purging, garbage collection) in the background: first a
// few minutes after start (spread by jitter so replicas do not all walk the store at once), then
// every interval. Timers never keep the process alive, runs never overlap, and a failed run is
// logged and retried at the next interval.

const MAX_TIMER_MS = 2 ** 31 - 1;

export interface MaintenanceLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export interface MaintenanceSchedule {
  intervalMs: number;
  /** Delay before the first run (default: 1 to 6 minutes, random). */
  firstRunMs?: number;
}

/** Starts the schedule; the returned function stops it (a run in progress finishes). */
export function scheduleMaintenance(job: string, schedule: MaintenanceSchedule, run: () => Promise<void>, logger: MaintenanceLogger): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const once = async (): Promise<void> => {
    try {
      await run();
    } catch (err) {
      logger.error(`${job} failed: ${(err as Error).message}`);
    }
    if (!stopped) arm(schedule.intervalMs);
  };
  const arm = (delay: number): void => {
    // setTimeout turns delays past 2^31-1 ms (~24.8 days) into 1 ms; running sooner than asked is harmless.
    timer = setTimeout(() => void once(), Math.min(delay, MAX_TIMER_MS));
    timer.unref();
  };
  arm(schedule.firstRunMs ?? 60_000 + Math.floor(Math.random() * 300_000));
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
