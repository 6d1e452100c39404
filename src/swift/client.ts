// The Swift client: one container, one token source, one keep-alive pool. Every request that can
// be replayed (no streamed body) is retried with backoff on network errors, 5xx, 429 and 498, and
// with a fresh token on 401, up to MAX_RENEWALS times about a second apart (right after a Keystone
// revocation fresh tokens can be refused for a moment). Streamed uploads live in streaming-put.ts
// and reuse the same session handling.
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { MAX_RENEWALS, SECOND_RENEWAL_DELAY_MS, TokenSource, type SwiftSession } from './auth.js';
import { SwiftHttpError, isTransientError } from './errors.js';
import { createAgents, discard, header, readBody, send, type HttpAgents } from './http.js';
import { DEFAULT_IDLE_TIMEOUT_MS, type SwiftOptions } from './swift-options.js';

export interface ObjectInfo {
  readonly name: string;
  readonly bytes: number;
  readonly lastModified: Date;
  readonly etag: string | undefined;
  /** `X-Object-Manifest` of a dynamic large object (its own headers, read with multipart-manifest=get). */
  readonly dloManifest: string | undefined;
  readonly isSlo: boolean;
  /** X-Object-Meta-* headers, keys lower-cased without the prefix. */
  readonly meta: Record<string, string>;
}

export interface ListingEntry {
  readonly name: string;
  readonly bytes: number;
  readonly lastModified: Date;
  /** A pseudo-directory (a `subdir` entry of a delimited listing); name ends with the delimiter. */
  readonly isSubdir: boolean;
}

