// Small response helpers shared by the handlers. HEAD never carries a body.
import type { IncomingMessage, ServerResponse } from 'node:http';

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
