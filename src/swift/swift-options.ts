// The Swift connection settings, already validated (config/swift-config.ts turns Distribution's
// storage.swift keys into this). Secrets live here and nowhere else: nothing formats this object
// into a message.

export type AuthVersion = 1 | 2 | 3;
export type EndpointType = 'public' | 'internal' | 'admin';

export interface SwiftOptions {
  authUrl?: string;
  authVersion?: AuthVersion;
  username?: string;
  userId?: string;
  password?: string;
  /** v3 user domain (name or id). */
  domain?: string;
  domainId?: string;
  /** Project (tenant) to scope to, v2 and v3. */
  tenant?: string;
  tenantId?: string;
  tenantDomain?: string;
  tenantDomainId?: string;
  trustId?: string;
  /** Keystone v3 application credentials (by id, or by name with the user). */
  applicationCredentialId?: string;
  applicationCredentialName?: string;
  applicationCredentialSecret?: string;
  region?: string;
  endpointType: EndpointType;
  /** Pre-authenticated: a storage URL and a token, no auth round trip. */
  storageUrl?: string;
  authToken?: string;
  insecureSkipVerify: boolean;
  container: string;
  /** Object name prefix inside the container (Distribution's `prefix`), without slashes at the ends. */
  prefix: string;
  /** Segment size of large objects (Distribution's `chunksize`). */
  chunkSize: number;
  /** TempURL: account key, container key flag, methods. Redirects are off unless configured. */
  secretKey?: string;
  accessKey?: string;
  tempUrlContainerKey: boolean;
  tempUrlMethods: string[];
  /** Parallel connections to the proxy (keep-alive pool). */
  maxSockets: number;
  /**
   * Swift sending nothing for this long while regate waits on it (an answer, a body's next bytes)
   * is a stalled backend: the request is aborted and, where it can be, retried. Default 60 s; not
   * a configuration key (tests shorten it).
   */
  idleTimeoutMs?: number;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

export const DEFAULT_CHUNK_SIZE = 20 * 1024 * 1024;
/** Distribution's floor for chunksize (1 MiB). */
export const MIN_CHUNK_SIZE = 1024 * 1024;
