// The two registries behind TLS + htpasswd Basic auth, for the auth-head and tls-transfer scenarios.
// The config shape mirrors test/support/tls-auth-target.ts (startRegateTarget with tls 'files',
// startDistributionTarget), with three differences the benchmark needs:
//   - the storage root is a directory the bench chooses (tmpfs or disk), not a fresh temp dir;
//   - the users file is bcrypt cost 10, made with `htpasswd -nbB -C 10` (the support helper runs
//     `htpasswd -nbB`, whose default cost is 5, which would make Distribution look 32× faster);
//   - both registries get the SAME certificate (ECDSA P-256 from makeTestCertificates) and the SAME
//     users file, so handshakes, ciphers and the hash to check cost the same on both sides.
// The clients (curl here, and the TLS probe below) offer TLS_AES_128_GCM_SHA256 only: that is what
// Docker's Go client ends up with against either server (Go prefers AES-128-GCM; Node, like
// OpenSSL, follows the client's order), whereas curl's own default order puts AES-256-GCM first,
// which Node's server accepts and Go's does not, so the two registries would be measured with
// different bulk ciphers. BENCH_TLS13_CIPHERS overrides ('' = curl's default order).
// Children are tracked by cleanup.ts like the plain-HTTP registries; stop() is by PID.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { stringify as stringifyYaml } from 'yaml';
import { trackChild } from './cleanup.js';
import {
  DISTRIBUTION_BINARY,
  exitedError,
  freePort,
  LogTail,
  stopChild,
  type RegistryKind,
  type RunningRegistry,
} from './registries.js';
import { makeTestCertificates, type TestCertificates, type TestUser } from '../support/tls-auth-target.js';
import { requireProgram } from '../support/host-tools.js';
import { regateServeCommand } from '../support/processes.js';

export const BENCH_BCRYPT_COST = 10;
/** TLS 1.3 suites the bench's TLS clients offer (see the header comment). */
export const TLS13_CIPHERS = process.env.BENCH_TLS13_CIPHERS ?? 'TLS_AES_128_GCM_SHA256';
const REALM = 'regate-bench';

/** Certificate, CA and users file shared by every TLS + auth registry of one bench run. */
export interface SecureMaterial {
  dir: string;
  certs: TestCertificates;
  htpasswdPath: string;
  user: TestUser;
  /** The users file line's hash prefix, e.g. "$2y$10$" (checked to be cost 10). */
  hashPrefix: string;
  realm: string;
}

export interface SecureRegistry extends RunningRegistry {
  caFile: string;
  /** Whether Basic auth is on (off only for the regate TLS-only reference run). */
  auth: boolean;
  /** curl arguments for this registry: `--cacert CA` and, with auth, `-u USER:PASS`. */
  curlArgs: string[];
  /** The Authorization header value (with auth). */
  authorization?: string;
  /** What the bench's clients negotiate, e.g. "TLSv1.3 TLS_AES_128_GCM_SHA256". */
  tls: string;
}

/** CA + server certificate (openssl) and a one-user htpasswd file of cost 10 in `dir`. */
export async function prepareSecureMaterial(dir: string, log: (msg: string) => void): Promise<SecureMaterial> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certs = await makeTestCertificates(join(dir, 'certs'));
  const htpasswd = requireProgram('htpasswd', 'apache2-utils');
  const user: TestUser = { username: 'bench', password: randomBytes(18).toString('base64url') };
  const line = execFileSync(htpasswd, ['-nbB', '-C', String(BENCH_BCRYPT_COST), user.username, user.password], { encoding: 'utf8' }).trim();
  const hash = line.slice(line.indexOf(':') + 1);
  const m = /^\$2[aby]\$(\d\d)\$/.exec(hash);
  if (!m || Number(m[1]) !== BENCH_BCRYPT_COST) throw new Error(`htpasswd -nbB -C ${BENCH_BCRYPT_COST} made an unexpected hash: ${hash.slice(0, 7)}…`);
  // Its own directory: regate watches the users file's directory.
  const usersDir = join(dir, 'users');
  mkdirSync(usersDir, { recursive: true, mode: 0o700 });
  const htpasswdPath = join(usersDir, 'htpasswd');
  writeFileSync(htpasswdPath, `${line}\n`, { mode: 0o600 });
  chmodSync(htpasswdPath, 0o600);
  log(`TLS + auth: certificate from ${certs.caFile} (ECDSA P-256), users file ${htpasswdPath} (1 user, bcrypt ${m[0]} via htpasswd -nbB -C ${BENCH_BCRYPT_COST})`);
  return { dir, certs, htpasswdPath, user, hashPrefix: m[0], realm: REALM };
}

/** One HTTPS request verified against `ca`; resolves with the status (any). */
function probeStatus(url: string, ca: Buffer, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'GET', ca, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The protocol and cipher a client (Node/OpenSSL, HTTP/1.1 by ALPN) negotiates with the server. */
function negotiated(host: string, port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port, ca, ALPNProtocols: ['http/1.1'], ...(TLS13_CIPHERS ? { ciphers: TLS13_CIPHERS } : {}) }, () => {
      const cipher = socket.getCipher();
      resolve(`${socket.getProtocol() ?? '?'} ${cipher?.standardName ?? cipher?.name ?? '?'}`);
      socket.end();
    });
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('error', (err) => resolve(`? (${err.message})`));
  });
}

