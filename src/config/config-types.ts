// The configuration regate runs with: Distribution's config.yml shape (the keys the product reads),
// plus regate's own keys in one extra section, `regate:`.
import type { SwiftOptions } from '../swift/swift-options.js';
import type { CacheConfig } from './cache-config.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormatter = 'text' | 'json' | 'logstash';
export type StorageDriverName = 'filesystem' | 'inmemory' | 'swift';

export interface StorageConfig {
  driver: StorageDriverName;
  /** The driver's own section (e.g. `filesystem: {rootdirectory}`), as written. */
  parameters: Record<string, unknown>;
  /** storage.swift, validated (driver `swift` only). */
  swift?: SwiftOptions;
  deleteEnabled: boolean;
  /** false when storage.redirect.disable is true: blobs are then always served by regate itself. */
  redirect: boolean;
  /** storage.maintenance.readonly.enabled: every write method answers 405 UNSUPPORTED. */
  readOnly: boolean;
  /** storage.maintenance.uploadpurging (Distribution's defaults: on, 168h, every 24h). */
  uploadPurging: { enabled: boolean; ageMs: number; intervalMs: number; dryRun: boolean };
  /** Sections Distribution knows and regate accepts as written: cache, maintenance, redirect. */
  extra: Record<string, unknown>;
  /** storage.cache.blobdescriptor (with the redis section when it is redis). */
  cache?: CacheConfig;
}

/** regate.gc (src/storage/gc.ts). */
export interface GcConfig {
  /** A background pass inside `regate serve`. */
  enabled: boolean;
  intervalMs: number;
  /** Only content older than this, and not linked or read within it, is deleted. */
  delayMs: number;
  /** Also delete manifests no tag reaches (regate gc --delete-untagged for one pass). */
  deleteUntagged: boolean;
  /** How far the backend's listings may lag writes (0 on a filesystem, 60s on Swift by default). */
  listingLagMs: number;
  /** The longest a request may take from claiming content to linking it (storage/gc-fence.ts). */
  linkWindowMs: number;
}

/** regate.access: per-repository rights (src/access/access-policy.ts). */
export interface AccessConfig {
  /** Apache AuthGroupFile-format groups, reloaded live. */
  groupsFile?: string;
  rules: import('../access/access-policy.js').AccessRule[];
}

/** One pull-through cache (regate.mirrors[], or Distribution's proxy section). */
export interface MirrorConfig {
  /** The registry host it stands for: the path prefix of its names and containerd's ?ns=. */
  name: string;
  /** The upstream's origin(s); the first is asked first. */
  urls: string[];
  credentials?: { username: string; password: string };
  /** PEM certificates to trust for the upstream, beside the system's. */
  ca?: string;
  insecureSkipVerify: boolean;
  /** How long a tag is served from the cache before the upstream is asked again. */
  tagTtlMs: number;
  /** Cached content nobody pulled for this long goes at a GC pass; 0 keeps it. */
  ttlMs: number;
  /** Unprefixed names with no ?ns= that are no repository of the team's own come here. */
  default: boolean;
}

export interface MirrorsConfig {
  mirrors: MirrorConfig[];
  /** Distribution's proxy section: the whole registry is pull-only. */
  pullOnly: boolean;
}

/** regate.upstream: forward /v2/ to an existing registry instead of serving it from storage. */
export interface UpstreamConfig {
  /** The upstream's origin, e.g. http://127.0.0.1:5001. */
  url: string;
  /** Forward the client's Authorization header (default: stripped, as seed 004's nginx did). */
  passAuthorization: boolean;
  /** The gateway's own Basic credentials for the upstream. */
  credentials?: { username: string; password: string };
  /** A request on which the upstream sends nothing for this long is cut (seed 004: 900 s). */
  idleTimeoutMs: number;
  /** Keep-alive pool size towards the upstream. */
  maxSockets: number;
  insecureSkipVerify: boolean;
}

/** One notifications.endpoints entry, Distribution's defaults applied. */
export interface EndpointConfig {
  name: string;
  /** Distribution skips a disabled endpoint (with a log line). */
  disabled: boolean;
  url: string;
  headers: Record<string, string[]>;
  /** One POST, connect to answer. */
  timeoutMs: number;
  /** Consecutive failures after which attempts wait backoffMs apart. */
  threshold: number;
  backoffMs: number;
  /** ignoredmediatypes and ignore.mediatypes together: events whose target has one are not sent. */
  ignoredMediaTypes: string[];
  ignoredActions: string[];
}

