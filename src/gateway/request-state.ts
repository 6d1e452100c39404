// What the gateway learns about one request as it passes the middleware list: its id, when it
// started, who authenticated, the bytes that went in and out, and whether the client is waiting for
// `100 Continue`. Kept beside the request (a WeakMap), not on it, so nothing else can forge it.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { addressChain, clientAddress, TRUST_NOBODY } from './client-address.js';
import type { Session } from './web-session.js';

export interface RequestState {
  /** A fresh id per request (also sent back as X-Request-Id). */
  readonly id: string;
  readonly startedAt: bigint;
  /** The authenticated user, once Basic auth has accepted the request. */
  user?: string;
  /** The web page's login session the user came with (web-session.ts), when not Basic auth. */
  session?: Session;
  /** The body bytes below are being counted (access-log.ts installs the counting once). */
  counting?: boolean;
  /** Body bytes received so far (as delivered by the HTTP parser; never buffered here). */
  bytesIn: number;
  /** Response bytes written (headers excluded). */
  bytesOut: number;
  /** The client sent `Expect: 100-continue` and is waiting before it sends the body. */
  expectsContinue: boolean;
  /** regate.access on /v2/_catalog: the repositories this user may see listed. */
  mayList?: (repository: string) => boolean;
  /** The gateway step that answered the request itself (`ping`, `auth`): the metrics' route label. */
  answeredBy?: string;
  /** [peer, trusted hops…, client] (client-address.ts), set by the first middleware. */
  addresses: string[];
}

const states = new WeakMap<IncomingMessage, RequestState>();

export function requestState(req: IncomingMessage): RequestState {
  let state = states.get(req);
  if (!state) {
    state = { id: randomUUID(), startedAt: process.hrtime.bigint(), bytesIn: 0, bytesOut: 0, expectsContinue: false, addresses: [] };
    states.set(req, state);
  }
  return state;
}

/** [peer, trusted hops…, client]; just [peer] when the first middleware has not decided it. */
export function addressesOf(req: IncomingMessage): string[] {
  const addresses = requestState(req).addresses;
  return addresses.length > 0 ? addresses : addressChain(req, TRUST_NOBODY);
}

/** The client's address: behind trusted proxies, the one they vouch for; else the socket's peer. */
export function clientAddressOf(req: IncomingMessage): string {
  return clientAddress(addressesOf(req));
}

/** The request target's path, exactly as sent (no decoding), without the query. */
export function rawPath(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
