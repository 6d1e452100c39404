// `regate gc [--dry-run] [--delete-untagged] [--delay D] --config FILE`: one garbage collection
// pass over the configured storage, safe while registries serve it (src/storage/gc.ts). A progress
// bar on a terminal's stderr, the summary on stdout; exit 1 when the pass failed.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { loadConfig, parseDuration } from '../config/load-config.js';
import { createDriver } from '../storage/factory.js';
import { createBlobDescriptorCache } from '../storage/cache-factory.js';
import { collectGarbage, type GcProgress, type GcResult } from '../storage/gc.js';

interface GcCommandOptions {
  config: string;
  dryRun?: boolean;
  deleteUntagged?: boolean;
  delay?: string;
}

const PHASES: Record<GcProgress['phase'], string> = { mark: 'mark     ', untagged: 'untagged ', sweep: 'sweep    ' };

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

export function summary(result: GcResult): string {
  const verb = result.dryRun ? 'would delete' : 'deleted';
  return [
    `${result.dryRun ? 'dry run: ' : ''}${verb} ${result.blobsDeleted} blobs (${formatBytes(result.bytesFreed)}) and ${result.manifestsDeleted} untagged manifests`,
    `repositories: ${result.repositories}, manifests kept: ${result.manifestsKept}, blobs: ${result.blobsSeen} (${result.blobsMarked} referenced, ${result.blobsKeptRecent} unreferenced but recent)`,
  ].join('\n');
}

export function registerGcCommand(program: Command): void {
  program
    .command('gc')
    .description('delete blobs (and with --delete-untagged, manifests) nothing references; safe while registries serve the storage')
    .requiredOption('--config <file>', 'the config.yml whose storage to collect')
    .option('--dry-run', 'report what would be deleted, delete nothing')
    .option('--delete-untagged', 'also delete manifests no tag reaches (and that are no referrers of kept ones)')
    .option('--delay <duration>', 'only content older than this (default: regate.gc.delay, 1h)')
    .action(async (options: GcCommandOptions) => {
      let result: GcResult;
      try {
        const config = loadConfig(options.config);
        if (!config.storage) throw new Error('the config has no storage section (upstream mode keeps no data here)');
        const delayMs = options.delay !== undefined ? parseDuration(options.delay) : config.regate.gc.delayMs;
        if (delayMs === undefined) throw new Error(`--delay: "${options.delay}" is not a duration (e.g. 30m, 2h, 0s)`);
        const driver = createDriver(config.storage);
        // Other processes read a shared (Redis) cache: what this pass deletes is forgotten there.
        const cache = config.storage.cache?.blobDescriptor === 'redis' ? createBlobDescriptorCache(config.storage.cache) : undefined;
        const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: '{phase} [{bar}] {value}/{total}', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
        let phase: GcProgress['phase'] | undefined;
        result = await collectGarbage(driver, {
          dryRun: options.dryRun === true,
          deleteUntagged: options.deleteUntagged === true || config.regate.gc.deleteUntagged,
          delayMs,
          listingLagMs: config.regate.gc.listingLagMs,
          linkWindowMs: config.regate.gc.linkWindowMs,
          ...(cache ? { cache } : {}),
          onProgress: (p) => {
            if (!bar) return;
            if (p.phase !== phase) {
              if (phase !== undefined) bar.stop();
              phase = p.phase;
              bar.start(p.total, p.done, { phase: PHASES[p.phase] });
            } else bar.update(p.done);
          },
        });
        bar?.stop();
        await cache?.close();
      } catch (err) {
        process.stderr.write(`regate gc: ${(err as Error).message}\n`);
        process.exit(1);
      }
      process.stdout.write(`${summary(result)}\n`);
    });
}
