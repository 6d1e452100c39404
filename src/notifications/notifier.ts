// notifications: the registry's events, each turned into Distribution's envelope once and handed
// to every enabled endpoint whose ignore lists let it through, each endpoint with its own queue
// and sender (endpoint-queue.ts). Writing an event never waits on the network.
import { randomUUID } from 'node:crypto';
import type { EndpointConfig, NotificationsConfig } from '../config/config-types.js';
import type { EventSink, RegistryEvent } from '../registry/events.js';
import { EndpointQueue, type QueueLogger } from './endpoint-queue.js';
import { envelopeBody, toEnvelopeEvent, type EventSource } from './envelope.js';
import { httpSender } from './http-sender.js';

/** Events waiting per endpoint before the oldest is dropped. */
export const DEFAULT_MAX_QUEUED_EVENTS = 10_000;
/** How long shutdown waits for queued events to go out. */
export const DEFAULT_FLUSH_MS = 5_000;

export interface NotifierOptions {
  maxQueuedEvents?: number;
  flushMs?: number;
}

/** Distribution's ignoredSink: an event is not sent when its target's media type or its action is ignored. */
export function ignores(endpoint: Pick<EndpointConfig, 'ignoredMediaTypes' | 'ignoredActions'>, event: Pick<RegistryEvent, 'action' | 'target'>): boolean {
  const mediaType = event.target.mediaType;
  return (mediaType !== undefined && endpoint.ignoredMediaTypes.includes(mediaType)) || endpoint.ignoredActions.includes(event.action);
}

export class Notifier implements EventSink {
  private readonly source: EventSource = { addr: '', instanceID: randomUUID() };
  private readonly endpoints: Array<{ config: EndpointConfig; queue: EndpointQueue; close(): void }>;
  private readonly flushMs: number;

  constructor(
    private readonly config: NotificationsConfig,
    logger: QueueLogger,
    options: NotifierOptions = {},
  ) {
    this.flushMs = options.flushMs ?? DEFAULT_FLUSH_MS;
    this.endpoints = [];
    for (const endpoint of config.endpoints) {
      if (endpoint.disabled) {
        logger.info(`notifications: endpoint ${endpoint.name} disabled, skipping`, { endpoint: endpoint.name });
        continue;
      }
      const sender = httpSender({ url: endpoint.url, headers: endpoint.headers, timeoutMs: endpoint.timeoutMs });
      const queue = new EndpointQueue({
        name: endpoint.name,
        deliver: sender.deliver,
        threshold: endpoint.threshold,
        backoffMs: endpoint.backoffMs,
        maxEvents: options.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS,
        logger,
      });
      this.endpoints.push({ config: endpoint, queue, close: sender.close });
      logger.info(`notifications: sending events to endpoint ${endpoint.name}`, { endpoint: endpoint.name, url: new URL(endpoint.url).origin });
    }
  }

  /** source.addr of every event: this host and the port it listens on (known once listening). */
  setSourceAddr(addr: string): void {
    this.source.addr = addr;
  }

  /** Events waiting per endpoint name (for tests and diagnostics). */
  queued(): Record<string, number> {
    return Object.fromEntries(this.endpoints.map((e) => [e.config.name, e.queue.length]));
  }

  write(event: RegistryEvent): void {
    let body: string | undefined;
    for (const endpoint of this.endpoints) {
      if (ignores(endpoint.config, event)) continue;
      // The same event (same id) goes to every endpoint, as from Distribution's broadcaster.
      body ??= envelopeBody([toEnvelopeEvent(event, randomUUID(), this.source, this.config.includeReferences)]);
      endpoint.queue.push(body);
    }
  }

  /** Best-effort flush of every queue, together, within the flush budget; then the senders close. */
  async close(): Promise<void> {
    await Promise.all(this.endpoints.map((e) => e.queue.close(this.flushMs)));
    for (const e of this.endpoints) e.close();
  }
}
