// Answers the gateway writes itself (401, 413, 429, 404, ping), always in the spec's envelope and
// never after a response has started.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorEnvelope, type RegistryError } from '../registry/errors.js';
import { sendJson } from '../registry/respond.js';

/**
 * A request body this large (or chunked, size unknown) that nobody read is not drained to keep the
 * connection: the answer carries `Connection: close`. Smaller ones are read and discarded by Node so
 * the client sees the answer rather than a reset.
 */
export const DRAIN_LIMIT_BYTES = 64 * 1024;

/**
 * A small unread body is drained, but not forever: a client dribbling it a byte at a time after
 * its 401 would otherwise pin the connection (each byte resets the idle timer). Past this, the
 * connection is cut.
 */
export const DRAIN_DEADLINE_MS = 5_000;

function drainWithDeadline(req: IncomingMessage, res: ServerResponse): void {
  res.once('finish', () => {
    if (req.complete) return;
    const timer = setTimeout(() => req.socket.destroy(), DRAIN_DEADLINE_MS);
    timer.unref();
    const done = (): void => clearTimeout(timer);
    req.once('end', done);
    req.once('close', done);
  });
}

export function hasLargeUnreadBody(req: IncomingMessage): boolean {
  if (req.readableEnded || req.complete) return false;
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = Number(req.headers['content-length'] ?? 0);
  return !Number.isFinite(length) || length > DRAIN_LIMIT_BYTES;
}

/** Writes `err` as `{"errors":[…]}` with its status and headers (a request body left unread closes the connection). */
export function sendError(req: IncomingMessage, res: ServerResponse, err: RegistryError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (hasLargeUnreadBody(req)) res.setHeader('Connection', 'close');
  else if (!req.complete) drainWithDeadline(req, res);
  for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
  sendJson(req, res, err.status, errorEnvelope(err));
}
