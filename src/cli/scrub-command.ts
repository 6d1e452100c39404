// `regate scrub [--repair] --config FILE`: re-hashes every stored blob and manifest against its
// digest (src/storage/scrub.ts), with a progress bar on a terminal's stderr. Prints each corrupt
// blob and a summary on stdout. Exit 1 when corrupt blobs remain (not found, or not repaired), so a
// cron job notices; 0 when everything is intact or was moved aside.
import type { Command } from 'commander';
import { scrub, type ScrubResult } from '../storage/scrub.js';
import { formatBytes, openStorage, progressBar } from './storage-tool.js';

export function scrubReport(result: ScrubResult, repair: boolean): string {
  const lines = result.corrupt.map((c) => {
    const outcome = c.movedTo ? `moved to ${c.movedTo}` : c.notRepaired ? `not repaired: ${c.notRepaired}` : 'corrupt';
    return `corrupt: ${c.digest} (${formatBytes(c.size)}, stored bytes hash to ${c.actual}): ${outcome}`;
  });
  const skipped = result.skipped > 0 ? `, ${result.skipped} of an algorithm this build cannot hash` : '';
  lines.push(`scrubbed ${result.blobs} blobs (${formatBytes(result.bytes)})${skipped}: ${result.corrupt.length} corrupt${repair ? `, ${result.corrupt.filter((c) => c.movedTo).length} moved aside` : ''}`);
  return lines.join('\n');
}

export function registerScrubCommand(program: Command): void {
  program
    .command('scrub')
    .description('re-hash every stored blob and manifest against its digest; with --repair move corrupt ones aside so the next push stores them again')
    .requiredOption('--config <file>', 'the config.yml whose storage to scrub')
    .option('--repair', 'move corrupt blobs aside (regate/quarantine/ in the storage)')
    .action(async (options: { config: string; repair?: boolean }) => {
      const repair = options.repair === true;
      let result: ScrubResult;
      try {
        const { config, driver, cache } = openStorage(options.config);
        const bar = progressBar('scrub [{bar}] {value}/{total} blobs');
        let started = false;
        result = await scrub(driver, {
          repair,
          ...(cache ? { cache } : {}),
          linkWindowMs: config.regate.gc.linkWindowMs,
          onProgress: (p) => {
            if (!bar) return;
            if (!started) bar.start(p.total, p.done);
            started = true;
            bar.update(p.done);
          },
        });
        bar?.stop();
        await cache?.close();
      } catch (err) {
        process.stderr.write(`regate scrub: ${(err as Error).message}\n`);
        process.exit(1);
      }
      process.stdout.write(`${scrubReport(result, repair)}\n`);
      process.exitCode = result.corrupt.some((c) => !c.movedTo && !c.resolved) ? 1 : 0;
    });
}
