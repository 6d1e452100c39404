// Upstream mode: the gateway's step 7 forwards /v2/ to an existing registry through http-proxy
// instead of the embedded one, behind the same front door (TLS, auth, ping, limits, logs).
//
// What the request gets on its way up: the client's Host (as seed 004's nginx passed $http_host),
// X-Forwarded-For / X-Real-IP (the peer's address: a client's own X-Forwarded-For is not believed,
// unless the peer is one of regate.http.trustedproxies: then the hops they vouch for are kept and
// the peer appended), X-Forwarded-Proto and X-Forwarded-Host; the client's
// Authorization is dropped unless configured (seed 004: `proxy_set_header Authorization ""`), or
// replaced by the gateway's own upstream credentials. `Expect` is not forwarded: the gateway has
// already said 100 Continue.
//
// What the response gets on its way down: a Location that points at the upstream's own address is
// rewritten to the address the client used; the upstream's Docker-Distribution-Api-Version gives
// way to the gateway's (never two); an upstream 401 becomes a 502 (the client already passed the
// gateway's auth, and a second realm would only make it retry its password). Bodies stream both
// ways with backpressure; a client that goes away aborts the upstream request, and an upstream that
// sends nothing for idletimeout is cut. A chunked body over the gateway's limits is cut with 413.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type ServerResponse, type ClientRequest, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import httpProxy from 'http-proxy';
import type { UpstreamConfig } from '../config/config-types.js';
import type { Logger } from '../log/logger.js';
import { RegistryError } from '../registry/errors.js';
import { nextPageLink, parseLimit } from '../registry/pagination.js';
import { sendError } from '../registry/respond.js';
import { bodyLimitFor, type BodyLimits } from './limits.js';
import { addressesOf, rawPath } from './request-state.js';
import { clientAddress, forwardedFor } from './client-address.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1) never cross the proxy; the api-version is the gateway's own. */
/** A catalog page is small JSON; anything larger than this from an upstream is refused. */
const MAX_CATALOG_BYTES = 16 * 1024 * 1024;
/** The filtered catalog's page size without n, its largest, and how many upstream pages one may read. */
const CATALOG_DEFAULT_ENTRIES = 100;
const CATALOG_MAX_ENTRIES = 1000;
const CATALOG_MAX_ROUNDS = 100;

const NOT_FORWARDED_DOWN = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'docker-distribution-api-version', 'set-cookie']);
/** Request headers that belong to the gateway (the web page's session) and never go up. */
const GATEWAY_ONLY_HEADERS = ['cookie', 'x-regate-csrf', 'x-regate-page'];

export interface UpstreamRegistry {
  handle(req: IncomingMessage, res: ServerResponse, options?: { mayList?: (repository: string) => boolean }): Promise<void>;
  close(): void;
}


function clientOrigin(req: IncomingMessage): string {
  const proto = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  return `${proto}://${req.headers.host ?? 'localhost'}`;
}

