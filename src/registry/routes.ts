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
import { listTagsByPush, repositoryUsage } from './handlers/page-extensions.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a request asks to do to its repository, for regate.access (the gateway's access step). */
export type RepositoryAction = 'pull' | 'push' | 'delete';

export interface RouteMethod {
  handler: Handler;
  /** The repository right it needs (routes without a repository, base and catalog, have none). */
  action?: RepositoryAction;
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
  { name: 'tags', pattern: new RegExp(`^/v2/${NAME}/tags/list$`), methods: { GET: { handler: listTags, action: 'pull' } } },
  {
    name: 'manifest',
    pattern: new RegExp(`^/v2/${NAME}/manifests/(?<reference>[^/]+)$`),
    methods: {
      GET: { handler: getManifest, action: 'pull' },
      HEAD: { handler: getManifest, action: 'pull' },
      PUT: { handler: putManifest, action: 'push' },
      DELETE: { handler: deleteManifest, deletesContent: true, action: 'delete' },
    },
  },
  { name: 'upload-start', pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/$`), methods: { POST: { handler: startUpload, blobBody: true, action: 'push' } } },
  {
    name: 'upload',
    pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/(?<uuid>[^/]+)$`),
    methods: {
      GET: { handler: uploadStatus, action: 'push' },
      HEAD: { handler: uploadStatus, action: 'push' },
      PATCH: { handler: patchUpload, blobBody: true, action: 'push' },
      PUT: { handler: completeUpload, blobBody: true, action: 'push' },
      DELETE: { handler: cancelUpload, action: 'push' },
    },
  },
  {
    name: 'blob',
    pattern: new RegExp(`^/v2/${NAME}/blobs/(?<digest>[^/]+)$`),
    methods: {
      GET: { handler: getBlob, action: 'pull' },
      HEAD: { handler: getBlob, action: 'pull' },
      DELETE: { handler: deleteBlob, deletesContent: true, action: 'delete' },
    },
  },
  { name: 'referrers', pattern: new RegExp(`^/v2/${NAME}/referrers/(?<digest>[^/]+)$`), methods: { GET: { handler: listReferrers, action: 'pull' } } },
  // regate's own, for the web page (handlers/page-extensions.ts).
  { name: 'tags-by-push', pattern: new RegExp(`^/v2/${NAME}/_regate/tags$`), methods: { GET: { handler: listTagsByPush, action: 'pull' } } },
  { name: 'usage', pattern: new RegExp(`^/v2/${NAME}/_regate/usage$`), methods: { GET: { handler: repositoryUsage, action: 'pull' } } },
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

/**
 * What a request needs from regate.access, from the route table (so the gateway and the registry
 * agree on what the repository is): `catalog` for /v2/_catalog, `base` for /v2/, a repository and
 * action for the rest, `unknown` for a path no route has or a method the route lacks.
 */
export type RequestScope =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'repository'; repository: string; action: RepositoryAction; route: string }
  | { kind: 'unknown' };

export function requestScope(method: string | undefined, path: string): RequestScope {
  const q = path.indexOf('?');
  const match = matchRoute(ROUTES, q < 0 ? path : path.slice(0, q));
  if (!match) return { kind: 'unknown' };
  if (match.route.name === 'base') return { kind: 'base' };
  if (match.route.name === 'catalog') return { kind: 'catalog' };
  const action = match.route.methods[(method ?? 'GET') as Method]?.action;
  const repository = match.params.name;
  if (!action || repository === undefined) return { kind: 'unknown' };
  return { kind: 'repository', repository, action, route: match.route.name };
}

/** The route table's name for a raw path (no query), or undefined when no route has it. */
export function routeName(path: string): string | undefined {
  for (const route of ROUTES) if (route.pattern.test(path)) return route.name;
  return undefined;
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
