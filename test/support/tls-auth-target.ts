// The registry that the real-client tests (docker, podman, skopeo) talk to: TLS + htpasswd Basic
// auth, bound to one loopback address. Two implementations of one contract:
//
//   startDistributionTarget   CNCF Distribution 2.8.2 (/usr/bin/docker-registry) with http.tls and
//                             auth.htpasswd, over a certificate made here with openssl
//   startRegateTarget         regate serving the same (see its comment for what it relies on)
//
// Each test file says `const startTarget = startDistributionTarget;` in one line: switching the
// target is that line.
//
// The contract (TlsAuthTarget): the tests get the loopback address and port it listens on, a URL
// and a `host:port` for references, `hostAs(name)` for the same port under another name (e.g.
// `ip6-localhost:PORT`), the PEM file of the CA that signed the server certificate (`caFile`), and
// the users given at start exist with their passwords. The server certificate covers `localhost`,
// `ip6-localhost`, `127.0.0.1` and `::1`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import {
  DISTRIBUTION_BINARY,
  makeTempDir,
  regateServeCommand,
  runChecked,
  spawnServer,
  stopProcess,
  waitForHttp,
  type SpawnedServer,
} from './processes.js';
import { requireProgram } from './host-tools.js';

export interface TestUser {
  username: string;
  password: string;
}

export type LoopbackAddress = '127.0.0.1' | '::1';

export interface TlsAuthTargetOptions {
  /** Users that exist from the start (written to an htpasswd file, bcrypt). */
  users: readonly TestUser[];
  /** The loopback address to listen on; 127.0.0.1 by default. `::1` for the `ip6-localhost` runs. */
  bind?: LoopbackAddress;
  /** Basic auth realm; "regate-test" by default. */
  realm?: string;
  timeoutMs?: number;
  /** The storage section (regate only); a filesystem root in the target's temp dir by default. */
  storage?: Record<string, unknown>;
  /** regate.upstream (regate only): upstream mode, no storage section. */
  upstream?: Record<string, unknown>;
  /** More keys of the `regate:` section (regate only), e.g. blobmaxbytes. */
  regate?: Record<string, unknown>;
}

export interface TlsAuthTarget {
  kind: 'distribution' | 'regate';
  bind: LoopbackAddress;
  port: number;
  /** `127.0.0.1:PORT` or `[::1]:PORT`: for docker://, podman and skopeo references. */
  host: string;
  /** `https://` + host. */
  url: string;
  /** `${name}:${port}`, e.g. hostAs('ip6-localhost') for Docker's certificate-verified run. */
  hostAs(name: string): string;
  /** PEM of the CA that signed the server certificate. */
  caFile: string;
  users: readonly TestUser[];
  realm: string;
  pid: number;
  /** Everything the server wrote so far (its logs). */
  output(): string;
  /** Stops the server by PID and removes its temp directory (storage included). */
  stop(): Promise<void>;
}

/** Names every test server certificate covers. */
export const TEST_CERT_NAMES = { dns: ['localhost', 'ip6-localhost'], ips: ['127.0.0.1', '::1'] } as const;

export interface TestCertificates {
  caFile: string;
  caKeyFile: string;
  certFile: string;
  keyFile: string;
}

/**
 * A throw-away CA and a server certificate it signed (ECDSA P-256, valid 2 days), written into
 * `dir` with openssl: ca.crt / ca.key / server.crt / server.key.
 */
