// Pull-through mirrors (regate.mirrors) against real upstreams: CNCF Distribution 2.8.2, anonymous,
// behind a counting, fault-injecting proxy. skopeo pulls through the path prefix and gets the
// upstream's image byte for byte; containerd's ?ns= and Docker's unprefixed default reach the same
// repository, while a repository of the team's own keeps its name; pushes into a mirror's names are
// refused; 32 clients cold-pulling one image at once cost the upstream one GET per blob (the
// later ones stream from the first's fill); a corrupt
// or truncated blob is never stored (the next pull gets the right one); a 429 or a stopped upstream
// leaves the cached tag served.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sha256 } from '../support/test-data.js';
import { buildOciImage, diffPulledImage, readPulledImage, type BuiltImage } from '../support/image-builder.js';
import { makeTempDir, skopeo, startDistribution, type RegistryHandle } from '../support/processes.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { errorCode, startGateway, type Gateway } from '../support/gateway.js';
import { startContainerd } from '../support/containerd.js';
import { wrapDriver } from '../../src/storage/base-driver.js';
import { FilesystemDriver } from '../../src/storage/drivers/filesystem.js';
import { collectGarbage } from '../../src/storage/gc.js';
import { renderMetrics } from '../../src/metrics/metrics.js';

const USER: [string, string] = ['mirror-user', 'pull-through-5'];
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json';

let upstream: RegistryHandle;
let proxy: FaultProxy;
let gw: Gateway;
let image: BuiltImage;
let second: BuiltImage;
const tmp = makeTempDir('regate-mirrors-');

before(async () => {
  upstream = await startDistribution({ rootDir: join(tmp.path, 'upstream') });
  image = buildOciImage({ dir: join(tmp.path, 'alpine'), seed: 'mirror-alpine' });
  second = buildOciImage({ dir: join(tmp.path, 'busybox'), seed: 'mirror-busybox' });
  await skopeo(['copy', '--dest-tls-verify=false', image.pushRef, `docker://${upstream.host}/library/alpine:3`]);
  await skopeo(['copy', '--dest-tls-verify=false', second.pushRef, `docker://${upstream.host}/library/busybox:1`]);
  proxy = await startFaultProxy(upstream.url);
  gw = await startGateway({
    users: { [USER[0]]: USER[1] },
    config: { regate: { mirrors: [{ name: 'docker.io', url: proxy.url, default: true, tagttl: '0s' }] } },
  });
});

after(async () => {
  await gw?.close();
  await proxy?.close();
  await upstream?.stop();
  tmp.remove();
});

const get = (path: string, headers: Record<string, string> = {}) => gw.send('GET', path, { auth: USER, headers: { Accept: ACCEPT, ...headers } });

