// Starts regate's HTTP listener in front of the embedded registry. (Plain HTTP for now; TLS,
// auth and limits arrive with the gateway.)
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RegateConfig } from '../config/config-types.js';
import type { Logger } from '../log/logger.js';
import { createDriver } from '../storage/factory.js';
import { createRegistry } from '../registry/registry.js';
import { answerClientErrors } from './client-error.js';

export interface RunningServer {
  server: Server;
  /** Base URL clients use, e.g. http://127.0.0.1:5000 */
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: RegateConfig, logger: Logger): Promise<RunningServer> {
  const driver = createDriver(config.storage);
  const registry = createRegistry(
    driver,
    {
      deleteEnabled: config.storage.deleteEnabled,
      manifestMaxBytes: config.regate.manifestMaxBytes,
      blobMaxBytes: config.regate.blobMaxBytes,
    },
    logger.child({ component: 'registry' }),
  );
  const access = logger.child({ component: 'access' });
  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    for (const [name, values] of Object.entries(config.http.headers)) res.setHeader(name, values);
    res.on('finish', () => {
      access.info('request', {
        method: req.method,
        path: req.url,
        status: res.statusCode,
        durationMs: Number((process.hrtime.bigint() - started) / 1_000_000n),
        remote: req.socket.remoteAddress,
      });
    });
    void registry.handle(req, res);
  });
  answerClientErrors(server);
  // Multi-gigabyte layers take longer than Node's default 5-minute request timeout; headers and
  // idle keep-alive connections still time out.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host || undefined, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
