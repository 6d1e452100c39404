// Garbage collection while the registry serves, on a real filesystem and a real OpenStack Swift:
// what a pass keeps and deletes, the fence between a pass and requests that link content, and a
// stress run of pushes, re-pushes, mounts, tag moves and deletes beside 100 passes with delay 0.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DRIVERS, startTestRegistry, pushImage, pushBlob, errorCode, MT, type TestRegistry } from './harness.js';
import { collectGarbage, type GcOptions, type GcResult } from '../../src/storage/gc.js';
import { CLOCK_SLACK_MS, GcFence } from '../../src/storage/gc-fence.js';
import { scheduleGarbageCollection } from '../../src/storage/gc-schedule.js';
import { BLOBS_ROOT, blobDigestOfDataPath, pathFor } from '../../src/storage/paths.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { bytes, sha256 } from '../support/test-data.js';

const LINK_WINDOW_MS = 500;
/**
 * Longer than the link window plus the fence's clock slack plus one second: Swift's Last-Modified
 * is the write time rounded up to the whole second, so a claim can look up to 1 s younger.
 */
const SETTLE_MS = LINK_WINDOW_MS + CLOCK_SLACK_MS + 1_600;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function gc(reg: TestRegistry, options: Partial<GcOptions> = {}): Promise<GcResult> {
  return collectGarbage(reg.driver, { delayMs: 0, linkWindowMs: LINK_WINDOW_MS, listingLagMs: 0, ...options });
}

async function storedBlobs(driver: StorageDriver): Promise<Set<string>> {
  const found = new Set<string>();
  await driver.walk(BLOBS_ROOT, (info) => {
    const d = info.isDir ? undefined : blobDigestOfDataPath(info.path);
    if (d) found.add(`${d.algorithm}:${d.encoded}`);
  }).catch(() => undefined);
  return found;
}

async function pullsBack(reg: TestRegistry, name: string, reference: string, content: Buffer): Promise<void> {
  const res = await reg.request('GET', `/v2/${name}/manifests/${reference}`, { headers: { Accept: `${MT.ociManifest}, ${MT.ociIndex}` } });
  assert.equal(res.status, 200, `${name}:${reference} ${res.body.toString()}`);
  assert.ok(res.body.equals(content), `${name}:${reference} manifest bytes`);
  const doc = JSON.parse(content.toString()) as { config?: { digest: string }; layers?: { digest: string }[] };
  for (const d of [doc.config?.digest, ...(doc.layers ?? []).map((l) => l.digest)].filter((x): x is string => !!x)) {
    const blob = await reg.request('GET', `/v2/${name}/blobs/${d}`);
    assert.equal(blob.status, 200, `${name}:${reference} blob ${d}`);
    assert.equal(sha256(blob.body), d, `${name}:${reference} blob ${d} bytes`);
  }
}

/** Every digest named by a tagged manifest, its children and its referrers, read through the API. */
async function reachableFromTags(reg: TestRegistry): Promise<Set<string>> {
  const reachable = new Set<string>();
  const accept = { Accept: `${MT.ociManifest}, ${MT.ociIndex}, ${MT.dockerManifest}, ${MT.dockerList}` };
  const visit = async (name: string, reference: string): Promise<void> => {
    const res = await reg.request('GET', `/v2/${name}/manifests/${reference}`, { headers: accept });
    if (res.status !== 200) return;
    const digest = sha256(res.body);
    if (reachable.has(digest)) return;
    reachable.add(digest);
    const doc = JSON.parse(res.body.toString()) as { config?: { digest: string }; layers?: { digest: string }[]; manifests?: { digest: string }[] };
    if (doc.config) reachable.add(doc.config.digest);
    for (const l of doc.layers ?? []) reachable.add(l.digest);
    for (const m of doc.manifests ?? []) await visit(name, m.digest);
    const referrers = await reg.request('GET', `/v2/${name}/referrers/${digest}`);
    if (referrers.status === 200) for (const r of referrers.json<{ manifests: { digest: string }[] }>().manifests) await visit(name, r.digest);
  };
  const catalog = (await reg.request('GET', '/v2/_catalog?n=1000')).json<{ repositories: string[] }>();
  for (const name of catalog.repositories) {
    const tags = await reg.request('GET', `/v2/${name}/tags/list`);
    if (tags.status !== 200) continue;
    for (const tag of tags.json<{ tags: string[] | null }>().tags ?? []) await visit(name, tag);
  }
  return reachable;
}

