// Manifest revisions: the manifest bytes live in the blob store, a repository owns a revision
// through `_manifests/revisions/<alg>/<hex>/link`.
import type { StorageDriver } from './driver.js';
import { PathNotFoundError } from './driver.js';
import { pathFor, type DigestParts } from './paths.js';
import { digestString, hasLinkTo, unlessMissing, writeLink } from './links.js';
import { LRUCache } from 'lru-cache';
import { createHash } from 'node:crypto';
import type { BlobStore } from './blob-store.js';
import type { BlobDescriptorCache } from './blob-descriptor-cache.js';

/**
 * The name a repository's manifest revisions go by in the blob descriptor cache, apart from its
 * layers: a path component cannot start with `_`, so no repository has this name.
 */
const revisionsIn = (name: string): string => `${name}/_manifests`;

/**
 * Manifest bytes kept in memory, by digest: content-addressed, so never stale; what a repository
 * may see is still decided by its revision link, read every time unless the blob descriptor
 * cache knows it (as it knows a layer's link for a blob HEAD or pull). Bounded by bytes.
 */
const CONTENT_CACHE_BYTES = 32 * 1024 * 1024;

export class ManifestStore {
  private readonly contents = new LRUCache<string, Buffer>({ maxSize: CONTENT_CACHE_BYTES, sizeCalculation: (b) => Math.max(1, b.length) });

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly cache?: BlobDescriptorCache,
  ) {}

  async exists(name: string, digest: DigestParts): Promise<boolean> {
    return hasLinkTo(this.driver, pathFor({ kind: 'manifestRevisionLink', name, digest }), digest);
  }

  /** The manifest bytes, or undefined when the repository has no such revision. */
  async get(name: string, digest: DigestParts): Promise<Buffer | undefined> {
    const key = digestString(digest);
    const cached = this.contents.get(key);
    // The revision known to the blob descriptor cache and the bytes in memory: no request at all.
    const since = this.cache?.now();
    if (cached && (await this.cache?.linked(revisionsIn(name), digest))) return cached;
    // Both reads at once (one round trip); the bytes count only if the repository has the revision.
    const content = cached ? Promise.resolve(cached) : unlessMissing(() => this.blobs.getContent(digest));
    content.catch(() => undefined); // awaited below unless the revision is missing
    if (!(await this.exists(name, digest))) {
      await this.cache?.forgetLink(revisionsIn(name), digest);
      return undefined;
    }
    const bytes = await content;
    if (bytes && !cached && digestMatches(digest, bytes)) this.contents.set(key, bytes);
    if (bytes && since !== undefined) await this.cache?.remember(revisionsIn(name), digest, bytes.length, since);
    return bytes;
  }

  /** `storedSize`: the size the bytes are stored at, when the caller just read it (undefined: not stored). */
  async put(name: string, digest: DigestParts, content: Buffer, known?: { storedSize: number | undefined }): Promise<void> {
    await this.blobs.putContent(digest, content, known);
    const since = this.cache?.now();
    await writeLink(this.driver, pathFor({ kind: 'manifestRevisionLink', name, digest }), digest);
    if (digestMatches(digest, content)) this.contents.set(digestString(digest), content);
    if (since !== undefined) await this.cache?.remember(revisionsIn(name), digest, content.length, since);
  }

  /** Returns false when the repository had no such revision. */
  async delete(name: string, digest: DigestParts): Promise<boolean> {
    // Forgotten before and after: a read racing the delete may have found the revision still there
    // and remembered it after the first forget.
    await this.cache?.forgetLink(revisionsIn(name), digest);
    if (!(await this.exists(name, digest))) return false;
    try {
      await this.driver.delete(pathFor({ kind: 'manifestRevisionDir', name, digest }));
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    } finally {
      await this.cache?.forgetLink(revisionsIn(name), digest);
    }
    return true;
  }

  /**
   * Whether the repository may hold a revision: one listing of the revisions root, however many
   * there are. May say true for a repository whose revisions were all deleted (an empty algorithm
   * directory stays on a filesystem), never false for one that has some.
   */
  async mayHaveRevisions(name: string): Promise<boolean> {
    const algorithms = await unlessMissing(() => this.driver.list(pathFor({ kind: 'manifestRevisionsRoot', name })));
    return algorithms !== undefined && algorithms.length > 0;
  }

  /** Every revision digest of the repository (order unspecified; listings may lag writes). */
  async revisions(name: string): Promise<DigestParts[]> {
    const root = pathFor({ kind: 'manifestRevisionsRoot', name });
    const algorithms = (await unlessMissing(() => this.driver.list(root))) ?? [];
    const result: DigestParts[] = [];
    for (const algorithmDir of algorithms) {
      const algorithm = algorithmDir.slice(algorithmDir.lastIndexOf('/') + 1);
      const entries = (await unlessMissing(() => this.driver.list(algorithmDir))) ?? [];
      for (const entry of entries) result.push({ algorithm, encoded: entry.slice(entry.lastIndexOf('/') + 1) });
    }
    return result;
  }
}

/** Only bytes that are what their digest says are kept (stored bytes may have rotted). */
function digestMatches(digest: DigestParts, bytes: Buffer): boolean {
  if (digest.algorithm !== 'sha256' && digest.algorithm !== 'sha512') return false;
  return createHash(digest.algorithm).update(bytes).digest('hex') === digest.encoded;
}
