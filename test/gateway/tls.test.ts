// TLS on the real gateway: the generated CA and server certificate (files, modes, SANs), reuse on
// restart, reissue when names change or the certificate expires, verification with the generated CA
// as the ONLY trusted root, configured certificate files, and the minimum protocol version.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import { Writable } from 'node:stream';
import { generate } from 'selfsigned';
import { createLogger } from '../../src/log/logger.js';
import { ensureGeneratedCertificates, RENEW_BEFORE_MS, SERVER_VALIDITY_MS, TlsSetupError } from '../../src/gateway/tls.js';
import { send, startGateway, type Gateway } from '../support/gateway.js';

const ALICE: [string, string] = ['alice', 'alice-tls-pw-1'];
const quiet = createLogger({ level: 'error', formatter: 'text', stream: new Writable({ write: (_c, _e, cb) => cb() }) });

const read = (dir: string, file: string): string => readFileSync(join(dir, 'certs', file), 'utf8');
const mode = (dir: string, file: string): number => statSync(join(dir, 'certs', file)).mode & 0o777;

/** Completes a TLS handshake with the given client settings; resolves with the protocol or rejects. */
function handshake(port: number, ca: string, options: { minVersion?: SecureVersion; maxVersion?: SecureVersion; ciphers?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, ...options }, () => {
      const protocol = socket.getProtocol() ?? '?';
      socket.end();
      resolve(protocol);
    });
    socket.on('error', reject);
  });
}

