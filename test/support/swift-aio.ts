// A real single-node OpenStack Swift (Debian's swift-* packages) on loopback, for one test file:
// memcached (tempauth keeps its tokens there), one account, container and object server over one
// device directory with one-replica rings, and a proxy with the middlewares a registry needs
// (bulk, tempurl, tempauth, copy, slo, dlo; stock large-object rate limits). Every server runs in
// a single process (workers = 0) in a session of its own: a Swift server signals its whole process
// group on SIGTERM. A second proxy over the same servers can authenticate through a real Keystone
// (startKeystoneProxy). Stopped by PID.
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireExecutable, runCommand, spawnServer, waitForHttp, type SpawnedServer } from './processes.js';

export interface SwiftAio {
  /** v1 auth URL (tempauth). */
  authUrl: string;
  /** The seeds' account and user (`demo:swift`), and its key. */
  username: string;
  password: string;
  /** A second user of another account, for isolation tests. */
  otherUser: { username: string; password: string };
  /** The proxy's base URL (http://127.0.0.1:PORT). */
  proxyUrl: string;
  /**
   * A second proxy over the same rings and servers that authenticates through Keystone
   * (authtoken + keystoneauth instead of tempauth); `port` is where it listens, so the object-store
   * endpoint can be registered in Keystone's catalog before it starts. Stopped with stop().
   */
  startKeystoneProxy(options: KeystoneProxyOptions): Promise<string>;
  /** Stops the proxy alone (the backend "goes away"); startProxy brings it back on the same port. */
  stopProxy(): Promise<void>;
  startProxy(): Promise<void>;
  stop(): Promise<void>;
}

export interface KeystoneProxyOptions {
  port: number;
  /** Keystone's base URL (http://127.0.0.1:PORT). */
  keystoneUrl: string;
  /** The service user authtoken validates tokens with (admin of the admin project, Default domain). */
  serviceUser: string;
  servicePassword: string;
  serviceProject: string;
}

export interface SwiftAioOptions {
  /** tempauth token lifetime in seconds (default a day). */
  tokenLifeSeconds?: number;
  /** Where the device directory lives (default: a temp dir on disk; Swift needs user xattrs). */
  baseDir?: string;
}

const SWIFT_CONF = `[swift-hash]
swift_hash_path_suffix = regate-test
swift_hash_path_prefix = regate-test

[storage-policy:0]
name = Policy-0
default = yes
`;

/** Swift reads /etc/swift/swift.conf whatever swift_dir says; Debian's package installs one. */
function ensureSwiftConf(): void {
  if (existsSync('/etc/swift/swift.conf')) return;
  mkdirSync('/etc/swift', { recursive: true });
  writeFileSync('/etc/swift/swift.conf', SWIFT_CONF);
}

function serverConf(kind: 'account' | 'container' | 'object', dir: string, port: number, logPort: number): string {
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
devices = ${join(dir, 'devices')}
mount_check = false
swift_dir = ${dir}
log_udp_host = 127.0.0.1
log_udp_port = ${logPort}
log_level = WARNING

[pipeline:main]
pipeline = ${kind}-server

[app:${kind}-server]
use = egg:swift#${kind}
`;
}

const TEMPAUTH_AUTH = { pipeline: 'tempauth', filters: (tokenLife: number): string => `[filter:tempauth]
use = egg:swift#tempauth
token_life = ${tokenLife}
user_demo_swift = secretkey .admin
user_other_user = otherkey .admin
` };

// token_cache_time = 2: a validation is reused for 2 s. Validating every request (-1) queued them on
// the one-threaded Keystone (≈ 0.5 s each) until the middleware gave up and answered 401 to valid
// tokens under load; the default (5 minutes) would hide a revocation from the re-auth test, which
// waits out these 2 s (KEYSTONE_VALIDATION_CACHE_SECONDS).
/** How long the Keystone proxy reuses a token validation (keystonemiddleware's token_cache_time). */
export const KEYSTONE_VALIDATION_CACHE_SECONDS = 2;

function keystoneAuthFilters(k: KeystoneProxyOptions, memcachePort: number): string {
  return `[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = ${k.keystoneUrl}/v3
auth_url = ${k.keystoneUrl}
auth_type = password
username = ${k.serviceUser}
password = ${k.servicePassword}
project_name = ${k.serviceProject}
user_domain_id = default
project_domain_id = default
delay_auth_decision = True
memcached_servers = 127.0.0.1:${memcachePort}
token_cache_time = ${KEYSTONE_VALIDATION_CACHE_SECONDS}
service_token_roles_required = False

[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, swiftoperator
reseller_prefix = AUTH_
`;
}

function proxyConf(dir: string, port: number, memcachePort: number, logPort: number, auth: { pipeline: string; filters: string }): string {
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
swift_dir = ${dir}
log_udp_host = 127.0.0.1
log_udp_port = ${logPort}
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl ${auth.pipeline} copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

${auth.filters}
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:${memcachePort}

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:tempurl]
use = egg:swift#tempurl

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
`;
}

async function buildRing(dir: string, kind: string, port: number): Promise<void> {
  const builder = join(dir, `${kind}.builder`);
  const ringBuilder = requireExecutable('swift-ring-builder');
  for (const args of [
    [builder, 'create', '8', '1', '1'],
    [builder, 'add', `r1z1-127.0.0.1:${port}/d1`, '1'],
    [builder, 'rebalance'],
  ]) {
    const result = await runCommand(ringBuilder, args, { cwd: dir });
    // rebalance exits 1 on mere warnings: the ring file is what counts.
    if (result.code !== 0 && args[1] !== 'rebalance') throw new Error(`swift-ring-builder ${args.slice(1).join(' ')} failed: ${result.stderr}${result.stdout.toString()}`);
  }
  if (!existsSync(join(dir, `${kind}.ring.gz`))) throw new Error(`swift-ring-builder did not write ${kind}.ring.gz`);
}

/**
 * Starts Swift on free loopback ports. A port found free can be taken by another server before
 * Swift binds it (a Ceph monitor started beside it picks ephemeral ports too): a start that fails
 * is made again on new ports, up to three times.
 */
export async function startSwiftAio(options: SwiftAioOptions = {}): Promise<SwiftAio> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSwiftAioOnce(options);
    } catch (err) {
      if (attempt >= 3) throw err;
      process.stderr.write(`swift-aio: start failed (${(err as Error).message.split('\n')[0]}), trying again on new ports\n`);
    }
  }
}

