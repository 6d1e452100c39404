// Distribution's notification envelope (notifications/event.go), byte for byte in shape: what a
// receiver written for Distribution parses. Pure: a registry event in, the JSON event out.
import type { RegistryEvent } from '../registry/events.js';

export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

/** Where the events come from: this process (Distribution: hostname:port and a UUID per start). */
export interface EventSource {
  addr: string;
  instanceID: string;
}

export interface EnvelopeEvent {
  id: string;
  timestamp: string;
  action: string;
  target: Record<string, unknown>;
  request: { id: string; addr?: string; host?: string; method: string; useragent: string };
  actor: { name?: string };
  source: { addr?: string; instanceID?: string };
}

/** Drops the keys Go's `omitempty` would leave out (empty strings, zero numbers, empty lists). */
function omitEmpty<T extends Record<string, unknown>>(value: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || v === '' || v === 0 || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  return out as Partial<T>;
}

export function toEnvelopeEvent(event: RegistryEvent, id: string, source: EventSource, includeReferences: boolean): EnvelopeEvent {
  const t = event.target;
  // Field order as Distribution writes it: the descriptor (mediaType, size, digest), then length, …
  const target = omitEmpty({
    mediaType: t.mediaType,
    size: t.size,
    digest: t.digest,
    length: t.size,
    repository: t.repository,
    fromRepository: t.fromRepository,
    url: t.url,
    tag: t.tag,
    references: includeReferences ? t.references : undefined,
  });
  const r = event.request;
  return {
    id,
    timestamp: event.timestamp.toISOString(),
    action: event.action,
    target,
    // id, method and useragent carry no omitempty in Distribution: always present.
    request: { id: r.id, ...omitEmpty({ addr: r.addr, host: r.host }), method: r.method, useragent: r.useragent },
    actor: omitEmpty({ name: event.actor.name }),
    source: omitEmpty({ addr: source.addr, instanceID: source.instanceID }),
  };
}

/** The body of one POST: Distribution sends `{"events":[…]}`. */
export function envelopeBody(events: readonly EnvelopeEvent[]): string {
  return JSON.stringify({ events });
}
