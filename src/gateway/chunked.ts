// Chunked uploads. Docker sends `PATCH …/blobs/uploads/<id>` with `Transfer-Encoding: chunked` and
// no Content-Length (the 411 that nginx needed the chunkin module for). Node's HTTP parser de-chunks
// natively and hands the registry a plain stream; this step only makes sure the chain never asks
// for a Content-Length (nothing before or after it does) and refuses transfer codings Node does not
// decode: `Transfer-Encoding: gzip, chunked` would otherwise reach storage still gzip-encoded.
// (A request with both Transfer-Encoding and Content-Length is refused by Node's parser itself.)
import type { RequestHandler } from 'express';
import { RegistryError } from '../registry/errors.js';
import { sendError } from '../registry/respond.js';

/** Whether a Transfer-Encoding header value is one the gateway accepts (only `chunked`). Pure. */
export function acceptableTransferEncoding(value: string | undefined): boolean {
  return value === undefined || value.trim().toLowerCase() === 'chunked';
}

export function chunkedUploads(): RequestHandler {
  return (req, res, next) => {
    const te = req.headers['transfer-encoding'];
    if (!acceptableTransferEncoding(te)) {
      sendError(
        req,
        res,
        new RegistryError('UNSUPPORTED', { transferEncoding: te }, { status: 501, message: 'only Transfer-Encoding: chunked is supported' }),
      );
      return;
    }
    next();
  };
}
