// The error table: every code of the OCI Distribution spec (plus the few Distribution adds that
// clients rely on), with its message and HTTP status. Handlers throw RegistryError; one middleware
// writes the envelope {"errors":[{code,message,detail}]}.

export const ERROR_TABLE = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  // Distribution's own codes, which Docker and other clients understand.
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export class RegistryError extends Error {
  readonly status: number;
  /** Extra response headers the error needs (Range on 416, WWW-Authenticate on 401, …). */
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    readonly detail?: unknown,
    options?: { message?: string; headers?: Record<string, string>; status?: number; cause?: unknown },
  ) {
    super(options?.message ?? ERROR_TABLE[code].message, { cause: options?.cause });
    this.name = 'RegistryError';
    // A status override exists for the one case the spec leaves open: a body over a size limit is
    // SIZE_INVALID (a spec code) sent as 413, which is what clients and proxies expect for it.
    this.status = options?.status ?? ERROR_TABLE[code].status;
    this.headers = { ...options?.headers };
    // Every 429 says when to come back (distribution-spec): a second unless the thrower knows better.
    if (this.status === 429 && !Object.keys(this.headers).some((h) => h.toLowerCase() === 'retry-after')) this.headers['Retry-After'] = '1';
  }
}

export interface ErrorEnvelope {
  errors: Array<{ code: ErrorCode; message: string; detail?: unknown }>;
}

export function errorEnvelope(err: RegistryError): ErrorEnvelope {
  const entry: ErrorEnvelope['errors'][number] = { code: err.code, message: err.message };
  if (err.detail !== undefined) entry.detail = err.detail;
  return { errors: [entry] };
}
