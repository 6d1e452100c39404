// Starts regate: the storage driver and the embedded registry (or, in upstream mode, the proxy to
// the registry behind it), the htpasswd store and the gateway app
// (app.ts), behind an HTTPS listener (or plain HTTP when the config asks for it), and stops it all.
//
// Timeouts: no limit on a request as a whole (requestTimeout 0), so a multi-gigabyte layer is never
// cut off mid-upload; but the request head must arrive within regate.http.headerstimeout (60 s; also
// the TLS handshake limit), so a slowloris client sending headers byte by byte is disconnected; an
// idle keep-alive connection closes after regate.http.keepalivetimeout (30 s); and a connection on
// which nothing at all moves for regate.http.idletimeout (5 min) is closed, a stalled upload included.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { RegateConfig } from '../config/config-types.js';
import type { Logger } from '../log/logger.js';
import { openRegistry } from '../registry/open-registry.js';
import { HtpasswdStore } from '../auth/htpasswd-store.js';
import { AccessPolicy } from '../access/access-policy.js';
import { GroupsStore } from '../access/groups-file.js';
import { ensureHtpasswdFile } from '../auth/initial-user.js';
import { cliCommand } from '../cli-invocation.js';
import { describeCreateError, describeReadError, FileAccessError } from '../fs/file-access.js';
import { createApp } from './app.js';
import { openUpstream } from './upstream.js';
import { Notifier, type NotifierOptions } from '../notifications/notifier.js';
import { answerClientErrors } from './client-error.js';
import { RequestDrain } from './drain.js';
import { CertificateReloader } from './certificate-reload.js';
import { answerPlainHttpOnTls, type PlainHttpGuard } from './plain-http-on-tls.js';
import { rawPath, requestState } from './request-state.js';
import { isPingBypass } from './ping.js';
import { caNotice, prepareTls, type TlsMaterial } from './tls.js';
import { startDebugServer, type RunningDebugServer } from '../debug/debug-server.js';
import { recordHtpasswdReload, recordHtpasswdReloadFailure } from '../metrics/metrics.js';
import type { HtpasswdReloadErrorEvent } from '../auth/htpasswd-store.js';

export { TlsSetupError } from './tls.js';
export { FileAccessError } from '../fs/file-access.js';

export interface StartOptions {
  /** Where one-time notices go (the generated password, the CA instructions). Default: stdout. */
  print?: (text: string) => void;
  /** bcrypt cost of the generated first user (default 10; tests use 4). */
  initialUserCost?: number;
  /** The htpasswd store's backstop poll interval (default 250 ms). */
  htpasswdPollIntervalMs?: number;
  /** Queue bound and shutdown flush budget of notifications (defaults in notifier.ts). */
  notifications?: NotifierOptions;
}

