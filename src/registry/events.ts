// What the registry reports happened to a repository: a manifest or blob pushed, pulled, mounted or
// deleted, with the request that did it. The registry only reports; whoever listens (the
// notifications module) decides what to do with it and must never make the request wait.
//
// Which requests report what follows Distribution 2.8.2 (checked against a running one): a blob
// upload commit and a manifest PUT are pushes (the manifest's with its tag), a cross-repository
// mount is a mount, GETs of manifests and blobs are pulls (by-tag pulls carry the tag), a delete
// by digest is a delete of the digest and of every tag that pointed at it, a delete by tag is a
// delete of the tag. HEAD requests report nothing (Distribution 2.8.2 reports HEADs as pulls,
// even a HEAD it answered 404; a CI listening for pulls wants GETs).
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export type EventAction = 'push' | 'pull' | 'mount' | 'delete';

/** The media type Distribution gives every blob in events (it does not track blob types). */
export const BLOB_EVENT_MEDIA_TYPE = 'application/octet-stream';

export interface EventDescriptor {
  mediaType: string;
  size: number;
  digest: string;
}

export interface EventTarget {
  mediaType?: string;
  size?: number;
  digest?: string;
  repository: string;
  /** A mount's source repository. */
  fromRepository?: string;
  /** The absolute URL of the manifest or blob, by digest, as the client addressed this registry. */
  url?: string;
  tag?: string;
  /** A manifest's config, layers or child manifests. */
  references?: EventDescriptor[];
}

/** Who asked, as the gateway established it: the registry cannot know these itself. */
export interface Caller {
  /** The gateway's request id (X-Request-Id). */
  requestId?: string;
  /** The authenticated user. */
  user?: string;
  /** The client's address (behind trusted proxies, the one they vouch for). */
  addr?: string;
}

export interface RegistryEvent {
  action: EventAction;
  timestamp: Date;
  target: EventTarget;
  request: { id: string; addr: string; host: string; method: string; useragent: string };
  actor: { name?: string };
}

/** Takes events without waiting on anything: a slow listener must never slow a request. */
export interface EventSink {
  write(event: RegistryEvent): void;
}

/** The absolute URL of `path` (/v2/…) as this request reached the registry. */
export function absoluteUrl(req: IncomingMessage, path: string): string {
  const scheme = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  const host = req.headers.host ?? `${req.socket.localAddress ?? 'localhost'}:${req.socket.localPort ?? ''}`;
  return `${scheme}://${host}${path}`;
}

/** The client address Distribution reports: the address with the peer's port when it is the peer. */
function requestAddr(req: IncomingMessage, caller: Caller): string {
  const peer = req.socket.remoteAddress ?? '';
  const addr = caller.addr ?? peer;
  if (addr !== peer || req.socket.remotePort === undefined) return addr;
  return addr.includes(':') ? `[${addr}]:${req.socket.remotePort}` : `${addr}:${req.socket.remotePort}`;
}

export function makeEvent(req: IncomingMessage, caller: Caller, action: EventAction, target: EventTarget): RegistryEvent {
  return {
    action,
    timestamp: new Date(),
    target,
    request: {
      id: caller.requestId ?? '',
      addr: requestAddr(req, caller),
      host: req.headers.host ?? '',
      method: req.method ?? '',
      useragent: req.headers['user-agent'] ?? '',
    },
    actor: caller.user !== undefined ? { name: caller.user } : {},
  };
}

/** Reports an event for the request in `ctx`, unless it is a HEAD or nobody listens. Never throws. */
export function report(ctx: { req: IncomingMessage; events?: EventSink; caller?: Caller }, action: EventAction, target: EventTarget): void {
  if (!ctx.events || ctx.req.method === 'HEAD') return;
  try {
    ctx.events.write(makeEvent(ctx.req, ctx.caller ?? {}, action, target));
  } catch {
    // A listener's failure is its own business: the request has succeeded.
  }
}

/** The event target of a blob in `repository`. */
export function blobTarget(req: IncomingMessage, repository: string, digest: string, size: number): EventTarget {
  return { mediaType: BLOB_EVENT_MEDIA_TYPE, size, digest, repository, url: absoluteUrl(req, `/v2/${repository}/blobs/${digest}`) };
}