export function openUpstream(config: UpstreamConfig, limits: BodyLimits, logger: Logger): UpstreamRegistry {
  const target = new URL(config.url);
  const agentOptions = { keepAlive: true, maxSockets: config.maxSockets, maxFreeSockets: Math.min(config.maxSockets, 32) };
  const agent = target.protocol === 'https:' ? new HttpsAgent({ ...agentOptions, rejectUnauthorized: !config.insecureSkipVerify }) : new HttpAgent(agentOptions);
  const upstreamAuth = config.credentials ? `Basic ${Buffer.from(`${config.credentials.username}:${config.credentials.password}`).toString('base64')}` : undefined;
  const proxy = httpProxy.createProxyServer({
    target: config.url,
    agent,
    selfHandleResponse: true,
    proxyTimeout: config.idleTimeoutMs,
    secure: !config.insecureSkipVerify,
    xfwd: false,
    changeOrigin: false,
  });
  /** What goes up as Authorization: the gateway's own credentials, the client's if passed, or none. */
  const authorizationFor = (req: IncomingMessage): string | undefined =>
    upstreamAuth ?? (config.passAuthorization ? req.headers.authorization : undefined);
  const upstreamRequests = new WeakMap<IncomingMessage, ClientRequest>();
  /** Requests whose upstream sent nothing for idletimeout (http-proxy then aborts them). */
  const stalled = new WeakSet<IncomingMessage>();

  proxy.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) => {
    upstreamRequests.set(req, proxyReq);
    proxyReq.once('timeout', () => stalled.add(req));
    const authorization = authorizationFor(req);
    if (authorization) proxyReq.setHeader('authorization', authorization);
    else proxyReq.removeHeader('authorization');
    proxyReq.removeHeader('expect');
    // The web page's session is this gateway's own business: its cookie and tokens stay here.
    for (const name of GATEWAY_ONLY_HEADERS) proxyReq.removeHeader(name);
    const chain = addressesOf(req);
    proxyReq.setHeader('x-forwarded-for', forwardedFor(chain));
    proxyReq.setHeader('x-real-ip', clientAddress(chain));
    proxyReq.setHeader('x-forwarded-proto', (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
    if (req.headers.host) proxyReq.setHeader('x-forwarded-host', req.headers.host);
  });

  proxy.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse) => {
    const status = proxyRes.statusCode ?? 502;
    if (status === 401) {
      proxyRes.resume();
      logger.warn('the upstream registry answered 401: it wants credentials regate.upstream does not give (or refused them)', { upstream: config.url, path: req.url });
      sendError(req, res, new RegistryError('UNAVAILABLE', { upstream: config.url, status }, { status: 502, message: 'the upstream registry refused the gateway\'s request' }));
      return;
    }
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(proxyRes.headers)) {
      if (value === undefined || NOT_FORWARDED_DOWN.has(name)) continue;
      headers[name] = value;
    }
    // Every 429 the client sees says when to come back, even if the upstream's did not.
    if (status === 429 && proxyRes.headers['retry-after'] === undefined) headers['retry-after'] = '1';
    const location = proxyRes.headers.location;
    if (typeof location === 'string') headers.location = rewriteLocation(location, target, clientOrigin(req));
    res.writeHead(status, proxyRes.statusMessage, headers);
    proxyRes.pipe(res);
    proxyRes.on('error', () => res.destroy());
  });

  proxy.on('error', (err: NodeJS.ErrnoException, req: IncomingMessage, res: ServerResponse | unknown) => {
    const response = res as ServerResponse;
    if (response.destroyed || response.writableEnded) return;
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const timedOut = stalled.has(req);
    logger.warn('upstream registry request failed', { upstream: config.url, method: req.method, path: req.url, error: err.code ?? err.message });
    sendError(
      req,
      response,
      new RegistryError('UNAVAILABLE', { upstream: config.url, error: err.code ?? 'error' }, {
        status: timedOut ? 504 : 502,
        message: timedOut ? 'the upstream registry stopped answering' : 'the upstream registry cannot be reached',
      }),
    );
  });

  /**
   * A body without Content-Length (chunked) is counted as it streams up, with the gateway's limits
   * (a declared length was checked before auth): over the limit, the upstream request is cut and the
   * client gets 413. Per request: the upstream keeps the upload's total.
   */
  function watchBodySize(req: IncomingMessage, res: ServerResponse): void {
    if (req.headers['content-length'] !== undefined) return;
    const { limit, kind } = bodyLimitFor(req.method, rawPath(req), limits);
    if (limit <= 0) return;
    let seen = 0;
    const count = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen <= limit) return;
      req.off('data', count);
      upstreamRequests.get(req)?.destroy();
      if (res.headersSent) return void res.destroy();
      const what = kind === 'blob' ? 'blob' : 'request body';
      sendError(req, res, new RegistryError('SIZE_INVALID', { limit }, { status: 413, message: `${what} exceeds the limit of ${limit} bytes` }));
    };
    req.on('data', count);
  }

  /** One catalog page straight from the upstream (its own Link says whether more follow). */
  function upstreamCatalogPage(req: IncomingMessage, n: number, last: string | undefined): Promise<{ repositories: string[]; more: boolean }> {
    const url = new URL('/v2/_catalog', target);
    url.searchParams.set('n', String(n));
    if (last !== undefined) url.searchParams.set('last', last);
    const headers: OutgoingHttpHeaders = { accept: 'application/json', host: target.host };
    const authorization = authorizationFor(req);
    if (authorization) headers.authorization = authorization;
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const up = request(url, { method: 'GET', agent, headers, timeout: config.idleTimeoutMs, rejectUnauthorized: !config.insecureSkipVerify }, (answer) => {
        const chunks: Buffer[] = [];
        let size = 0;
        answer.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_CATALOG_BYTES) up.destroy(new Error(`catalog page over ${MAX_CATALOG_BYTES} bytes`));
          else chunks.push(chunk);
        });
        answer.on('error', reject);
        answer.on('end', () => {
          if (answer.statusCode !== 200) return reject(new Error(`HTTP ${answer.statusCode}`));
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { repositories?: unknown };
            if (!Array.isArray(body.repositories)) throw new Error('no repositories list');
            const repositories = body.repositories.filter((r): r is string => typeof r === 'string');
            resolve({ repositories, more: answer.headers.link !== undefined && repositories.length > 0 });
          } catch (err) {
            reject(err as Error);
          }
        });
      });
      up.on('timeout', () => up.destroy(new Error('the upstream stopped answering')));
      up.on('error', reject);
      up.end();
    });
  }

  /**
   * The catalog under regate.access, put together here: upstream pages are read until the page
   * holds n names the user may see, and the Link names the last of THOSE, never an upstream name
   * the user may not see (which would let `n=1` paging list the whole upstream).
   */
  async function filteredCatalog(req: IncomingMessage, res: ServerResponse, mayList: (repository: string) => boolean): Promise<void> {
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    const limit = Math.min(parseLimit(query) ?? CATALOG_DEFAULT_ENTRIES, CATALOG_MAX_ENTRIES);
    const names: string[] = [];
    let cursor = query.get('last') || undefined;
    let more = false;
    for (let round = 0; limit > 0 && round < CATALOG_MAX_ROUNDS; round++) {
      const page = await upstreamCatalogPage(req, Math.max(limit, 100), cursor);
      for (const name of page.repositories) {
        if (!mayList(name)) continue;
        if (names.length === limit) {
          more = true;
          break;
        }
        names.push(name);
      }
      if (more || !page.more) break;
      cursor = page.repositories[page.repositories.length - 1];
    }
    const link = more && names.length > 0 ? nextPageLink('/v2/_catalog', limit, names[names.length - 1]!) : undefined;
    const text = JSON.stringify({ repositories: names });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(link ? { link } : {}) });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  return {
    handle(req, res, options = {}) {
      if (options.mayList) {
        const mayList = options.mayList;
        return filteredCatalog(req, res, mayList).catch((err: Error) => {
          if (err instanceof RegistryError) return sendError(req, res, err);
          logger.warn('the upstream registry\'s catalog could not be read', { upstream: config.url, error: err.message });
          if (!res.headersSent) sendError(req, res, new RegistryError('UNAVAILABLE', { upstream: config.url }, { status: 502, message: 'the upstream registry\'s catalog could not be read' }));
        });
      }
      return new Promise<void>((resolve) => {
        res.once('close', () => {
          // The client went away before the answer was complete: so does the upstream request.
          if (!res.writableFinished) upstreamRequests.get(req)?.destroy();
          resolve();
        });
        proxy.web(req, res);
        // After web(), which has piped the body up: a 'data' listener must not start it flowing first.
        watchBodySize(req, res);
      });
    },
    close() {
      proxy.close();
      agent.destroy();
    },
  };
}


/** A Location on the upstream's own origin, moved to the origin the client used. */
export function rewriteLocation(location: string, upstream: URL, publicOrigin: string): string {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return location; // relative: already right for the client
  }
  if (url.origin !== upstream.origin) return location;
  return `${publicOrigin}${url.pathname}${url.search}${url.hash}`;
}