async function waitForHttps(url: string, ca: Buffer, wanted: number, isDead: () => Error | undefined, tail: LogTail, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt';
  for (;;) {
    const dead = isDead();
    if (dead) throw dead;
    try {
      const status = await probeStatus(url, ca, 1000);
      if (status === wanted) return;
      last = `HTTP ${status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer ${wanted} within ${timeoutMs} ms (last: ${last}):\n${tail}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function describe(
  kind: RegistryKind,
  pid: number,
  url: string,
  material: SecureMaterial,
  auth: boolean,
  tail: LogTail,
  stop: () => Promise<void>,
  tls: string,
): SecureRegistry {
  const { username, password } = material.user;
  return {
    kind,
    pid,
    url,
    caFile: material.certs.caFile,
    auth,
    curlArgs: [
      '--cacert',
      material.certs.caFile,
      ...(TLS13_CIPHERS ? ['--tls13-ciphers', TLS13_CIPHERS] : []),
      ...(auth ? ['-u', `${username}:${password}`] : []),
    ],
    ...(auth ? { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` } : {}),
    tls,
    logTail: () => tail.toString(),
    stop,
  };
}

/**
 * regate with `http.tls.certificate/key` and (unless `auth` is false) `auth.htpasswd`, bound to
 * 127.0.0.1:0; ready once it logs `listening on https://127.0.0.1:PORT` and /v2/ answers
 * (401 with auth, 200 without).
 */
/** `upstream`: regate in upstream mode in front of that registry (no storage section). */
export async function startSecureRegate(workDir: string, rootDirectory: string, material: SecureMaterial, auth = true, upstream?: string): Promise<SecureRegistry> {
  mkdirSync(workDir, { recursive: true });
  const configPath = join(workDir, 'regate.yml');
  writeFileSync(
    configPath,
    stringifyYaml({
      version: 0.1,
      log: { level: 'info', formatter: 'text' },
      ...(upstream ? { regate: { upstream: { url: upstream } } } : { storage: { filesystem: { rootdirectory: rootDirectory }, delete: { enabled: true } } }),
      http: { addr: '127.0.0.1:0', tls: { certificate: material.certs.certFile, key: material.certs.keyFile } },
      ...(auth ? { auth: { htpasswd: { realm: material.realm, path: material.htpasswdPath } } } : {}),
    }),
  );
  const serve = regateServeCommand(configPath);
  const child = spawn(serve.command, serve.args, { env: serve.env, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  const tail = new LogTail();
  child.stdout!.on('data', (chunk: Buffer) => tail.push(chunk));
  const ca = readFileSync(material.certs.caFile);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`regate (TLS) did not report listening within 20 s:\n${tail}`)), 20_000);
      const onExit = (): void => {
        clearTimeout(timer);
        reject(exitedError('regate (TLS)', child, tail));
      };
      child.once('exit', onExit);
      child.stderr!.on('data', (chunk: Buffer) => {
        for (const line of tail.push(chunk)) {
          const m = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(line);
          if (m) {
            clearTimeout(timer);
            child.off('exit', onExit);
            resolve(m[1]!);
          }
        }
      });
    });
    const dead = (): Error | undefined => (child.exitCode !== null || child.signalCode !== null ? exitedError('regate (TLS)', child, tail) : undefined);
    await waitForHttps(`${url}/v2/`, ca, auth ? 401 : 200, dead, tail, 20_000);
    const port = Number(new URL(url).port);
    return describe('regate', child.pid!, url, material, auth, tail, () => stopChild(child), await negotiated('127.0.0.1', port, ca));
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

/** Distribution 2.8.2 with `http.tls` and `auth.htpasswd`; ready once /v2/ answers 401. */
export async function startSecureDistribution(workDir: string, rootDirectory: string, material: SecureMaterial): Promise<SecureRegistry> {
  mkdirSync(workDir, { recursive: true });
  const port = await freePort();
  const configPath = join(workDir, 'distribution.yml');
  writeFileSync(
    configPath,
    stringifyYaml({
      version: 0.1,
      log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
      storage: {
        filesystem: { rootdirectory: rootDirectory },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http: {
        addr: `127.0.0.1:${port}`,
        secret: 'regate-bench-secret',
        tls: { certificate: material.certs.certFile, key: material.certs.keyFile },
      },
      auth: { htpasswd: { realm: material.realm, path: material.htpasswdPath } },
    }),
  );
  const child = spawn(DISTRIBUTION_BINARY, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  const tail = new LogTail();
  child.stdout!.on('data', (chunk: Buffer) => tail.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => tail.push(chunk));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const url = `https://127.0.0.1:${port}`;
  const ca = readFileSync(material.certs.caFile);
  try {
    const dead = (): Error | undefined =>
      spawnError ?? (child.exitCode !== null || child.signalCode !== null ? exitedError('Distribution (TLS)', child, tail) : undefined);
    await waitForHttps(`${url}/v2/`, ca, 401, dead, tail, 20_000);
    return describe('distribution', child.pid!, url, material, true, tail, () => stopChild(child), await negotiated('127.0.0.1', port, ca));
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

export function startSecureRegistry(kind: RegistryKind, workDir: string, rootDirectory: string, material: SecureMaterial): Promise<SecureRegistry> {
  return kind === 'regate' ? startSecureRegate(workDir, rootDirectory, material) : startSecureDistribution(workDir, rootDirectory, material);
}
