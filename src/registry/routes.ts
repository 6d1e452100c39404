// The route table: the whole API surface as data. Patterns match the raw (undecoded) path; the
// name is captured loosely and validated by the handler so a bad name is NAME_INVALID, not 404.
// Modes that forbid deletion remove those methods here, so no handler checks a flag.
import type { Handler } from './context.js';
import { apiBase } from './handlers/base.js';
import { deleteBlob, getBlob } from './handlers/blobs.js';
import { cancelUpload, completeUpload, patchUpload, startUpload, uploadStatus } from './handlers/uploads.js';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests.js';
import { listTags } from './handlers/tags.js';
import { listCatalog } from './handlers/catalog.js';
import { listReferrers } from './handlers/referrers.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteMethod {
  handler: Handler;
  /** Deletes repository content: only present when storage.delete.enabled is true. */
  deletesContent?: boolean;
  /** The request carries blob bytes (limited by regate.blobmaxbytes, not the manifest limit). */
  blobBody?: boolean;
}

export interface Route {
  name: string;
  pattern: RegExp;
  methods: Partial<Record<Method, RouteMethod>>;
}

const NAME = '(?<name>.+)';

export const ROUTES: readonly Route[] = [
  { name: 'base', pattern: /^\/v2\/$/, methods: { GET: { handler: apiBase }, HEAD: { handler: apiBase } } },
  { name: 'catalog', pattern: /^\/v2\/_catalog$/, methods: { GET: { handler: listCatalog } } },
  { name: 'tags', pattern: new RegExp(`^/v2/${NAME}/tags/list$`), methods: { GET: { handler: listTags } } },
  {
    name: 'manifest',
    pattern: new RegExp(`^/v2/${NAME}/manifests/(?<reference>[^/]+)$`),
    methods: {
      GET: { handler: getManifest },
      HEAD: { handler: getManifest },
      PUT: { handler: putManifest },
      DELETE: { handler: deleteManifest, deletesContent: true },
    },
  },
  { name: 'upload-start', pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/$`), methods: { POST: { handler: startUpload, blobBody: true } } },
  {
    name: 'upload',
    pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/(?<uuid>[^/]+)$`),
    methods: {
      GET: { handler: uploadStatus },
      PATCH: { handler: patchUpload, blobBody: true },
      PUT: { handler: completeUpload, blobBody: true },
      DELETE: { handler: cancelUpload },
    },
  },
  {
    name: 'blob',
    pattern: new RegExp(`^/v2/${NAME}/blobs/(?<digest>[^/]+)$`),
    methods: { GET: { handler: getBlob }, HEAD: { handler: getBlob }, DELETE: { handler: deleteBlob, deletesContent: true } },
  },
  { name: 'referrers', pattern: new RegExp(`^/v2/${NAME}/referrers/(?<digest>[^/]+)$`), methods: { GET: { handler: listReferrers } } },
];

export interface RouteOptions {
  deleteEnabled: boolean;
  /** storage.maintenance.readonly: only reads remain. */
  readOnly?: boolean;
}

const READ_METHODS = new Set<string>(['GET', 'HEAD']);

export function buildRoutes(options: RouteOptions): Route[] {
  const keep = (method: string, m: RouteMethod): boolean =>
    (options.deleteEnabled || !m.deletesContent) && (!options.readOnly || READ_METHODS.has(method));
  return ROUTES.map((route) => ({
    ...route,
    methods: Object.fromEntries(Object.entries(route.methods).filter(([method, m]) => keep(method, m))) as Route['methods'],
  }));
}

/** Whether a request's body is blob bytes, from the route table (the gateway sizes its limits by it). */
export function carriesBlobBody(method: string | undefined, path: string): boolean {
  const q = path.indexOf('?');
  const match = matchRoute(ROUTES, q < 0 ? path : path.slice(0, q));
  return match?.route.methods[(method ?? 'GET') as Method]?.blobBody === true;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

export function matchRoute(routes: readonly Route[], path: string): RouteMatch | undefined {
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (m) return { route, params: { ...(m.groups ?? {}) } };
  }
  return undefined;
}
