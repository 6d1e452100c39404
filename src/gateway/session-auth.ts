// Step 6 with the web page's sessions: a request that carries no Authorization header but a valid
// session cookie is the session's user; anything else goes to Basic auth as before. A request with
// the cookie that changes something must carry the session's CSRF token too (web-session.ts).
import type { RequestHandler } from 'express';
import { RegistryError } from '../registry/errors.js';
import { sendError } from '../registry/respond.js';
import { requestState } from './request-state.js';
import { CSRF_HEADER, WebSessions } from './web-session.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function sessionOrBasicAuth(sessions: WebSessions, basic: RequestHandler): RequestHandler {
  return (req, res, next) => {
    if (req.headers.authorization !== undefined || !req.headers.cookie) return basic(req, res, next);
    sessions.fromCookieHeader(req.headers.cookie).then((session) => {
      if (!session) return basic(req, res, next);
      if (!SAFE_METHODS.has(req.method) && !WebSessions.csrfMatches(session, req.headers[CSRF_HEADER])) {
        requestState(req).answeredBy = 'auth';
        return sendError(req, res, new RegistryError('DENIED', { reason: 'csrf' }, { status: 403, message: `a change made with a web page session needs its token in ${CSRF_HEADER}` }));
      }
      const state = requestState(req);
      state.user = session.user;
      state.session = session;
      next();
    }, next);
  };
}
