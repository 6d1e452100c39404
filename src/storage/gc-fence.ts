// The handshake that lets garbage collection run while the registry serves, across processes and
// on object stores whose listings lag (docs/architecture.md, "Garbage collection", has the argument in full).
//
// A request that links content (a manifest PUT for everything it references, a mount, an upload
// commit) first *claims* each digest: it rewrites `regate/blob-use/<digest>`, then looks for
// `regate/gc-condemned/<digest>`. A GC pass about to delete content does the mirror image: it writes
// the condemned marker, then reads the use marker. Each side writes before it reads, so at least
// one of them sees the other: either the pass sees a fresh use and keeps the content, or the
// request sees the condemnation and waits until the pass is done, then checks again whether the
// content still exists. Only direct reads of known names are involved, never a listing, so a
// lagging listing cannot hide a claim.
//
// A claim is fresh for `linkWindowMs`: a request must write its links within that time of its
// claim (it claims again when it took longer). The pass keeps anything claimed since its start
// minus that window, the listing lag and the configured delay.
import { FILE_ONLY, type StorageDriver } from './driver.js';
import { blobCondemnedPath, blobUsePath, GC_CLOCK_PATH, type DigestParts } from './paths.js';
import { LRUCache } from 'lru-cache';
import { digestString, unlessMissing } from './links.js';
import { ContentBeingCollectedError } from './store-errors.js';

/** How long a claim protects its content: the longest a request may take from claim to links. */
export const DEFAULT_LINK_WINDOW_MS = 60_000;
/** A condemnation older than this is dead (its pass crashed): claims stop waiting for it. */
export const CONDEMNED_TTL_MS = 30_000;
/** A pass never deletes content it condemned longer ago than this (well inside the TTL). */
export const CONDEMNED_ACT_WITHIN_MS = CONDEMNED_TTL_MS / 3;
/** Claims by reads (blob HEAD) are refreshed at most this often per process and digest (or a quarter window). */
const READ_TOUCH_EVERY_MS = 10_000;
/** Slack for storage clocks of one-second resolution (Swift's Last-Modified), wherever claim times are compared. */
export const CLOCK_SLACK_MS = 2_000;
const WAIT_STEP_MS = 100;

export interface Claim {
  /** Monotonic time of the claim (performance.now()). */
  readonly at: number;
  readonly digests: readonly DigestParts[];
}


export class GcFence {
  /**
   * When this process last rewrote each digest's use marker (performance.now() taken before the
   * write), kept for half the link window: a claim within that time needs no second write, as
   * refresh() would not renew it either. The condemned marker is read by every claim all the same.
   */
  private readonly touched: LRUCache<string, number>;
  private readonly readTouchEveryMs: number;

  constructor(
    private readonly driver: StorageDriver,
    readonly linkWindowMs: number = DEFAULT_LINK_WINDOW_MS,
  ) {
    this.touched = new LRUCache<string, number>({ max: 10_000, ttl: linkWindowMs / 2 });
    this.readTouchEveryMs = Math.min(READ_TOUCH_EVERY_MS, linkWindowMs / 4);
  }

  /**
   * Claims the digests before the caller checks that they exist and links them. Resolves once no
   * GC pass is deleting any of them (it waits for a pass that is); the caller then checks existence
   * and must write its links within the link window (see refresh()).
   */
  async claim(digests: readonly DigestParts[]): Promise<Claim> {
    return (await this.claimAnd(digests, async () => undefined)).claim;
  }

