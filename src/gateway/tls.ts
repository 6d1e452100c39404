// TLS material for the listener.
//
//   - http.tls.certificate / http.tls.key given: those files (read at start).
//   - regate.tls.generate (the no-config default): a CA and a server certificate signed by it, made
//     with `selfsigned` in regate.tls.dir (./certs): ca.crt, ca.key, server.crt, server.key; keys 0600,
//     written atomically. Later starts reuse them. The server certificate is reissued (by the same CA,
//     so clients that trust ca.crt keep trusting it) when it is missing, unreadable, not signed by
//     ca.crt, does not match its key, expires within RENEW_BEFORE_MS, or its SANs no longer cover the
//     required names (localhost, 127.0.0.1, ::1, ip6-localhost, the hostname, the host of http.addr and
//     regate.tls.hosts). The CA itself is only replaced when it is missing, broken or expiring; then
//     the operator has to distribute the new ca.crt, so that is announced like a first start.
//   - Minimum protocol: TLS 1.2, or http.tls.minimumtls (tls1.2 / tls1.3).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { describeReadError } from '../fs/file-access.js';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { RegateConfig, TlsVersion } from '../config/config-types.js';
import type { Logger } from '../log/logger.js';
import { withFileLock } from '../auth/lock.js';
import { writeFileAtomic } from '../fs/atomic-file.js';

// selfsigned (node-forge) costs ~15 MiB of memory once loaded and is needed only on the start that
// issues certificates; every later start reuses the files, so it is loaded on demand.
const loadSelfsigned = (): Promise<typeof import('selfsigned')> => import('selfsigned');

const DAY_MS = 24 * 60 * 60 * 1000;
export const CA_VALIDITY_MS = 10 * 365 * DAY_MS;
export const SERVER_VALIDITY_MS = 2 * 365 * DAY_MS;
/** A certificate this close to its end is replaced at start. */
export const RENEW_BEFORE_MS = 30 * DAY_MS;

export const TLS_FILES = { caCert: 'ca.crt', caKey: 'ca.key', serverCert: 'server.crt', serverKey: 'server.key' } as const;

export class TlsSetupError extends Error {
  override name = 'TlsSetupError';
}

export interface TlsMaterial {
  key: string;
  cert: string;
  minVersion: TlsVersion;
  source: 'files' | 'generated';
  /** Generated material only: where the CA certificate is. */
  caPath?: string;
  /** Generated material only: the CA certificate (PEM). */
  caCert?: string;
  /** What this start did: created a new CA (announce it), reissued the server certificate, or reused both. */
  action: 'created-ca' | 'reissued' | 'reused' | 'files';
  /** Names/IPs the server certificate was made for (generated only). */
  names: string[];
}

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]']);

/** The names the generated certificate must cover, in a stable order, without duplicates. */
export function requiredNames(config: RegateConfig, machineName: string = hostname()): string[] {
  const names = ['localhost', '127.0.0.1', '::1', 'ip6-localhost', machineName.toLowerCase()];
  if (!WILDCARD_HOSTS.has(config.http.host)) names.push(config.http.host.toLowerCase());
  names.push(...config.regate.tls.hosts.map((h) => h.toLowerCase()));
  return [...new Set(names.filter((n) => n !== ''))];
}

/** Does the certificate's SAN list cover every name (IPs as IP SANs, the rest as DNS SANs)? */
export function coversNames(cert: X509Certificate, names: readonly string[]): boolean {
  return names.every((name) => (isIP(name) ? cert.checkIP(name) !== undefined : cert.checkHost(name, { subject: 'never', wildcards: false }) !== undefined));
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TlsSetupError(`cannot read ${path}: ${describeReadError(path, err)}`);
  }
}

interface Pair {
  cert: X509Certificate;
  certPem: string;
  keyPem: string;
}

