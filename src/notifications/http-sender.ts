// One POST of one envelope to one endpoint, as Distribution's httpSink: the configured headers,
// the events media type, the whole exchange bounded by the endpoint's timeout, and any 2xx or 3xx
// answer counted as delivered (redirects are not followed). Anything else rejects.
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { EVENTS_MEDIA_TYPE } from './envelope.js';

export interface HttpSenderOptions {
  url: string;
  headers: Record<string, string[]>;
  timeoutMs: number;
}

export type Deliver = (body: string, signal: AbortSignal) => Promise<void>;

export function httpSender(options: HttpSenderOptions): { deliver: Deliver; close(): void } {
  const url = new URL(options.url);
  const secure = url.protocol === 'https:';
  // One connection kept open per endpoint: events go one at a time, in order.
  const agent = secure ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const request = secure ? httpsRequest : httpRequest;

  const deliver: Deliver = (body, signal) =>
    new Promise<void>((resolve, reject) => {
      let req: ClientRequest | undefined;
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err) {
          req?.destroy();
          reject(err);
        } else resolve();
      };
      const onAbort = (): void => finish(new Error('delivery aborted (shutting down)'));
      const timer = setTimeout(() => finish(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort);
      req = request(
        url,
        {
          method: 'POST',
          agent,
          headers: {
            ...options.headers,
            'Content-Type': EVENTS_MEDIA_TYPE,
            'Content-Length': Buffer.byteLength(body),
            'User-Agent': 'regate-notifications',
          },
        },
        (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          // Read the answer to its end so the connection can carry the next event.
          res.resume();
          res.on('end', () => (status >= 200 && status < 400 ? finish() : finish(new Error(`response status ${status} ${res.statusMessage ?? ''} unaccepted`))));
          res.on('error', (err) => finish(err));
        },
      );
      req.on('error', (err) => finish(err));
      req.end(body);
    });

  return { deliver, close: () => agent.destroy() };
}
