// Manifest revisions: the manifest bytes live in the blob store, a repository owns a revision
// through `_manifests/revisions/<alg>/<hex>/link`.
import type { StorageDriver } from './driver.js';
import { PathNotFoundError } from './driver.js';
import { pathFor, type DigestParts } from './paths.js';
import { digestString, hasLinkTo, unlessMissing, writeLink } from './links.js';
import { LRUCache } from 'lru-cache';
import { createHash } from 'node:crypto';
import type { BlobStore } from './blob-store.js';

/**
 * Manifest bytes kept in memory, by digest: content-addressed, so never stale; what a repository
 * may see is still decided by its revision link, read every time. Bounded by bytes.
 */
const CONTENT_CACHE_BYTES = 32 * 1024 * 1024;

export class ManifestStore {
  private readonly contents = new LRUCache<string, Buffer>({ maxSize: CONTENT_CACHE_BYTES, sizeCalculation: (b) => Math.max(1, b.length) });

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
  ) {}

  async exists(name: string, digest: DigestParts): Promise<boolean> {
    return hasLinkTo(this.driver, pathFor({ kind: 'manifestRevisionLink', name, digest }), digest);
  }

  /** The manifest bytes, or undefined when the repository has no such revision. */
  async get(name: string, digest: DigestParts): Promise<Buffer | undefined> {
    const key = digestString(digest);
    const cached = this.contents.get(key);
    // Both reads at once (one round trip); the bytes count only if the repository has the revision.
    const content = cached ? Promise.resolve(cached) : unlessMissing(() => this.blobs.getContent(digest));
    content.catch(() => undefined); // awaited below unless the revision is missing
    if (!(await this.exists(name, digest))) return undefined;
    const bytes = await content;
    if (bytes && !cached && digestMatches(digest, bytes)) this.contents.set(key, bytes);
    return bytes;
  }

  /** `storedSize`: the size the bytes are stored at, when the caller just read it (undefined: not stored). */
  async put(name: string, digest: DigestParts, content: Buffer, known?: { storedSize: number | undefined }): Promise<void> {
    await this.blobs.putContent(digest, content, known);
    await writeLink(this.driver, pathFor({ kind: 'manifestRevisionLink', name, digest }), digest);
    if (digestMatches(digest, content)) this.contents.set(digestString(digest), content);
  }

  /** Returns false when the repository had no such revision. */
  async delete(name: string, digest: DigestParts): Promise<boolean> {
    if (!(await this.exists(name, digest))) return false;
    try {
      await this.driver.delete(pathFor({ kind: 'manifestRevisionDir', name, digest }));
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
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
