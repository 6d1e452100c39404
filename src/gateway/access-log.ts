// Step 1 of the gateway: a request id (X-Request-Id) and one access-log line per request, written
// when the response finishes or the connection closes first (src/log/access-record.ts has the format).
//
// Bytes in are counted as the HTTP parser hands body chunks to the request stream (a wrapper around
// the request's own push(), which the parser calls): counting never reads, buffers or changes the
// flow of the body. Bytes out are counted in write()/end() of the response.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from '../log/logger.js';
import { logAccess, type AccessRecord } from '../log/access-record.js';
import { addressChain, clientAddress, TRUST_NOBODY, type TrustedProxies } from './client-address.js';
import { requestState } from './request-state.js';

function byteLength(chunk: unknown, encoding?: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/** Counts body bytes in and out into the request's state; installed once per request (the access log and the metrics both read it). */
export function countBytes(req: IncomingMessage, res: ServerResponse): void {
  const state = requestState(req);
  if (state.counting) return;
  state.counting = true;
  const push = req.push;
  req.push = function countedPush(this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding): boolean {
    state.bytesIn += byteLength(chunk, encoding);
    return push.call(this, chunk, encoding);
  };
  const write = res.write;
  const end = res.end;
  res.write = function countedWrite(this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
    state.bytesOut += byteLength(chunk, rest[0]);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];
  res.end = function countedEnd(this: ServerResponse, chunk?: unknown, ...rest: unknown[]): ServerResponse {
    if (typeof chunk !== 'function') state.bytesOut += byteLength(chunk, rest[0]);
    return (end as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse['end'];
}

export function accessLog(logger: Logger, options: { enabled: boolean; trust?: TrustedProxies } = { enabled: true }): RequestHandler {
  const trust = options.trust ?? TRUST_NOBODY;
  return (req, res, next) => {
    const state = requestState(req);
    res.setHeader('X-Request-Id', state.id);
    // Who the client is, decided once for every later step (throttling, the proxy, this line).
    state.addresses = addressChain(req, trust);
    // log.accesslog.disabled: the id stays (error lines carry it), the line goes (the byte counting
    // stays: request-metrics.ts installs it too).
    if (!options.enabled) return next();
    const remote = clientAddress(state.addresses);
    countBytes(req, res);
    let written = false;
    const write = (): void => {
      if (written) return;
      written = true;
      const record: AccessRecord = {
        requestId: state.id,
        remote,
        user: state.user ?? '-',
        method: req.method ?? '-',
        path: req.originalUrl ?? req.url ?? '-',
        status: res.statusCode,
        bytesIn: state.bytesIn,
        bytesOut: state.bytesOut,
        durationMs: Number((process.hrtime.bigint() - state.startedAt) / 1000n) / 1000,
      };
      if (!res.writableFinished) record.aborted = true;
      logAccess(logger, record);
    };
    res.once('finish', write);
    res.once('close', write);
    next();
  };
}
