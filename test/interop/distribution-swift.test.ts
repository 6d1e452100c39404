// Interop with CNCF Distribution 2.8.2's swift driver on ONE Swift container (a real OpenStack
// Swift all-in-one), both ways, one server at a time:
//
//   1. skopeo pushes all four image kinds to Distribution, and a 12 MiB blob goes up in 3 MiB PATCH
//      chunks, so Distribution stores it as a DLO manifest over several segments (chunksize 5 MiB)
//      and appends across requests. Distribution stops; regate starts on the same container and
//      must serve everything byte for byte (skopeo pull, inspect --raw, the blob by GET and Range).
//   2. The same the other way: regate (1 MiB segments) writes, Distribution reads.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, IMAGE_KINDS, type BuiltImage, type ImageKind } from '../support/image-builder.js';
import { pullAndCompare as pullAndCompareImage } from '../support/pull-compare.js';
import { makeTempDir, regateConfigYaml, skopeo, startDistribution, startRegate, type RegistryHandle, type SwiftSection } from '../support/processes.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { bytes, sha256 } from '../support/test-data.js';

const tmp = makeTempDir('regate-interop-swift-');
const running = new Set<RegistryHandle>();
let swift: SwiftAio;
let section: SwiftSection;
const viaDistribution = new Map<ImageKind, BuiltImage>();
const viaRegate = new Map<ImageKind, BuiltImage>();

before(async () => {
  swift = await startSwiftAio();
  section = { authurl: swift.authUrl, username: swift.username, password: swift.password, container: 'shared-registry' };
  for (const kind of IMAGE_KINDS) {
    viaDistribution.set(kind, buildImage(kind, { dir: join(tmp.path, 'src', `d-${kind}`), seed: `interop-swift/d/${kind}`, tag: 'v1' }));
    viaRegate.set(kind, buildImage(kind, { dir: join(tmp.path, 'src', `r-${kind}`), seed: `interop-swift/r/${kind}`, tag: 'v1' }));
  }
});

after(async () => {
  try {
    for (const server of running) await server.stop();
    await swift?.stop();
  } finally {
    tmp.remove();
  }
});

async function start(which: 'regate' | 'distribution'): Promise<RegistryHandle> {
  const server =
    which === 'regate'
      ? await startRegate({ configYaml: regateConfigYaml({ swift: { ...section, chunksize: 1024 * 1024 } }) })
      : await startDistribution({ swift: { ...section, chunksize: 5 * 1024 * 1024 } });
  running.add(server);
  return server;
}

async function stop(server: RegistryHandle): Promise<void> {
  running.delete(server);
  await server.stop();
}

let pulls = 0;
async function pullAndCompare(server: RegistryHandle, image: BuiltImage, repo: string): Promise<void> {
  mkdirSync(join(tmp.path, 'out'), { recursive: true });
  await pullAndCompareImage(server, image, repo, join(tmp.path, 'out', `pull-${++pulls}`));
}

/** A chunked upload: POST, PATCHes of `piece` bytes (each its own request), PUT ?digest=. */
async function pushBlobInChunks(server: RegistryHandle, repo: string, data: Buffer, piece: number): Promise<string> {
  const digest = sha256(data);
  let res = await fetch(`${server.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  assert.equal(res.status, 202, `POST: ${res.status} ${await res.text()}`);
  let location = new URL(res.headers.get('location')!, server.url).toString();
  for (let offset = 0; offset < data.length; offset += piece) {
    const chunk = data.subarray(offset, Math.min(data.length, offset + piece));
    res = await fetch(location, {
      method: 'PATCH',
      body: new Uint8Array(chunk),
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}` },
    });
    assert.equal(res.status, 202, `PATCH at ${offset}: ${res.status} ${await res.text()}`);
    location = new URL(res.headers.get('location')!, server.url).toString();
  }
  const put = new URL(location);
  put.searchParams.set('digest', digest);
  res = await fetch(put, { method: 'PUT' });
  assert.equal(res.status, 201, `PUT: ${res.status} ${await res.text()}`);
  return digest;
}

async function checkBlob(server: RegistryHandle, repo: string, digest: string, data: Buffer): Promise<void> {
  const head = await fetch(`${server.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(data.length));
  const whole = Buffer.from(await (await fetch(`${server.url}/v2/${repo}/blobs/${digest}`)).arrayBuffer());
  assert.equal(sha256(whole), digest, `GET ${repo}@${digest} from ${server.url}`);
  const from = 5 * 1024 * 1024 - 100;
  const ranged = await fetch(`${server.url}/v2/${repo}/blobs/${digest}`, { headers: { range: `bytes=${from}-${from + 2 * 1024 * 1024}` } });
  assert.equal(ranged.status, 206);
  assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(from, from + 2 * 1024 * 1024 + 1)), 'a range across segments');
}

describe('Distribution 2.8.2 (swift driver) and regate on one Swift container', () => {
  const big = { distribution: bytes(12 * 1024 * 1024 + 12345, 901), regate: bytes(12 * 1024 * 1024 + 54321, 902) };

  it('regate serves what Distribution wrote: images, and a multi-segment DLO blob appended across requests', async () => {
    const distribution = await start('distribution');
    for (const [kind, image] of viaDistribution) {
      await skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', image.pushRef, `docker://${distribution.host}/from-distribution/${kind}:v1`]);
    }
    const digest = await pushBlobInChunks(distribution, 'from-distribution/big', big.distribution, 3 * 1024 * 1024);
    await checkBlob(distribution, 'from-distribution/big', digest, big.distribution);
    await stop(distribution);

    const regate = await start('regate');
    for (const [kind, image] of viaDistribution) await pullAndCompare(regate, image, `from-distribution/${kind}`);
    await checkBlob(regate, 'from-distribution/big', digest, big.distribution);
    const catalog = (await (await fetch(`${regate.url}/v2/_catalog`)).json()) as { repositories: string[] };
    assert.deepEqual(catalog.repositories, ['from-distribution/big', ...IMAGE_KINDS.map((k) => `from-distribution/${k}`)].sort());
    await stop(regate);
  });

  it('Distribution serves what regate wrote: images, and a multi-segment blob pushed in chunks', async () => {
    const regate = await start('regate');
    for (const [kind, image] of viaRegate) {
      await skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', image.pushRef, `docker://${regate.host}/from-regate/${kind}:v1`]);
    }
    const digest = await pushBlobInChunks(regate, 'from-regate/big', big.regate, 3 * 1024 * 1024);
    await checkBlob(regate, 'from-regate/big', digest, big.regate);
    await stop(regate);

    const distribution = await start('distribution');
    for (const [kind, image] of viaRegate) await pullAndCompare(distribution, image, `from-regate/${kind}`);
    await checkBlob(distribution, 'from-regate/big', digest, big.regate);
    // And what Distribution wrote in the first test is still intact for it.
    for (const [kind, image] of viaDistribution) await pullAndCompare(distribution, image, `from-distribution/${kind}`);
    await stop(distribution);
  });
});
