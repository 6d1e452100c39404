// Bytes per repository, as a GC pass's mark sees them (or `regate du`, which marks without
// deleting): each repository's blobs are what its kept manifests name (the manifests themselves
// included); a blob is "unique" to a repository when no other one's manifests name it, else
// "shared". Kept in one object in storage (regate/usage) with the time it was measured, so the web
// page shows it without walking anything; readers keep the parsed report until a newer one is
// written (a stat, at most every LOOK_MS, says whether it was).
import type { StorageDriver } from './driver.js';
import { FILE_ONLY } from './driver.js';
import { unlessMissing } from './links.js';
import { USAGE_REPORT_PATH } from './paths.js';

export interface RepositoryUsage {
  /** Bytes of blobs only this repository's manifests name. */
  unique: number;
  /** Bytes of blobs other repositories' manifests name too. */
  shared: number;
  blobs: number;
}

export interface UsageReport {
  measuredAt: string;
  /** What measured it: a GC pass, or `regate du`. */
  by: 'gc' | 'du';
  repositories: Record<string, RepositoryUsage>;
}

const LOOK_MS = 2000;

/**
 * Sums per repository. `named` is each repository's set of digest strings; `sizeOf` the stored
 * size of a blob (undefined when it is not stored: named but missing, counted nowhere).
 */
export function tallyUsage(named: ReadonlyMap<string, ReadonlySet<string>>, sizeOf: (digest: string) => number | undefined): Record<string, RepositoryUsage> {
  const holders = new Map<string, number>();
  for (const digests of named.values()) for (const d of digests) holders.set(d, (holders.get(d) ?? 0) + 1);
  const out: Record<string, RepositoryUsage> = {};
  for (const [name, digests] of named) {
    const usage: RepositoryUsage = { unique: 0, shared: 0, blobs: 0 };
    for (const d of digests) {
      const size = sizeOf(d);
      if (size === undefined) continue;
      usage.blobs++;
      if (holders.get(d) === 1) usage.unique += size;
      else usage.shared += size;
    }
    out[name] = usage;
  }
  return out;
}

export class UsageReports {
  private cached: { report: UsageReport | undefined; version: string; lookedAt: number } | undefined;
  private loading: Promise<UsageReport | undefined> | undefined;

  constructor(private readonly driver: StorageDriver) {}

  async write(report: UsageReport): Promise<void> {
    await this.driver.putContent(USAGE_REPORT_PATH, Buffer.from(JSON.stringify(report)));
  }

  /** The last report written, or undefined when none was. */
  async latest(): Promise<UsageReport | undefined> {
    if (this.cached && Date.now() - this.cached.lookedAt < LOOK_MS) return this.cached.report;
    this.loading ??= this.look().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async look(): Promise<UsageReport | undefined> {
    const info = await unlessMissing(() => this.driver.stat(USAGE_REPORT_PATH, FILE_ONLY));
    const version = info ? `${info.version ?? ''}/${info.size}/${info.modTime.getTime()}` : 'none';
    if (this.cached?.version === version) {
      this.cached.lookedAt = Date.now();
      return this.cached.report;
    }
    const content = info ? await unlessMissing(() => this.driver.getContent(USAGE_REPORT_PATH)) : undefined;
    let report: UsageReport | undefined;
    try {
      report = content ? (JSON.parse(content.toString('utf8')) as UsageReport) : undefined;
    } catch {
      report = undefined; // a damaged report is as good as none; the next pass writes a new one
    }
    this.cached = { report, version, lookedAt: Date.now() };
    return report;
  }
}
