// A counting, fault-injecting HTTP proxy in front of a real registry (the mirror tests' upstream):
// it counts requests by method and path, and on demand answers 429, corrupts a blob's bytes (same
// length, one byte flipped), or cuts a body short. Binds 127.0.0.1:0; close() stops it.
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultProxy {
  url: string;
  host: string;
  /** Requests seen, as "METHOD /path" (no query), in order. */
  requests: string[];
  count(method: string, pathPart: string): number;
  /** Faults for requests whose path includes the key: '429', 'corrupt' or 'truncate'; cleared by setting undefined. */
  faults: Map<string, '429' | 'corrupt' | 'truncate'>;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const requests: string[] = [];
  const faults = new Map<string, '429' | 'corrupt' | 'truncate'>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push(`${req.method} ${path}`);
    const fault = [...faults].find(([key]) => path.includes(key))?.[1];
    if (fault === '429') {
      req.resume();
      res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '5' });
      res.end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }));
      return;
    }
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (up: IncomingMessage) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (!fault || req.method !== 'GET' || up.statusCode !== 200) {
          up.pipe(res);
          return;
        }
        let first = true;
        up.on('data', (chunk: Buffer) => {
          if (first && fault === 'corrupt') chunk[0] = chunk[0]! ^ 0xff;
          if (first && fault === 'truncate') {
            res.write(chunk.subarray(0, Math.floor(chunk.length / 2)));
            res.destroy();
            up.destroy();
          } else res.write(chunk);
          first = false;
        });
        up.on('end', () => res.end());
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    count: (method, pathPart) => requests.filter((r) => r.startsWith(`${method} `) && r.includes(pathPart)).length,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
