// Health-check paths answered 200 without auth (`/_ping`, `/v1/_ping`, `/` by default; regate.ping).
//
// The decision is made on the NORMALISED path: the request target's path is percent-decoded and its
// dot segments resolved, the way a server or proxy behind us might read it. A request is a bypass
// only when that normalised path is one of the configured paths AND normalising changed nothing:
// any percent escape (`/%5fping`, `/_ping%2f..`), any `.` or `..` segment (`/_ping/../v2/_catalog`,
// `/v2/../_ping`), an empty segment (`//v2/`), a backslash or a control character makes the path
// ambiguous, and an ambiguous path is never a bypass: it goes through auth like everything else.
// Matching is exact and case-sensitive (`/_PING` and `/_ping/` are not `/_ping`); the query string
// is ignored. Only GET and HEAD are answered here.
import type { RequestHandler } from 'express';
import { rawPath, requestState } from './request-state.js';
import { sendError, sendJson } from '../registry/respond.js';
import { RegistryError } from '../registry/errors.js';

export interface NormalisedPath {
  /** The path after percent-decoding and dot-segment resolution (undefined when it cannot be decoded). */
  path: string | undefined;
  /** True when the raw path was already in normal form and unambiguous. */
  canonical: boolean;
}

/** Normalises a request target's path (no query). Pure. */
export function normalisePath(raw: string): NormalisedPath {
  if (!raw.startsWith('/')) return { path: undefined, canonical: false }; // absolute-form, `*`, …
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return { path: undefined, canonical: false };
  }
  // Characters that mean different things to different parsers: never part of a bypass.
  // eslint-disable-next-line no-control-regex
  const ambiguous = /[\\\u0000-\u001f\u007f#?]/.test(decoded) || decoded.includes('//') || raw.includes('%');
  const out: string[] = [];
  let dotSegments = false;
  const segments = decoded.split('/').slice(1);
  segments.forEach((segment, i) => {
    if (segment === '.' || segment === '..') {
      dotSegments = true;
      if (segment === '..') out.pop();
      if (i === segments.length - 1) out.push(''); // "/a/.." resolves to "/", keeping the trailing slash
      return;
    }
    out.push(segment);
  });
  const path = `/${out.join('/')}`;
  return { path, canonical: !ambiguous && !dotSegments && path === raw };
}

/** True when `rawTargetPath` is exactly one of `paths` and unambiguous. */
export function isPingBypass(rawTargetPath: string, paths: readonly string[]): boolean {
  if (paths.length === 0) return false;
  const { path, canonical } = normalisePath(rawTargetPath);
  return canonical && path !== undefined && paths.includes(path);
}

/** `draining` true: the server is stopping (drain.ts), so the ping says 503 and balancers look elsewhere. */
export function pingBypass(paths: readonly string[], draining: () => boolean = () => false): RequestHandler {
  return (req, res, next) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && isPingBypass(rawPath(req), paths)) {
      requestState(req).answeredBy = 'ping';
      if (draining()) {
        sendError(req, res, new RegistryError('UNAVAILABLE', undefined, { message: 'shutting down: finishing the requests in flight' }));
        return;
      }
      sendJson(req, res, 200, {});
      return;
    }
    next();
  };
}
