// Body limits, decided on Content-Length before anything is read or authenticated: a blob body
// (what the registry's route table marks as one) may be at most regate.blobmaxbytes (0 = unlimited), any
// other body (manifests, and requests that have no business carrying one) at most
// regate.manifestmaxbytes. Over the limit → 413 with SIZE_INVALID in the spec's envelope, and the
// body is never read. Bodies without a Content-Length (chunked) are counted as they stream by the
// registry's upload store and manifest reader, with the same two limits (the registry settings).
import type { RequestHandler } from 'express';
import { RegistryError } from '../registry/errors.js';
import { carriesBlobBody } from '../registry/routes.js';
import { rawPath } from './request-state.js';
import { sendError } from '../registry/respond.js';

export interface BodyLimits {
  /** 0 = unlimited. */
  blobMaxBytes: number;
  manifestMaxBytes: number;
}

/** The limit that applies to this request's body (0 = none). Pure. */
export function bodyLimitFor(method: string | undefined, path: string, limits: BodyLimits): { limit: number; kind: 'blob' | 'manifest' } {
  if (carriesBlobBody(method, path)) return { limit: limits.blobMaxBytes, kind: 'blob' };
  return { limit: limits.manifestMaxBytes, kind: 'manifest' };
}

export function bodyLimits(limits: BodyLimits): RequestHandler {
  return (req, res, next) => {
    const declared = req.headers['content-length'];
    if (declared === undefined) return next();
    const { limit, kind } = bodyLimitFor(req.method, rawPath(req), limits);
    const length = Number(declared);
    if (limit > 0 && length > limit) {
      const what = kind === 'blob' ? 'blob' : 'request body';
      sendError(req, res, new RegistryError('SIZE_INVALID', { limit, contentLength: length }, { status: 413, message: `${what} exceeds the limit of ${limit} bytes` }));
      return;
    }
    next();
  };
}
