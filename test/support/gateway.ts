// A real regate gateway (startServer: TLS, auth, limits, the embedded registry) in this process on
// 127.0.0.1:0, over temp directories for certificates, the users file and storage, with its log
// and one-time notices captured; and clients that send request targets exactly as written (no
// normalisation), trusting ONLY the generated CA.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { connect as netConnect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { validateConfig } from '../../src/config/load-config.js';
import type { RawConfig } from '../../src/config/env-overrides.js';
import type { RegateConfig } from '../../src/config/config-types.js';
import { createLogger } from '../../src/log/logger.js';
import { startServer, type RunningServer, type StartOptions } from '../../src/gateway/server.js';
import { hashPassword } from '../../src/auth/password.js';
import { deepMerge } from './processes.js';
import { bytes, chunked, sha256 } from './test-data.js';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text(): string;
  json<T = any>(): T;
  header(name: string): string | undefined;
}

export interface SendOptions {
  /** [user, password] for Basic auth, or a whole Authorization header value. */
  auth?: [string, string] | string;
  headers?: Record<string, string | number>;
  body?: Buffer | string | Readable;
  /** Client source address (127.0.0.2 … tests "another client"). */
  localAddress?: string;
  /** Only the CA is trusted unless this is given (e.g. [] for the system roots alone). */
  ca?: string | string[];
  timeoutMs?: number;
}

export interface Gateway {
  url: string;
  port: number;
  /** Temp directory holding certs/, htpasswd, data/. */
  dir: string;
  htpasswdPath: string;
  storageRoot: string;
  /** The generated CA (PEM), or undefined for plain HTTP / configured files. */
  ca: string | undefined;
  config: RegateConfig;
  running: RunningServer;
  /** Every log line written so far. */
  logs: string[];
  /** Everything printed through StartOptions.print. */
  printed: string[];
  send(method: string, path: string, options?: SendOptions): Promise<Reply>;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** Users written (bcrypt cost 4) to the htpasswd file before start; undefined = leave the file alone. */
  users?: Record<string, string>;
  /** Deep-merged into the base config (set a key to null to drop it, e.g. { auth: null }). */
  config?: RawConfig;
  /** Reuse an existing directory (a "restart"); otherwise a fresh temp directory. */
  dir?: string;
  start?: StartOptions;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const hashCache = new Map<string, string>();
export async function htpasswdLine(user: string, password: string, cost = 4): Promise<string> {
  const key = `${cost}\0${password}`;
  if (!hashCache.has(key)) hashCache.set(key, await hashPassword(password, cost));
  return `${user}:${hashCache.get(key)!}`;
}

export async function htpasswdText(users: Record<string, string>, cost = 4): Promise<string> {
  const lines: string[] = [];
  for (const [user, password] of Object.entries(users)) lines.push(await htpasswdLine(user, password, cost));
  return `${lines.join('\n')}\n`;
}

function dropNulls(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null) continue;
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? dropNulls(v as Record<string, unknown>) : v;
  }
  return out;
}

export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'regate-gateway-'));
  const htpasswdPath = join(dir, 'htpasswd');
  const storageRoot = join(dir, 'data');
  const base: RawConfig = {
    version: '0.1',
    log: { level: 'info', formatter: 'json', fields: { service: 'regate-test' } },
    storage: { filesystem: { rootdirectory: storageRoot }, delete: { enabled: true } },
    http: { addr: '127.0.0.1:0', headers: { 'X-Content-Type-Options': ['nosniff'] } },
    auth: { htpasswd: { realm: 'test-realm', path: htpasswdPath } },
    regate: { tls: { generate: true, dir: join(dir, 'certs') } },
  };
  const raw = dropNulls(deepMerge(base, options.config ?? {}));
  let config: RegateConfig;
  try {
    if (options.users) writeFileSync(htpasswdPath, await htpasswdText(options.users), { mode: 0o600 });
    config = validateConfig(raw, 'gateway-test', dir);
  } catch (err) {
    // A refused config leaves nothing behind either.
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(line);
      callback();
    },
  });
  const logger = createLogger({ ...config.log, stream });
  const printed: string[] = [];
  let running: RunningServer;
  try {
    running = await startServer(config, logger, { print: (t) => void printed.push(t), initialUserCost: 4, ...options.start });
  } catch (err) {
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const port = new URL(running.url).port;
  const ca = running.tls?.caCert;
  const https = running.url.startsWith('https:');
  const gateway: Gateway = {
    url: running.url,
    port: Number(port),
    dir,
    htpasswdPath,
    storageRoot,
    ca,
    config,
    running,
    logs,
    printed,
    send: (method, path, sendOptions = {}) =>
      send({ https, port: Number(port), ca: sendOptions.ca ?? ca }, method, path, sendOptions),
    async close() {
      await running.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return gateway;
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

export function send(
  target: { https: boolean; port: number; ca: string | string[] | undefined; host?: string },
  method: string,
  path: string,
  options: SendOptions = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(options.headers ?? {}) };
    if (options.auth !== undefined) headers.Authorization = typeof options.auth === 'string' ? options.auth : basic(...options.auth);
    const body = options.body;
    if ((typeof body === 'string' || Buffer.isBuffer(body)) && headers['Content-Length'] === undefined) headers['Content-Length'] = Buffer.byteLength(body);
    const common = {
      host: target.host ?? '127.0.0.1',
      port: target.port,
      method,
      path,
      headers,
      agent: false as const,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    };
    const onResponse = (res: import('node:http').IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: buf,
          text: () => buf.toString('utf8'),
          json: () => JSON.parse(buf.toString('utf8')),
          header: (name) => {
            const v = res.headers[name.toLowerCase()];
            return Array.isArray(v) ? v.join(', ') : v;
          },
        });
      });
      res.on('error', reject);
    };
    const req = target.https
      ? httpsRequest({ ...common, ca: target.ca ?? [], rejectUnauthorized: true }, onResponse)
      : httpRequest(common, onResponse);
    req.setTimeout(options.timeoutMs ?? 20_000, () => req.destroy(new Error(`${method} ${path}: no answer in time`)));
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