export async function makeTestCertificates(
  dir: string,
  names: { dns: readonly string[]; ips: readonly string[] } = TEST_CERT_NAMES,
): Promise<TestCertificates> {
  const openssl = requireProgram('openssl', 'openssl');
  mkdirSync(dir, { recursive: true });
  const caFile = join(dir, 'ca.crt');
  const caKeyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  const csrFile = join(dir, 'server.csr');
  const extFile = join(dir, 'server.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await runChecked(openssl, [
    'req', '-x509', ...ec, '-keyout', caKeyFile, '-out', caFile, '-days', '2', '-subj', '/CN=regate test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await runChecked(openssl, ['req', ...ec, '-keyout', keyFile, '-out', csrFile, '-subj', '/CN=localhost']);
  const san = [...names.dns.map((n) => `DNS:${n}`), ...names.ips.map((ip) => `IP:${ip}`)].join(',');
  writeFileSync(
    extFile,
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
  );
  await runChecked(openssl, [
    'x509', '-req', '-in', csrFile, '-CA', caFile, '-CAkey', caKeyFile, '-CAcreateserial', '-out', certFile, '-days', '2', '-sha256',
    '-extfile', extFile,
  ]);
  return { caFile, caKeyFile, certFile, keyFile };
}

/** An htpasswd file with every user (bcrypt via Apache's `htpasswd -B`, what operators use). */
export async function writeHtpasswd(path: string, users: readonly TestUser[]): Promise<void> {
  const htpasswd = requireProgram('htpasswd', 'apache2-utils');
  const lines: string[] = [];
  for (const user of users) {
    const result = await runChecked(htpasswd, ['-nbB', user.username, user.password]);
    lines.push(result.stdout.toString('utf8').trim());
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/** A port that was free on `address` a moment ago. */
export function freePortOn(address: LoopbackAddress): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, address, () => {
      const bound = server.address();
      if (bound === null || typeof bound === 'string') {
        server.close();
        reject(new Error('could not read the bound port'));
        return;
      }
      server.close(() => resolvePort(bound.port));
    });
  });
}

/** `127.0.0.1:PORT` or `[::1]:PORT`. */
export function hostPort(address: LoopbackAddress, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function makeTarget(
  kind: TlsAuthTarget['kind'],
  server: SpawnedServer,
  bind: LoopbackAddress,
  port: number,
  caFile: string,
  users: readonly TestUser[],
  realm: string,
  removeDir: () => void,
): TlsAuthTarget {
  const host = hostPort(bind, port);
  return {
    kind,
    bind,
    port,
    host,
    url: `https://${host}`,
    hostAs: (name) => `${name}:${port}`,
    caFile,
    users,
    realm,
    pid: server.pid,
    output: server.output,
    stop: async () => {
      try {
        await stopProcess(server.pid, { graceMs: 5000, hasExited: server.exited });
      } finally {
        removeDir();
      }
    },
  };
}

/**
 * CNCF Distribution 2.8.2 with TLS (a CA and server certificate made with openssl) and htpasswd
 * auth, storage on the filesystem in a temp directory, listening on `bind`:<free port>.
 */
export async function startDistributionTarget(options: TlsAuthTargetOptions): Promise<TlsAuthTarget> {
  const binary = requireProgram(DISTRIBUTION_BINARY, 'docker-registry');
  const bind = options.bind ?? '127.0.0.1';
  const realm = options.realm ?? 'regate-test';
  const tmp = makeTempDir('regate-target-distribution-');
  try {
    const certs = await makeTestCertificates(join(tmp.path, 'certs'));
    const htpasswdPath = join(tmp.path, 'htpasswd');
    await writeHtpasswd(htpasswdPath, options.users);
    const configPath = join(tmp.path, 'config.yml');
    let lastError: unknown;
    // freePortOn() cannot reserve the port: if something takes it first, try another one.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePortOn(bind);
      writeFileSync(
        configPath,
        stringifyYaml({
          version: 0.1,
          log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
          storage: { ...(options.storage ?? { filesystem: { rootdirectory: join(tmp.path, 'root') } }), delete: { enabled: true } },
          http: { addr: hostPort(bind, port), secret: 'regate-e2e-test-secret', tls: { certificate: certs.certFile, key: certs.keyFile } },
          auth: { htpasswd: { realm, path: htpasswdPath } },
        }),
      );
      let server: SpawnedServer | undefined;
      try {
        server = await spawnServer({ name: 'distribution', command: binary, args: ['serve', configPath], ready: /listening on /, timeoutMs: options.timeoutMs });
        const live = server;
        // With auth on, /v2/ answers 401 once it is up.
        await waitForHttp(`https://${hostPort(bind, port)}/v2/`, { timeoutMs: options.timeoutMs, isDead: () => live.exited() });
        return makeTarget('distribution', server, bind, port, certs.caFile, options.users, realm, tmp.remove);
      } catch (err) {
        lastError = err;
        if (server) await server.stop();
        if (!/address already in use/.test(String((err as Error).message))) break;
      }
    }
    throw lastError;
  } catch (err) {
    tmp.remove();
    throw err;
  }
}