describe('pull-through mirrors', { timeout: 300_000 }, () => {
  it('skopeo pulls docker.io/library/alpine through the prefix: the upstream\'s image, byte for byte', async () => {
    const out = join(tmp.path, 'pulled');
    const certDir = join(tmp.path, 'ca');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(certDir, { recursive: true });
    writeFileSync(join(certDir, 'ca.crt'), gw.ca!);
    await skopeo(['copy', '--src-creds', USER.join(':'), '--src-cert-dir', certDir, `docker://${new URL(gw.url).host}/docker.io/library/alpine:3`, `oci:${out}:3`]);
    assert.deepEqual(diffPulledImage(image, readPulledImage(`oci:${out}:3`)), []);
    // Pulled once more: everything from the cache, the tag checked with a HEAD (tagttl 0s here).
    const before = proxy.requests.length;
    const again = await get('/v2/docker.io/library/alpine/manifests/3');
    assert.equal(again.status, 200);
    assert.ok(again.body.equals(image.top.bytes));
    assert.deepEqual(proxy.requests.slice(before), ['HEAD /v2/library/alpine/manifests/3']);
    const layer = [...image.blobs.values()].find((b) => b.digest !== image.top.digest)!;
    const blob = await get(`/v2/docker.io/library/alpine/blobs/${layer.digest}`);
    assert.ok(blob.body.equals(layer.bytes));
    assert.equal(proxy.requests.length, before + 1, 'a cached blob costs the upstream nothing');
  });

  it('containerd\'s ?ns=docker.io and Docker\'s unprefixed default reach the same repository; the team\'s own repository keeps its name', async () => {
    const byNs = await get('/v2/library/alpine/manifests/3?ns=docker.io');
    assert.equal(byNs.status, 200);
    assert.equal(byNs.header('docker-content-digest'), image.top.digest);
    const byDefault = await get('/v2/library/alpine/manifests/3');
    assert.equal(byDefault.status, 200);
    assert.equal(byDefault.header('docker-content-digest'), image.top.digest);
    // An ns no mirror stands for is 404: never another registry's content (nor the team's) under its name.
    const unknownNs = await get('/v2/library/alpine/manifests/3?ns=quay.io');
    assert.equal(unknownNs.status, 404);
    assert.equal(errorCode(unknownNs), 'NAME_UNKNOWN');
    // A repository of the team's own, even under a name the upstream also has, is served as pushed.
    const own = Buffer.from('{}');
    assert.equal((await gw.send('POST', `/v2/library/busybox/blobs/uploads/?digest=${sha256(own)}`, { auth: USER, body: own })).status, 201);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(own), size: 2 }, layers: [] }));
    assert.equal((await gw.send('PUT', '/v2/library/busybox/manifests/1', { auth: USER, body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } })).status, 201);
    const ownPull = await get('/v2/library/busybox/manifests/1');
    assert.equal(ownPull.header('docker-content-digest'), sha256(manifest));
    const mirrored = await get('/v2/docker.io/library/busybox/manifests/1');
    assert.equal(mirrored.header('docker-content-digest'), second.top.digest);
    assert.equal((await get('/v2/library/busybox/manifests/1?ns=quay.io')).status, 404, 'the team\'s own repository is not served under another registry\'s ns');
  });

  it('a push into a mirror\'s names is refused with a clear error; pushes elsewhere work', async () => {
    const refused = await gw.send('POST', '/v2/docker.io/library/alpine/blobs/uploads/', { auth: USER });
    assert.equal(refused.status, 405);
    assert.equal(errorCode(refused), 'UNSUPPORTED');
    assert.match(refused.text(), /mirror of http:\/\/127\.0\.0\.1:\d+ \(regate\.mirrors\): it cannot be pushed to/);
    const viaNs = await gw.send('PUT', '/v2/library/alpine/manifests/evil?ns=docker.io', { auth: USER, body: '{}', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(viaNs.status, 405);
  });

  it('32 clients cold-pull one image at once: each blob is fetched from the upstream exactly once, and all get the same bytes', async () => {
    const fresh = buildOciImage({ dir: join(tmp.path, 'fresh'), seed: 'mirror-32-clients' });
    await skopeo(['copy', '--dest-tls-verify=false', fresh.pushRef, `docker://${upstream.host}/team/fresh:1`]);
    const before = proxy.requests.length;
    const blobs = [...fresh.blobs.values()].filter((b) => b.digest !== fresh.top.digest);
    const pulls = await Promise.all(
      Array.from({ length: 32 }, async () => {
        const manifest = await get('/v2/docker.io/team/fresh/manifests/1');
        const got = await Promise.all(blobs.map(async (b) => (await get(`/v2/docker.io/team/fresh/blobs/${b.digest}`)).body));
        return [manifest.body, ...got].map(sha256).join(',');
      }),
    );
    assert.equal(new Set(pulls).size, 1, 'every client got the same image');
    assert.equal(pulls[0], [fresh.top.bytes, ...blobs.map((b) => b.bytes)].map(sha256).join(','));
    const seen = proxy.requests.slice(before);
    for (const b of blobs) assert.equal(seen.filter((r) => r === `GET /v2/team/fresh/blobs/${b.digest}`).length, 1, `${b.digest}: ${JSON.stringify(seen)}`);
    assert.equal(seen.filter((r) => r.startsWith('GET /v2/team/fresh/manifests/')).length, 1, 'the manifest once too');
  });

  it('containerd\'s ctr with a hosts.toml mirror (?ns=docker.io) fetches the upstream\'s image through regate', async () => {
    const ctrImage = buildOciImage({ dir: join(tmp.path, 'ctr-image'), seed: 'mirror-ctr' });
    await skopeo(['copy', '--dest-tls-verify=false', ctrImage.pushRef, `docker://${upstream.host}/library/ctrimg:1`]);
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const hosts = join(tmp.path, 'hosts.d');
    mkdirSync(join(hosts, 'docker.io'), { recursive: true });
    const ca = join(tmp.path, 'regate-ca.crt');
    writeFileSync(ca, gw.ca!);
    // The fallback server is a loopback address nothing listens on: never a public registry.
    writeFileSync(join(hosts, 'docker.io', 'hosts.toml'), `server = "https://127.0.0.1:9"\n\n[host."${gw.url}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${ca}"\n`);
    const containerd = await startContainerd();
    try {
      const before = proxy.requests.length;
      const fetched = await containerd.ctr(['content', 'fetch', '--hosts-dir', hosts, '--user', USER.join(':'), 'docker.io/library/ctrimg:1']);
      assert.equal(fetched.code, 0, fetched.stderr);
      for (const blob of ctrImage.blobs.values()) {
        const got = await containerd.ctr(['content', 'get', blob.digest]);
        assert.equal(got.code, 0, `${blob.digest}: ${got.stderr}`);
        assert.equal(sha256(got.stdout), blob.digest);
      }
      assert.ok(proxy.requests.slice(before).includes('GET /v2/library/ctrimg/manifests/1') || proxy.requests.slice(before).some((r) => r.startsWith('GET /v2/library/ctrimg/manifests/sha256:')), 'fetched from the upstream through regate');
      const tags = await get('/v2/docker.io/library/ctrimg/tags/list');
      assert.deepEqual(tags.json().tags, ['1'], 'stored under the mirror\'s name');
    } finally {
      await containerd.stop();
    }
  });

  it('a corrupt or truncated blob from the upstream is never stored: the client gets an error, the next pull the right bytes', async () => {
    const layer = [...second.blobs.values()].find((b) => b.digest !== second.top.digest && b.bytes.length > 1000)!;
    const path = `/v2/docker.io/library/busybox/blobs/${layer.digest}`;
    for (const fault of ['corrupt', 'truncate'] as const) {
      proxy.faults.set(layer.digest, fault);
      // Four at once: the first streams from the upstream, the others join it; none gets bad bytes as good.
      const answers = await Promise.all(Array.from({ length: 4 }, () => get(path).then((r) => r, (err: unknown) => err as Error)));
      for (const bad of answers) assert.ok(bad instanceof Error || bad.status !== 200 || sha256(bad.body) !== layer.digest, `${fault}: a client got bad bytes as good`);
      proxy.faults.delete(layer.digest);
      assert.equal((await gw.send('HEAD', path, { auth: USER })).status, 200, 'HEAD asks the upstream (nothing was stored)');
    }
    const good = await get(path);
    assert.equal(good.status, 200);
    assert.equal(sha256(good.body), layer.digest);
    assert.ok(gw.logs.some((l) => /the blob sha256:[0-9a-f]{64} of library\/busybox was not stored \(digest\)/.test(l)), 'the corrupt blob is logged as such');
  });

  it('a GC pass removes what nobody pulled for the mirror\'s ttl, keeps what was pulled since; the next pull fetches it again', async () => {
    const old = buildOciImage({ dir: join(tmp.path, 'ttl-old'), seed: 'mirror-ttl-old' });
    const recent = buildOciImage({ dir: join(tmp.path, 'ttl-recent'), seed: 'mirror-ttl-recent' });
    await skopeo(['copy', '--dest-tls-verify=false', old.pushRef, `docker://${upstream.host}/team/old:1`]);
    await skopeo(['copy', '--dest-tls-verify=false', recent.pushRef, `docker://${upstream.host}/team/recent:1`]);
    const pullAll = async (repo: string, built: BuiltImage): Promise<void> => {
      assert.equal((await get(`/v2/docker.io/${repo}/manifests/1`)).status, 200);
      for (const b of built.blobs.values()) if (b.digest !== built.top.digest) assert.equal(sha256((await get(`/v2/docker.io/${repo}/blobs/${b.digest}`)).body), b.digest);
    };
    await pullAll('team/old', old);
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    await pullAll('team/recent', recent);
    const driver = wrapDriver(new FilesystemDriver(gw.storageRoot));
    const pass = await collectGarbage(driver, { delayMs: 0, linkWindowMs: 500, mirrors: [{ prefix: 'docker.io/', ttlMs: 3_000 }] });
    assert.ok(pass.mirrorManifestsExpired >= 1, JSON.stringify(pass));
    const oldLayer = [...old.blobs.values()].find((b) => b.digest !== old.top.digest)!;
    assert.equal((await gw.send('GET', '/v2/docker.io/team/old/tags/list', { auth: USER })).json().tags.length, 0, 'the expired tag is gone');
    assert.equal((await gw.send('GET', '/v2/docker.io/team/recent/tags/list', { auth: USER })).json().tags[0], '1', 'pulled within the ttl: kept');
    const recentLayer = [...recent.blobs.values()].find((b) => b.digest !== recent.top.digest)!;
    const before = proxy.requests.length;
    assert.equal(sha256((await get(`/v2/docker.io/team/recent/blobs/${recentLayer.digest}`)).body), recentLayer.digest);
    assert.equal(proxy.requests.length, before, 'kept content is served from the cache');
    // Pulled again: fetched from the upstream anew, the same bytes.
    await pullAll('team/old', old);
    assert.ok(proxy.requests.slice(before).includes(`GET /v2/team/old/blobs/${oldLayer.digest}`), 'the removed layer came from the upstream again');
    // What the other tests cached went too (nobody pulled it within 3 s): alpine comes back for them.
    assert.equal((await get('/v2/docker.io/library/alpine/manifests/3')).status, 200);
  });

  it('regate.access rules apply to a mirror\'s names whichever way the client asked (prefix, ?ns=, unprefixed)', async () => {
    const guarded = await startGateway({
      users: { ops: 'ops-pw-1', dev: 'dev-pw-1' },
      config: {
        storage: { filesystem: { rootdirectory: join(tmp.path, 'guarded') } },
        regate: {
          mirrors: [{ name: 'docker.io', url: proxy.url, default: true }],
          access: { rules: [{ users: ['ops'], repositories: ['docker.io/**'], actions: ['pull'] }, { users: ['dev'], repositories: ['team/**'], actions: ['pull', 'push'] }] },
        },
      },
    });
    try {
      for (const path of ['/v2/docker.io/library/alpine/manifests/3', '/v2/library/alpine/manifests/3?ns=docker.io', '/v2/library/alpine/manifests/3']) {
        const ops = await guarded.send('GET', path, { auth: ['ops', 'ops-pw-1'], headers: { Accept: ACCEPT } });
        assert.equal(ops.status, 200, `ops ${path}: ${ops.text()}`);
        const dev = await guarded.send('GET', path, { auth: ['dev', 'dev-pw-1'], headers: { Accept: ACCEPT } });
        assert.equal(dev.status, 403, `dev ${path}`);
        assert.equal(errorCode(dev), 'DENIED');
      }
    } finally {
      await guarded.close();
    }
  });

  it('a mirrored name never reads a blob pushed to a repository of the team\'s own; an upstream answer that is no manifest is not cached', async () => {
    const secret = Buffer.from('a private layer, pushed here only');
    assert.equal((await gw.send('POST', `/v2/team/secret/blobs/uploads/?digest=${sha256(secret)}`, { auth: USER, body: secret })).status, 201);
    const leak = await get(`/v2/docker.io/library/alpine/blobs/${sha256(secret)}`);
    assert.equal(leak.status, 404, 'the upstream does not have it for library/alpine, so neither does the mirror');
    assert.equal(errorCode(leak), 'BLOB_UNKNOWN');
    assert.equal((await gw.send('HEAD', `/v2/docker.io/library/alpine/blobs/${sha256(secret)}`, { auth: USER })).status, 404);

    const { createServer } = await import('node:http');
    const portal = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>captive portal</html>');
    });
    await new Promise<void>((resolve) => portal.listen(0, '127.0.0.1', resolve));
    const { port } = portal.address() as { port: number };
    const behind = await startGateway({ users: { [USER[0]]: USER[1] }, config: { storage: { filesystem: { rootdirectory: join(tmp.path, 'portal') } }, regate: { mirrors: [{ name: 'portal.io', url: `http://127.0.0.1:${port}` }] } } });
    try {
      const junk = await behind.send('GET', '/v2/portal.io/library/alpine/manifests/3', { auth: USER, headers: { Accept: ACCEPT } });
      assert.equal(junk.status, 503, junk.text());
      assert.equal((await behind.send('GET', '/v2/portal.io/library/alpine/tags/list', { auth: USER })).status, 404, 'nothing was cached');
    } finally {
      await behind.close();
      portal.close();
    }
  });

  it('a mirror with several URLs goes on to the next when one is unreachable', async () => {
    const spread = await startGateway({
      users: { [USER[0]]: USER[1] },
      config: { storage: { filesystem: { rootdirectory: join(tmp.path, 'spread') } }, regate: { mirrors: [{ name: 'docker.io', url: ['http://127.0.0.1:9', proxy.url] }] } },
    });
    try {
      const res = await spread.send('GET', '/v2/docker.io/library/alpine/manifests/3', { auth: USER, headers: { Accept: ACCEPT } });
      assert.equal(res.status, 200, res.text());
      assert.equal(res.header('docker-content-digest'), image.top.digest);
    } finally {
      await spread.close();
    }
  });

  it('a 429 or a stopped upstream: the cached tag is still served; an uncached one says why', async () => {
    proxy.faults.set('/manifests/', '429');
    const cached = await get('/v2/docker.io/library/alpine/manifests/3');
    assert.equal(cached.status, 200, 'served from the cache while the upstream limits');
    const uncached = await get('/v2/docker.io/library/alpine/manifests/edge');
    assert.equal(uncached.status, 429);
    assert.equal(errorCode(uncached), 'TOOMANYREQUESTS');
    proxy.faults.delete('/manifests/');
    await proxy.close();
    const down = await get('/v2/docker.io/library/alpine/manifests/3');
    assert.equal(down.status, 200, 'served from the cache while the upstream is down');
    const gone = await get('/v2/docker.io/library/nothing/manifests/1');
    assert.equal(gone.status, 503);
    assert.equal(errorCode(gone), 'UNAVAILABLE');
    assert.ok(gw.logs.some((l) => /serving the cached docker\.io\/library\/alpine:3; the upstream failed \(rate_limited\)/.test(l)));
    // Counted too (the gateway runs in this process: its Prometheus registry is this one).
    const metrics = await renderMetrics();
    const value = (line: RegExp): number => Number(line.exec(metrics)?.[1] ?? 0);
    assert.ok(value(/^regate_mirror_upstream_errors_total\{mirror="docker\.io",kind="rate_limited"\} (\d+)/m) >= 2, 'the 429s');
    assert.ok(value(/^regate_mirror_upstream_errors_total\{mirror="docker\.io",kind="digest"\} (\d+)/m) >= 1, 'the corrupt blob');
    assert.ok(value(/^regate_mirror_upstream_errors_total\{mirror="docker\.io",kind="unreachable"\} (\d+)/m) >= 1, 'the stopped upstream');
    assert.ok(value(/^regate_mirror_hits_total\{mirror="docker\.io",kind="blob"\} (\d+)/m) >= 1);
    assert.ok(value(/^regate_mirror_misses_total\{mirror="docker\.io",kind="blob"\} (\d+)/m) >= 4);
    assert.ok(value(/^regate_mirror_upstream_bytes_total\{mirror="docker\.io"\} (\d+)/m) > 2_000_000);
  });
});
