// The debug listener (http.debug.addr): plain HTTP on an address of its own, apart from the main
// TLS listener, meant for an operator's network or loopback, never for registry clients.
//
//   GET /debug/health        the health checks as JSON, as Distribution answers it: 200 `{}` when
//                            all pass, 503 `{"storagedriver_<driver>": "<problem>"}` when not
//   GET <prometheus.path>    Prometheus text (http.debug.prometheus.enabled; default /metrics)
//
// Anything else is 404 (405 for other methods on those paths) in the registry's JSON error
// envelope. It reads the checks and the metrics registry and nothing else: no layer is reached.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DebugConfig } from '../config/config-types.js';
import { DEBUG_HEALTH_PATH } from '../config/load-config.js';
import { collectProcessMetrics, METRICS_CONTENT_TYPE, renderMetrics } from '../metrics/metrics.js';
import { healthReport, type HealthCheck } from './health-checks.js';

export interface DebugLogger {
  error(message: string, meta?: Record<string, unknown>): void;
}

export interface RunningDebugServer {
  server: Server;
  /** e.g. http://127.0.0.1:5001 (the actual port when http.debug.addr asked for port 0). */
  url: string;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

function sendEnvelope(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { errors: [{ code, message, detail: null }] }, headers);
}

export function createDebugHandler(config: DebugConfig, checks: readonly HealthCheck[], logger: DebugLogger): (req: IncomingMessage, res: ServerResponse) => void {
  const metricsPath = config.prometheus.enabled ? config.prometheus.path : undefined;
  return (req, res) => {
    // Nothing here takes a body; whatever was sent is drained so the connection stays usable.
    req.resume();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const known = path === DEBUG_HEALTH_PATH || (metricsPath !== undefined && path === metricsPath);
    if (!known) return sendEnvelope(res, 404, 'UNSUPPORTED', 'no such debug endpoint');
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendEnvelope(res, 405, 'UNSUPPORTED', `${req.method} is not supported here`, { Allow: 'GET, HEAD' });
    if (path === DEBUG_HEALTH_PATH) {
      const report = healthReport(checks);
      return sendJson(res, report.healthy ? 200 : 503, report.body);
    }
    renderMetrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        logger.error(`debug: metrics could not be rendered: ${err instanceof Error ? err.message : String(err)}`);
        sendEnvelope(res, 500, 'UNKNOWN', 'metrics could not be rendered');
      },
    );
  };
}

/** Starts the debug listener on http.debug.addr; rejects when the address cannot be bound. */
export async function startDebugServer(config: DebugConfig, checks: readonly HealthCheck[], logger: DebugLogger): Promise<RunningDebugServer> {
  if (config.prometheus.enabled) collectProcessMetrics();
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 }, createDebugHandler(config, checks, logger));
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host || undefined, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.address === '0.0.0.0' || address.address === '::' ? 'localhost' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}
