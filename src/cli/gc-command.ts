// `regate gc [--dry-run] [--delete-untagged] [--delay D] --config FILE`: one garbage collection
// pass over the configured storage, safe while registries serve it (src/storage/gc.ts). A progress
// bar on a terminal's stderr, the summary on stdout; exit 1 when the pass failed.
import type { Command } from 'commander';
import { parseDuration } from '../config/load-config.js';
import { collectGarbage, type GcProgress, type GcResult } from '../storage/gc.js';
import { formatBytes, openStorage, progressBar } from './storage-tool.js';
import { mirrorExpiry } from '../registry/open-registry.js';

interface GcCommandOptions {
  config: string;
  dryRun?: boolean;
  deleteUntagged?: boolean;
  delay?: string;
}

const PHASES: Record<GcProgress['phase'], string> = { mark: 'mark     ', untagged: 'untagged ', sweep: 'sweep    ' };

export function summary(result: GcResult): string {
  const verb = result.dryRun ? 'would delete' : 'deleted';
  return [
    `${result.dryRun ? 'dry run: ' : ''}${verb} ${result.blobsDeleted} blobs (${formatBytes(result.bytesFreed)}) and ${result.manifestsDeleted} untagged manifests`,
    ...(result.mirrorManifestsExpired > 0 ? [`of which ${result.mirrorManifestsExpired} mirrored manifests nobody pulled for their mirror's ttl (with their tags)`] : []),
    `repositories: ${result.repositories}, manifests kept: ${result.manifestsKept}, blobs: ${result.blobsSeen} (${result.blobsMarked} referenced, ${result.blobsKeptRecent} unreferenced but recent)`,
    ...(result.usageNotStored ? [`the bytes per repository could not be stored for the web page: ${result.usageNotStored}`] : []),
    ...(result.unnamed
      ? [
          `segment sets no manifest names: ${result.unnamed.found} found, ${verb} ${result.unnamed.deleted} (${formatBytes(result.unnamed.bytesFreed)}); the others are deleted by a later pass once they are old enough`,
        ]
      : []),
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
        const { config, driver, cache } = openStorage(options.config);
        const delayMs = options.delay !== undefined ? parseDuration(options.delay) : config.regate.gc.delayMs;
        if (delayMs === undefined) throw new Error(`--delay: "${options.delay}" is not a duration (e.g. 30m, 2h, 0s)`);
        const bar = progressBar('{phase} [{bar}] {value}/{total}');
        let phase: GcProgress['phase'] | undefined;
        result = await collectGarbage(driver, {
          dryRun: options.dryRun === true,
          deleteUntagged: options.deleteUntagged === true || config.regate.gc.deleteUntagged,
          delayMs,
          listingLagMs: config.regate.gc.listingLagMs,
          linkWindowMs: config.regate.gc.linkWindowMs,
          ...(cache ? { cache } : {}),
          ...(config.mirrors ? { mirrors: mirrorExpiry(config.mirrors) } : {}),
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
