// regate's Prometheus metrics: one prom-client Registry for the process, and the few functions the
// layers call to report to it. The layers import this module; it imports none of them, so it never
// reaches back into a layer (docs/architecture.md, "Layers"). The debug listener (src/debug/debug-server.ts)
// renders the registry at http.debug.prometheus.path.
//
// Cost on the hot paths: label sets are bounded and small (route names from the route table, never
// raw paths; driver and operation names), and the children prom-client keeps per label set are
// looked up once and cached here, so a request or a driver call costs a Map lookup and two adds.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const metricsRegistry = new Registry();

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

const httpRequests = new Counter({
  name: 'regate_http_requests_total',
  help: 'HTTP requests answered, by route (the registry route table name, or ping/auth/other for requests the gateway answered itself), method and status code',
  labelNames: ['route', 'method', 'code'] as const,
  registers: [metricsRegistry],
});
const httpDuration = new Histogram({
  name: 'regate_http_request_duration_seconds',
  help: 'Time from a request arriving to its response finishing, by route and method',
  labelNames: ['route', 'method'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});
const bytesReceived = new Counter({
  name: 'regate_http_received_bytes_total',
  help: 'Request body bytes received',
  registers: [metricsRegistry],
});
const bytesSent = new Counter({
  name: 'regate_http_sent_bytes_total',
  help: 'Response body bytes sent (headers excluded)',
  registers: [metricsRegistry],
});
const uploadsInFlight = new Gauge({
  name: 'regate_uploads_in_flight',
  help: 'Blob upload bodies being received right now',
  registers: [metricsRegistry],
});
const authAttempts = new Counter({
  name: 'regate_auth_attempts_total',
  help: 'Basic auth outcomes: success, failure (wrong credentials), throttled (429 without a check), missing (no usable credentials: the challenge)',
  labelNames: ['outcome'] as const,
  registers: [metricsRegistry],
});
const htpasswdReloads = new Counter({
  name: 'regate_htpasswd_reloads_total',
  help: 'Users files loaded and swapped in',
  registers: [metricsRegistry],
});
const htpasswdReloadFailures = new Counter({
  name: 'regate_htpasswd_reload_failures_total',
  help: 'Users file loads refused (the previous users stay in service), by reason: parse, missing, read',
  labelNames: ['reason'] as const,
  registers: [metricsRegistry],
});
const storageOperations = new Counter({
  name: 'regate_storage_operations_total',
  help: 'Storage driver calls, by driver and operation',
  labelNames: ['driver', 'operation'] as const,
  registers: [metricsRegistry],
});
const storageErrors = new Counter({
  name: 'regate_storage_operation_errors_total',
  help: 'Storage driver calls that failed, by driver, operation and error (not_found, invalid_path, invalid_offset, backend)',
  labelNames: ['driver', 'operation', 'error'] as const,
  registers: [metricsRegistry],
});
const storageDuration = new Histogram({
  name: 'regate_storage_operation_duration_seconds',
  help: 'Storage driver call latency, by driver and operation',
  labelNames: ['driver', 'operation'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});
const gcRuns = new Counter({
  name: 'regate_gc_runs_total',
  help: 'Garbage collection passes completed',
  registers: [metricsRegistry],
});
const gcFreedBytes = new Counter({
  name: 'regate_gc_freed_bytes_total',
  help: 'Bytes freed by garbage collection',
  registers: [metricsRegistry],
});

let defaultsStarted = false;

/** Process metrics (CPU, memory, event loop lag, GC pauses …) under their usual names; once per process. */
export function collectProcessMetrics(): void {
  if (defaultsStarted) return;
  defaultsStarted = true;
  collectDefaultMetrics({ register: metricsRegistry });
}

/** The Prometheus text exposition of every metric. */
export function renderMetrics(): Promise<string> {
  return metricsRegistry.metrics();
}

export const METRICS_CONTENT_TYPE = metricsRegistry.contentType;

// ---- HTTP (the gateway) ----

interface RequestChildren {
  count: Counter.Internal;
  duration: Histogram.Internal<'route' | 'method'>;
}
const requestChildren = new Map<string, RequestChildren>();
// Clients choose the method: anything outside the HTTP methods regate knows is counted as OTHER,
// so a scanner cannot grow the label set.
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** One answered request: `route` is a bounded name, `seconds` arrival to finish. */
export function recordRequest(route: string, method: string, status: number, seconds: number, received: number, sent: number): void {
  const m = KNOWN_METHODS.has(method) ? method : 'OTHER';
  const key = `${route} ${m} ${status}`;
  let children = requestChildren.get(key);
  if (!children) {
    children = { count: httpRequests.labels(route, m, String(status)), duration: httpDuration.labels(route, m) };
    requestChildren.set(key, children);
  }
  children.count.inc();
  children.duration.observe(seconds);
  if (received > 0) bytesReceived.inc(received);
  if (sent > 0) bytesSent.inc(sent);
}

export type AuthOutcome = 'success' | 'failure' | 'throttled' | 'missing';
const authChildren = {
  success: authAttempts.labels('success'),
  failure: authAttempts.labels('failure'),
  throttled: authAttempts.labels('throttled'),
  missing: authAttempts.labels('missing'),
} satisfies Record<AuthOutcome, unknown>;
// Every outcome is exported from the start (as 0), so a rate over it never starts from nothing.
for (const child of Object.values(authChildren)) child.inc(0);
for (const reason of ['parse', 'missing', 'read']) htpasswdReloadFailures.labels(reason).inc(0);

export function recordAuth(outcome: AuthOutcome): void {
  authChildren[outcome].inc();
}

// ---- uploads (the storage layer) ----

export function uploadStarted(): void {
  uploadsInFlight.inc();
}

export function uploadEnded(): void {
  uploadsInFlight.dec();
}

// ---- the users file ----

export function recordHtpasswdReload(): void {
  htpasswdReloads.inc();
}

export function recordHtpasswdReloadFailure(reason: string): void {
  htpasswdReloadFailures.labels(reason).inc();
}

// ---- storage drivers (the base wrapper) ----

/** What the base wrapper keeps per driver operation: prom-client's children, bound once. */
export interface OperationMetrics {
  /** Counts the call and observes its latency. */
  done(seconds: number): void;
  /** Counts a failed call, by the kind of error. */
  failed(error: StorageErrorKind): void;
}

export type StorageErrorKind = 'not_found' | 'invalid_path' | 'invalid_offset' | 'backend';

export function operationMetrics(driver: string, operation: string): OperationMetrics {
  const count = storageOperations.labels(driver, operation);
  const duration = storageDuration.labels(driver, operation);
  const errors = new Map<StorageErrorKind, Counter.Internal>();
  return {
    done(seconds) {
      count.inc();
      duration.observe(seconds);
    },
    failed(error) {
      let child = errors.get(error);
      if (!child) errors.set(error, (child = storageErrors.labels(driver, operation, error)));
      child.inc();
    },
  };
}

// ---- garbage collection ----

/** Called after each background garbage collection pass (registry/open-registry.ts). */
export function recordGcPass(bytesFreed: number): void {
  gcRuns.inc();
  if (bytesFreed > 0) gcFreedBytes.inc(bytesFreed);
}

// ---- pull-through mirrors ----

const mirrorHits = new Counter({
  name: 'regate_mirror_hits_total',
  help: 'Mirrored manifests and blobs served from the cache, by mirror and kind (manifest, blob)',
  labelNames: ['mirror', 'kind'] as const,
  registers: [metricsRegistry],
});
const mirrorMisses = new Counter({
  name: 'regate_mirror_misses_total',
  help: 'Mirrored manifests and blobs fetched from the upstream, by mirror and kind (manifest, blob)',
  labelNames: ['mirror', 'kind'] as const,
  registers: [metricsRegistry],
});
const mirrorUpstreamBytes = new Counter({
  name: 'regate_mirror_upstream_bytes_total',
  help: 'Bytes received from mirrored upstreams, by mirror',
  labelNames: ['mirror'] as const,
  registers: [metricsRegistry],
});
const mirrorUpstreamErrors = new Counter({
  name: 'regate_mirror_upstream_errors_total',
  help: 'Failed upstream requests, by mirror and kind (unreachable, timeout, rate_limited, server_error, auth, not_found, refused, digest)',
  labelNames: ['mirror', 'kind'] as const,
  registers: [metricsRegistry],
});

export function recordMirrorHit(mirror: string, kind: 'manifest' | 'blob'): void {
  mirrorHits.labels(mirror, kind).inc();
}

export function recordMirrorMiss(mirror: string, kind: 'manifest' | 'blob'): void {
  mirrorMisses.labels(mirror, kind).inc();
}

export function recordMirrorBytes(mirror: string, bytes: number): void {
  mirrorUpstreamBytes.labels(mirror).inc(bytes);
}

export function recordMirrorError(mirror: string, kind: string): void {
  mirrorUpstreamErrors.labels(mirror, kind).inc();
}
