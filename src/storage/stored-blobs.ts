// Every blob stored under blobs/ (manifests included: they are blobs too), found by walking the
// tree: what garbage collection sweeps and what scrub re-hashes.
import type { StorageDriver } from './driver.js';
import { unlessMissing } from './links.js';
import { BLOBS_ROOT, blobDigestOfDataPath, type DigestParts } from './paths.js';

export interface StoredBlob {
  digest: DigestParts;
  size: number;
  modTime: Date;
}

export async function storedBlobs(driver: StorageDriver): Promise<StoredBlob[]> {
  const found: StoredBlob[] = [];
  if (!(await unlessMissing(() => driver.stat(BLOBS_ROOT)))) return found;
  await driver.walk(BLOBS_ROOT, (info) => {
    if (info.isDir) return;
    const digest = blobDigestOfDataPath(info.path);
    if (digest) found.push({ digest, size: info.size, modTime: info.modTime });
  });
  return found;
}