/**
 * regate with TLS + htpasswd Basic auth, from a Distribution-shaped config.yml: `http.addr`
 * "127.0.0.1:0" or "[::1]:0", `auth.htpasswd.{realm,path}` (an htpasswd file of bcrypt lines), and
 * TLS either
 *   - 'generated' (default): regate makes its own CA + server certificate in `regate.tls.dir` (a
 *     temp dir) with `regate.tls.hosts: [ip6-localhost]` added to its SANs; `caFile` is
 *     `<dir>/ca.crt`; or
 *   - 'files': `http.tls.certificate/key` made here with openssl, as for Distribution.
 * Ready once it logs `listening on https://HOST:PORT` and /v2/ answers.
 */
export async function startRegateTarget(options: TlsAuthTargetOptions & { tls?: 'generated' | 'files' }): Promise<TlsAuthTarget> {
  const bind = options.bind ?? '127.0.0.1';
  const realm = options.realm ?? 'regate-test';
  const tmp = makeTempDir('regate-target-regate-');
  try {
    const certDir = join(tmp.path, 'certs');
    const htpasswdPath = join(tmp.path, 'htpasswd');
    await writeHtpasswd(htpasswdPath, options.users);
    let caFile: string;
    let tlsConfig: { http: Record<string, unknown>; regate: Record<string, unknown> };
    if (options.tls === 'files') {
      const certs = await makeTestCertificates(certDir);
      caFile = certs.caFile;
      tlsConfig = { http: { tls: { certificate: certs.certFile, key: certs.keyFile } }, regate: {} };
    } else {
      caFile = join(certDir, 'ca.crt');
      tlsConfig = { http: {}, regate: { tls: { generate: true, dir: certDir, hosts: ['ip6-localhost'] } } };
    }
    const configPath = join(tmp.path, 'config.yml');
    writeFileSync(
      configPath,
      stringifyYaml({
        version: 0.1,
        log: { level: 'info', formatter: 'text' },
        ...(options.upstream ? {} : { storage: { ...(options.storage ?? { filesystem: { rootdirectory: join(tmp.path, 'root') } }), delete: { enabled: true } } }),
        http: { addr: hostPort(bind, 0), ...tlsConfig.http },
        auth: { htpasswd: { realm, path: htpasswdPath } },
        regate: { ...tlsConfig.regate, ...options.regate, ...(options.upstream ? { upstream: options.upstream } : {}) },
      }),
    );
    const server = await spawnServer({
      name: 'regate',
      ...regateServeCommand(configPath),
      ready: /listening on https:\/\/(?:127\.0\.0\.1|\[::1\]):(\d+)/,
      timeoutMs: options.timeoutMs,
    });
    const port = Number(server.match[1]);
    try {
      await waitForHttp(`https://${hostPort(bind, port)}/v2/`, { timeoutMs: options.timeoutMs, isDead: () => server.exited() });
      readFileSync(caFile); // the CA the clients are told to trust must exist
    } catch (err) {
      await server.stop();
      throw err;
    }
    return makeTarget('regate', server, bind, port, caFile, options.users, realm, tmp.remove);
  } catch (err) {
    tmp.remove();
    throw err;
  }
}

/** An HTTPS request to the target that verifies its certificate against `caFile`. */
export function targetRequest(
  target: TlsAuthTarget,
  method: string,
  path: string,
  options: { user?: TestUser; accept?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const ca = readFileSync(target.caFile);
  return new Promise((resolveRequest, reject) => {
    const headers: Record<string, string> = {};
    if (options.user) headers.authorization = `Basic ${Buffer.from(`${options.user.username}:${options.user.password}`).toString('base64')}`;
    if (options.accept) headers.accept = options.accept;
    const req = httpsRequest(
      { host: target.bind, port: target.port, path, method, headers, ca, timeout: 10_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolveRequest({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end();
  });
}