/**
 * Opens a raw connection (TLS trusting `ca`, or TCP), writes `data`, and collects everything the
 * server sends until it closes the connection or `waitMs` passes.
 */
export function rawExchange(
  target: { https: boolean; port: number; ca?: string },
  data: string | Buffer,
  waitMs = 3000,
): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = target.https
      ? tlsConnect({ host: '127.0.0.1', port: target.port, ca: target.ca ?? [], servername: undefined } as ConnectionOptions)
      : netConnect({ host: '127.0.0.1', port: target.port });
    let text = '';
    let settled = false;
    const finish = (closedByServer: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closedByServer });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on(target.https ? 'secureConnect' : 'connect', () => socket.write(data));
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (err) => (settled ? undefined : text === '' ? reject(err) : finish(true)));
  });
}

export { bytes, chunked, sha256 };

export function errorCode(reply: Reply): string | undefined {
  try {
    return reply.json<{ errors: Array<{ code: string }> }>().errors[0]?.code;
  } catch {
    return undefined;
  }
}

/** Pushes a blob the way Docker does: POST, PATCH (chunked, no Content-Length), PUT ?digest=. */
export async function pushBlobChunked(gw: Gateway, name: string, data: Buffer, auth: [string, string]): Promise<string> {
  const digest = sha256(data);
  const start = await gw.send('POST', `/v2/${name}/blobs/uploads/`, { auth });
  if (start.status !== 202) throw new Error(`POST upload: ${start.status} ${start.text()}`);
  const patch = await gw.send('PATCH', start.header('location')!, {
    auth,
    body: chunked(data),
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  if (patch.status !== 202) throw new Error(`PATCH upload: ${patch.status} ${patch.text()}`);
  const location = patch.header('location')!;
  const put = await gw.send('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, { auth });
  if (put.status !== 201) throw new Error(`PUT upload: ${put.status} ${put.text()}`);
  return digest;
}

/** Pushes config + one layer + an OCI image manifest under `tag`; returns the manifest bytes and digest. */
export async function pushImage(gw: Gateway, name: string, tag: string, auth: [string, string], seed = 1): Promise<{ digest: string; manifest: Buffer; layer: Buffer; layerDigest: string }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const configDigest = await pushBlobChunked(gw, name, config, auth);
  const layer = bytes(200 * 1024 + seed, seed);
  const layerDigest = await pushBlobChunked(gw, name, layer, auth);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
    }),
  );
  const put = await gw.send('PUT', `/v2/${name}/manifests/${tag}`, {
    auth,
    body: manifest,
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  if (put.status !== 201) throw new Error(`PUT manifest: ${put.status} ${put.text()}`);
  return { digest: sha256(manifest), manifest, layer, layerDigest };
}

/** Polls `check` until it returns true or `withinMs` passes; returns the elapsed time or throws. */
export async function eventually(what: string, withinMs: number, check: () => Promise<boolean>, stepMs = 25): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > withinMs) throw new Error(`${what}: not true within ${withinMs} ms`);
    await sleep(stepMs);
  }
}

export function readPem(path: string): string {
  return readFileSync(path, 'utf8');
}
