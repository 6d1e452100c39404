// The registry's own API, from the page: same origin, same credentials as the page itself, so a
// user sees and may do exactly what the API lets them. Errors come back in the spec's envelope.
// Every request says it is the page's (X-Regate-Page: a 401 then carries no Basic challenge, so the
// page shows its own sign-in form) and a change carries the session's CSRF token.

/** The session's CSRF token, once signed in with the form. */
let csrf: string | undefined;

function call(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('X-Regate-Page', '1');
  const method = (init.method ?? 'GET').toUpperCase();
  if (csrf !== undefined && method !== 'GET' && method !== 'HEAD') headers.set('X-Regate-Csrf', csrf);
  return fetch(path, { ...init, headers, credentials: 'same-origin' });
}

export interface SignedIn {
  /** null when the registry has no users (auth is off). */
  user: string | null;
  by: 'session' | 'basic' | 'none';
  expiresAt?: string;
}

/** Who the page is signed in as; undefined when nobody is (the page then shows its form). */
export async function whoAmI(): Promise<SignedIn | undefined> {
  const res = await call('/ui/session');
  if (res.status === 401) return undefined;
  if (!res.ok) throw await failure(res);
  const body = (await res.json()) as SignedIn & { csrf?: string };
  csrf = body.csrf;
  return body;
}

/** Signs in with the form; an ApiError says why not (401 wrong, 429 throttled). */
export async function signIn(user: string, password: string): Promise<SignedIn> {
  const res = await call('/ui/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user, password }) });
  if (!res.ok) throw await failure(res);
  const body = (await res.json()) as { user: string; csrf: string; expiresAt: string };
  csrf = body.csrf;
  return { user: body.user, by: 'session', expiresAt: body.expiresAt };
}

export async function signOut(): Promise<void> {
  const res = await call('/ui/logout', { method: 'POST' });
  csrf = undefined;
  if (!res.ok && res.status !== 401) throw await failure(res);
}

export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

export const INDEX_TYPES = new Set([MANIFEST_TYPES[0], MANIFEST_TYPES[2]]);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { errors?: Array<{ code?: string; message?: string }> };
    const first = body.errors?.[0];
    if (first) message = `${first.code ?? res.status}: ${first.message ?? ''}`;
  } catch {
    // not the envelope: the status says enough
  }
  return new ApiError(res.status, message);
}

/** A repository name, each component encoded (the name keeps its slashes). */
export function repoPath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

/** A tag or digest in a path: encoded, but a digest keeps its colon (the registry reads it as is). */
export function refPath(reference: string): string {
  return encodeURIComponent(reference).replace(/%3A/gi, ':');
}

/** The `last` of a Link: <…?last=X&n=N>; rel="next" header, when there is a next page. */
export function nextLast(res: Response): string | undefined {
  const link = res.headers.get('link');
  const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
  if (!m) return undefined;
  return new URL(m[1]!, location.origin).searchParams.get('last') ?? undefined;
}

export interface Page<T> {
  items: T[];
  next: string | undefined;
}

export async function catalogPage(n: number, last?: string): Promise<Page<string>> {
  const query = new URLSearchParams({ n: String(n) });
  if (last !== undefined) query.set('last', last);
  const res = await call(`/v2/_catalog?${query}`);
  if (!res.ok) throw await failure(res);
  const body = (await res.json()) as { repositories?: string[] | null };
  return { items: body.repositories ?? [], next: nextLast(res) };
}

/**
 * Repositories whose name starts with `prefix`, from the catalog's own order: the page starts just
 * before the prefix (`last` is the prefix without its last character, then the highest character a
 * name may hold) and ends at the first name that no longer starts with it, so a search costs what it
 * returns however many repositories there are.
 */
export async function searchRepositories(prefix: string, n: number, after?: string): Promise<Page<string>> {
  // A trailing slash is left out of the start: registries order "/" differently (Distribution sorts
  // it before every other character), and every name that starts with "team/" follows "team".
  const base = prefix.replace(/\/+$/, '');
  const start = after ?? (base.length > 0 ? `${base.slice(0, -1)}${String.fromCharCode(base.charCodeAt(base.length - 1) - 1)}~` : undefined);
  const page = await catalogPage(n, start);
  const items = page.items.filter((name) => name.startsWith(prefix));
  const ended = items.length < page.items.length;
  return { items, next: ended ? undefined : page.next };
}

/** A tag and its last push, from regate's own tags-by-push endpoint. */
export interface TagPush {
  tag: string;
  pushedAt: string;
}

