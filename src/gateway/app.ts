// THE gateway: the ordered middleware list, top to bottom, in one place (docs/architecture.md, "The request path").
//
//   1. request id + access log        every request gets an id (X-Request-Id) and one access line;
//      + request metrics              the client's address is decided here (regate.http.trustedproxies);
//                                     requests, latency and bytes are reported to the metrics
//   2. API version + http.headers     Docker-Distribution-Api-Version and the configured headers,
//                                     before auth so 401s carry them
//   3. ping bypass                    /_ping, /v1/_ping, / → 200 without auth (503 while draining; exact match on the
//                                     normalised path; anything ambiguous is not a ping)
//   4. limits                         Content-Length over the blob/manifest limit → 413 SIZE_INVALID
//   5. chunked uploads                Transfer-Encoding: chunked needs no Content-Length; other
//                                     transfer codings → 501
//   5b. cross-site writes             a state-changing request a browser sends for another site
//                                     (Sec-Fetch-Site, Origin) → 403 DENIED, before credentials count
//   5c. web page, public part         /ui/: the page's shell, stylesheet and modules (regate.ui.enabled),
//                                     which hold no data; POST /ui/login (the form's sign-in, throttled
//                                     like Basic auth) sets a session cookie
//   6. auth                           a web page session cookie (web-session.ts; changes need its CSRF
//                                     token), else Basic auth: htpasswd via passport (401 UNAUTHORIZED /
//                                     429 TOOMANYREQUESTS); skipped only when the config has no auth section
//   6a. web page, signed-in part      /ui/session, /ui/logout; the page's data comes from /v2/
//                                     through the steps below
//   6b0. mirror names                 ?ns=<host> (containerd) and, for the default mirror, unprefixed
//                                     names that are no repository of the team's own (Docker's
//                                     registry-mirrors) are rewritten to the mirror's names
//   6b. regate.access                 per-repository rights: 403 DENIED outside them, the catalog
//                                     filtered, a mount from an unreadable repository dropped
//   7. the registry                   /v2/… handled in-process by the embedded registry, or sent on
//                                     to the upstream one (upstream.ts, regate.upstream); the body
//                                     is untouched until here
//   8. error envelope                 anything else → 404 in the spec's envelope; errors → 500
//
// Nothing here reads, buffers or parses a request body: no body parser is ever mounted.
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { RegateConfig } from '../config/config-types.js';
import type { Logger } from '../log/logger.js';
import { accessLog } from './access-log.js';
import { requestMetrics } from './request-metrics.js';
import { accessControl } from './access-control.js';
import type { AccessPolicy } from '../access/access-policy.js';
import { compileTrustedProxies } from './client-address.js';
import { RegistryError } from '../registry/errors.js';
import type { Registry } from '../registry/registry.js';
import { basicAuth, throttledCredentialCheck, type CredentialChecker } from './basic-auth.js';
import { chunkedUploads } from './chunked.js';
import { bodyLimits } from './limits.js';
import { pingBypass } from './ping.js';
import { clientAddressOf, rawPath, requestState } from './request-state.js';
import { sendError } from '../registry/respond.js';
import { API_VERSION, API_VERSION_HEADER } from '../registry/api-version.js';
import { AuthThrottle } from './throttle.js';
import { webUi } from '../ui/ui-router.js';
import { fromThePage, uiLogin, uiSession } from '../ui/ui-session-routes.js';
import { refuseCrossSiteWrites } from './cross-site.js';
import { processSessionKey, WebSessions, type SessionKey, type SessionRevocations, type SessionUsers } from './web-session.js';
import { sessionOrBasicAuth } from './session-auth.js';
import { mirrorRouting } from './mirror-routing.js';


export interface GatewayOptions {
  config: RegateConfig;
  registry: Pick<Registry, 'handle' | 'mirrors' | 'hasRepository'>;
  /** regate.access, with the live groups; undefined = every valid user may do everything. */
  access?: { policy: AccessPolicy; groupsOf: (user: string) => ReadonlySet<string>; strict: boolean };
  /** The users store; undefined only when the config has no auth section. */
  users?: CredentialChecker & SessionUsers;
  /** What signs the web page's session cookies; a per-process key when absent. */
  sessionKey?: SessionKey;
  /** Where logouts are kept for every replica; per process when absent. */
  sessionRevocations?: SessionRevocations;
  logger: Logger;
  /** True once the server is stopping with a drain: the ping paths answer 503. */
  draining?: () => boolean;
}