export interface RunningServer {
  server: Server;
  /** Base URL clients use, e.g. https://127.0.0.1:5000 */
  url: string;
  /** The TLS material in use (undefined for plain HTTP). */
  tls?: TlsMaterial;
  /** The live users table (undefined when the config has no auth). */
  users?: HtpasswdStore;
  /** The notifications sender (undefined without enabled endpoints). */
  notifier?: Notifier;
  /** The debug listener (http.debug.addr), when configured. */
  debug?: RunningDebugServer;
  /** Re-reads the users file, the groups file and the TLS files now (SIGHUP); connections stay up. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

const UNSPECIFIED = new Set(['0.0.0.0', '::']);

function hostForUrl(address: AddressInfo): string {
  if (UNSPECIFIED.has(address.address)) return 'localhost';
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

export async function startServer(config: RegateConfig, logger: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const print = options.print ?? ((text: string) => void process.stdout.write(text));
  const gatewayLog = logger.child({ component: 'gateway' });

  if (config.regate.tls.mode === 'off') {
    gatewayLog.warn(
      `no TLS configured (http.tls): serving plain HTTP; passwords and images cross the network unencrypted. ` +
        `Set http.tls.certificate/key or regate.tls.generate: true`,
      { config: config.source },
    );
  }
  if (!config.auth?.htpasswd) {
    gatewayLog.warn(`no auth configured (auth.htpasswd): anyone who can reach this port can push, pull and delete`, { config: config.source });
  }

  const tls = config.regate.tls.mode === 'off' ? undefined : await prepareTls(config, logger.child({ component: 'tls' }));

  let users: HtpasswdStore | undefined;
  if (config.auth?.htpasswd) {
    const path = resolve(config.auth.htpasswd.path);
    const created = await ensureHtpasswdFile(path, options.initialUserCost === undefined ? {} : { cost: options.initialUserCost }).catch((err: unknown) => {
      throw new FileAccessError(`auth.htpasswd.path: cannot create ${path}: ${describeCreateError(err)}`);
    });
    if (created.created) {
      print(
        [
          `regate: created the users file ${path} with one user (shown once, write it down):`,
          `  user:     ${created.user}`,
          `  password: ${created.password}`,
          `  change it with: ${cliCommand()} user passwd ${created.user} --file ${path}`,
          '',
        ].join('\n'),
      );
      gatewayLog.info(`created ${path} with user "${created.user}" and a random password (printed on stdout, once)`, { path });
    }
    users = new HtpasswdStore({
      path,
      logger: logger.child({ component: 'htpasswd' }),
      ...(options.htpasswdPollIntervalMs === undefined ? {} : { pollIntervalMs: options.htpasswdPollIntervalMs }),
    });
    users.on('reload', () => recordHtpasswdReload());
    users.on('reload-error', (event: HtpasswdReloadErrorEvent) => recordHtpasswdReloadFailure(event.reason));
    try {
      await users.start();
    } catch (err) {
      throw new FileAccessError(`auth.htpasswd.path: cannot read ${path}: ${describeReadError(path, err)}`);
    }
  }

  let groups: GroupsStore | undefined;
  const accessConfig = config.regate.access;
  if (accessConfig?.groupsFile) {
    groups = new GroupsStore({
      path: accessConfig.groupsFile,
      logger: logger.child({ component: 'access' }),
      ...(options.htpasswdPollIntervalMs === undefined ? {} : { pollIntervalMs: options.htpasswdPollIntervalMs }),
    });
    await groups.start();
  }
  const noGroups: ReadonlySet<string> = new Set();
  const access = accessConfig
    ? {
        policy: new AccessPolicy(accessConfig.rules),
        groupsOf: groups ? (user: string) => groups!.groupsOf(user) : () => noGroups,
        strict: config.upstream !== undefined,
      }
    : undefined;

  // Events of the embedded registry go to the configured endpoints (config refuses them upstream).
  const notifier = config.notifications && !config.upstream ? new Notifier(config.notifications, logger.child({ component: 'notifications' }), options.notifications) : undefined;
  // The registry behind the front door: the embedded one over storage, or one upstream.
  const embedded = config.upstream
    ? undefined
    : openRegistry(
        config.storage!,
        { manifestMaxBytes: config.regate.manifestMaxBytes, blobMaxBytes: config.regate.blobMaxBytes },
        logger.child({ component: 'registry' }),
        config.storageHealth,
        notifier,
        config.regate.gc,
        config.mirrors,
      );
  const registry = embedded ?? openUpstream(config.upstream!, { blobMaxBytes: config.regate.blobMaxBytes, manifestMaxBytes: config.regate.manifestMaxBytes }, logger.child({ component: 'upstream' }));
  const drain = new RequestDrain();
  // The web page's session key: shared through storage by every replica, else this process's own.
  const sessionKey = embedded?.sharedSecret('ui-session-key');
  const sessionRevocations = embedded?.revocations('ui-sessions');
  const app = createApp({ config, registry, logger, draining: () => drain.draining, ...(users ? { users } : {}), ...(access ? { access } : {}), ...(sessionKey ? { sessionKey } : {}), ...(sessionRevocations ? { sessionRevocations } : {}) });

  const timeouts = config.regate.http;
  const serverOptions = {
    requestTimeout: 0,
    headersTimeout: timeouts.headersTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    // How often Node looks for connections past headersTimeout (its default is 30 s).
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(timeouts.headersTimeoutMs / 4))),
  };
  const pingPaths = config.regate.pingPaths;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    // A balancer's health checks arrive every second or so: they are not work a drain waits for.
    if ((req.method === 'GET' || req.method === 'HEAD') && isPingBypass(rawPath(req), pingPaths)) drain.noteHealthCheck(res);
    else drain.track(res);
    void app(req, res);
  };
  const server: Server = tls
    ? createHttpsServer({ ...serverOptions, key: tls.key, cert: tls.cert, minVersion: tls.minVersion, handshakeTimeout: timeouts.headersTimeoutMs }, handler)
    : createHttpServer(serverOptions, handler);
  server.timeout = timeouts.idleTimeoutMs;
  // `Expect: 100-continue`: the client waits for our word before sending the body, so a request
  // refused by auth or limits never uploads it. The registry step sends 100 Continue.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    requestState(req).expectsContinue = true;
    handler(req, res);
  });
  answerClientErrors(server);
  let plainHttp: PlainHttpGuard | undefined;
  if (tls) {
    plainHttp = answerPlainHttpOnTls(server as unknown as TlsServer, { firstByteTimeoutMs: timeouts.headersTimeoutMs });
    server.on('tlsClientError', (err: Error) => gatewayLog.debug(`TLS handshake failed: ${err.message}`));
  }

  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(config.http.port, config.http.host || undefined, () => {
        server.off('error', reject);
        resolveListen();
      });
    });
  } catch (err) {
    registry.close();
    await notifier?.close();
    await users?.stop();
    await groups?.stop();
    throw err;
  }
  // Renewed certificate files are served to new connections without a restart.
  const certificates =
    tls?.source === 'files'
      ? new CertificateReloader(
          config.http.tls!,
          (pair) => (server as unknown as TlsServer).setSecureContext({ key: pair.keyPem, cert: pair.certPem, minVersion: tls.minVersion }),
          logger.child({ component: 'tls' }),
        )
      : undefined;
  await certificates?.start({ certPem: tls!.cert, keyPem: tls!.key });
  let debug: RunningDebugServer | undefined;
  if (config.http.debug) {
    try {
      // In upstream mode there is no storage here, so no storage check: the health is always {}.
      debug = await startDebugServer(config.http.debug, embedded?.checks ?? [], logger.child({ component: 'debug' }));
    } catch (err) {
      certificates?.stop();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      registry.close();
      await users?.stop();
      await groups?.stop();
      throw err;
    }
  }
  const address = server.address() as AddressInfo;
  const url = `${tls ? 'https' : 'http'}://${hostForUrl(address)}:${address.port}`;
  // Distribution's source.addr: this host's name and the port it serves on.
  notifier?.setSourceAddr(`${hostname()}:${address.port}`);

  if (tls?.source === 'generated') {
    const host = UNSPECIFIED.has(address.address) || config.http.host === '' ? hostname().toLowerCase() : config.http.host;
    const hostPort = `${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    if (tls.action === 'created-ca') print(caNotice(tls, hostPort));
    else gatewayLog.info(`TLS: serving the generated certificate; clients trust it through the CA ${tls.caPath}`, { ca: tls.caPath });
  }

  let closing: Promise<void> | undefined;
  return {
    server,
    url,
    ...(tls ? { tls } : {}),
    ...(users ? { users } : {}),
    ...(notifier ? { notifier } : {}),
    ...(debug ? { debug } : {}),
    reload: async () => {
      await Promise.all([users?.checkNow(), groups?.checkNow(), certificates?.checkNow()]);
    },
    close: () =>
      (closing ??= (async () => {
        if (config.http.drainTimeoutMs > 0) {
          // Keep serving (a push in flight has its manifest still to send) while pings say 503,
          // until nothing has run for a moment or http.draintimeout is up (drain.ts).
          gatewayLog.info(`draining: ${drain.requestsInFlight} request(s) in flight; pings answer 503; at most ${config.http.drainTimeoutMs / 1000} s`);
          const outcome = await drain.drain(config.http.drainTimeoutMs);
          gatewayLog.info(outcome === 'idle' ? 'drained: no request in flight' : `drain time is up: cutting ${drain.requestsInFlight} request(s) in flight`);
        }
        await new Promise<void>((resolveClose) => {
          server.close(() => resolveClose());
          plainHttp?.destroyAll();
          server.closeAllConnections();
        });
        certificates?.stop();
        await debug?.close();
        registry.close();
        // After the last request: what they reported gets its best-effort delivery.
        await notifier?.close();
        await users?.stop();
        await groups?.stop();
      })()),
  };
}
