// Scrub: every stored blob (manifests included: they are blobs too) is read back and hashed against
// its digest. Bytes that rotted but kept their size are otherwise never noticed: a re-push of the
// same layer finds a blob of the right size and skips storing it again. With repair, a corrupt blob
// is moved aside (regate/quarantine/…), so the next push of those bytes stores them afresh.
//
// Moving a blob aside goes through the GC fence (gc-fence.ts): condemned first, so a request about
// to link the digest waits and then finds it missing (and uploads it); one that claimed it within
// the link window may be linking it right now, so that blob is left for the next scrub.
import { createHash, randomBytes } from 'node:crypto';
import type { StorageDriver } from './driver.js';
import { CLOCK_SLACK_MS, DEFAULT_LINK_WINDOW_MS, GcFence } from './gc-fence.js';
import { storedBlobs } from './stored-blobs.js';
import type { BlobDescriptorCache } from './blob-descriptor-cache.js';
import { digestString, unlessMissing } from './links.js';
import { pathFor, quarantinePath, type DigestParts } from './paths.js';

export interface ScrubOptions {
  repair?: boolean;
  linkWindowMs?: number;
  /** Called after each blob with bytes hashed so far. */
  onProgress?: (progress: { done: number; total: number; bytes: number; totalBytes: number }) => void;
  /** The blob descriptor cache: a blob moved aside is forgotten there first. */
  cache?: BlobDescriptorCache;
}

export interface CorruptBlob {
  digest: string;
  actual: string;
  size: number;
  /** Where the bytes were moved (repair), or why they were not. */
  movedTo?: string;
  notRepaired?: string;
  /** Gone or intact again by the time repair looked (a push or GC got there first): nothing left to do. */
  resolved?: boolean;
}

export interface ScrubResult {
  blobs: number;
  bytes: number;
  corrupt: CorruptBlob[];
  /** Blobs whose algorithm this process cannot hash (left alone). */
  skipped: number;
}

const HASHES: Record<string, string> = { sha256: 'sha256', sha512: 'sha512' };

export async function scrub(driver: StorageDriver, options: ScrubOptions = {}): Promise<ScrubResult> {
  const blobs = await storedBlobs(driver);
  const totalBytes = blobs.reduce((sum, b) => sum + b.size, 0);
  const result: ScrubResult = { blobs: 0, bytes: 0, corrupt: [], skipped: 0 };
  const fence = new GcFence(driver, options.linkWindowMs ?? DEFAULT_LINK_WINDOW_MS);
  const passId = `scrub-${process.pid}-${randomBytes(6).toString('hex')}`;
  for (const { digest, size } of blobs) {
    const algorithm = HASHES[digest.algorithm];
    if (!algorithm) result.skipped++;
    else {
      const actual = await hashOf(driver, digest, algorithm);
      result.blobs++;
      result.bytes += size;
      if (actual !== undefined && actual !== digest.encoded) {
        const corrupt: CorruptBlob = { digest: digestString(digest), actual: `${digest.algorithm}:${actual}`, size };
        if (options.repair) Object.assign(corrupt, await moveAside(driver, fence, digest, algorithm, passId, options.cache));
        result.corrupt.push(corrupt);
      }
    }
    options.onProgress?.({ done: result.blobs + result.skipped, total: blobs.length, bytes: result.bytes, totalBytes });
  }
  return result;
}

/** The hex digest of the stored bytes; undefined when the blob vanished meanwhile (GC). */
async function hashOf(driver: StorageDriver, digest: DigestParts, algorithm: string): Promise<string | undefined> {
  const hash = createHash(algorithm);
  const reader = await unlessMissing(() => driver.reader(pathFor({ kind: 'blobData', digest })));
  if (!reader) return undefined;
  for await (const chunk of reader) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function moveAside(driver: StorageDriver, fence: GcFence, digest: DigestParts, algorithm: string, passId: string, cache?: BlobDescriptorCache): Promise<Pick<CorruptBlob, 'movedTo' | 'notRepaired' | 'resolved'>> {
  await fence.condemn(digest, passId);
  try {
    const claimed = await fence.lastClaim(digest);
    const now = await fence.storageNow();
    if (claimed && now.getTime() - claimed.getTime() < fence.linkWindowMs + CLOCK_SLACK_MS) {
      return { notRepaired: 'a request is linking it right now; run scrub again' };
    }
    // A push may have stored good bytes since they were hashed: check again under the fence.
    const actual = await hashOf(driver, digest, algorithm);
    if (actual === undefined) return { notRepaired: 'gone meanwhile', resolved: true };
    if (actual === digest.encoded) return { notRepaired: 'stored again meanwhile, now intact', resolved: true };
    const target = quarantinePath(digest, new Date());
    await cache?.forget(digest);
    await driver.move(pathFor({ kind: 'blobData', digest }), target);
    return { movedTo: target };
  } finally {
    await fence.release(digest, passId);
  }
}
