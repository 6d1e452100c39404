// The embedded registry as one request handler: match the route table, run the handler, and turn
// whatever it throws into the spec's error envelope. The gateway mounts it in-process.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StorageDriver } from '../storage/driver.js';
import { createRegistryStorage } from '../storage/registry-storage.js';
import { DEFAULT_LINK_WINDOW_MS } from '../storage/gc-fence.js';
import type { BlobDescriptorCache } from '../storage/blob-descriptor-cache.js';
import type { RegistrySettings, RegistryStores, RequestContext } from './context.js';
import { API_VERSION, API_VERSION_HEADER } from './api-version.js';
import { RegistryError } from './errors.js';
import { toRegistryError } from './error-mapping.js';
import { buildRoutes, matchRoute, type Method, type Route } from './routes.js';
import { ReferrerIndex } from './referrer-index.js';
import { sendError } from './respond.js';
import type { Caller, EventSink } from './events.js';
import type { MirrorsConfig } from '../config/config-types.js';
import { MirrorNames } from './mirror/mirror-names.js';
import { LRUCache } from 'lru-cache';

/** How long whether a repository exists is believed (the default mirror's own-repository check). */
const REPOSITORY_EXISTS_TTL_MS = 5000;
import { PullThrough } from './mirror/pull-through.js';

export interface RegistryLogger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

export const DEFAULT_REGISTRY_SETTINGS: RegistrySettings = {
  manifestMaxBytes: 4 * 1024 * 1024,
  blobMaxBytes: 0,
  deleteEnabled: false,
  readOnly: false,
  redirect: false,
  catalogMaxEntries: 1000,
  gcLinkWindowMs: DEFAULT_LINK_WINDOW_MS,
};

/** What the gateway decided about one request that the registry must honour. */
export interface HandleOptions {
  /** The catalog lists only the repositories this accepts (regate.access). */
  mayList?: (repository: string) => boolean;
  /** Who asked, as the gateway established it (for events). */
  caller?: Caller;
}

export interface Registry {
  handle(req: IncomingMessage, res: ServerResponse, options?: HandleOptions): Promise<void>;
  readonly routes: readonly Route[];
  /** The mirrored namespaces (regate.mirrors, proxy), for the gateway's ns and default routing. */
  readonly mirrors?: MirrorNames;
  /** Stops what the registry keeps open (the mirrors' connections). */
  close?(): void;
  /** Does the repository exist here (pushed, or cached under that name)? */
  hasRepository?(name: string): Promise<boolean>;
}

/** Something that knows whether the storage backend is up (health.storagedriver). */
export interface HealthSource {
  readonly problem: string | undefined;
}

export function createRegistry(driver: StorageDriver, settings: Partial<RegistrySettings>, logger?: RegistryLogger, health?: HealthSource, events?: EventSink, cache?: BlobDescriptorCache, mirrorsConfig?: MirrorsConfig): Registry {
  const full: RegistrySettings = { ...DEFAULT_REGISTRY_SETTINGS, ...settings };
  const storage = createRegistryStorage(driver, { gcLinkWindowMs: full.gcLinkWindowMs, ...(cache ? { cache } : {}) });
  const stores: RegistryStores = { ...storage, referrers: new ReferrerIndex(storage.manifests, storage.referrerEntries) };
  const mirrors = mirrorsConfig ? new PullThrough(new MirrorNames(mirrorsConfig), stores, logger) : undefined;
  const routes = buildRoutes({ deleteEnabled: full.deleteEnabled, readOnly: full.readOnly });

  async function handle(req: IncomingMessage, res: ServerResponse, options: HandleOptions = {}): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
    res.setHeader(API_VERSION_HEADER, API_VERSION);
    const match = matchRoute(routes, path);
    const params = match?.params ?? {};
    try {
      const problem = health?.problem;
      if (problem !== undefined) {
        throw new RegistryError('UNAVAILABLE', { reason: `storage backend (${driver.name}) failed its health check: ${problem}` }, {
          message: 'storage backend unavailable',
          headers: { 'Retry-After': '10' },
        });
      }
      if (!match) {
        throw new RegistryError('UNSUPPORTED', { path }, { status: 404, message: 'no such API endpoint' });
      }
      const method = match.route.methods[(req.method ?? 'GET') as Method];
      if (!method) {
        const allowed = Object.keys(match.route.methods).join(', ');
        throw new RegistryError('UNSUPPORTED', { method: req.method }, {
          message: `${req.method} is not supported here${whyMissing(req.method, full)}`,
          headers: { Allow: allowed },
        });
      }
      if (mirrors && params.name !== undefined && (method.action === 'push' || (method.action === 'delete' && mirrors.names.pullOnly))) refuseMirrorPush(mirrors, params.name);
      const ctx: RequestContext = { req, res, params, query, stores, settings: full, logger, ...(options.mayList ? { mayList: options.mayList } : {}), ...(options.caller ? { caller: options.caller } : {}), ...(events ? { events } : {}), ...(mirrors ? { mirrors } : {}) };
      await method.handler(ctx);
    } catch (err) {
      writeError(req, res, toRegistryError(err, params), logger);
    }
  }

  // Asked for every unprefixed pull when a default mirror is set: kept a few seconds per name.
  const known = new LRUCache<string, boolean>({ max: 10_000, ttl: REPOSITORY_EXISTS_TTL_MS });
  const hasRepository = async (name: string): Promise<boolean> => {
    const cached = known.get(name);
    if (cached !== undefined) return cached;
    const exists = await stores.tags.repositoryExists(name);
    known.set(name, exists);
    return exists;
  };
  return { handle, routes, hasRepository, ...(mirrors ? { mirrors: mirrors.names } : {}), close: () => mirrors?.names.close() };
}

/** A mirror's names are pull-only (all names, with Distribution's proxy section). */
function refuseMirrorPush(mirrors: PullThrough, name: string): void {
  const target = mirrors.target(name);
  if (!target) return;
  const upstream = target.mirror.client.origin.origin;
  throw new RegistryError('UNSUPPORTED', { name, mirror: target.mirror.config.name }, {
    status: 405,
    message: mirrors.names.pullOnly
      ? `this registry is a pull-through cache of ${upstream} (proxy.remoteurl): nothing can be pushed to it or deleted from it`
      : `${name} is in the namespace of the mirror of ${upstream} (regate.mirrors): it cannot be pushed to; push to a name outside ${target.mirror.prefix}`,
  });
}

function writeError(req: IncomingMessage, res: ServerResponse, err: RegistryError, logger?: RegistryLogger): void {
  if (err.status >= 500) logger?.error('request failed', { method: req.method, url: req.url, error: describe(err.cause ?? err) });
  // A success's range header must not describe an error body.
  if (!res.headersSent) res.removeHeader('Content-Range');
  sendError(req, res, err);
}

function whyMissing(method: string | undefined, settings: RegistrySettings): string {
  if (settings.readOnly && method !== 'GET' && method !== 'HEAD') return ' (the registry is in read-only mode)';
  if (!settings.deleteEnabled && method === 'DELETE') return ' (deletes need storage.delete.enabled)';
  return '';
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