export interface ListOptions {
  prefix?: string;
  delimiter?: string;
  marker?: string;
  endMarker?: string;
  limit?: number;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Hooks for fault-injection tests: called before every request leaves. */
export interface SwiftClientHooks {
  beforeRequest?(method: string, object: string | undefined, query: string): void | Promise<void>;
  /** May rewrite a listing page (a lagging listing). */
  filterListing?(entries: ListingEntry[], options: ListOptions): ListingEntry[];
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 100, maxDelayMs: 3000 };


export function encodeObjectName(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function backoff(attempt: number, policy: RetryPolicy): number {
  const base = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

function parseDate(value: string | undefined, timestamp?: string): Date {
  if (value) {
    const t = Date.parse(value);
    if (Number.isFinite(t)) return new Date(t);
  }
  // RGW sometimes omits Last-Modified on HEAD; X-Timestamp is seconds since the epoch.
  const ts = Number(timestamp);
  return Number.isFinite(ts) && ts > 0 ? new Date(ts * 1000) : new Date(0);
}

export function objectInfo(name: string, headers: IncomingHttpHeaders): ObjectInfo {
  const meta: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith('x-object-meta-') && typeof value === 'string') meta[key.slice('x-object-meta-'.length)] = value;
  }
  return {
    name,
    bytes: Number(header(headers, 'content-length') ?? 0),
    lastModified: parseDate(header(headers, 'last-modified'), header(headers, 'x-timestamp')),
    etag: header(headers, 'etag')?.replace(/"/g, ''),
    dloManifest: header(headers, 'x-object-manifest'),
    isSlo: header(headers, 'x-static-large-object') === 'True' || header(headers, 'x-static-large-object') === 'true',
    meta,
  };
}

export class SwiftClient {
  readonly tokens: TokenSource;
  readonly agents: HttpAgents;
  readonly container: string;
  retry: RetryPolicy = DEFAULT_RETRY;
  hooks: SwiftClientHooks = {};
  #containerReady: Promise<void> | undefined;

  /** No bytes at all on a connection for this long is a stalled backend. */
  readonly idleTimeoutMs: number;

  constructor(readonly options: SwiftOptions) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.agents = createAgents(options.maxSockets, options.insecureSkipVerify);
    this.tokens = new TokenSource(options, this.agents);
    this.container = options.container;
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  url(session: SwiftSession, object?: string, query = ''): URL {
    const base = session.storageUrl.replace(/\/+$/, '');
    const path = object === undefined ? `/${encodeURIComponent(this.container)}` : `/${encodeURIComponent(this.container)}/${encodeObjectName(object)}`;
    return new URL(`${base}${path}${query ? `?${query}` : ''}`);
  }

  /**
   * One request with retries; resolves with the response whose status is not a retryable failure
   * (the caller reads or discards its body). `ok` lists the statuses the caller handles itself.
   */
  async request(
    method: string,
    object: string | undefined,
    options: { query?: string; headers?: OutgoingHttpHeaders; body?: Buffer; ok?: readonly number[]; accountLevel?: boolean } = {},
  ): Promise<IncomingMessage> {
    const ok = options.ok ?? [];
    const target = object ?? `(container ${this.container})`;
    let session = await this.tokens.session();
    let renewals = 0;
    for (let attempt = 0; ; attempt++) {
      let failure: unknown;
      try {
        await this.hooks.beforeRequest?.(method, object, options.query ?? '');
        const url = options.accountLevel ? new URL(`${session.storageUrl.replace(/\/+$/, '')}${options.query ? `?${options.query}` : ''}`) : this.url(session, object, options.query);
        const res = await send(url, this.agents, {
          method,
          headers: { ...options.headers, 'x-auth-token': session.token },
          body: options.body,
          timeoutMs: this.idleTimeoutMs,
        });
        const status = res.statusCode ?? 0;
        if (status === 401 && renewals < MAX_RENEWALS) {
          await discard(res);
          if (renewals++ > 0) await sleep(SECOND_RENEWAL_DELAY_MS);
          session = await this.tokens.renew(session);
          attempt--;
          continue;
        }
        if ((status >= 200 && status < 300) || ok.includes(status)) return res;
        const detail = status >= 400 && method !== 'HEAD' ? (await readBody(res, 4096).catch(() => Buffer.alloc(0))).toString('utf8').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200) : (await discard(res), '');
        failure = new SwiftHttpError(status, method, target, detail);
      } catch (err) {
        failure = err;
      }
      if (!isTransientError(failure) || attempt + 1 >= this.retry.attempts) throw failure;
      await sleep(backoff(attempt, this.retry));
    }
  }

  /** Creates the container when it is missing (once per process). */
  ensureContainer(): Promise<void> {
    this.#containerReady ??= (async () => {
      const head = await this.request('HEAD', undefined, { ok: [404] });
      await discard(head);
      if (head.statusCode === 404) await discard(await this.request('PUT', undefined));
    })().catch((err) => {
      this.#containerReady = undefined;
      throw err;
    });
    return this.#containerReady;
  }

  /** HEAD an object; undefined when it does not exist. `manifestGet` reads a large object's own manifest. */
  async head(object: string, manifestGet = true): Promise<ObjectInfo | undefined> {
    const res = await this.request('HEAD', object, { query: manifestGet ? 'multipart-manifest=get' : '', ok: [404] });
    await discard(res);
    if (res.statusCode === 404) return undefined;
    return objectInfo(object, res.headers);
  }

  /** GET an object's bytes (or a range); undefined when it does not exist. The caller consumes the body. */
  async get(object: string, options: { start?: number; end?: number; manifestGet?: boolean } = {}): Promise<IncomingMessage | undefined> {
    const headers: OutgoingHttpHeaders = {};
    if (options.start !== undefined || options.end !== undefined) headers.range = `bytes=${options.start ?? 0}-${options.end ?? ''}`;
    const res = await this.request('GET', object, { headers, query: options.manifestGet ? 'multipart-manifest=get' : '', ok: [404, 416] });
    if (res.statusCode === 404) {
      await discard(res);
      return undefined;
    }
    return res;
  }

  async getBuffer(object: string): Promise<Buffer | undefined> {
    const res = await this.get(object);
    if (!res) return undefined;
    if (res.statusCode === 416) {
      await discard(res);
      return Buffer.alloc(0);
    }
    return readBody(res);
  }

  async put(object: string, body: Buffer, headers: OutgoingHttpHeaders = {}): Promise<IncomingMessage> {
    const res = await this.request('PUT', object, { body, headers: { 'content-type': 'application/octet-stream', ...headers } });
    await discard(res);
    return res;
  }

  /** Server-side copy of the source's bytes (a large object's joined segments); false when it does not exist. */
  async copy(source: string, dest: string, headers: OutgoingHttpHeaders = {}): Promise<boolean> {
    const res = await this.request('PUT', dest, {
      headers: { 'x-copy-from': `/${encodeURIComponent(this.container)}/${encodeObjectName(source)}`, ...headers },
      ok: [404],
    });
    await discard(res);
    return res.statusCode !== 404;
  }

  /** True when this call deleted the object, false when it was not there. */
  async delete(object: string): Promise<boolean> {
    const res = await this.request('DELETE', object, { ok: [404] });
    await discard(res);
    return res.statusCode !== 404;
  }

  /** One listing page (JSON). */
  async listPage(options: ListOptions): Promise<ListingEntry[]> {
    const q = new URLSearchParams({ format: 'json' });
    if (options.prefix) q.set('prefix', options.prefix);
    if (options.delimiter) q.set('delimiter', options.delimiter);
    if (options.marker) q.set('marker', options.marker);
    if (options.endMarker) q.set('end_marker', options.endMarker);
    if (options.limit) q.set('limit', String(options.limit));
    const res = await this.request('GET', undefined, { query: q.toString(), ok: [404] });
    if (res.statusCode === 404 || res.statusCode === 204) {
      await discard(res);
      return [];
    }
    const body = await readBody(res);
    const raw: any[] = body.length === 0 ? [] : JSON.parse(body.toString('utf8'));
    const entries = raw.map((e): ListingEntry =>
      typeof e.subdir === 'string'
        ? { name: e.subdir, bytes: 0, lastModified: new Date(0), isSubdir: true }
        : { name: String(e.name), bytes: Number(e.bytes ?? 0), lastModified: parseDate(e.last_modified ? `${e.last_modified}Z`.replace(/ZZ$/, 'Z') : undefined), isSubdir: false },
    );
    return this.hooks.filterListing ? this.hooks.filterListing(entries, options) : entries;
  }

  /** Every entry, following `marker` across pages (containers of more than 10,000 objects). */
  async *list(options: ListOptions): AsyncGenerator<ListingEntry> {
    let marker = options.marker;
    const limit = options.limit ?? 10_000;
    for (;;) {
      const page = await this.listPage({ ...options, marker, limit });
      for (const entry of page) yield entry;
      if (page.length < limit) return;
      marker = page[page.length - 1]!.name;
    }
  }

  /** Cluster capabilities: OpenStack Swift at /info, Ceph RGW at /swift/info. */
  async info(): Promise<Record<string, any>> {
    const session = await this.tokens.session();
    const root = new URL(session.storageUrl);
    const candidates = [root.pathname.replace(/\/v1\/.*$/, '/info'), '/info', '/swift/info'];
    for (const path of [...new Set(candidates)]) {
      const res = await send(new URL(path, root), this.agents, { method: 'GET', timeoutMs: 10_000 }).catch(() => undefined);
      if (!res) continue;
      if (res.statusCode === 200) {
        try {
          return JSON.parse((await readBody(res, 1024 * 1024)).toString('utf8'));
        } catch {
          continue;
        }
      }
      await discard(res);
    }
    return {};
  }

  /** Bulk delete (Swift's bulk middleware); returns false when the cluster does not offer it. */
  async bulkDelete(objects: string[]): Promise<boolean> {
    if (objects.length === 0) return true;
    const body = Buffer.from(objects.map((o) => `/${encodeURIComponent(this.container)}/${encodeObjectName(o)}`).join('\n') + '\n');
    const res = await this.request('POST', undefined, {
      accountLevel: true,
      query: 'bulk-delete',
      body,
      headers: { 'content-type': 'text/plain', accept: 'application/json' },
      ok: [400, 404, 405, 501],
    });
    const text = (await readBody(res).catch(() => Buffer.alloc(0))).toString('utf8');
    if (res.statusCode !== 200) return false;
    try {
      const result = JSON.parse(text);
      const errors: unknown[] = Array.isArray(result?.Errors) ? result.Errors : [];
      // 404s inside a bulk delete are fine: listings lag and someone else may have deleted first.
      const real = errors.filter((e) => !(Array.isArray(e) && String(e[1]).startsWith('404')));
      if (real.length > 0) throw new SwiftHttpError(500, 'POST', 'bulk-delete', `${real.length} objects not deleted: ${JSON.stringify(real[0]).slice(0, 200)}`);
      return true;
    } catch (err) {
      if (err instanceof SwiftHttpError) throw err;
      return false;
    }
  }
}
