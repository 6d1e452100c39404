// The web page's sign-in endpoints (web-session.ts has the cookie itself):
//
//   POST /ui/login     {"user","password"} as JSON, checked and throttled exactly as Basic auth
//                      (429 past the limit); a session cookie on success. Before auth. JSON only, so
//                      a form on another site cannot log a browser in as someone else.
//   GET  /ui/session   who the page is signed in as, and the session's CSRF token; renews the
//                      cookie past half its life. After auth: 401 without a challenge when the page
//                      asks (X-Regate-Page), so it shows its form instead of the browser's dialog.
//   POST /ui/logout    ends the session (after auth, so the CSRF token is checked first).
//   GET  /ui?login=basic  the browser's own Basic dialog, for whoever prefers it; then to /ui/.
import express, { type RequestHandler } from 'express';
import type { CredentialCheck } from '../gateway/basic-auth.js';
import { throttledError } from '../gateway/basic-auth.js';
import { rawPath, requestState } from '../gateway/request-state.js';
import type { WebSessions } from '../gateway/web-session.js';
import { RegistryError } from '../registry/errors.js';
import { sendError, sendJson } from '../registry/respond.js';

export const PAGE_HEADER = 'x-regate-page';
const MAX_LOGIN_BODY = '4kb';

/** The page's own requests: their 401 carries no challenge. */
export function fromThePage(req: { headers: Record<string, string | string[] | undefined> }): boolean {
  return req.headers[PAGE_HEADER] === '1';
}

/** A JSON answer of the sign-in endpoints: never cached, with the session cookie when there is one. */
function json(req: express.Request, res: express.Response, status: number, body: unknown, cookie?: string): void {
  sendJson(req, res, status, body, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...(cookie ? { 'Set-Cookie': cookie } : {}) });
}

/** POST /ui/login, mounted before auth. */
export function uiLogin(sessions: WebSessions, check: CredentialCheck, refused?: string): RequestHandler {
  const parse = express.json({ limit: MAX_LOGIN_BODY, type: () => true });
  return (req, res, next) => {
    if (rawPath(req) !== '/ui/login') return next();
    if (req.method !== 'POST') return sendError(req, res, new RegistryError('UNSUPPORTED', { method: req.method }, { status: 405, message: `${req.method} is not supported here`, headers: { Allow: 'POST' } }));
    requestState(req).answeredBy = 'auth';
    if (refused !== undefined) return sendError(req, res, new RegistryError('UNSUPPORTED', undefined, { status: 403, message: refused }));
    if (!/^application\/json\s*(;|$)/i.test(String(req.headers['content-type'] ?? ''))) {
      return sendError(req, res, new RegistryError('UNSUPPORTED', undefined, { status: 415, message: 'send the user and password as application/json' }));
    }
    parse(req, res, (err?: unknown) => {
      const body = req.body as { user?: unknown; password?: unknown } | undefined;
      if (err || typeof body?.user !== 'string' || typeof body.password !== 'string' || body.user === '') {
        return sendError(req, res, new RegistryError('UNAUTHORIZED', undefined, { status: 400, message: 'expected {"user": "…", "password": "…"} (at most 4 KiB)' }));
      }
      const user = body.user;
      check(req, user, body.password)
        .then(async (answer) => {
          if (!answer.ok) {
            if (answer.throttledForSeconds !== undefined) return sendError(req, res, throttledError(answer.throttledForSeconds));
            return sendError(req, res, new RegistryError('UNAUTHORIZED', undefined, { message: 'wrong user name or password' }));
          }
          const issued = await sessions.issue(user);
          if (!issued) return sendError(req, res, new RegistryError('UNAUTHORIZED', undefined, { message: 'wrong user name or password' }));
          requestState(req).user = user;
          json(req, res, 200, { user, csrf: issued.session.csrf, expiresAt: new Date(issued.session.expiresAt).toISOString() }, issued.cookie);
        })
        .catch(next);
    });
  };
}

/** GET /ui/session, POST /ui/logout and GET /ui?login=basic, mounted after auth. */
export function uiSession(sessions: WebSessions | undefined): RequestHandler {
  return (req, res, next) => {
    const path = rawPath(req);
    const state = requestState(req);
    if (path === '/ui' && req.method === 'GET') {
      res.writeHead(303, { Location: '/ui/', 'Content-Length': '0' });
      return res.end();
    }
    if (path === '/ui/session' && (req.method === 'GET' || req.method === 'HEAD')) {
      const session = state.session;
      if (!session || !sessions || session.expiresAt - Date.now() > sessions.ttlMs / 2 || state.user === undefined) {
        return json(req, res, 200, describe(state.user, session?.csrf, session?.expiresAt, session ? 'session' : state.user !== undefined ? 'basic' : 'none'));
      }
      sessions.issue(state.user, session).then((renewed) => {
        if (!renewed) return sendError(req, res, new RegistryError('UNAUTHORIZED', undefined, { message: 'signed out' }));
        json(req, res, 200, describe(state.user, renewed.session.csrf, renewed.session.expiresAt, 'session'), renewed.cookie);
      }, next);
      return;
    }
    if (path === '/ui/logout' && req.method === 'POST') {
      const session = state.session;
      if (!session || !sessions) return json(req, res, 200, { signedOut: false }, sessions?.clearCookie());
      sessions.revoke(session).then(() => json(req, res, 200, { signedOut: true }, sessions.clearCookie()), next);
      return;
    }
    next();
  };
}

function describe(user: string | undefined, csrf: string | undefined, expiresAt: number | undefined, by: 'session' | 'basic' | 'none'): Record<string, unknown> {
  return { user: user ?? null, by, ...(csrf ? { csrf } : {}), ...(expiresAt ? { expiresAt: new Date(expiresAt).toISOString() } : {}) };
}