/**
 * Tags newest push first, across pages (regate's `_regate/tags`); undefined where the registry
 * does not have it (in front of another registry).
 */
export async function tagsByPush(name: string, n: number, last?: string): Promise<(Page<TagPush> & { total: number }) | undefined> {
  const query = new URLSearchParams({ n: String(n) });
  if (last !== undefined) query.set('last', last);
  const res = await call(`/v2/${repoPath(name)}/_regate/tags?${query}`);
  if (res.status === 404 && !(await isNameUnknown(res))) return undefined;
  if (!res.ok) throw await failure(res);
  const body = (await res.json()) as { tags: TagPush[]; total: number };
  return { items: body.tags, next: nextLast(res), total: body.total };
}

async function isNameUnknown(res: Response): Promise<boolean> {
  const copy = res.clone();
  try {
    const body = (await copy.json()) as { errors?: Array<{ code?: string }> };
    return body.errors?.[0]?.code === 'NAME_UNKNOWN';
  } catch {
    return false;
  }
}

export interface RepositoryUsage {
  measured: boolean;
  measuredAt?: string;
  by?: 'gc' | 'du';
  unique?: number;
  shared?: number;
  blobs?: number;
}

/** Bytes the repository holds, from the last GC pass or `regate du`; undefined where not offered. */
export async function repositoryUsage(name: string): Promise<RepositoryUsage | undefined> {
  const res = await call(`/v2/${repoPath(name)}/_regate/usage`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw await failure(res);
  return (await res.json()) as RepositoryUsage;
}

export async function tagsPage(name: string, n: number, last?: string): Promise<Page<string>> {
  const query = new URLSearchParams({ n: String(n) });
  if (last !== undefined) query.set('last', last);
  const res = await call(`/v2/${repoPath(name)}/tags/list?${query}`);
  if (!res.ok) throw await failure(res);
  const body = (await res.json()) as { tags?: string[] | null };
  return { items: body.tags ?? [], next: nextLast(res) };
}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string; variant?: string };
}

export interface Manifest {
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  size: number;
  manifest: Manifest;
}

export async function getManifest(name: string, reference: string): Promise<FetchedManifest> {
  const res = await call(`/v2/${repoPath(name)}/manifests/${refPath(reference)}`, { headers: { Accept: MANIFEST_TYPES.join(', ') } });
  if (!res.ok) throw await failure(res);
  const text = await res.text();
  return {
    digest: res.headers.get('docker-content-digest') ?? reference,
    mediaType: (res.headers.get('content-type') ?? '').split(';')[0]!.trim(),
    size: new TextEncoder().encode(text).length,
    manifest: JSON.parse(text) as Manifest,
  };
}

export interface ImageConfig {
  created?: string;
  architecture?: string;
  os?: string;
  config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; Labels?: Record<string, string> | null; WorkingDir?: string; User?: string };
  history?: Array<{ created?: string; created_by?: string; empty_layer?: boolean; comment?: string }>;
}

export async function getConfig(name: string, digest: string): Promise<ImageConfig> {
  const res = await call(`/v2/${repoPath(name)}/blobs/${refPath(digest)}`);
  if (!res.ok) throw await failure(res);
  return (await res.json()) as ImageConfig;
}

export async function getReferrers(name: string, digest: string): Promise<Descriptor[]> {
  const res = await call(`/v2/${repoPath(name)}/referrers/${refPath(digest)}`);
  if (!res.ok) throw await failure(res);
  const body = (await res.json()) as { manifests?: Descriptor[] };
  return body.manifests ?? [];
}

/** The digest a tag points at now (a HEAD), or undefined when the tag is gone. */
export async function tagDigest(name: string, tag: string): Promise<string | undefined> {
  const res = await call(`/v2/${repoPath(name)}/manifests/${refPath(tag)}`, { method: 'HEAD', headers: { Accept: MANIFEST_TYPES.join(', ') } });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new ApiError(res.status, `${res.status} ${res.statusText}`);
  return res.headers.get('docker-content-digest') ?? undefined;
}

/**
 * DELETE of a tag (the tag alone, OCI 1.1) or of a manifest by digest (it and every tag on it).
 * Not a simple request, so another site cannot make a browser send it (no CORS is granted).
 */
export async function deleteManifest(name: string, reference: string): Promise<void> {
  const res = await call(`/v2/${repoPath(name)}/manifests/${refPath(reference)}`, { method: 'DELETE' });
  if (!res.ok) throw await failure(res);
}