function parsePair(certPem: string | undefined, keyPem: string | undefined): Pair | undefined {
  if (certPem === undefined || keyPem === undefined) return undefined;
  try {
    const cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return undefined;
    return { cert, certPem, keyPem };
  } catch {
    return undefined;
  }
}

function validFor(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now + 60_000 && Date.parse(cert.validTo) - now > RENEW_BEFORE_MS;
}

async function makeCa(now: number): Promise<{ certPem: string; keyPem: string }> {
  const name = hostname().toLowerCase() || 'localhost';
  const { generate } = await loadSelfsigned();
  const made = await generate(
    [
      { name: 'commonName', value: `regate CA (${name}, ${new Date(now).toISOString().slice(0, 10)})` },
      { name: 'organizationName', value: 'regate' },
    ],
    {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: new Date(now - 5 * 60_000),
      notAfterDate: new Date(now + CA_VALIDITY_MS),
      extensions: [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    },
  );
  return { certPem: made.cert, keyPem: made.private };
}

async function makeServer(ca: Pair, names: readonly string[], now: number): Promise<{ certPem: string; keyPem: string }> {
  const { generate } = await loadSelfsigned();
  const made = await generate([{ name: 'commonName', value: names[0] ?? 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 5 * 60_000),
    notAfterDate: new Date(Math.min(now + SERVER_VALIDITY_MS, Date.parse(ca.cert.validTo))),
    ca: { key: ca.keyPem, cert: ca.certPem },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })) },
    ],
  });
  return { certPem: made.cert, keyPem: made.private };
}

/** Keys readable by others are tightened to 0600 (with a warning). */
async function tightenKey(path: string, logger: Logger): Promise<void> {
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) {
      await chmod(path, 0o600);
      logger.warn(`TLS: ${path} was readable by other users; its mode is now 0600`, { path });
    }
  } catch {
    // best effort
  }
}

/**
 * Makes sure `dir` holds a usable CA and a server certificate for `names`; generates what is
 * missing or stale. `now` is for tests.
 */
export async function ensureGeneratedCertificates(
  dir: string,
  names: readonly string[],
  logger: Logger,
  now: number = Date.now(),
): Promise<{ ca: Pair; server: Pair; action: TlsMaterial['action'] }> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  // Two regates starting together in one directory must not each make a CA: one decides, under
  // a lock next to ca.crt, and the other then finds its files.
  return withFileLock(join(dir, TLS_FILES.caCert), () => ensureUnlocked(dir, names, logger, now));
}

async function ensureUnlocked(dir: string, names: readonly string[], logger: Logger, now: number): Promise<{ ca: Pair; server: Pair; action: TlsMaterial['action'] }> {
  const paths = {
    caCert: join(dir, TLS_FILES.caCert),
    caKey: join(dir, TLS_FILES.caKey),
    serverCert: join(dir, TLS_FILES.serverCert),
    serverKey: join(dir, TLS_FILES.serverKey),
  };
  let action: TlsMaterial['action'] = 'reused';

  let ca = parsePair(await readIfPresent(paths.caCert), await readIfPresent(paths.caKey));
  if (ca && (!ca.cert.ca || !validFor(ca.cert, now))) ca = undefined;
  if (!ca) {
    const made = await makeCa(now);
    await writeFileAtomic(paths.caKey, made.keyPem, { mode: 0o600 });
    await writeFileAtomic(paths.caCert, made.certPem, { mode: 0o644 });
    ca = { cert: new X509Certificate(made.certPem), certPem: made.certPem, keyPem: made.keyPem };
    action = 'created-ca';
  } else {
    await tightenKey(paths.caKey, logger);
  }

  let server = parsePair(await readIfPresent(paths.serverCert), await readIfPresent(paths.serverKey));
  const reasons: string[] = [];
  if (!server) reasons.push('missing or unreadable');
  else {
    if (!server.cert.checkIssued(ca.cert) || !server.cert.verify(ca.cert.publicKey)) reasons.push('not signed by ca.crt');
    if (!validFor(server.cert, now)) reasons.push('expired or expiring');
    if (!coversNames(server.cert, names)) reasons.push('does not cover every configured name');
  }
  if (reasons.length > 0) {
    const made = await makeServer(ca, names, now);
    await writeFileAtomic(paths.serverKey, made.keyPem, { mode: 0o600 });
    await writeFileAtomic(paths.serverCert, made.certPem, { mode: 0o644 });
    server = { cert: new X509Certificate(made.certPem), certPem: made.certPem, keyPem: made.keyPem };
    if (action === 'reused') {
      action = 'reissued';
      logger.info(`TLS: reissued ${paths.serverCert} (${reasons.join(', ')}), signed by the existing CA ${paths.caCert}`, {
        names,
      });
    }
  } else {
    await tightenKey(paths.serverKey, logger);
  }
  return { ca, server: server!, action };
}

