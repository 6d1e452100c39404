// The access log's format: one line per request, message "request", with these fields (plus the
// root logger's log.fields). The gateway (src/gateway/access-log.ts) collects them; nothing here
// ever sees headers or bodies, so neither Authorization nor a password can reach this line.
import type { Logger } from './logger.js';

export interface AccessRecord {
  requestId: string;
  /** The peer address (IPv4-mapped IPv6 shown as IPv4). */
  remote: string;
  /** The authenticated user, or "-". */
  user: string;
  method: string;
  /** The request target as sent (path and query). */
  path: string;
  status: number;
  /** Request body bytes received. */
  bytesIn: number;
  /** Response body bytes sent. */
  bytesOut: number;
  durationMs: number;
  /** The connection closed before the response was complete. */
  aborted?: boolean;
}

export function logAccess(logger: Logger, record: AccessRecord): void {
  logger.info('request', record);
}
