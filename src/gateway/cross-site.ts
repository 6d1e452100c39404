// Requests a browser sends on another site's behalf may not change anything. A browser that holds
// Basic credentials for regate (the web page's users) attaches them to any request to it, and
// a form on another site can POST without asking (a simple request: no CORS preflight), for
// instance a monolithic blob upload. Browsers say where a request comes from (`Sec-Fetch-Site`,
// `Origin`); CLI clients (docker, podman, skopeo, containerd) send neither, so they are unaffected.
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { RegistryError } from '../registry/errors.js';
import { sendError } from '../registry/respond.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function fromAnotherOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  // 'none' is the user's own action (typed URL, bookmark); same-origin is the page itself.
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return true;
  const origin = req.headers.origin;
  if (typeof origin !== 'string') return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true; // "null" (a sandboxed frame, a file) is nobody's origin
  }
}

export function refuseCrossSiteWrites(): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method) || !fromAnotherOrigin(req)) return next();
    sendError(req, res, new RegistryError('DENIED', { reason: 'cross-site' }, { status: 403, message: 'a request another site made through this browser may not change anything here' }));
  };
}
