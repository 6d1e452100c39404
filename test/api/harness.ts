// A real registry on a real HTTP server bound to 127.0.0.1:0, over a real driver, and a client
// that sends paths exactly as written (no normalisation), so tests can try to escape the root.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createRegistry, type RegistryLogger } from '../../src/registry/registry.js';
import type { RegistrySettings } from '../../src/registry/context.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import type { BlobDescriptorCache } from '../../src/storage/blob-descriptor-cache.js';
import { wrapDriver } from '../../src/storage/base-driver.js';
import { FilesystemDriver } from '../../src/storage/drivers/filesystem.js';
import { InMemoryDriver } from '../../src/storage/drivers/inmemory.js';
import { SwiftDriver } from '../../src/storage/drivers/swift.js';
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { swiftOptions } from '../support/swift-options.js';
import { startCephRgw, type CephRgw } from '../support/ceph-rgw.js';
import { answerClientErrors } from '../../src/gateway/client-error.js';
import { bytes, chunked, sha256 } from '../support/test-data.js';

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json<T = any>(): T;
  header(name: string): string | undefined;
}

export interface RequestOptions {
  headers?: Record<string, string | number>;
  body?: Buffer | string | Readable;
}

export interface TestRegistry {
  url: string;
  driver: StorageDriver;
  request(method: string, path: string, options?: RequestOptions): Promise<Response>;
  /** Serves a second registry process-alike over the same storage (a "restart"). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface DriverFactory {
  name: string;
  make(): Promise<{ driver: StorageDriver; cleanup(): Promise<void> }>;
}

export const DRIVERS: DriverFactory[] = [
  {
    name: 'filesystem',
    async make() {
      const root = await mkdtemp(join(tmpdir(), 'regate-api-'));
      return { driver: wrapDriver(new FilesystemDriver(root)), cleanup: () => rm(root, { recursive: true, force: true }) };
    },
  },
  {
    name: 'inmemory',
    async make() {
      return { driver: wrapDriver(new InMemoryDriver()), cleanup: async () => undefined };
    },
  },
  {
    // A real OpenStack Swift, one per test file (started on first use), a container per registry.
    name: 'swift',
    async make() {
      const swift = await sharedSwift();
      const driver = new SwiftDriver(swiftOptions(swift, `api-${randomBytes(4).toString('hex')}`));
      return { driver: wrapDriver(driver), cleanup: async () => driver.close() };
    },
  },
  {
    // A real Ceph RGW (Swift API), one per test file (started on first use), a container per registry.
    name: 'ceph-rgw',
    async make() {
      const rgw = await sharedRgw();
      const driver = new SwiftDriver(swiftOptions(rgw, `api-${randomBytes(4).toString('hex')}`));
      return { driver: wrapDriver(driver), cleanup: async () => driver.close() };
    },
  },
];

let rgwStarting: Promise<CephRgw> | undefined;
function sharedRgw(): Promise<CephRgw> {
  rgwStarting ??= startCephRgw();
  return rgwStarting;
}
after(async () => {
  await (await rgwStarting?.catch(() => undefined))?.stop();
});

let swiftStarting: Promise<SwiftAio> | undefined;
function sharedSwift(): Promise<SwiftAio> {
  swiftStarting ??= startSwiftAio();
  return swiftStarting;
}
// Registered while the file loads, so it belongs to the file's root and runs after every suite.
after(async () => {
  await (await swiftStarting?.catch(() => undefined))?.stop();
});

async function listen(driver: StorageDriver, settings: Partial<RegistrySettings>, logger?: RegistryLogger, cache?: BlobDescriptorCache): Promise<Server> {
  const registry = createRegistry(driver, settings, logger, undefined, undefined, cache);
  const server = createServer((req, res) => void registry.handle(req, res));
  answerClientErrors(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startTestRegistry(factory: DriverFactory, settings: Partial<RegistrySettings> = {}, logger?: RegistryLogger, cache?: BlobDescriptorCache): Promise<TestRegistry> {
  const { driver, cleanup } = await factory.make();
  let server = await listen(driver, settings, logger, cache);
  const port = (): number => (server.address() as AddressInfo).port;
  const self: TestRegistry = {
    get url() {
      return `http://127.0.0.1:${port()}`;
    },
    driver,
    request: (method, path, options = {}) => rawRequest(port(), method, path, options),
    async restart() {
      await closeServer(server);
      server = await listen(driver, settings, logger, cache);
    },
    async close() {
      await closeServer(server);
      await cleanup();
    },
  };
  return self;
}

export function rawRequest(port: number, method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(options.headers ?? {}) };
    const body = options.body;
    if ((typeof body === 'string' || Buffer.isBuffer(body)) && headers['Content-Length'] === undefined) {
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: buf,
          json: () => JSON.parse(buf.toString('utf8')),
          header: (name) => {
            const v = res.headers[name.toLowerCase()];
            return Array.isArray(v) ? v.join(', ') : v;
          },
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

export { bytes, sha256 };

/** A chunked (no Content-Length) body delivered in 64 KiB pieces. */
export const chunkedBody = (data: Buffer, pieceSize = 64 * 1024): Readable => chunked(data, pieceSize);

export async function pushBlob(reg: TestRegistry, name: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const res = await reg.request('POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, {
    body: data,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  if (res.status !== 201) throw new Error(`push blob: ${res.status} ${res.body.toString()}`);
  return digest;
}

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  empty: 'application/vnd.oci.empty.v1+json',
};

/** Pushes a config and layers, then an image manifest referencing them; returns its bytes and digest. */
export async function pushImage(
  reg: TestRegistry,
  name: string,
  reference: string,
  opts: { seed?: number; mediaType?: string; extra?: Record<string, unknown>; layers?: number } = {},
): Promise<{ digest: string; content: Buffer; size: number }> {
  const seed = opts.seed ?? 1;
  const docker = opts.mediaType === MT.dockerManifest;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const configDigest = await pushBlob(reg, name, config);
  const layers = [];
  for (let i = 0; i < (opts.layers ?? 2); i++) {
    const layer = bytes(1000 + i * 100, seed * 10 + i);
    layers.push({ mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : MT.ociLayer, digest: await pushBlob(reg, name, layer), size: layer.length });
  }
  const mediaType = opts.mediaType ?? MT.ociManifest;
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : MT.ociConfig, digest: configDigest, size: config.length },
    layers,
    ...(opts.extra ?? {}),
  };
  const content = Buffer.from(JSON.stringify(manifest, null, 2));
  const res = await reg.request('PUT', `/v2/${name}/manifests/${reference}`, { body: content, headers: { 'Content-Type': mediaType } });
  if (res.status !== 201) throw new Error(`push manifest: ${res.status} ${res.body.toString()}`);
  return { digest: sha256(content), content, size: content.length };
}

export function errorCode(res: Response): string | undefined {
  try {
    return res.json<{ errors: Array<{ code: string }> }>().errors[0]?.code;
  } catch {
    return undefined;
  }
}
