// Real nginx (Debian's 1.22) with nginx-compat/regate-site.conf in front of regate: TLS at nginx,
// regate in plain HTTP on loopback doing the htpasswd auth. The site file is used as shipped, with
// only its listen address, its upstream server and its certificate paths replaced by the test's.
// skopeo pushes an image with a 256 MiB layer through it and pulls it back byte for byte; an
// unauthenticated request gets regate's 401 through nginx; every response carries exactly one
// Docker-Distribution-Api-Version, including nginx's own 502 when regate is away.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOciImage, diffPulledImage, readPulledImage } from '../support/image-builder.js';
import { freePort, makeTempDir, regateConfigYaml, requireExecutable, runCommand, skopeo, spawnServer, startRegate, waitForHttp, type RegistryHandle, type SpawnedServer } from '../support/processes.js';
import { makeTestCertificates, writeHtpasswd, type TestUser } from '../support/tls-auth-target.js';

/** dist/test/e2e → the repository's nginx-compat/. */
const SITE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../nginx-compat/regate-site.conf');
const ALICE: TestUser = { username: 'alice', password: 'nginx-front-Pa55' };
const LAYER_BYTES = 256 * 1024 * 1024;

const tmp = makeTempDir('regate-nginx-front-');
let regate: RegistryHandle | undefined;
let nginx: SpawnedServer | undefined;
let nginxPort = 0;
let caFile = '';

/** The shipped site with the test's addresses and certificate; fails if a replaced line is gone. */
function siteForTest(regatePort: number, listenPort: number, certFile: string, keyFile: string): string {
  let site = readFileSync(SITE, 'utf8');
  const replace = (pattern: RegExp, value: string): void => {
    assert.match(site, pattern, `nginx-compat/regate-site.conf no longer has ${pattern}`);
    site = site.replace(pattern, value);
  };
  replace(/listen 443 ssl;/, `listen 127.0.0.1:${listenPort} ssl;`);
  replace(/server 127\.0\.0\.1:5000;/, `server 127.0.0.1:${regatePort};`);
  replace(/ssl_certificate +\S+;/, `ssl_certificate ${certFile};`);
  replace(/ssl_certificate_key +\S+;/, `ssl_certificate_key ${keyFile};`);
  return site;
}

function mainConf(dir: string, sitePath: string): string {
  return `worker_processes 1;
daemon off;
master_process on;
user root;
pid ${join(dir, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${join(dir, 'body')};
    proxy_temp_path ${join(dir, 'proxy')};
    fastcgi_temp_path ${join(dir, 'fastcgi')};
    uwsgi_temp_path ${join(dir, 'uwsgi')};
    scgi_temp_path ${join(dir, 'scgi')};
    include ${sitePath};
}
`;
}

async function startNginx(regatePort: number): Promise<void> {
  const binary = requireExecutable('/usr/sbin/nginx');
  const dir = join(tmp.path, 'nginx');
  mkdirSync(dir, { recursive: true });
  const certs = await makeTestCertificates(join(tmp.path, 'certs'));
  caFile = certs.caFile;
  nginxPort = await freePort();
  const sitePath = join(dir, 'regate-site.conf');
  writeFileSync(sitePath, siteForTest(regatePort, nginxPort, certs.certFile, certs.keyFile));
  writeFileSync(join(dir, 'nginx.conf'), mainConf(dir, sitePath));
  const check = await runCommand(binary, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')]);
  assert.equal(check.code, 0, `nginx -t refused the site: ${check.stderr}`);
  nginx = await spawnServer({ name: 'nginx', command: binary, args: ['-p', dir, '-c', join(dir, 'nginx.conf')], ready: /(?:)/, detached: true });
  const running = nginx;
  await waitForHttp(`https://127.0.0.1:${nginxPort}/_ping`, { timeoutMs: 15_000, accept: (s) => s === 200, isDead: () => running.exited() });
}

function get(path: string, user?: TestUser): Promise<{ status: number; rawHeaders: string[]; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolveGet, reject) => {
    const headers: Record<string, string> = user ? { authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}` } : {};
    const req = httpsRequest({ host: '127.0.0.1', port: nginxPort, path, headers, ca: readFileSync(caFile), servername: 'localhost' }, (res) => {
      res.resume();
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const apiVersionCount = (rawHeaders: string[]): number => rawHeaders.filter((v, i) => i % 2 === 0 && v.toLowerCase() === 'docker-distribution-api-version').length;

before(async () => {
  const htpasswd = join(tmp.path, 'htpasswd');
  await writeHtpasswd(htpasswd, [ALICE]);
  regate = await startRegate({ configYaml: regateConfigYaml({ rootDir: join(tmp.path, 'root') }, { auth: { htpasswd: { realm: 'registry', path: htpasswd } } }) });
  await startNginx(regate.port);
});

after(async () => {
  await nginx?.stop();
  await regate?.stop();
  tmp.remove();
});

describe('nginx-compat/regate-site.conf: real nginx in front of regate', () => {
  it('regate answers through nginx: 401 with regate\'s challenge, 200 with credentials, one API-version header', async () => {
    const anonymous = await get('/v2/');
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^Basic realm="registry"/);
    assert.equal(apiVersionCount(anonymous.rawHeaders), 1);
    const authed = await get('/v2/', ALICE);
    assert.equal(authed.status, 200);
    assert.equal(apiVersionCount(authed.rawHeaders), 1);
  });

  it('skopeo pushes and pulls an image with a 256 MiB layer through nginx, byte for byte', async () => {
    const image = buildOciImage({
      dir: join(tmp.path, 'src'),
      seed: 'nginx-front',
      tag: 'v1',
      layers: [{ files: [{ name: 'opt/big/layer.bin', size: LAYER_BYTES }] }, { files: [{ name: 'etc/small', size: 4096 }] }],
    });
    const certDir = join(tmp.path, 'client-certs');
    mkdirSync(certDir, { recursive: true });
    writeFileSync(join(certDir, 'ca.crt'), readFileSync(caFile));
    const creds = `${ALICE.username}:${ALICE.password}`;
    const ref = `docker://127.0.0.1:${nginxPort}/big/app:v1`;
    await skopeo(['copy', '--dest-creds', creds, '--dest-cert-dir', certDir, image.pushRef, ref], { timeoutMs: 600_000 });
    const out = join(tmp.path, 'out');
    await skopeo(['copy', '--src-creds', creds, '--src-cert-dir', certDir, ref, `oci:${out}:v1`], { timeoutMs: 600_000 });
    assert.deepEqual(diffPulledImage(image, readPulledImage(`oci:${out}:v1`)), []);
  });

  it('with regate away, nginx\'s own 502 still carries the API-version header, once', async () => {
    await regate!.stop();
    regate = undefined;
    const res = await get('/v2/', ALICE);
    assert.equal(res.status, 502);
    assert.equal(apiVersionCount(res.rawHeaders), 1);
  });
});