function apiHeaders(configured: Record<string, string[]>): RequestHandler {
  const entries = Object.entries(configured);
  return (_req, res, next) => {
    res.setHeader(API_VERSION_HEADER, API_VERSION);
    for (const [name, values] of entries) res.setHeader(name, values);
    next();
  };
}

function noAuth(): RequestHandler {
  return (_req, _res, next) => next();
}

function registryStep(registry: Pick<Registry, 'handle'>): RequestHandler {
  return (req, res, next) => {
    const path = rawPath(req);
    if (path !== '/v2' && !path.startsWith('/v2/')) return next();
    // The client held its body back until we said yes (Expect: 100-continue): now we do.
    if (requestState(req).expectsContinue && !res.headersSent) res.writeContinue();
    const state = requestState(req);
    // Who asked, for the registry's events: the gateway's request id, user and client address.
    const caller = { requestId: state.id, addr: clientAddressOf(req), ...(state.user !== undefined ? { user: state.user } : {}) };
    registry.handle(req, res, { caller, ...(state.mayList ? { mayList: state.mayList } : {}) }).catch(next);
  };
}

function notFound(): RequestHandler {
  return (req, res) => sendError(req, res, new RegistryError('UNSUPPORTED', undefined, { status: 404, message: 'no such API endpoint' }));
}

function errorEnvelope(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const regErr =
      err instanceof RegistryError ? err : new RegistryError('UNKNOWN', undefined, { cause: err });
    if (regErr.status >= 500) {
      logger.error('request failed', {
        requestId: requestState(req).id,
        method: req.method,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
    }
    sendError(req, res, regErr);
  };
}

export function createApp(options: GatewayOptions): Express {
  const { config, registry, users, logger, access } = options;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);

  const ui = config.regate.ui;
  const authLogger = logger.child({ component: 'auth' });
  // One throttle and one check for Basic auth and the page's form: guesses count wherever they come from.
  const check = users
    ? throttledCredentialCheck({ store: users, throttle: new AuthThrottle({ maxFailures: config.regate.auth.maxFailures, windowMs: config.regate.auth.failureWindowMs }), logger: authLogger })
    : undefined;
  const sessions = users && ui.enabled ? new WebSessions({ key: options.sessionKey ?? processSessionKey(), users, ttlMs: ui.sessionTtlMs, ...(options.sessionRevocations ? { revocations: options.sessionRevocations } : {}) }) : undefined;
  const basic = check ? basicAuth({ realm: config.auth?.htpasswd?.realm ?? 'regate', check, quietChallenge: fromThePage }) : undefined;
  const auth: RequestHandler = basic ? (sessions ? sessionOrBasicAuth(sessions, basic) : basic) : noAuth();

  app.use(accessLog(logger.child({ component: 'access' }), { enabled: config.log.accessLog, trust: compileTrustedProxies(config.regate.http.trustedProxies) })); // 1
  app.use(requestMetrics()); // 1
  app.use(apiHeaders(config.http.headers)); // 2
  app.use(pingBypass(config.regate.pingPaths, options.draining)); // 3
  app.use(bodyLimits({ blobMaxBytes: config.regate.blobMaxBytes, manifestMaxBytes: config.regate.manifestMaxBytes })); // 4
  app.use(chunkedUploads()); // 5
  app.use(refuseCrossSiteWrites()); // 5b
  if (ui.enabled) app.use(webUi()); // 5c
  // In front of a registry that gets each request's own credentials, a session has none to pass on.
  const sessionsRefused = config.upstream?.passAuthorization ? 'this regate passes each request\'s own credentials to the registry behind it (regate.upstream.passauthorization): sign in with the browser\'s dialog instead' : undefined;
  if (sessions && check) app.use(uiLogin(sessions, check, sessionsRefused)); // 5c
  app.use(auth); // 6
  if (ui.enabled) app.use(uiSession(sessions)); // 6a
  if (registry.mirrors) app.use(mirrorRouting(registry.mirrors, (name) => registry.hasRepository?.(name) ?? Promise.resolve(true))); // 6b0
  if (access) app.use(accessControl(access)); // 6b
  app.use(registryStep(registry)); // 7
  app.use(notFound()); // 8
  app.use(errorEnvelope(logger.child({ component: 'gateway' })));
  return app;
}
