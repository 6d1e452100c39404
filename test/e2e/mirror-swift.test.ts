// A mirror in front of OpenStack Swift, with two regate replicas on one container (the real Swift
// all-in-one): 16 clients, half on each replica, cold-pull one image at once. Each replica fetches
// a blob from the upstream at most once, the two fills of a blob store one correct blob, and every
// client, and every pull after, gets the upstream's bytes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sha256 } from '../support/test-data.js';
import { buildOciImage, type BuiltImage } from '../support/image-builder.js';
import { makeTempDir, skopeo, startDistribution, type RegistryHandle } from '../support/processes.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';

const USER: [string, string] = ['puller', 'mirror-swift-4'];
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json';

const tmp = makeTempDir('regate-mirror-swift-');
let swift: SwiftAio;
let upstream: RegistryHandle;
let proxy: FaultProxy;
let replicas: Gateway[] = [];
let image: BuiltImage;

before(async () => {
  swift = await startSwiftAio();
  upstream = await startDistribution({ rootDir: join(tmp.path, 'upstream') });
  image = buildOciImage({ dir: join(tmp.path, 'image'), seed: 'mirror-on-swift' });
  await skopeo(['copy', '--dest-tls-verify=false', image.pushRef, `docker://${upstream.host}/library/app:1`]);
  proxy = await startFaultProxy(upstream.url);
  const storage = { filesystem: null, swift: { authurl: swift.authUrl, username: swift.username, password: swift.password, container: 'mirror-replicas' } };
  for (let i = 0; i < 2; i++) {
    replicas.push(await startGateway({ users: { [USER[0]]: USER[1] }, config: { storage, regate: { mirrors: [{ name: 'docker.io', url: proxy.url }] } } }));
  }
});

after(async () => {
  for (const r of replicas) await r.close();
  replicas = [];
  await proxy?.close();
  await upstream?.stop();
  await swift?.stop();
  tmp.remove();
});

async function pull(replica: Gateway): Promise<string> {
  const manifest = await replica.send('GET', '/v2/docker.io/library/app/manifests/1', { auth: USER, headers: { Accept: ACCEPT } });
  assert.equal(manifest.status, 200, manifest.text());
  const blobs = [...image.blobs.values()].filter((b) => b.digest !== image.top.digest);
  const got = await Promise.all(blobs.map(async (b) => (await replica.send('GET', `/v2/docker.io/library/app/blobs/${b.digest}`, { auth: USER })).body));
  return [manifest.body, ...got].map(sha256).join(',');
}

describe('a mirror on Swift with two replicas', { timeout: 300_000 }, () => {
  it('16 cold pulls over two replicas: each replica fetches a blob once, one correct blob is stored, everyone gets the upstream\'s bytes', async () => {
    const expected = [image.top.bytes, ...[...image.blobs.values()].filter((b) => b.digest !== image.top.digest).map((b) => b.bytes)].map(sha256).join(',');
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => pull(replicas[i % 2]!)));
    for (const r of results) assert.equal(r, expected);
    for (const blob of image.blobs.values()) {
      if (blob.digest === image.top.digest) continue;
      const gets = proxy.count('GET', `/blobs/${blob.digest}`);
      assert.ok(gets >= 1 && gets <= 2, `${blob.digest}: ${gets} upstream GETs for two replicas`);
    }
    // Afterwards both serve it from the one stored copy, without the upstream.
    const before = proxy.requests.length;
    for (const replica of replicas) assert.equal(await pull(replica), expected);
    assert.ok(proxy.requests.slice(before).every((r) => r.startsWith('HEAD ')), `only tag checks went upstream: ${JSON.stringify(proxy.requests.slice(before))}`);
  });
});