/**
 * Reads and checks http.tls.certificate / key: both readable, PEM, the key belonging to the
 * certificate (an expired certificate is served, with a warning). At start and on every change.
 */
export async function loadCertificateFiles(files: { certificate: string; key: string }, logger: Logger, now?: number): Promise<{ certPem: string; keyPem: string }> {
  const certPem = await readFile(files.certificate, 'utf8').catch((err: Error) => {
    throw new TlsSetupError(`http.tls.certificate: cannot read ${files.certificate}: ${describeReadError(files.certificate, err)}`);
  });
  const keyPem = await readFile(files.key, 'utf8').catch((err: Error) => {
    throw new TlsSetupError(`http.tls.key: cannot read ${files.key}: ${describeReadError(files.key, err)}`);
  });
  try {
    const cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
      throw new TlsSetupError(`http.tls: the key ${files.key} does not belong to the certificate ${files.certificate}`);
    }
    if (Date.parse(cert.validTo) < (now ?? Date.now())) {
      logger.warn(`TLS: the certificate ${files.certificate} expired on ${cert.validTo}; clients will refuse it`, { path: files.certificate });
    }
  } catch (err) {
    if (err instanceof TlsSetupError) throw err;
    throw new TlsSetupError(`http.tls: ${files.certificate} / ${files.key} are not a usable PEM certificate and key: ${(err as Error).message}`);
  }
  return { certPem, keyPem };
}

/** The key, certificate and minimum version the listener uses (config.regate.tls.mode must not be 'off'). */
export async function prepareTls(config: RegateConfig, logger: Logger, now?: number): Promise<TlsMaterial> {
  const minVersion = config.http.minimumTls;
  if (config.regate.tls.mode === 'files') {
    const { certPem, keyPem } = await loadCertificateFiles(config.http.tls!, logger, now);
    return { key: keyPem, cert: certPem, minVersion, source: 'files', action: 'files', names: [] };
  }
  const names = requiredNames(config);
  const { ca, server, action } = await ensureGeneratedCertificates(config.regate.tls.dir, names, logger, now);
  return {
    key: server.keyPem,
    cert: server.certPem,
    minVersion,
    source: 'generated',
    caPath: join(config.regate.tls.dir, TLS_FILES.caCert),
    caCert: ca.certPem,
    action,
    names,
  };
}

/** The one-time notice after a CA was created: where ca.crt is and the certs.d step for Docker. */
export function caNotice(material: TlsMaterial, hostPort: string): string {
  const target = `/etc/docker/certs.d/${hostPort}`;
  return [
    `regate: generated a TLS certificate authority and a server certificate (for ${material.names.join(', ')}).`,
    `  CA certificate: ${material.caPath}`,
    `  To make Docker trust this registry, on every machine that pulls or pushes run:`,
    `    sudo mkdir -p ${target}`,
    `    sudo cp ${material.caPath} ${target}/ca.crt`,
    `  (use the HOST:PORT you put in image names; for curl: --cacert ${material.caPath})`,
    '',
  ].join('\n');
}