/** notifications: webhooks in Distribution's envelope, one queue per endpoint. */
export interface NotificationsConfig {
  /** notifications.events.includereferences: manifest events list what the manifest references. */
  includeReferences: boolean;
  endpoints: EndpointConfig[];
}

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

export interface HttpConfig {
  addr: string;
  host: string;
  port: number;
  secret?: string;
  headers: Record<string, string[]>;
  /** `http.tls.certificate` / `http.tls.key` (absolute paths) when both are given. */
  tls?: { certificate: string; key: string; minimumtls?: string };
  /** `http.tls.minimumtls` in Node's spelling; TLSv1.2 unless configured. */
  minimumTls: TlsVersion;
  /** `http.debug` when it has an addr: the plain-HTTP debug listener (/debug/health, Prometheus). */
  debug?: DebugConfig;
  /** `http.draintimeout`: on shutdown, how long in-flight requests may finish (0 = cut at once, Distribution's default). */
  drainTimeoutMs: number;
}

export interface DebugConfig {
  /** `http.debug.addr` as written, e.g. `127.0.0.1:5001` or `:5001`. */
  addr: string;
  host: string;
  port: number;
  /** `http.debug.prometheus`: metrics at `path` (default /metrics) when enabled. */
  prometheus: { enabled: boolean; path: string };
}

/** How the listener is secured, decided once from http.tls and regate.tls.generate. */
export type TlsMode = 'files' | 'generated' | 'off';

export interface RegateConfig {
  version: string;
  /** accessLog: false when Distribution's `log.accesslog.disabled: true`. */
  log: { level: LogLevel; formatter: LogFormatter; fields: Record<string, unknown>; accessLog: boolean };
  /** The embedded registry's storage; absent in upstream mode. */
  storage?: StorageConfig;
  /** Upstream mode: the registry behind the gateway. */
  upstream?: UpstreamConfig;
  /** regate.mirrors or proxy: pull-through caches beside the team's own repositories. */
  mirrors?: MirrorsConfig;
  http: HttpConfig;
  auth?: { htpasswd?: { realm: string; path: string } };
  health?: Record<string, unknown>;
  /** notifications, when the section has at least one enabled endpoint. */
  notifications?: NotificationsConfig;
  /** health.storagedriver when enabled: check the backend every intervalMs, 503 after threshold failures. */
  storageHealth?: { intervalMs: number; threshold: number };
  regate: {
    /** Largest manifest accepted, bytes. */
    manifestMaxBytes: number;
    /** Largest blob accepted, bytes; 0 = unlimited. */
    blobMaxBytes: number;
    tls: {
      /** files: http.tls.certificate/key; generated: a CA + server certificate in `dir`; off: plain HTTP. */
      mode: TlsMode;
      /** Where generated TLS material lives (regate.tls.dir, default ./certs). */
      dir: string;
      /** Extra names/IPs for the generated server certificate (regate.tls.hosts). */
      hosts: string[];
    };
    /** Paths answered 200 without auth (exact match on the normalised path; regate.ping). */
    pingPaths: string[];
    http: {
      /** The whole request head must arrive within this (and the TLS handshake); slowloris guard. */
      headersTimeoutMs: number;
      /** An idle keep-alive connection is closed after this. */
      keepAliveTimeoutMs: number;
      /** A connection with no traffic at all in either direction for this long is closed (0 = never). */
      idleTimeoutMs: number;
      /** Proxies whose X-Forwarded-For is believed (CIDRs or loopback/linklocal/uniquelocal); [] = none. */
      trustedProxies: string[];
    };
    auth: {
      /** Failed credential checks from one client address before it is refused with 429. */
      maxFailures: number;
      /** The window those failures are counted in, and how long a refused address waits. */
      failureWindowMs: number;
    };
    /** Per-repository rights; undefined = every valid user may do everything. */
    access?: AccessConfig;
    /** regate.gc: garbage collection, by `regate gc` and (enabled) in the background of `regate serve`. */
    gc: GcConfig;
    /** regate.ui: the web page at /ui/. */
    ui: { enabled: boolean; sessionTtlMs: number };
  };
  /** Where the configuration came from, for messages. */
  source: string;
  /** Non-fatal findings (unknown keys, …) to log once the logger exists. */
  warnings: string[];
}
