// Requests to one mirrored registry, with its auth: anonymous, Basic, or the Bearer token flow
// (the realm, service and scope from the upstream's challenge). Credentials go to the upstream
// itself and to a token realm on the upstream's own domain only (Distribution's rule: a challenge
// naming some other host gets an anonymous token request). Tokens are kept for their lifetime, per
// scope, and one request for a token serves everyone waiting for it. Redirects (a blob's CDN) are
// followed without the Authorization header once they leave the upstream's host.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { getDomain } from 'tldts';
import { LRUCache } from 'lru-cache';
import type { MirrorConfig } from '../../config/config-types.js';

/** Why an upstream request failed, for logs and metrics. */
export type UpstreamFailure = 'unreachable' | 'timeout' | 'rate_limited' | 'server_error' | 'auth' | 'not_found' | 'refused' | 'digest';

export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const HEADERS_TIMEOUT_MS = 30_000;
const IDLE_TIMEOUT_MS = 60_000;
const MAX_REDIRECTS = 5;
/** Agents kept per client (upstream origins, token realm, CDN hosts); beyond, one is made per request. */
const MAX_AGENTS = 16;
const MAX_TOKEN_BYTES = 1024 * 1024;
/** A token is used until this long before it expires. */
const TOKEN_MARGIN_MS = 10_000;

interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` (RFC 7235 auth-params). Pure. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(basic|bearer)\b(.*)$/i.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme: m[1]!.toLowerCase() as 'basic' | 'bearer', params };
}

/**
 * The domain credentials may go to: the host's registrable domain by the Public Suffix List
 * (registry-1.docker.io → docker.io; a.example.co.uk → example.co.uk), or the host itself where it
 * has none (an IP address, localhost). Pure.
 */
export function credentialDomain(host: string): string {
  const hostname = host.replace(/:\d+$/, '').toLowerCase();
  return getDomain(hostname, { allowPrivateDomains: true }) ?? hostname;
}

/** May credentials for `upstream` be sent to `realm`? Same host, or a host under the upstream's domain, over TLS unless the upstream itself is plain HTTP. Pure. */
export function realmMayHaveCredentials(upstream: URL, realm: URL): boolean {
  if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && upstream.protocol === 'http:')) return false;
  const host = realm.hostname.toLowerCase();
  if (host === upstream.hostname.toLowerCase()) return true;
  // Without a registrable domain (an IP address, localhost) only the host itself qualifies.
  const domain = getDomain(upstream.hostname.toLowerCase(), { allowPrivateDomains: true });
  return domain !== null && (host === domain || host.endsWith(`.${domain}`));
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export class UpstreamClient {
  /** The upstream's origins, in the configured order: a request goes to the next when one is unreachable or failing. */
  private readonly origins: URL[];
  private readonly agents = new Map<string, HttpAgent>();
  /** The origin that answered last: requests start there. */
  private current = 0;
  private readonly tokens = new LRUCache<string, CachedToken>({ max: 2000 });
  private readonly pendingTokens = new Map<string, Promise<string>>();
  /** The upstream answered a Basic challenge once: send Basic up front from then on. */
  private basicUpFront = false;

  constructor(private readonly mirror: MirrorConfig) {
    this.origins = mirror.urls.map((u) => new URL(u));
    for (const origin of this.origins) this.agentFor(origin);
  }

  /** One keep-alive agent per origin (the upstream's, its token realm's, a CDN's), with the mirror's TLS options. */
  private agentFor(url: URL): HttpAgent {
    let agent = this.agents.get(url.origin);
    if (!agent) {
      const { insecureSkipVerify, ca } = this.mirror;
      // Past MAX_AGENTS hosts, an agent that keeps nothing open after its request.
      const keep = this.agents.size < MAX_AGENTS;
      const options = { keepAlive: keep, ...(keep ? { maxSockets: 64 } : {}) };
      agent = url.protocol === 'https:' ? new HttpsAgent({ ...options, rejectUnauthorized: !insecureSkipVerify, ...(ca ? { ca: [...rootCertificates, ca] } : {}) }) : new HttpAgent(options);
      if (keep) this.agents.set(url.origin, agent);
    }
    return agent;
  }

  /** The origin requests go to first (for messages). */
  get origin(): URL {
    return this.origins[this.current]!;
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
  }

  /**
   * GET or HEAD of `/v2/<repository>/<rest>` on the upstream, authenticated as it asks. Resolves
   * with any status but 401 (an auth failure is UpstreamError 'auth'); the caller reads or drains
   * the body. Network failures are UpstreamError 'unreachable' / 'timeout'.
   */
  async fetch(method: 'GET' | 'HEAD', repository: string, rest: string, headers: OutgoingHttpHeaders = {}): Promise<IncomingMessage> {
    let failure: unknown;
    for (let tried = 0; tried < this.origins.length; tried++) {
      const index = (this.current + tried) % this.origins.length;
      const last = tried === this.origins.length - 1;
      try {
        const res = await this.fetchFrom(this.origins[index]!, method, repository, rest, headers);
        if ((res.statusCode ?? 0) >= 500 && !last) {
          res.resume();
          failure = new UpstreamError('server_error', `HTTP ${res.statusCode}`, res.statusCode);
          continue;
        }
        this.current = index;
        return res;
      } catch (err) {
        failure = err;
        if (last || !(err instanceof UpstreamError) || (err.kind !== 'unreachable' && err.kind !== 'timeout')) throw err;
      }
    }
    throw failure;
  }

  private async fetchFrom(origin: URL, method: 'GET' | 'HEAD', repository: string, rest: string, headers: OutgoingHttpHeaders): Promise<IncomingMessage> {
    const url = new URL(`/v2/${repository}/${rest}`, origin);
    const scope = `repository:${repository}:pull`;
    let authorization = this.cachedAuthorization(scope);
    for (let attempt = 0; ; attempt++) {
      const res = await this.send(origin, method, url, { ...headers, ...(authorization ? { authorization } : {}) });
      if (res.statusCode !== 401) return res;
      res.resume();
      const challenge = parseChallenge(res.headers['www-authenticate'] as string | undefined);
      if (attempt > 0 || !challenge) throw new UpstreamError('auth', `the upstream refused ${this.mirror.credentials ? 'the configured credentials' : 'an anonymous request'} (HTTP 401)`, 401);
      if (challenge.scheme === 'basic') {
        if (!this.mirror.credentials) throw new UpstreamError('auth', 'the upstream asks for Basic credentials and none are configured', 401);
        this.basicUpFront = true;
        authorization = this.basic();
      } else {
        this.tokens.delete(scope);
        authorization = `Bearer ${await this.token(origin, challenge, scope)}`;
      }
    }
  }

  private basic(): string {
    const c = this.mirror.credentials!;
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  }

  private cachedAuthorization(scope: string): string | undefined {
    const cached = this.tokens.get(scope);
    if (cached && cached.expiresAt - TOKEN_MARGIN_MS > Date.now()) return `Bearer ${cached.token}`;
    return this.basicUpFront && this.mirror.credentials ? this.basic() : undefined;
  }

  /** A token for `scope` from the challenge's realm; concurrent askers share one request. */
  private token(origin: URL, challenge: Challenge, scope: string): Promise<string> {
    const pending = this.pendingTokens.get(scope);
    if (pending) return pending;
    const asking = this.requestToken(origin, challenge, scope).finally(() => this.pendingTokens.delete(scope));
    this.pendingTokens.set(scope, asking);
    return asking;
  }

  private async requestToken(origin: URL, challenge: Challenge, scope: string): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(challenge.params.realm ?? '');
    } catch {
      throw new UpstreamError('auth', 'the upstream\'s Bearer challenge names no usable realm');
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new UpstreamError('auth', 'the upstream\'s token realm is not http(s)');
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    realm.searchParams.set('scope', scope);
    const withCredentials = this.mirror.credentials !== undefined && realmMayHaveCredentials(origin, realm);
    const res = await this.send(origin, 'GET', realm, withCredentials ? { authorization: this.basic() } : {});
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_TOKEN_BYTES) throw new UpstreamError('auth', 'the token realm\'s answer is too large');
      chunks.push(chunk);
    }
    if (res.statusCode !== 200) throw new UpstreamError('auth', `the token realm answered HTTP ${res.statusCode}`, res.statusCode);
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      throw new UpstreamError('auth', 'the token realm\'s answer is not JSON');
    }
    const token = typeof body.token === 'string' && body.token !== '' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw new UpstreamError('auth', 'the token realm\'s answer holds no token');
    // The token spec: 60 s when the realm does not say.
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    const issued = typeof body.issued_at === 'string' ? Date.parse(body.issued_at) : NaN;
    this.tokens.set(scope, { token, expiresAt: (Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now())) + lifetime * 1000 });
    return token;
  }

  /** One request, following redirects; the Authorization header stays with the upstream's host. */
  private async send(origin: URL, method: 'GET' | 'HEAD', url: URL, headers: OutgoingHttpHeaders): Promise<IncomingMessage> {
    let target = url;
    let current = headers;
    for (let hop = 0; ; hop++) {
      const res = await this.once(method, target, current);
      const location = res.headers.location;
      if (res.statusCode === undefined || ![301, 302, 303, 307, 308].includes(res.statusCode) || !location || hop >= MAX_REDIRECTS) return res;
      res.resume();
      const next = new URL(location, target);
      if (next.origin !== origin.origin) {
        const { authorization: _dropped, ...rest } = current;
        current = rest;
      }
      target = next;
    }
  }

  private once(method: 'GET' | 'HEAD', url: URL, headers: OutgoingHttpHeaders): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = make(url, { method, headers: { 'user-agent': 'regate-mirror', ...headers }, agent: this.agentFor(url), timeout: IDLE_TIMEOUT_MS });
      const headersTimer = setTimeout(() => req.destroy(new UpstreamError('timeout', `no answer from ${url.host} within ${HEADERS_TIMEOUT_MS / 1000} s`)), HEADERS_TIMEOUT_MS);
      req.on('timeout', () => req.destroy(new UpstreamError('timeout', `${url.host} sent nothing for ${IDLE_TIMEOUT_MS / 1000} s`)));
      req.on('response', (res) => {
        clearTimeout(headersTimer);
        resolve(res);
      });
      req.on('error', (err) => {
        clearTimeout(headersTimer);
        reject(err instanceof UpstreamError ? err : new UpstreamError('unreachable', `${url.host}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      });
      req.end();
    });
  }
}

/** The failure a status stands for (undefined: not a failure of the upstream). */
export function failureOfStatus(status: number): UpstreamFailure | undefined {
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  if (status === 404) return 'not_found';
  if (status === 401 || status === 403) return 'auth';
  if (status >= 400) return 'refused';
  return undefined;
}