  /**
   * claim(), with `check` (the caller's existence check) run beside the reads of the condemned
   * markers instead of after them: both come after the use markers were written, which is all the
   * handshake needs (a pass that condemns later reads a fresh use and keeps the content). When a
   * marker says condemned, the answer is dropped and `check` runs again once the pass is done.
   * `beside` runs with the first round's use-marker writes, and its answer goes to that round's
   * check as a hint only (a later round's check gets none): it was read before the claim, so
   * nothing it says may be relied on without the claim's reads after it.
   */
  async claimAnd<T, H = never>(digests: readonly DigestParts[], check: (hint: H | undefined) => Promise<T>, beside?: () => Promise<H>): Promise<{ claim: Claim; checked: T }> {
    const unique = [...new Map(digests.map((d) => [digestString(d), d])).values()];
    const started = performance.now();
    for (let round = 0; ; round++) {
      // A hint that fails is no hint: the check then looks for itself.
      const hinting = round === 0 ? beside?.().catch(() => undefined) : undefined;
      const times = await Promise.all(unique.map((d) => this.touchUnlessRecent(d)));
      const hint = await hinting;
      const [condemned, checked] = await Promise.all([Promise.all(unique.map((d) => this.isCondemned(d))), check(hint)]);
      if (!condemned.some(Boolean)) return { claim: { at: Math.min(performance.now(), ...times), digests: unique }, checked };
      if (performance.now() - started > CONDEMNED_TTL_MS) {
        throw new ContentBeingCollectedError(digestString(unique[condemned.findIndex(Boolean)]!));
      }
      // Waiting for a pass: the next round writes the use markers again.
      for (const d of unique) this.touched.delete(digestString(d));
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    }
  }

  /** Before writing links: a claim older than half its window is renewed, so it is fresh throughout. */
  async refresh(claim: Claim): Promise<Claim> {
    return performance.now() - claim.at < this.linkWindowMs / 2 ? claim : this.claim(claim.digests);
  }

  /**
   * A read (blob HEAD) of content a client may link next (it skips the upload of a layer it
   * found): claimed without waiting, at most every few seconds per digest in this process.
   */
  async noteRead(digest: DigestParts): Promise<void> {
    const last = this.touched.get(digestString(digest));
    if (last !== undefined && performance.now() - last < this.readTouchEveryMs) return;
    await this.touch(digest);
  }

  // --- the GC pass's side ---

  /** The storage's own clock: claims are compared with it, never with this process's clock. */
  async storageNow(): Promise<Date> {
    await this.driver.putContent(GC_CLOCK_PATH, Buffer.from(new Date().toISOString()));
    return (await this.driver.stat(GC_CLOCK_PATH)).modTime;
  }

  async condemn(digest: DigestParts, passId: string): Promise<void> {
    await this.driver.putContent(blobCondemnedPath(digest), Buffer.from(passId));
  }

  /** When the content was last claimed (storage clock), or undefined when never. */
  async lastClaim(digest: DigestParts): Promise<Date | undefined> {
    return (await unlessMissing(() => this.driver.stat(blobUsePath(digest), FILE_ONLY)))?.modTime;
  }

  /** Ends a condemnation: only this pass's own (two passes may race on the same content). */
  async release(digest: DigestParts, passId: string): Promise<void> {
    const path = blobCondemnedPath(digest);
    const holder = await unlessMissing(() => this.driver.getContent(path));
    if (holder === undefined || holder.toString('utf8') !== passId) return;
    await unlessMissing(() => this.driver.delete(path));
  }

  /** The use marker of content that is gone (called while condemned). */
  async forget(digest: DigestParts): Promise<void> {
    this.touched.delete(digestString(digest));
    await unlessMissing(() => this.driver.delete(blobUsePath(digest)));
  }

  /** The time the claim counts from: this write's, or a recent one's of this process. */
  private async touchUnlessRecent(digest: DigestParts): Promise<number> {
    const last = this.touched.get(digestString(digest));
    if (last !== undefined && performance.now() - last < this.linkWindowMs / 2) return last;
    return this.touch(digest);
  }

  private async touch(digest: DigestParts): Promise<number> {
    const at = performance.now();
    await this.driver.putContent(blobUsePath(digest), Buffer.from(new Date().toISOString()));
    this.touched.set(digestString(digest), at);
    return at;
  }

  private async isCondemned(digest: DigestParts): Promise<boolean> {
    const info = await unlessMissing(() => this.driver.stat(blobCondemnedPath(digest), FILE_ONLY));
    if (!info) return false;
    // A marker left by a pass that died is ignored once old (storage clock on both sides).
    const use = await unlessMissing(() => this.driver.stat(blobUsePath(digest), FILE_ONLY));
    return !use || use.modTime.getTime() - info.modTime.getTime() < CONDEMNED_TTL_MS;
  }
}
