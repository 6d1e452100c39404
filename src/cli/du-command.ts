// `regate du --config FILE [--top N]`: measures the bytes each repository holds, unique to it and
// shared with others, the way a GC pass's mark sees them, without deleting anything; stores the
// report where the web page reads it (regate/usage) and prints the largest repositories.
import type { Command } from 'commander';
import { collectGarbage } from '../storage/gc.js';
import type { RepositoryUsage } from '../storage/usage-report.js';
import { formatBytes, openStorage, progressBar } from './storage-tool.js';

interface DuCommandOptions {
  config: string;
  top: string;
}

/** The report as a table, largest unique share first. Pure. */
export function usageTable(usage: Record<string, RepositoryUsage>, top: number): string {
  const rows = Object.entries(usage).sort(([a, x], [b, y]) => y.unique - x.unique || y.shared - x.shared || (a < b ? -1 : 1));
  const shown = rows.slice(0, top);
  const width = Math.max(10, ...shown.map(([name]) => name.length));
  const line = (name: string, unique: string, shared: string, blobs: string): string => `${name.padEnd(width)}  ${unique.padStart(10)}  ${shared.padStart(10)}  ${blobs.padStart(6)}`;
  return [
    line('repository', 'unique', 'shared', 'blobs'),
    ...shown.map(([name, u]) => line(name, formatBytes(u.unique), formatBytes(u.shared), String(u.blobs))),
    ...(rows.length > shown.length ? [`… and ${rows.length - shown.length} more repositories`] : []),
  ].join('\n');
}

export function registerDuCommand(program: Command): void {
  program
    .command('du')
    .description('measure the bytes each repository holds (unique and shared) without deleting anything; the web page shows the result')
    .requiredOption('--config <file>', 'the config.yml whose storage to measure')
    .option('--top <n>', 'how many repositories to print', '20')
    .action(async (options: DuCommandOptions) => {
      const top = Number(options.top);
      if (!Number.isInteger(top) || top < 0) {
        process.stderr.write(`regate du: --top: "${options.top}" is not a whole number\n`);
        process.exit(2);
      }
      try {
        const { config, driver, cache } = openStorage(options.config);
        const bar = progressBar('{phase} [{bar}] {value}/{total}');
        let phase: string | undefined;
        const result = await collectGarbage(driver, {
          dryRun: true,
          usageReport: 'du',
          delayMs: config.regate.gc.delayMs,
          listingLagMs: config.regate.gc.listingLagMs,
          linkWindowMs: config.regate.gc.linkWindowMs,
          onProgress: (p) => {
            if (!bar || p.phase === 'sweep') return;
            if (p.phase !== phase) {
              if (phase !== undefined) bar.stop();
              phase = p.phase;
              bar.start(p.total, p.done, { phase: p.phase.padEnd(9) });
            } else bar.update(p.done);
          },
        });
        bar?.stop();
        await cache?.close();
        process.stdout.write(`${usageTable(result.usage, top)}\n`);
      } catch (err) {
        process.stderr.write(`regate du: ${(err as Error).message}\n`);
        process.exit(1);
      }
    });
}