for (const factory of DRIVERS.filter((d) => d.name === 'filesystem' || d.name === 'swift')) {
  describe(`garbage collection on ${factory.name}`, { timeout: 900_000 }, () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startTestRegistry(factory, { deleteEnabled: true, gcLinkWindowMs: LINK_WINDOW_MS });
    });
    after(async () => reg?.close());

    it('keeps what tags and revisions reach, deletes the rest; --delete-untagged also drops untagged manifests', async () => {
      const kept = await pushImage(reg, 'gc/basic', 'keep', { seed: 101 });
      const dropped = await pushImage(reg, 'gc/basic', 'drop', { seed: 102 });
      const orphan = await pushBlob(reg, 'gc/basic', bytes(3000, 103)); // uploaded, never in a manifest
      assert.equal((await reg.request('DELETE', '/v2/gc/basic/manifests/drop')).status, 202);
      await sleep(SETTLE_MS);

      const dry = await gc(reg, { dryRun: true, deleteUntagged: true });
      assert.equal(dry.blobsDeleted, 5, 'a dry run counts the orphan, the untagged manifest, its config and its two layers');
      assert.equal(dry.manifestsDeleted, 1);
      assert.ok((await storedBlobs(reg.driver)).has(orphan), 'a dry run deletes nothing');

      const plain = await gc(reg);
      assert.equal(plain.blobsDeleted, 1, 'without --delete-untagged only the orphan goes');
      assert.equal(plain.manifestsDeleted, 0);
      assert.equal((await reg.request('HEAD', `/v2/gc/basic/blobs/${orphan}`)).status, 404);
      assert.equal((await reg.request('GET', `/v2/gc/basic/manifests/${dropped.digest}`)).status, 200, 'the untagged revision stays');

      const untagged = await gc(reg, { deleteUntagged: true });
      assert.equal(untagged.manifestsDeleted, 1);
      assert.equal(untagged.blobsDeleted, 4, 'the untagged manifest, its config and its two layers');
      assert.equal(untagged.bytesFreed, dropped.size + JSON.stringify({ architecture: 'amd64', os: 'linux', seed: 102 }).length + 1000 + 1100);
      assert.equal((await reg.request('GET', `/v2/gc/basic/manifests/${dropped.digest}`)).status, 404);
      await pullsBack(reg, 'gc/basic', 'keep', kept.content);
      const again = await gc(reg, { deleteUntagged: true });
      assert.equal(again.blobsDeleted + again.manifestsDeleted, 0, 'a second pass finds nothing');
    });

    it('keeps the children of a tagged index and the referrers of kept manifests', async () => {
      const child = await pushImage(reg, 'gc/index', 'child-tmp', { seed: 201 });
      assert.equal((await reg.request('DELETE', '/v2/gc/index/manifests/child-tmp')).status, 202); // untagged: only the index names it
      const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ mediaType: MT.ociManifest, digest: child.digest, size: child.size }] }));
      assert.equal((await reg.request('PUT', '/v2/gc/index/manifests/multi', { body: index, headers: { 'Content-Type': MT.ociIndex } })).status, 201);
      const emptyConfig = await pushBlob(reg, 'gc/index', Buffer.from('{}'));
      const signatureLayer = await pushBlob(reg, 'gc/index', bytes(500, 202));
      const referrer = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        artifactType: 'application/vnd.example.signature',
        config: { mediaType: MT.empty, digest: emptyConfig, size: 2 },
        layers: [{ mediaType: 'application/octet-stream', digest: signatureLayer, size: 500 }],
        subject: { mediaType: MT.ociIndex, digest: sha256(index), size: index.length },
      }));
      assert.equal((await reg.request('PUT', `/v2/gc/index/manifests/${sha256(referrer)}`, { body: referrer, headers: { 'Content-Type': MT.ociManifest } })).status, 201);
      await sleep(SETTLE_MS);
      await gc(reg, { deleteUntagged: true });
      await pullsBack(reg, 'gc/index', 'multi', index);
      await pullsBack(reg, 'gc/index', child.digest, child.content);
      await pullsBack(reg, 'gc/index', sha256(referrer), referrer);
      const listed = (await reg.request('GET', `/v2/gc/index/referrers/${sha256(index)}`)).json<{ manifests: { digest: string }[] }>();
      assert.deepEqual(listed.manifests.map((m) => m.digest), [sha256(referrer)]);

      // Untag the index: it, its child and its referrer all go, and the referrer leaves the list.
      assert.equal((await reg.request('DELETE', '/v2/gc/index/manifests/multi')).status, 202);
      await sleep(SETTLE_MS);
      const result = await gc(reg, { deleteUntagged: true });
      assert.equal(result.manifestsDeleted, 3);
      for (const d of [sha256(index), child.digest, sha256(referrer)]) assert.equal((await reg.request('GET', `/v2/gc/index/manifests/${d}`)).status, 404);
      const after = (await reg.request('GET', `/v2/gc/index/referrers/${sha256(index)}`)).json<{ manifests: unknown[] }>();
      assert.deepEqual(after.manifests, []);
    });

    it('regate.gc in the background: a pass on schedule, logged with what it freed', async () => {
      const orphan = await pushBlob(reg, 'gc/background', bytes(2500, 401));
      await sleep(SETTLE_MS);
      const logged: string[] = [];
      const passed = new Promise<GcResult>((resolve) => {
        const stop = scheduleGarbageCollection(
          reg.driver,
          { intervalMs: 3_600_000, firstRunMs: 10, delayMs: 0, linkWindowMs: LINK_WINDOW_MS, listingLagMs: 0 },
          { info: (m) => logged.push(m), error: (m) => logged.push(`error: ${m}`) },
          (result) => {
            stop();
            resolve(result);
          },
        );
      });
      const result = await passed;
      assert.ok(result.blobsDeleted >= 1);
      assert.equal((await reg.request('HEAD', `/v2/gc/background/blobs/${orphan}`)).status, 404);
      await sleep(50);
      assert.ok(logged.some((m) => /^garbage collection: deleted \d+ blobs/.test(m)), logged.join('\n'));
    });

    it('a request that links condemned content waits for the pass, then sees whether it still exists', async () => {
      const image = await pushImage(reg, 'gc/fence', 'v1', { seed: 301 });
      const doc = JSON.parse(image.content.toString()) as { layers: { digest: string }[] };
      const layer = doc.layers[0]!.digest;
      const [algorithm, encoded] = layer.split(':') as [string, string];
      const fence = new GcFence(reg.driver, LINK_WINDOW_MS);
      // The pass condemns the layer; a mount of it into another repository must wait.
      await fence.condemn({ algorithm, encoded }, 'test-pass');
      let answered = false;
      const mount = reg.request('POST', `/v2/gc/fence-copy/blobs/uploads/?mount=${layer}&from=gc/fence`).then((res) => {
        answered = true;
        return res;
      });
      await sleep(600);
      assert.equal(answered, false, 'the mount waits while the content is condemned');
      // The pass deletes the bytes and releases: the mount finds nothing to mount.
      await reg.driver.delete(pathFor({ kind: 'blobDir', digest: { algorithm, encoded } }));
      await fence.release({ algorithm, encoded }, 'test-pass');
      const res = await mount;
      assert.equal(res.status, 202, 'nothing to mount: a plain upload starts');

      // The mirror image: content claimed just now is kept by a pass.
      const fresh = await pushBlob(reg, 'gc/fence', bytes(2000, 302));
      const result = await gc(reg);
      assert.ok((await storedBlobs(reg.driver)).has(fresh), 'claimed by its upload a moment ago: kept');
      assert.ok(result.blobsKeptRecent >= 1);
      // A manifest PUT naming the deleted layer is refused, never stored broken.
      const put = await reg.request('PUT', '/v2/gc/fence/manifests/v2', { body: image.content, headers: { 'Content-Type': MT.ociManifest } });
      assert.equal(put.status, 400);
      assert.equal(errorCode(put), 'MANIFEST_BLOB_UNKNOWN');
    });

    it('pushes, re-pushes, mounts, tag moves and deletes beside 100 passes, two at a time (delay 0): every tagged image pulls back', async () => {
      const WORKERS = 4;
      const OPS = factory.name === 'filesystem' ? 60 : 25;
      const expected = new Map<string, Buffer>(); // "repo:tag" → manifest bytes
      let stop = false;
      let passes = 0;
      const results: GcResult[] = [];
      // Two collectors at once, as two processes with regate.gc enabled would run them.
      const collector = Promise.all(
        [0, 1].map(async () => {
          while (!stop || passes < 100) {
            const n = passes++;
            results.push(await gc(reg, { deleteUntagged: n % 2 === 0 }));
          }
        }),
      );

      // A docker-like push: HEAD each blob, upload what is missing (or mount it), then the manifest.
      async function push(name: string, tag: string, seeds: number[], mountFrom?: string): Promise<Buffer> {
        for (let attempt = 0; ; attempt++) {
          const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seeds }));
          const layers = seeds.map((s) => bytes(1500 + (s % 7) * 100, s));
          for (const blob of [config, ...layers]) {
            const digest = sha256(blob);
            if ((await reg.request('HEAD', `/v2/${name}/blobs/${digest}`)).status === 200) continue;
            if (mountFrom) {
              const mounted = await reg.request('POST', `/v2/${name}/blobs/uploads/?mount=${digest}&from=${mountFrom}`);
              if (mounted.status === 201) continue;
            }
            await pushBlob(reg, name, blob);
          }
          const manifest = Buffer.from(JSON.stringify({
            schemaVersion: 2,
            mediaType: MT.ociManifest,
            config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length },
            layers: layers.map((l) => ({ mediaType: MT.ociLayer, digest: sha256(l), size: l.length })),
          }));
          const res = await reg.request('PUT', `/v2/${name}/manifests/${tag}`, { body: manifest, headers: { 'Content-Type': MT.ociManifest } });
          if (res.status === 201) return manifest;
          // A blob found by HEAD may have been swept before the PUT (nothing was linked yet): the
          // PUT is refused, never stored broken, and the client pushes again.
          assert.equal(errorCode(res), 'MANIFEST_BLOB_UNKNOWN', res.body.toString());
          assert.ok(attempt < 5, 'a push keeps failing');
        }
      }

      await Promise.all(Array.from({ length: WORKERS }, async (_, w) => {
        let seed = 1000 * (w + 1);
        for (let op = 0; op < OPS; op++) {
          const repo = `stress/w${w}/app${op % 3}`;
          const tag = `t${op % 4}`;
          const kind = op % 5;
          if (kind === 0 || kind === 1) {
            // New layers, or the same layers again (a re-push), shared across this worker's repos.
            const seeds = kind === 0 ? [seed++, seed++] : [1000 * (w + 1), 1000 * (w + 1) + 1];
            expected.set(`${repo}:${tag}`, await push(repo, tag, seeds));
          } else if (kind === 2) {
            // Layers another worker pushed, mounted from its repository when it still has them.
            const other = `stress/w${(w + 1) % WORKERS}/app0`;
            const otherBase = 1000 * (((w + 1) % WORKERS) + 1);
            expected.set(`${repo}:${tag}`, await push(repo, tag, [otherBase, otherBase + 1], other));
          } else if (kind === 3) {
            // Move a tag to the manifest of another tag of this repository.
            const source = [...expected.entries()].find(([k]) => k.startsWith(`${repo}:`) && k !== `${repo}:${tag}`);
            if (!source) continue;
            const res = await reg.request('PUT', `/v2/${repo}/manifests/${tag}`, { body: source[1], headers: { 'Content-Type': MT.ociManifest } });
            if (res.status === 201) expected.set(`${repo}:${tag}`, source[1]);
            else assert.equal(errorCode(res), 'MANIFEST_BLOB_UNKNOWN', res.body.toString());
          } else {
            // Delete a tag.
            if (!expected.has(`${repo}:${tag}`)) continue;
            assert.equal((await reg.request('DELETE', `/v2/${repo}/manifests/${tag}`)).status, 202);
            expected.delete(`${repo}:${tag}`);
          }
        }
      }));
      stop = true;
      await collector;
      assert.ok(passes >= 100, `${passes} passes`);
      assert.ok(results.some((r) => r.blobsDeleted > 0), 'the passes did delete garbage while pushes ran');

      for (const [key, content] of expected) {
        const [name, tag] = key.split(':') as [string, string];
        await pullsBack(reg, name, tag, content);
      }

      // Once nothing is in flight, one pass leaves only what tags reach (with their referrers).
      await sleep(SETTLE_MS);
      await gc(reg, { deleteUntagged: true });
      const reachable = await reachableFromTags(reg);
      for (const d of await storedBlobs(reg.driver)) assert.ok(reachable.has(d), `unreferenced blob ${d} left behind`);
    });
  });
}
