// The one place the Swift client touches node:http. Small requests come back whole (bounded by
// `maxBody`); streams are handed over as IncomingMessage. Keep-alive agents are shared per origin.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpAgents {
  http: HttpAgent;
  https: HttpsAgent;
}

export function createAgents(maxSockets: number, insecureSkipVerify: boolean): HttpAgents {
  return {
    http: new HttpAgent({ keepAlive: true, maxSockets, maxFreeSockets: Math.min(maxSockets, 32), scheduling: 'lifo' }),
    https: new HttpsAgent({ keepAlive: true, maxSockets, maxFreeSockets: Math.min(maxSockets, 32), scheduling: 'lifo', rejectUnauthorized: !insecureSkipVerify }),
  };
}

export interface WholeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface SendOptions {
  method: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer;
  /** No response at all (not even headers) within this many ms aborts the request. */
  timeoutMs?: number;
}

/** Starts a request; the caller writes the body (or not) and ends it. */
export function startRequest(url: URL, agents: HttpAgents, method: string, headers: OutgoingHttpHeaders): ReturnType<typeof httpRequest> {
  const secure = url.protocol === 'https:';
  const options = { method, headers, agent: secure ? agents.https : agents.http };
  return secure ? httpsRequest(url, options) : httpRequest(url, options);
}

/** Sends a request with an optional in-memory body and resolves with the response headers. */
export function send(url: URL, agents: HttpAgents, options: SendOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers: OutgoingHttpHeaders = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = options.body.length;
    else if (options.method === 'PUT' || options.method === 'POST') headers['content-length'] = 0;
    const req = startRequest(url, agents, options.method, headers);
    if (options.timeoutMs) {
      req.setTimeout(options.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${options.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    }
    req.once('response', (res) => {
      req.setTimeout(0);
      resolve(res);
    });
    req.once('error', reject);
    req.end(options.body);
  });
}

/** Reads a whole (small) response body; a body larger than maxBody is an error. */
export async function readBody(res: IncomingMessage, maxBody = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res) {
    total += (chunk as Buffer).length;
    if (total > maxBody) {
      res.destroy();
      throw new Error(`response body larger than ${maxBody} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** Drains and discards a body so the socket returns to the keep-alive pool. */
export function discard(res: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    // `complete` is not enough: the agent takes the socket back only once the response was read
    // to its end, so an unread HEAD or 204 would hold its socket until the server hangs up.
    if (res.readableEnded || res.destroyed) return resolve();
    res.on('end', resolve);
    res.on('error', () => resolve());
    res.on('close', () => resolve());
    res.resume();
  });
}

export async function sendWhole(url: URL, agents: HttpAgents, options: SendOptions, maxBody?: number): Promise<WholeResponse> {
  const res = await send(url, agents, options);
  const body = options.method === 'HEAD' ? (await discard(res), Buffer.alloc(0)) : await readBody(res, maxBody);
  return { status: res.statusCode ?? 0, headers: res.headers, body };
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
