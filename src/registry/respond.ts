// Small response helpers shared by the registry's handlers and the gateway's own answers (401, 413,
// 429, 404, ping). HEAD never carries a body; an error is always the spec's envelope, never written
// after a response has started, and one rule decides what happens to a body nobody read.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorEnvelope, type RegistryError } from './errors.js';

export type Headers = Record<string, string | number | readonly string[]>;

export function send(req: IncomingMessage, res: ServerResponse, status: number, headers: Headers = {}, body?: Buffer | string): void {
  const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (payload !== undefined && !res.hasHeader('Content-Length')) res.setHeader('Content-Length', payload.length);
  if (payload === undefined && !res.hasHeader('Content-Length') && status !== 204 && status !== 304) res.setHeader('Content-Length', 0);
  if (req.method === 'HEAD' || payload === undefined) res.end();
  else res.end(payload);
}

export function sendJson(req: IncomingMessage, res: ServerResponse, status: number, value: unknown, headers: Headers = {}): void {
  send(req, res, status, { 'Content-Type': 'application/json', ...headers }, JSON.stringify(value));
}

/** Reads a small body (a manifest) with a hard cap; the caller checked Content-Length already. */
export async function readSmallBody(req: IncomingMessage, maxBytes: number, onTooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) throw onTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

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
