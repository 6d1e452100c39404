// Content-addressed blobs and the per-repository links that scope them. A blob's bytes are shared
// by every repository; a repository can only see a blob it has a `_layers` link to.
import type { Writable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import { FILE_ONLY, type StorageDriver } from './driver.js';
import { pathFor, type DigestParts } from './paths.js';
import { digestString, hasLinkTo, unlessMissing, writeLink } from './links.js';
import { BlobUnknownError } from './store-errors.js';
import { GcFence, type Claim } from './gc-fence.js';
import type { BlobDescriptorCache } from './blob-descriptor-cache.js';

export interface BlobDescriptor {
  readonly digest: DigestParts;
  readonly size: number;
  /** The stored content's FileInfo.version, when it was just read from storage (pipeTo reads by it). */
  readonly version?: string;
}

export interface StatBlobOptions {
  /** Read the link and the blob at once (one round trip; a missing link wastes the blob's read). */
  together?: boolean;
  /** A missing link may be answered from one read (GetOptions.quickMiss). */
  quickMiss?: boolean;
}

/**
 * How long a blob HEAD that found nothing is believed in this process (a pusher asks twice in a
 * row: skopeo does). Linking the blob here forgets it at once; elsewhere, the worst is one upload
 * that was not needed.
 */
const MISS_MEMORY_MS = 2_000;
const missKey = (name: string, digest: DigestParts): string => `${name}\u0000${digestString(digest)}`;

export class BlobStore {
  private readonly recentMisses = new LRUCache<string, true>({ max: 10_000, ttl: MISS_MEMORY_MS });

  constructor(
    private readonly driver: StorageDriver,
    private readonly fence: GcFence = new GcFence(driver),
    private readonly cache?: BlobDescriptorCache,
  ) {}

  /** Claims content before checking it exists and linking it, so a concurrent GC pass keeps it (gc-fence.ts). */
  async claim(digests: readonly DigestParts[]): Promise<Claim> {
    return this.fence.claim(digests);
  }

  /** claim(), with an existence check run beside its last reads (GcFence.claimAnd). */
  async claimAnd<T, H = never>(digests: readonly DigestParts[], check: (hint: H | undefined) => Promise<T>, beside?: () => Promise<H>): Promise<{ claim: Claim; checked: T }> {
    return this.fence.claimAnd(digests, check, beside);
  }

  /** A claim about to be relied on for writing links: renewed when it is getting old. */
  async refreshClaim(claim: Claim): Promise<Claim> {
    return this.fence.refresh(claim);
  }

  /** A blob found by a client (HEAD) that may link it next instead of uploading it. */
  async noteRead(digest: DigestParts): Promise<void> {
    await this.fence.noteRead(digest);
  }

  /** Links `from`'s blob into `name`; undefined (nothing linked) when `from` cannot see it. */
  async mount(from: string, name: string, digest: DigestParts): Promise<BlobDescriptor | undefined> {
    const { claim, checked: source } = await this.claimAnd([digest], () => this.stat(from, digest, { together: true }));
    if (!source) return undefined;
    await this.refreshClaim(claim);
    await this.link(name, digest, source.size);
    return source;
  }

  /** Size of the blob in the global store, or undefined when it is not there. */
  async globalSize(digest: DigestParts): Promise<number | undefined> {
    return (await this.globalInfo(digest))?.size;
  }

  private async globalInfo(digest: DigestParts): Promise<{ size: number; version?: string } | undefined> {
    const info = await unlessMissing(() => this.driver.stat(pathFor({ kind: 'blobData', digest }), FILE_ONLY));
    return info && !info.isDir ? info : undefined;
  }

  /** The blob as seen from a repository, asked of storage: it must be linked there and present globally. */
  async stat(name: string, digest: DigestParts, options: StatBlobOptions = {}): Promise<BlobDescriptor | undefined> {
    const info = await this.whenLinked(name, digest, () => this.globalInfo(digest), options);
    return info && { digest, size: info.size, version: info.version };
  }

  /**
   * What `read` finds of the blob, if the repository links it: `read` runs after the link was
   * found, or beside its read with `together` (then `unused` gets what it found for a repository
   * that does not link the blob). The blob descriptor cache learns the answer either way.
   */
  private async whenLinked<T extends { size: number }>(
    name: string,
    digest: DigestParts,
    read: () => Promise<T | undefined>,
    options: StatBlobOptions & { unused?: (found: T) => void } = {},
  ): Promise<T | undefined> {
    const since = this.cache?.now();
    const linked = hasLinkTo(this.driver, pathFor({ kind: 'layerLink', name, digest }), digest, { quickMiss: options.quickMiss });
    const early = options.together ? read() : undefined;
    early?.catch(() => undefined); // awaited below unless the link is missing
    if (!(await linked)) {
      const { unused } = options;
      if (early && unused) void early.then((found) => found && unused(found), () => undefined);
      await this.cache?.forgetLink(name, digest);
      return undefined;
    }
    const found = await (early ?? read());
    if (found === undefined) {
      await this.cache?.forget(digest);
      return undefined;
    }
    if (since !== undefined) await this.cache?.remember(name, digest, found.size, since);
    return found;
  }

  /**
   * The same, answered from the blob descriptor cache when it knows (a blob HEAD). Never for a
   * decision that links content: those ask storage, after their GC claim.
   */
  async cachedStat(name: string, digest: DigestParts): Promise<BlobDescriptor | undefined> {
    if (this.cache && (await this.cache.linked(name, digest))) {
      const size = await this.cache.size(digest);
      if (size !== undefined) return { digest, size };
    }
    // A HEAD that wrongly finds nothing only makes a pusher upload the layer again.
    const key = missKey(name, digest);
    if (this.recentMisses.has(key)) return undefined;
    const found = await this.stat(name, digest, { quickMiss: true });
    if (!found) this.recentMisses.set(key, true);
    return found;
  }

  /**
   * The whole blob as the repository sees it, opened for a pull: the link is read beside the
   * blob's own GET (one round trip), and the bytes count only if the link is there. undefined when
   * the repository has no such blob; null when the driver cannot open in one request (then stat()
   * and pipeTo()).
   */
  async open(name: string, digest: DigestParts): Promise<(BlobDescriptor & { pipeTo(sink: Writable): Promise<void>; cancel(): void }) | undefined | null> {
    const { driver } = this;
    if (!driver.open) return null;
    const path = pathFor({ kind: 'blobData', digest });
    const opened = await this.whenLinked(name, digest, () => unlessMissing(() => driver.open!(path)), { together: true, unused: (o) => o.cancel() });
    return opened && { digest, size: opened.size, version: opened.version, pipeTo: (sink) => opened.pipeTo(sink), cancel: () => opened.cancel() };
  }

  /** Streams the blob (or a range) into sink without ending it; `version` from stat() spares a look. */
  async pipeTo(digest: DigestParts, sink: Writable, offset: number, length: number, version?: string): Promise<void> {
    await this.driver.pipeTo(pathFor({ kind: 'blobData', digest }), sink, { offset, length, version });
  }

  /** Whether the driver may redirect a blob GET at all (redirectUrl). */
  get redirects(): boolean {
    return this.driver.redirectUrl !== undefined;
  }

  /** A URL the client may GET the blob from directly, when the driver offers one for it. */
  async redirectUrl(digest: DigestParts): Promise<string | undefined> {
    return this.driver.redirectUrl?.(pathFor({ kind: 'blobData', digest }), 'GET');
  }

  async getContent(digest: DigestParts): Promise<Buffer> {
    return this.driver.getContent(pathFor({ kind: 'blobData', digest }));
  }

  /** Stores small content (a manifest) whose digest the caller has just computed. */
  async putContent(digest: DigestParts, content: Buffer, known?: { storedSize: number | undefined }): Promise<void> {
    const storedSize = known ? known.storedSize : await this.globalSize(digest);
    if (storedSize === content.length) return;
    await this.driver.putContent(pathFor({ kind: 'blobData', digest }), content);
  }

  /**
   * Moves verified upload data into the content-addressed store; `version` names the content that
   * was verified, and the move refuses if the data no longer has it (see MoveOptions).
   */
  async adopt(sourcePath: string, digest: DigestParts, version?: string, destMissing?: boolean): Promise<void> {
    await this.driver.move(sourcePath, pathFor({ kind: 'blobData', digest }), { version, destMissing });
  }

  /** Whether verified upload data can be copied into the store in one request (StorageDriver.copyVersion). */
  get copies(): boolean {
    return this.driver.copyVersion !== undefined;
  }

  /**
   * Copies verified upload data into the content-addressed store, on condition it still holds
   * `version`, leaving the data (the caller deletes it once it relies on the copy). False, having
   * done nothing, where the driver cannot copy that version in one request: then adopt().
   */
  async copyIn(sourcePath: string, digest: DigestParts, version: string): Promise<boolean> {
    return (await this.driver.copyVersion?.(sourcePath, pathFor({ kind: 'blobData', digest }), version)) ?? false;
  }

  async link(name: string, digest: DigestParts, size?: number): Promise<void> {
    this.recentMisses.delete(missKey(name, digest));
    const since = this.cache?.now();
    await writeLink(this.driver, pathFor({ kind: 'layerLink', name, digest }), digest);
    if (size !== undefined && since !== undefined) await this.cache?.remember(name, digest, size, since);
  }

  /** Removes the repository's link; the bytes stay until garbage collection. */
  async unlink(name: string, digest: DigestParts): Promise<void> {
    const linkPath = pathFor({ kind: 'layerLink', name, digest });
    if (!(await hasLinkTo(this.driver, linkPath, digest))) throw new BlobUnknownError(digestString(digest));
    await this.cache?.forgetLink(name, digest);
    await this.driver.delete(linkPath.slice(0, -'/link'.length));
  }
}
