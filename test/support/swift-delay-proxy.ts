// A far-away Swift for the benchmarks: an HTTP proxy on loopback in front of the one-node Swift
// that adds `delayMs` before each request goes on and again before its answer comes back (one
// round trip costs 2 × delayMs more), and counts every request a registry sends, by kind. Bodies
// stream both ways untouched, so only latency changes, not bandwidth.
//
// Auth answers carry the storage URL: it is rewritten to the proxy's own address, so the registry
// keeps talking through the proxy after authenticating. Counted here is what the registry sends;
// the subrequests Swift makes itself (a COPY's source GET, a DLO's segments) are not.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendFileSync } from 'node:fs';

export type RequestKind = 'PUT' | 'GET' | 'HEAD' | 'DELETE' | 'listing' | 'COPY' | 'POST' | 'auth';
export const REQUEST_KINDS: readonly RequestKind[] = ['PUT', 'GET', 'HEAD', 'DELETE', 'listing', 'COPY', 'POST', 'auth'];

export interface DelayProxy {
  /** http://127.0.0.1:PORT: use it in place of the Swift proxy's origin. */
  url: string;
  delayMs: number;
  /** Requests since the last reset, by kind. */
  counts(): Record<RequestKind, number>;
  reset(): void;
  stop(): Promise<void>;
}

/** What a Swift request is: a container GET is a listing; PUT with X-Copy-From (or COPY) is a copy. */
export function kindOf(method: string, path: string, headers: IncomingMessage['headers']): RequestKind {
  const parts = path.split('?')[0]!.split('/').filter((p) => p !== '');
  if (parts[0] === 'auth' || parts[0] === 'v1.0' || path.startsWith('/auth/')) return 'auth';
  // /v1/AUTH_x/container → a container request; /v1/AUTH_x/container/object… → an object.
  const isContainer = parts.length <= 3;
  if (method === 'GET' && isContainer) return 'listing';
  if (method === 'COPY' || (method === 'PUT' && headers['x-copy-from'] !== undefined)) return 'COPY';
  if (method === 'PUT' || method === 'GET' || method === 'HEAD' || method === 'DELETE' || method === 'POST') return method;
  return 'POST';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * With BENCH_SWIFT_TRACE=<file>, every request is appended there as it is answered (start in ms,
 * duration, kind, status, object): to see which requests wait on which.
 */
const TRACE = process.env.BENCH_SWIFT_TRACE;

export async function startDelayProxy(target: string, delayMs: number): Promise<DelayProxy> {
  const upstream = new URL(target);
  const zero = (): Record<RequestKind, number> => Object.fromEntries(REQUEST_KINDS.map((k) => [k, 0])) as Record<RequestKind, number>;
  let counts = zero();
  let self = '';
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const kind = kindOf(req.method ?? 'GET', req.url ?? '/', req.headers);
    counts[kind] += 1;
    const started = performance.now();
    if (TRACE) {
      res.on('finish', () => {
        const object = decodeURIComponent((req.url ?? '').split('?')[0]!).split('/').slice(4).join('/');
        appendFileSync(TRACE, `${started.toFixed(1)}\t${(performance.now() - started).toFixed(1)}\t${req.method} ${kind}\t${res.statusCode}\t${object}${req.headers['if-none-match'] ? ' [if-none-match]' : ''}${req.headers['x-object-manifest'] ? ' [manifest]' : ''}\n`);
      });
    }
    // The body waits with the request: nothing is read from the registry before the delay.
    req.pause();
    void (async () => {
      if (delayMs > 0) await sleep(delayMs);
      const headers = { ...req.headers, host: upstream.host };
      delete headers.expect; // the proxy answers 100-continue itself
      const out = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent: false },
        (answer) => {
          void (async () => {
            if (delayMs > 0) await sleep(delayMs);
            const back = { ...answer.headers };
            const storage = back['x-storage-url'];
            if (typeof storage === 'string') back['x-storage-url'] = storage.replace(upstream.origin, self);
            res.writeHead(answer.statusCode ?? 502, back);
            answer.pipe(res);
          })();
        },
      );
      out.on('error', () => res.destroy());
      req.on('aborted', () => out.destroy());
      req.pipe(out);
      req.resume();
    })();
  };
  const server: Server = createServer(handle);
  // `Expect: 100-continue` costs a far-away client a round trip before its body goes out: the
  // request travels, Swift's 100 Continue travels back. (Node would answer it at once.)
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    void sleep(2 * delayMs).then(() => {
      res.writeContinue();
      handle(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  self = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: self,
    delayMs,
    counts: () => ({ ...counts }),
    reset: () => (counts = zero()),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
