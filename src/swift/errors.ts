// Errors of the Swift client. Messages name the method, the object and the status, never a token,
// a password or a storage URL's query: they end up in logs and in 5xx details.

/** Swift answered with a status the caller has to handle. */
export class SwiftHttpError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly target: string,
    detail = '',
  ) {
    super(`swift ${method} ${target}: HTTP ${status}${detail ? ` (${detail})` : ''}`);
    this.name = 'SwiftHttpError';
  }

  get transient(): boolean {
    return isTransientStatus(this.status);
  }
}

/** The credentials were refused, or the identity service answered something unusable. */
export class SwiftAuthError extends Error {
  constructor(message: string, readonly status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SwiftAuthError';
  }
}

/** 5xx, 429 and Swift's 498 (rate limited) usually clear on their own. */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 498 || status === 408;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENETDOWN', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE',
]);

/** True for network failures and statuses worth retrying when the request can be replayed. */
export function isTransientError(err: unknown): boolean {
  if (err instanceof SwiftHttpError) return err.transient;
  if (err instanceof SwiftAuthError) return err.status === undefined || isTransientStatus(err.status);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}
