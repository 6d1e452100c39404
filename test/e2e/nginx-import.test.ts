// `regate nginx import` end to end: seed 004's nginx site (the fixture), with only its listen
// address, certificate paths, users file and upstream server pointed at this test's, goes through
// the real CLI; the config it writes starts `regate serve`, which then stands where that nginx stood
// in front of Distribution 2.8.2: the pings answer without auth, /v2/ asks for the site's realm, and
// skopeo pushes and pulls through it. A site that cannot be translated exits 1 with the reason.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOciImage, diffPulledImage, readPulledImage } from '../support/image-builder.js';
import { freePort, makeTempDir, REGATE_MAIN, regateServeCommand, runCommand, skopeo, spawnServer, startDistribution, type RegistryHandle, type SpawnedServer } from '../support/processes.js';
import { makeTestCertificates, writeHtpasswd, type TestUser } from '../support/tls-auth-target.js';
import { NODE_FLAGS } from '../../src/runtime-flags.js';

const SEED_SITE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/seeds/004-nginx-site.conf');
const ALICE: TestUser = { username: 'alice', password: 'seed-004-Pa55' };
const tmp = makeTempDir('regate-nginx-import-');
let distribution: RegistryHandle;
let regate: SpawnedServer | undefined;
let port = 0;
let caFile = '';

const cli = (args: string[]) => runCommand(process.execPath, [...NODE_FLAGS, REGATE_MAIN, ...args], { timeoutMs: 30_000 });

function get(path: string, user?: TestUser): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolveGet, reject) => {
    const headers: Record<string, string> = user ? { authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}` } : {};
    const req = httpsRequest({ host: '127.0.0.1', port, path, headers, ca: readFileSync(caFile), servername: 'localhost' }, (res) => {
      res.resume();
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  distribution = await startDistribution({ rootDir: join(tmp.path, 'distribution-root') });
  const certs = await makeTestCertificates(join(tmp.path, 'certs'));
  caFile = certs.caFile;
  const htpasswd = join(tmp.path, 'docker-registry.htpasswd');
  await writeHtpasswd(htpasswd, [ALICE]);
  port = await freePort();
  const site = readFileSync(SEED_SITE, 'utf8')
    .replace('listen 443;', `listen 127.0.0.1:${port};`)
    .replace('/etc/ssl/certs/docker-registry.crt', certs.certFile)
    .replace('/etc/ssl/private/docker-registry.key', certs.keyFile)
    .replace('auth_basic_user_file    docker-registry.htpasswd;', `auth_basic_user_file    ${htpasswd};`)
    .replace('server localhost:5000;', `server ${distribution.host};`);
  for (const changed of [String(port), certs.certFile, htpasswd, distribution.host]) assert.ok(site.includes(changed), `the fixture no longer has the line for ${changed}`);
  writeFileSync(join(tmp.path, 'site.conf'), site);
});

after(async () => {
  await regate?.stop();
  await distribution?.stop();
  tmp.remove();
});

describe('regate nginx import (seed 004)', () => {
  it('the CLI writes a config, and regate serve starts with it', async () => {
    const out = join(tmp.path, 'regate.yml');
    const result = await cli(['nginx', 'import', join(tmp.path, 'site.conf'), '-o', out]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.toString(), '');
    assert.ok(existsSync(out));
    const text = readFileSync(out, 'utf8');
    assert.match(text, /^# built into regate/m);
    assert.match(text, /upstream:\n\s+url: http:\/\/127\.0\.0\.1:\d+\n\s+idletimeout: 900s/);
    const serve = regateServeCommand(out);
    regate = await spawnServer({ name: 'regate (imported config)', ...serve, cwd: tmp.path, ready: /listening on https:\/\/127\.0\.0\.1:\d+/ });
  });

  it('stands where nginx stood: pings without auth, the site\'s realm on /v2/, push and pull to Distribution', async () => {
    assert.equal((await get('/_ping')).status, 200);
    assert.equal((await get('/v1/_ping')).status, 200);
    const anonymous = await get('/v2/');
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^Basic realm="Restricted"/);
    assert.equal((await get('/v2/', ALICE)).status, 200);
    const image = buildOciImage({ dir: join(tmp.path, 'src'), seed: 'nginx-import', tag: 'v1' });
    const creds = `${ALICE.username}:${ALICE.password}`;
    await skopeo(['copy', '--dest-creds', creds, '--dest-tls-verify=false', image.pushRef, `docker://127.0.0.1:${port}/seed/app:v1`]);
    await skopeo(['copy', '--src-creds', creds, '--src-tls-verify=false', `docker://127.0.0.1:${port}/seed/app:v1`, `oci:${join(tmp.path, 'out')}:v1`]);
    assert.deepEqual(diffPulledImage(image, readPulledImage(`oci:${join(tmp.path, 'out')}:v1`)), []);
    assert.equal((await fetch(`${distribution.url}/v2/seed/app/manifests/v1`, { method: 'HEAD', headers: { accept: image.top.mediaType } })).status, 200);
  });

  it('a site that cannot be translated: exit 1 and the reason', async () => {
    const bad = join(tmp.path, 'bad.conf');
    writeFileSync(bad, 'server { listen 80; location / { root /srv; } }');
    const result = await cli(['nginx', 'import', bad]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no proxy_pass/);
  });
});
