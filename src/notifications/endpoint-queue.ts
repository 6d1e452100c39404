// One endpoint's queue and its sender, after Distribution's eventQueue + retryingSink: events go
// out one per POST, in order; a failed one is tried again and again (never skipped), immediately
// for the first `threshold` consecutive failures, then `backoff` apart until the endpoint answers
// (Distribution's circuit breaker); a success resets the count.
//
// Unlike Distribution's, the queue is bounded: past `maxEvents` the oldest waiting event is dropped
// with a warning, so an endpoint that stays down cannot grow the process without limit. Adding an
// event never waits: the request that caused it is already answered or about to be.
import type { Deliver } from './http-sender.js';

export interface QueueLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
}

export interface EndpointQueueOptions {
  name: string;
  deliver: Deliver;
  threshold: number;
  backoffMs: number;
  /** Events waiting (the one being sent not counted) before the oldest is dropped. */
  maxEvents: number;
  logger: QueueLogger;
}

export class EndpointQueue {
  private readonly waiting: string[] = [];
  private sending = false;
  private failures = 0;
  private dropped = 0;
  private closing = false;
  private closed = false;
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private idle: (() => void) | undefined;

  constructor(private readonly options: EndpointQueueOptions) {}

  /** Events waiting to be sent, the one in flight included. */
  get length(): number {
    return this.waiting.length + (this.sending ? 1 : 0);
  }

  /** Queues one envelope body; returns at once. */
  push(body: string): void {
    if (this.closed || this.closing) return;
    if (this.waiting.length >= this.options.maxEvents) {
      this.waiting.shift();
      // One warning per run of drops, not one per event: a down endpoint must not flood the log.
      if (this.dropped++ === 0) {
        this.options.logger.warn(`notifications: endpoint ${this.options.name}: queue full (${this.options.maxEvents} events), dropping the oldest`, { endpoint: this.options.name });
      }
    }
    this.waiting.push(body);
    if (!this.sending) void this.run();
  }

  private async run(): Promise<void> {
    this.sending = true;
    while (!this.closed) {
      const body = this.waiting.shift();
      if (body === undefined) break;
      await this.sendUntilDelivered(body);
    }
    this.sending = false;
    this.idle?.();
  }

  private async sendUntilDelivered(body: string): Promise<void> {
    while (!this.closed) {
      try {
        await this.options.deliver(body, this.abort.signal);
        if (this.failures > 0 || this.dropped > 0) {
          this.options.logger.info(`notifications: endpoint ${this.options.name}: delivering again`, { endpoint: this.options.name, failures: this.failures, dropped: this.dropped });
        }
        this.failures = 0;
        this.dropped = 0;
        return;
      } catch (err) {
        if (this.closed) return;
        this.failures++;
        if (this.failures === 1 || this.failures === this.options.threshold) {
          this.options.logger.warn(`notifications: endpoint ${this.options.name}: ${(err as Error).message}; retrying${this.failures >= this.options.threshold ? ` every ${this.options.backoffMs} ms` : ''}`, {
            endpoint: this.options.name,
            failures: this.failures,
          });
        }
        // Shutting down: one attempt each, best effort, no waiting for an endpoint that is down.
        if (this.closing) return;
        if (this.failures >= this.options.threshold) await this.sleep(this.options.backoffMs);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /**
   * Best-effort flush: what is queued gets one more try each (a backoff wait is cut short) until
   * `withinMs` passes; then what is left is dropped and a request in flight is aborted.
   */
  async close(withinMs: number): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    this.wake?.();
    if (this.sending) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, withinMs);
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.closed = true;
    this.abort.abort();
    const left = this.length;
    if (left > 0) this.options.logger.warn(`notifications: endpoint ${this.options.name}: ${left} event(s) not delivered at shutdown`, { endpoint: this.options.name });
    this.waiting.length = 0;
  }
}
