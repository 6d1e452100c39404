// What every handler receives: the raw request and response, the matched path parameters, the
// query, and the stores. Handlers never see the driver.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlobStore } from '../storage/blob-store.js';
import type { UploadStore } from '../storage/upload-store.js';
import type { ManifestStore } from '../storage/manifest-store.js';
import type { TagStore } from '../storage/tag-store.js';
import type { RegistryCatalog } from '../storage/registry-storage.js';
import type { UsageReports } from '../storage/usage-report.js';
import type { MirrorPulls } from '../storage/mirror-pulls.js';
import type { ReferrerIndex } from './referrer-index.js';
import type { Caller, EventSink } from './events.js';
import type { PullThrough } from './mirror/pull-through.js';

/** Where handlers report what the client is not told (a failed redirect that fell back). */
export interface HandlerLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
}

export interface RegistrySettings {
  /** Largest manifest accepted on PUT, in bytes. */
  manifestMaxBytes: number;
  /** Largest blob accepted, in bytes; 0 is unlimited. */
  blobMaxBytes: number;
  /** Whether manifests and blobs may be deleted (storage.delete.enabled). */
  deleteEnabled: boolean;
  /** Serve reads only (storage.maintenance.readonly.enabled). */
  readOnly: boolean;
  /** Blob GETs may answer 307 to a URL the driver gives (storage.redirect, Swift TempURLs). */
  redirect: boolean;
  /** Most entries one catalog page returns. */
  catalogMaxEntries: number;
  /** How long a claim protects linked content from a GC pass (storage/gc-fence.ts); tests shorten it. */
  gcLinkWindowMs: number;
}

export interface RegistryStores {
  blobs: BlobStore;
  uploads: UploadStore;
  manifests: ManifestStore;
  tags: TagStore;
  catalog: RegistryCatalog;
  referrers: ReferrerIndex;
  usage: UsageReports;
  mirrorPulls: MirrorPulls;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Path parameters exactly as they appeared in the URL (never percent-decoded). */
  params: Record<string, string>;
  query: URLSearchParams;
  stores: RegistryStores;
  settings: RegistrySettings;
  logger?: HandlerLogger;
  /** The catalog lists only what this accepts (the gateway's regate.access). */
  mayList?: (repository: string) => boolean;
  /** Who asked (the gateway's request id, user, client address), for events. */
  caller?: Caller;
  /** Where pushes, pulls and deletes are reported (notifications); absent = nobody listens. */
  events?: EventSink;
  /** The pull-through cache of mirrored names (regate.mirrors, proxy); absent = none configured. */
  mirrors?: PullThrough;
}

export type Handler = (ctx: RequestContext) => Promise<void>;