describe('generated CA and server certificate', () => {
  let dir: string;
  let gw: Gateway;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'regate-tls-'));
    gw = await startGateway({
      dir,
      users: { [ALICE[0]]: ALICE[1] },
      config: { http: { addr: '127.0.0.1:0' }, regate: { tls: { hosts: ['registry.example.test', '10.1.2.3'] } } },
    });
  });
  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('first start writes ca.crt, ca.key, server.crt, server.key (keys 0600)', () => {
    for (const file of ['ca.crt', 'ca.key', 'server.crt', 'server.key']) assert.ok(existsSync(join(dir, 'certs', file)), file);
    assert.equal(mode(dir, 'ca.key'), 0o600);
    assert.equal(mode(dir, 'server.key'), 0o600);
    assert.equal(gw.ca, read(dir, 'ca.crt'));
  });

  test('the server certificate is signed by the CA and covers every required name', () => {
    const ca = new X509Certificate(read(dir, 'ca.crt'));
    const server = new X509Certificate(read(dir, 'server.crt'));
    assert.equal(ca.ca, true);
    assert.equal(server.ca, false);
    assert.ok(server.checkIssued(ca));
    assert.ok(server.verify(ca.publicKey));
    for (const name of ['localhost', 'ip6-localhost', hostname().toLowerCase(), 'registry.example.test']) {
      assert.equal(server.checkHost(name, { subject: 'never' }), name, name);
    }
    for (const ip of ['127.0.0.1', '::1', '10.1.2.3']) assert.equal(server.checkIP(ip), ip, ip);
    assert.ok(Date.parse(server.validTo) > Date.now() + 365 * 24 * 3600 * 1000);
  });

  test('the notice says where the CA is and gives the exact certs.d step', () => {
    const notice = gw.printed.join('');
    const caPath = join(dir, 'certs', 'ca.crt');
    assert.ok(notice.includes(`CA certificate: ${caPath}`), notice);
    assert.ok(notice.includes(`sudo mkdir -p /etc/docker/certs.d/127.0.0.1:${gw.port}`), notice);
    assert.ok(notice.includes(`sudo cp ${caPath} /etc/docker/certs.d/127.0.0.1:${gw.port}/ca.crt`), notice);
  });

  test('requests verify with the generated CA as the only trusted root', async () => {
    const { authorized, status } = await new Promise<{ authorized: boolean; status: number }>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/_ping', ca: gw.ca, agent: false, rejectUnauthorized: true }, (res) => {
        res.resume();
        resolve({ authorized: (res.socket as import('node:tls').TLSSocket).authorized, status: res.statusCode ?? 0 });
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
    assert.equal(authorized, true);
    // By name too ("localhost" → 127.0.0.1).
    const byName = await send({ https: true, port: gw.port, ca: gw.ca, host: 'localhost' }, 'GET', '/v2/', { auth: ALICE });
    assert.equal(byName.status, 200);
  });

  test('a plain http:// request to the TLS port gets 400 saying so, in the envelope; HTTPS keeps working on the same port', async () => {
    // Distribution (Go's net/http) answers the same: an empty reply would leave the user guessing.
    const plain = await fetch(`http://127.0.0.1:${gw.port}/v2/`, { method: 'PUT', body: 'x'.repeat(200_000) });
    assert.equal(plain.status, 400);
    assert.equal(plain.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(await plain.json(), { errors: [{ code: 'UNSUPPORTED', message: 'Client sent an HTTP request to an HTTPS server' }] });
    // A raw socket that sends only part of a request line gets the same answer and a close.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port: gw.port }, () => socket.write('GET /_ping HTTP/1.1\r\n'));
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(raw, /Client sent an HTTP request to an HTTPS server/);
    const secure = await send({ https: true, port: gw.port, ca: gw.ca }, 'GET', '/v2/', { auth: ALICE });
    assert.equal(secure.status, 200);
  });

  test('a stop does not wait for a client stuck in its TLS handshake', async () => {
    const gw2 = await startGateway({ users: { [ALICE[0]]: ALICE[1] } });
    const socket = netConnect({ host: '127.0.0.1', port: gw2.port });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('error', () => undefined);
    socket.write(Buffer.from([0x16, 0x03, 0x01])); // the start of a ClientHello, then nothing
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await gw2.close();
    assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms (the handshake timeout is 60 s)`);
    socket.destroy();
  });

  test('a connection that never sends a byte is closed within the headers timeout', async () => {
    const gw2 = await startGateway({ users: { [ALICE[0]]: ALICE[1] }, config: { regate: { http: { headerstimeout: '300ms' } } } });
    try {
      const started = Date.now();
      await new Promise<void>((resolve, reject) => {
        const socket = netConnect({ host: '127.0.0.1', port: gw2.port });
        socket.on('close', () => resolve());
        socket.on('error', reject);
        setTimeout(() => reject(new Error('still open after 5 s')), 5000).unref();
      });
      assert.ok(Date.now() - started >= 250, 'not closed before the timeout');
    } finally {
      await gw2.close();
    }
  });

  test('without the CA the certificate is refused (it is not trusted by accident)', async () => {
    await assert.rejects(send({ https: true, port: gw.port, ca: undefined }, 'GET', '/_ping'), (err: NodeJS.ErrnoException) =>
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER_CERT/.test(err.code ?? err.message),
    );
    const otherCa = (await generate([{ name: 'commonName', value: 'other' }], { keyType: 'ec', algorithm: 'sha256' })).cert;
    await assert.rejects(send({ https: true, port: gw.port, ca: otherCa }, 'GET', '/_ping'));
  });

  test('a restart reuses the files; new names reissue only the server certificate (same CA)', async () => {
    const before = { ca: read(dir, 'ca.crt'), caKey: read(dir, 'ca.key'), server: read(dir, 'server.crt'), key: read(dir, 'server.key') };
    await gw.close();
    gw = await startGateway({ dir, config: { regate: { tls: { hosts: ['registry.example.test', '10.1.2.3'] } } } });
    assert.equal(read(dir, 'ca.crt'), before.ca);
    assert.equal(read(dir, 'ca.key'), before.caKey);
    assert.equal(read(dir, 'server.crt'), before.server);
    assert.equal(read(dir, 'server.key'), before.key);
    assert.equal(gw.printed.join(''), '', 'nothing printed on reuse');
    assert.equal((await gw.send('GET', '/v2/', { auth: ALICE })).status, 200);

    await gw.close();
    gw = await startGateway({ dir, config: { regate: { tls: { hosts: ['registry.example.test', '10.1.2.3', 'new-name.example.test'] } } } });
    assert.equal(read(dir, 'ca.crt'), before.ca, 'the CA stays');
    assert.notEqual(read(dir, 'server.crt'), before.server, 'the server certificate is reissued');
    assert.equal(new X509Certificate(read(dir, 'server.crt')).checkHost('new-name.example.test'), 'new-name.example.test');
    assert.equal(gw.printed.join(''), '', 'no CA notice: clients keep trusting the same CA');
    assert.ok(gw.logs.some((l) => l.includes('reissued')));
    assert.equal((await gw.send('GET', '/v2/', { auth: ALICE, ca: before.ca })).status, 200);
  });
});

describe('reissue on expiry (ensureGeneratedCertificates with a clock)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'regate-tls-clock-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('expiring server certificate → reissued by the same CA; expiring CA → a new CA', async () => {
    const names = ['localhost', '127.0.0.1'];
    const first = await ensureGeneratedCertificates(dir, names, quiet);
    assert.equal(first.action, 'created-ca');
    const again = await ensureGeneratedCertificates(dir, names, quiet);
    assert.equal(again.action, 'reused');
    const later = Date.now() + SERVER_VALIDITY_MS - RENEW_BEFORE_MS + 24 * 3600 * 1000;
    const renewed = await ensureGeneratedCertificates(dir, names, quiet, later);
    assert.equal(renewed.action, 'reissued');
    assert.equal(renewed.ca.certPem, first.ca.certPem);
    assert.notEqual(renewed.server.certPem, first.server.certPem);
    const muchLater = Date.now() + 11 * 365 * 24 * 3600 * 1000;
    const fresh = await ensureGeneratedCertificates(dir, names, quiet, muchLater);
    assert.equal(fresh.action, 'created-ca');
    assert.notEqual(fresh.ca.certPem, first.ca.certPem);
    assert.ok(fresh.server.cert.checkIssued(fresh.ca.cert));
  });

  test('two starts at once in one directory agree on one CA', async () => {
    const sub = join(dir, 'race');
    const [a, b] = await Promise.all([ensureGeneratedCertificates(sub, ['localhost'], quiet), ensureGeneratedCertificates(sub, ['localhost'], quiet)]);
    assert.equal(a.ca.certPem, b.ca.certPem);
    assert.equal(a.server.certPem, b.server.certPem);
    assert.deepEqual([a.action, b.action].sort(), ['created-ca', 'reused']);
    assert.equal(readFileSync(join(sub, 'ca.crt'), 'utf8'), a.ca.certPem);
  });

  test('a damaged server key is replaced (same CA)', async () => {
    const sub = join(dir, 'damaged');
    const first = await ensureGeneratedCertificates(sub, ['localhost'], quiet);
    writeFileSync(join(sub, 'server.key'), 'garbage');
    const result = await ensureGeneratedCertificates(sub, ['localhost'], quiet);
    assert.equal(result.action, 'reissued');
    assert.equal(result.ca.certPem, first.ca.certPem);
    assert.equal(statSync(join(sub, 'server.key')).mode & 0o777, 0o600);
  });
});

describe('configured certificate files (http.tls.certificate / key)', () => {
  let dir: string;
  let certFile: string;
  let keyFile: string;
  let caPem: string;
  let caKeys: { private: string; cert: string } | undefined;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'regate-tls-files-'));
    const ca = await generate([{ name: 'commonName', value: 'files CA' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, critical: true }],
    });
    const leaf = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ca: { key: ca.private, cert: ca.cert },
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    caPem = ca.cert;
    caKeys = ca;
    certFile = join(dir, 'registry.pem');
    keyFile = join(dir, 'registry-key.pem');
    writeFileSync(certFile, leaf.cert);
    writeFileSync(keyFile, leaf.private, { mode: 0o600 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('are served, and nothing is generated', async () => {
    const gw = await startGateway({
      users: { [ALICE[0]]: ALICE[1] },
      config: { http: { tls: { certificate: certFile, key: keyFile } } },
    });
    try {
      assert.ok(gw.url.startsWith('https://'));
      assert.equal(gw.running.tls?.source, 'files');
      assert.ok(!existsSync(join(gw.dir, 'certs')), 'no certs/ directory');
      const res = await send({ https: true, port: gw.port, ca: caPem }, 'GET', '/v2/', { auth: ALICE });
      assert.equal(res.status, 200);
    } finally {
      await gw.close();
    }
  });

  test('renewed files are served to new connections within seconds, under load, with no failed request; a pair that does not match keeps the old one', async () => {
    const ca = caKeys!;
    const leaf = (cn: string) =>
      generate([{ name: 'commonName', value: cn }], {
        keyType: 'ec',
        algorithm: 'sha256',
        ca: { key: ca.private, cert: ca.cert },
        extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
      });
    const cert = join(dir, 'renew.pem');
    const key = join(dir, 'renew-key.pem');
    const first = await leaf('first');
    writeFileSync(cert, first.cert);
    writeFileSync(key, first.private, { mode: 0o600 });
    const gw = await startGateway({ users: { [ALICE[0]]: ALICE[1] }, config: { http: { tls: { certificate: cert, key } } } });
    const served = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: gw.port, ca: caPem }, () => {
          const fp = socket.getPeerX509Certificate()!.fingerprint256;
          socket.end();
          resolve(fp);
        });
        socket.on('error', reject);
      });
    const fingerprintOf = (pem: string): string => new X509Certificate(pem).fingerprint256;
    let loading = true;
    const failures: string[] = [];
    let requests = 0;
    const load = Promise.all(
      [0, 1].map(async () => {
        while (loading) {
          const r = await send({ https: true, port: gw.port, ca: caPem }, 'GET', '/v2/', { auth: ALICE }).catch((err: Error) => ({ status: err.message }));
          requests += 1;
          if (r.status !== 200) failures.push(String(r.status));
        }
      }),
    );
    try {
      assert.equal(await served(), fingerprintOf(first.cert));
      // As renewal tools do: the certificate, then the key, one after the other.
      const second = await leaf('second');
      const renewed = Date.now();
      writeFileSync(cert, second.cert);
      await new Promise((r) => setTimeout(r, 50));
      writeFileSync(key, second.private);
      while ((await served()) !== fingerprintOf(second.cert)) {
        assert.ok(Date.now() - renewed < 5000, 'the renewed certificate is not served within 5 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      // A certificate whose key never comes: the pair in service stays, and the log says why.
      const third = await leaf('third');
      writeFileSync(cert, third.cert);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(await served(), fingerprintOf(second.cert), 'a certificate without its key is not served');
      assert.ok(gw.logs.some((l) => /does not belong to the certificate/.test(l) && /stays until the files change again/.test(l)), 'the refusal is logged');
      writeFileSync(key, third.private);
      await gw.running.reload(); // SIGHUP's path: looked at now
      assert.equal(await served(), fingerprintOf(third.cert));
    } finally {
      loading = false;
      await load;
      await gw.close();
    }
    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed while the files changed`);
    assert.ok(requests > 20, `only ${requests} requests ran`);
  });

  test('a key that does not match the certificate stops the start with a clear error', async () => {
    const otherKey = join(dir, 'other-key.pem');
    writeFileSync(otherKey, (await generate(undefined, { keyType: 'ec' })).private);
    await assert.rejects(
      startGateway({ users: { [ALICE[0]]: ALICE[1] }, config: { http: { tls: { certificate: certFile, key: otherKey } } } }),
      (err: Error) => err instanceof TlsSetupError && err.message.includes('does not belong'),
    );
    await assert.rejects(
      startGateway({ users: { [ALICE[0]]: ALICE[1] }, config: { http: { tls: { certificate: join(dir, 'missing.pem'), key: keyFile } } } }),
      (err: Error) => err instanceof TlsSetupError && err.message.includes('http.tls.certificate'),
    );
  });
});

