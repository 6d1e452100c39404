// An object PUT whose body streams as it arrives (with its Content-Length when known, else
// chunked), for large-object segments: nothing is buffered beyond the chunk being written. The
// request goes out with `Expect: 100-continue`, so a refusal (401 with an expired token, 412 for
// a taken name, 503) arrives before any byte is sent and the open is retried with a fresh token or
// after a backoff. Once bytes flow a failure cannot be replayed here; the caller decides.
import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { backoff, sleep, type SwiftClient } from './client.js';
import { MAX_RENEWALS, SECOND_RENEWAL_DELAY_MS } from './auth.js';
import { SwiftHttpError, isTransientError } from './errors.js';
import { discard, readBody, startRequest } from './http.js';

/**
 * How long to wait for the backend's verdict (100 Continue or a refusal) before sending the body
 * anyway. A refusal that arrives before the body (a 401 from a token check that is slow under
 * load, e.g. Keystone validating every request) is retried with a fresh token; one after it
 * cannot be, since a streamed segment is not kept. So the wait is long: 10 s until the backend
 * is known either way, 30 s once it has sent 100 Continue, and curl's 1 s for a backend that
 * was seen to ignore Expect (it would stall every segment otherwise).
 */
const CONTINUE_WAIT_FIRST_MS = 10_000;
const CONTINUE_WAIT_KNOWN_MS = 30_000;
const CONTINUE_WAIT_IGNORED_MS = 1000;
const expectBehaviour = new WeakMap<SwiftClient, 'honoured' | 'ignored'>();

function continueWait(client: SwiftClient): number {
  const known = expectBehaviour.get(client);
  return known === 'honoured' ? CONTINUE_WAIT_KNOWN_MS : known === 'ignored' ? CONTINUE_WAIT_IGNORED_MS : CONTINUE_WAIT_FIRST_MS;
}

export class StreamingPut {
  #failure: Error | undefined;
  #response: Promise<IncomingMessage>;
  bytes = 0;

  private constructor(
    private readonly req: ClientRequest,
    response: Promise<IncomingMessage>,
    private readonly target: string,
  ) {
    this.#response = response;
    req.on('error', (err) => {
      this.#failure ??= err;
    });
  }

  /** Opens the upload; resolves once the server is ready for the body. */
  /** `length`: the body's exact size when known (sent as Content-Length, else chunked). */
  static async open(client: SwiftClient, object: string, headers: OutgoingHttpHeaders = {}, length?: number): Promise<StreamingPut> {
    let session = await client.tokens.session();
    let renewals = 0;
    for (let attempt = 0; ; attempt++) {
      let failure: unknown;
      try {
        await client.hooks.beforeRequest?.('PUT', object, '');
        const req = startRequest(client.url(session, object), client.agents, 'PUT', {
          'content-type': 'application/octet-stream',
          ...headers,
          ...(length === undefined ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(length) }),
          expect: '100-continue',
          'x-auth-token': session.token,
        });
        req.setTimeout(client.idleTimeoutMs, () => req.destroy(Object.assign(new Error(`Swift stalled for ${client.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' })));
        const response = new Promise<IncomingMessage>((resolve, reject) => {
          req.once('response', resolve);
          req.once('error', reject);
        });
        response.catch(() => undefined);
        const ready = await new Promise<'continue' | IncomingMessage>((resolve, reject) => {
          const timer = setTimeout(() => {
            if (!expectBehaviour.has(client)) expectBehaviour.set(client, 'ignored');
            resolve('continue');
          }, continueWait(client));
          req.once('continue', () => {
            expectBehaviour.set(client, 'honoured');
            clearTimeout(timer);
            resolve('continue');
          });
          response.then((res) => {
            clearTimeout(timer);
            resolve(res);
          }, (err) => {
            clearTimeout(timer);
            reject(err);
          });
          req.flushHeaders();
        });
        if (ready === 'continue') return new StreamingPut(req, response, object);
        // A final answer before the body: the request is over.
        const status = ready.statusCode ?? 0;
        await discard(ready);
        req.destroy();
        if (status === 401 && renewals < MAX_RENEWALS) {
          if (renewals++ > 0) await sleep(SECOND_RENEWAL_DELAY_MS);
          session = await client.tokens.renew(session);
          attempt--;
          continue;
        }
        failure = new SwiftHttpError(status, 'PUT', object);
      } catch (err) {
        failure = err;
      }
      if (!isTransientError(failure) || attempt + 1 >= client.retry.attempts) throw failure;
      await sleep(backoff(attempt, client.retry));
    }
  }

  /** Resolves once the bytes left for the socket, so the caller may reuse the buffer. */
  write(chunk: Buffer): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    this.bytes += chunk.length;
    return new Promise((resolve, reject) => {
      this.req.write(chunk, (err) => (err ? reject(err) : this.#failure ? reject(this.#failure) : resolve()));
    });
  }

  /** Ends the body and waits for Swift to store the object; resolves with its ETag (MD5). */
  async finish(): Promise<string | undefined> {
    if (this.#failure) throw this.#failure;
    this.req.end();
    const res = await this.#response;
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      await discard(res);
      const etag = res.headers.etag;
      return typeof etag === 'string' ? etag.replace(/"/g, '') : undefined;
    }
    const detail = (await readBody(res, 4096).catch(() => Buffer.alloc(0))).toString('utf8').replace(/<[^>]+>/g, ' ').trim().slice(0, 200);
    throw new SwiftHttpError(status, 'PUT', this.target, detail);
  }

  /** Abandons the upload: Swift discards a body that never completed. */
  abort(): void {
    this.#failure ??= new Error('aborted');
    this.req.destroy();
  }
}