async function startSwiftAioOnce(options: SwiftAioOptions): Promise<SwiftAio> {
  ensureSwiftConf();
  const dir = await mkdtemp(join(options.baseDir ?? tmpdir(), 'regate-swift-'));
  const servers: SpawnedServer[] = [];
  let proxy: SpawnedServer | undefined;
  const stopAll = async (): Promise<void> => {
    await proxy?.stop();
    proxy = undefined;
    await Promise.all(servers.map((s) => s.stop()));
    servers.length = 0;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await mkdir(join(dir, 'devices', 'd1'), { recursive: true });
    const [memcachePort, accountPort, containerPort, objectPort, proxyPort, logPort] = await Promise.all([
      freePort(), freePort(), freePort(), freePort(), freePort(), freePort(),
    ]);
    const ports = { account: accountPort!, container: containerPort!, object: objectPort! };
    for (const kind of ['account', 'container', 'object'] as const) {
      await buildRing(dir, kind, ports[kind]);
      await writeFile(join(dir, `${kind}-server.conf`), serverConf(kind, dir, ports[kind], logPort!));
    }
    const tempauth = { pipeline: TEMPAUTH_AUTH.pipeline, filters: TEMPAUTH_AUTH.filters(options.tokenLifeSeconds ?? 86400) };
    await writeFile(join(dir, 'proxy-server.conf'), proxyConf(dir, proxyPort!, memcachePort!, logPort!, tempauth));

    servers.push(
      await spawnServer({
        name: 'memcached',
        command: requireExecutable('memcached'),
        args: ['-l', '127.0.0.1', '-p', String(memcachePort), '-U', '0', '-u', 'root', '-m', '64', '-vv'],
        ready: /(?:)/,
      }),
    );
    await Promise.all(
      (['account', 'container', 'object'] as const).map(async (kind) => {
        const server = await spawnServer({
          name: `swift-${kind}-server`,
          command: requireExecutable(`swift-${kind}-server`),
          args: [join(dir, `${kind}-server.conf`)],
          ready: /(?:)/,
          detached: true,
        });
        servers.push(server);
        await waitForHttp(`http://127.0.0.1:${ports[kind]}/healthcheck`, { timeoutMs: 30_000, isDead: () => server.exited() });
      }),
    );
    const startProxy = async (): Promise<void> => {
      const server = await spawnServer({
        name: 'swift-proxy-server',
        command: requireExecutable('swift-proxy-server'),
        args: [join(dir, 'proxy-server.conf')],
        ready: /(?:)/,
        detached: true,
      });
      proxy = server;
      await waitForHttp(`http://127.0.0.1:${proxyPort}/healthcheck`, { timeoutMs: 30_000, accept: (s) => s === 200, isDead: () => server.exited() });
    };
    await startProxy();
    const proxyUrl = `http://127.0.0.1:${proxyPort}`;
    const startKeystoneProxy = async (k: KeystoneProxyOptions): Promise<string> => {
      const conf = join(dir, `proxy-keystone-${k.port}.conf`);
      await writeFile(conf, proxyConf(dir, k.port, memcachePort!, logPort!, { pipeline: 'authtoken keystoneauth', filters: keystoneAuthFilters(k, memcachePort!) }));
      const server = await spawnServer({
        name: 'swift-proxy-server (keystone)',
        command: requireExecutable('swift-proxy-server'),
        args: [conf],
        ready: /(?:)/,
        detached: true,
      });
      servers.push(server);
      await waitForHttp(`http://127.0.0.1:${k.port}/healthcheck`, { timeoutMs: 30_000, accept: (s) => s === 200, isDead: () => server.exited() });
      return `http://127.0.0.1:${k.port}`;
    };
    return {
      authUrl: `${proxyUrl}/auth/v1.0`,
      username: 'demo:swift',
      password: 'secretkey',
      otherUser: { username: 'other:user', password: 'otherkey' },
      proxyUrl,
      startKeystoneProxy,
      async stopProxy() {
        await proxy?.stop();
        proxy = undefined;
      },
      startProxy,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}
