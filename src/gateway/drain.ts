// Graceful stop (http.draintimeout > 0): on SIGTERM the listener stays open and keeps serving, the
// ping paths answer 503 so load balancers and health checks send nothing new, and regate stops
// once no request has been in flight for QUIET_MS (2 s), or at the drain deadline, whichever is first.
// Health checks (the ping paths) do not count: a balancer sends them all the time.
// A push is many requests (each layer, then the manifest): closing the listener at once would let
// the layer in flight finish and then refuse the manifest, so the push fails anyway. Requests
// still running at the deadline are cut, as Distribution cuts them.
//
// While draining, no connection is kept alive past its current request (`Connection: close`, or
// closed once the answer is out when its headers were already sent): a client's next request opens
// a new connection, which a balancer sends to a replica that is not stopping.
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How long the server must have been idle before a drain ends early: longer than the gap between
 * two requests of one push, which while draining includes a new connection's TCP and TLS handshakes.
 */
export const QUIET_MS = 2000;
const POLL_MS = 50;

export class RequestDrain {
  private inFlight = 0;
  private readonly responses = new Set<ServerResponse>();
  private lastActivity = Date.now();
  private drainingSince: number | undefined;

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** Counts `res` as in flight until it closes (answered or cut). */
  track(res: ServerResponse): void {
    this.inFlight += 1;
    this.lastActivity = Date.now();
    this.responses.add(res);
    if (this.draining) res.setHeader('Connection', 'close');
    res.once('close', () => {
      this.inFlight -= 1;
      this.lastActivity = Date.now();
      this.responses.delete(res);
    });
  }

  /** A health check (a ping path): not counted as work, but it keeps no connection alive while draining either. */
  noteHealthCheck(res: ServerResponse): void {
    if (this.draining) res.setHeader('Connection', 'close');
  }

  /** The requests already running when the drain starts keep no connection alive either. */
  private closeAfterCurrent(): void {
    for (const res of this.responses) {
      if (!res.headersSent) {
        res.setHeader('Connection', 'close');
        continue;
      }
      const socket: Socket | null = res.socket;
      res.once('close', () => socket?.end());
    }
  }

  /** Starts draining; resolves `idle` once nothing ran for `quietMs`, or `deadline` after `timeoutMs`. */
  drain(timeoutMs: number, quietMs = QUIET_MS): Promise<'idle' | 'deadline'> {
    if (this.drainingSince === undefined) {
      this.drainingSince = Date.now();
      this.closeAfterCurrent();
    }
    const since = this.drainingSince;
    return new Promise((resolve) => {
      const check = (): void => {
        const now = Date.now();
        if (this.inFlight === 0 && now - Math.max(this.lastActivity, since) >= quietMs) return resolve('idle');
        if (now - since >= timeoutMs) return resolve('deadline');
        setTimeout(check, Math.min(POLL_MS, Math.max(1, timeoutMs - (now - since))));
      };
      check();
    });
  }
}
