// One place that builds the registry-semantics stores over a driver.
import type { StorageDriver } from './driver.js';
import { BlobStore } from './blob-store.js';
import { DEFAULT_LINK_WINDOW_MS, GcFence } from './gc-fence.js';
import type { BlobDescriptorCache } from './blob-descriptor-cache.js';
import { UploadStore } from './upload-store.js';
import { ManifestStore } from './manifest-store.js';
import { TagStore } from './tag-store.js';
import { ReferrerStore } from './referrer-store.js';
import { UsageReports } from './usage-report.js';
import { MirrorPulls } from './mirror-pulls.js';
import { repositoryPage, type CatalogPage, type CatalogPageOptions } from './catalog.js';

export interface RegistryCatalog {
  /** One page in lexical order, costing about what it returns. */
  page(options: CatalogPageOptions): Promise<CatalogPage>;
}

export interface RegistryStorage {
  blobs: BlobStore;
  uploads: UploadStore;
  manifests: ManifestStore;
  tags: TagStore;
  referrerEntries: ReferrerStore;
  catalog: RegistryCatalog;
  /** Bytes per repository from the last GC pass or `regate du`. */
  usage: UsageReports;
  /** When mirrored manifests were last pulled (a GC pass drops what a mirror's ttl let go). */
  mirrorPulls: MirrorPulls;
}

export interface RegistryStorageOptions {
  /** How long a claim protects content from a GC pass (gc-fence.ts); tests shorten it. */
  gcLinkWindowMs?: number;
  /** storage.cache.blobdescriptor: consulted by blob HEADs and pulls, kept current by every write and delete. */
  cache?: BlobDescriptorCache;
}

export function createRegistryStorage(driver: StorageDriver, options: RegistryStorageOptions = {}): RegistryStorage {
  const blobs = new BlobStore(driver, new GcFence(driver, options.gcLinkWindowMs ?? DEFAULT_LINK_WINDOW_MS), options.cache);
  return {
    blobs,
    uploads: new UploadStore(driver, blobs),
    manifests: new ManifestStore(driver, blobs, options.cache),
    tags: new TagStore(driver),
    referrerEntries: new ReferrerStore(driver),
    catalog: { page: (options) => repositoryPage(driver, options) },
    usage: new UsageReports(driver),
    mirrorPulls: new MirrorPulls(driver),
  };
}