describe('minimum TLS version', () => {
  test('default: TLS 1.2 and 1.3 accepted, TLS 1.1 and 1.0 refused', async () => {
    const gw = await startGateway({ users: { [ALICE[0]]: ALICE[1] } });
    try {
      assert.equal(await handshake(gw.port, gw.ca!, { maxVersion: 'TLSv1.2' }), 'TLSv1.2');
      assert.equal(await handshake(gw.port, gw.ca!, {}), 'TLSv1.3');
      for (const v of ['TLSv1.1', 'TLSv1'] as const) {
        await assert.rejects(
          handshake(gw.port, gw.ca!, { minVersion: 'TLSv1', maxVersion: v, ciphers: 'DEFAULT:@SECLEVEL=0' }),
          // The client really offers it (it can: SECLEVEL=0); the SERVER answers with a protocol_version alert.
          (err: NodeJS.ErrnoException) => err.code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
          v,
        );
      }
    } finally {
      await gw.close();
    }
  });

  test('http.tls.minimumtls: tls1.3 refuses a TLS 1.2 client', async () => {
    const gw = await startGateway({ users: { [ALICE[0]]: ALICE[1] }, config: { http: { tls: { minimumtls: 'tls1.3' } } } });
    try {
      assert.equal(gw.running.tls?.minVersion, 'TLSv1.3');
      await assert.rejects(handshake(gw.port, gw.ca!, { maxVersion: 'TLSv1.2' }), (err: NodeJS.ErrnoException) =>
        err.code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
      );
      assert.equal(await handshake(gw.port, gw.ca!, { minVersion: 'TLSv1.3' }), 'TLSv1.3');
    } finally {
      await gw.close();
    }
  });
});
