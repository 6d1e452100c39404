// The referrers index as stored bytes: one small object per (subject, referrer) pair under the
// repository (layout in paths.ts), plus a marker saying the repository's older revisions have been
// scanned in. The registry layer decides what an entry holds (a descriptor); this module only puts,
// reads and removes them, so a query costs one listing of the subject's directory plus one read per
// referrer, however many manifests the repository has.
//
// One object per pair, not one index object per subject: an object store has no compare-and-swap,
// so a shared object rewritten by concurrent pushes would lose entries. Separate objects make
// every write and removal independent and idempotent.
import type { StorageDriver } from './driver.js';
import { FILE_ONLY, PathNotFoundError } from './driver.js';
import { referrerEntryPath, referrersIndexedMarkerPath, referrersRootPath, referrersSubjectPath, type DigestParts } from './paths.js';
import { unlessMissing } from './links.js';

export interface ReferrerEntry {
  referrer: DigestParts;
  content: Buffer;
}

/** Entries read at once by a query: enough to hide a Swift round trip, few enough to be polite. */
const READ_CONCURRENCY = 16;

export class ReferrerStore {
  constructor(private readonly driver: StorageDriver) {}

  /** Records that `referrer` refers to `subject`; writing the same entry again is harmless. */
  async put(name: string, subject: DigestParts, referrer: DigestParts, content: Buffer): Promise<void> {
    await this.driver.putContent(referrerEntryPath(name, subject, referrer), content);
  }

  /** Removes the entry; an entry already gone is not an error. */
  async remove(name: string, subject: DigestParts, referrer: DigestParts): Promise<void> {
    try {
      await this.driver.delete(referrerEntryPath(name, subject, referrer));
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    }
  }

  /**
   * Every entry of `subject` (order unspecified). This is a listing, the one place the index
   * depends on one: enumerating what others wrote needs either a listing or a shared object (see
   * the header for why not that). On Swift a container listing can lag a write for a moment under
   * load; the spec lets the referrers list be eventually consistent, and the marker and every
   * entry's content are read by name, never through a listing.
   */
  async list(name: string, subject: DigestParts): Promise<ReferrerEntry[]> {
    const algorithms = (await unlessMissing(() => this.driver.list(referrersSubjectPath(name, subject)))) ?? [];
    const paths: { referrer: DigestParts; path: string }[] = [];
    for (const algorithmDir of algorithms) {
      const algorithm = algorithmDir.slice(algorithmDir.lastIndexOf('/') + 1);
      for (const path of (await unlessMissing(() => this.driver.list(algorithmDir))) ?? []) {
        paths.push({ referrer: { algorithm, encoded: path.slice(path.lastIndexOf('/') + 1) }, path });
      }
    }
    const entries: ReferrerEntry[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < paths.length) {
        const { referrer, path } = paths[next++]!;
        // Removed between the listing and the read: a delete won the race, so it is not listed.
        const content = await unlessMissing(() => this.driver.getContent(path));
        if (content) entries.push({ referrer, content });
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, paths.length) }, worker));
    return entries;
  }

  /** Whether the backfill has run for this repository (read by name, never through a listing). */
  async isIndexed(name: string): Promise<boolean> {
    return (await unlessMissing(() => this.driver.stat(referrersIndexedMarkerPath(name), FILE_ONLY))) !== undefined;
  }

  async markIndexed(name: string): Promise<void> {
    await this.driver.putContent(referrersIndexedMarkerPath(name), Buffer.from(`${new Date().toISOString()}\n`));
  }

  /** Drops the repository's whole index, marker included, so the next query scans again. */
  async clear(name: string): Promise<void> {
    try {
      await this.driver.delete(referrersRootPath(name));
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    }
  }
}
