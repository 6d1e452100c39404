// The blob descriptor cache (storage.cache.blobdescriptor) in front of a real filesystem and a real
// OpenStack Swift, in memory and in a real redis-server: a blob HEAD is answered from it, every
// delete path invalidates it before answering, and with Redis down every request still answers
// correctly (from storage), the cache serving again once Redis is back.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DRIVERS, startTestRegistry, pushImage, pushBlob, type TestRegistry } from './harness.js';
import { InMemoryBlobDescriptorCache, type BlobDescriptorCache } from '../../src/storage/blob-descriptor-cache.js';
import { RedisBlobDescriptorCache } from '../../src/storage/redis-descriptor-cache.js';
import { collectGarbage } from '../../src/storage/gc.js';
import { pathFor } from '../../src/storage/paths.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { bytes } from '../support/test-data.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const parts = (digest: string) => ({ algorithm: 'sha256', encoded: digest.slice(7) });

let redis: TestRedis | undefined;
after(async () => redis?.stop());

for (const factory of DRIVERS.filter((d) => d.name === 'filesystem' || d.name === 'swift')) {
  for (const kind of ['inmemory', 'redis'] as const) {
    describe(`blob descriptor cache (${kind}) on ${factory.name}`, { timeout: 300_000 }, () => {
      let reg: TestRegistry;
      let cache: BlobDescriptorCache;
      const warnings: string[] = [];
      before(async () => {
        if (kind === 'redis') {
          redis ??= await startRedis();
          cache = new RedisBlobDescriptorCache(
            { addr: redis.addr, db: 0, dialTimeoutMs: 500, readTimeoutMs: 300, writeTimeoutMs: 300, tls: false },
            { warn: (m) => warnings.push(m), info: () => undefined },
          );
        } else cache = new InMemoryBlobDescriptorCache(1000);
        reg = await startTestRegistry(factory, { deleteEnabled: true, gcLinkWindowMs: 500 }, undefined, cache);
      });
      after(async () => {
        await reg?.close();
        await cache?.close();
      });

      /** Removes the repository's layer link behind the registry's back: only a cache still says yes. */
      const unlinkInStorage = (name: string, digest: string): Promise<void> =>
        reg.driver.delete(pathFor({ kind: 'layerLink', name, digest: parts(digest) }).slice(0, -'/link'.length));

      it('a blob HEAD is answered from the cache once storage has been asked', async () => {
        const digest = await pushBlob(reg, 'cache/a', bytes(5000, 1));
        const first = await reg.request('HEAD', `/v2/cache/a/blobs/${digest}`);
        assert.equal(first.status, 200);
        assert.equal(first.header('content-length'), '5000');
        await unlinkInStorage('cache/a', digest);
        const cached = await reg.request('HEAD', `/v2/cache/a/blobs/${digest}`);
        assert.equal(cached.status, 200, 'served from the cache');
        assert.equal(cached.header('content-length'), '5000');
        // Decisions that link content ask storage: a mount from there finds nothing to mount.
        const mount = await reg.request('POST', `/v2/cache/a2/blobs/uploads/?mount=${digest}&from=cache/a`);
        assert.equal(mount.status, 202, 'the mount asked storage, not the cache');
        // And a GET reads storage, which tells the truth and corrects the cache.
        assert.equal((await reg.request('GET', `/v2/cache/a/blobs/${digest}`)).status, 404);
        assert.equal((await reg.request('HEAD', `/v2/cache/a/blobs/${digest}`)).status, 404);
      });

      it('blob DELETE and a GC pass invalidate before they answer', async () => {
        const image = await pushImage(reg, 'cache/b', 'v1', { seed: 21 });
        const layer = (JSON.parse(image.content.toString()) as { layers: { digest: string }[] }).layers[0]!.digest;
        assert.equal((await reg.request('HEAD', `/v2/cache/b/blobs/${layer}`)).status, 200);
        assert.equal((await reg.request('DELETE', `/v2/cache/b/blobs/${layer}`)).status, 202);
        assert.equal((await reg.request('HEAD', `/v2/cache/b/blobs/${layer}`)).status, 404, 'DELETE invalidated the cache');

        const orphan = await pushBlob(reg, 'cache/b', bytes(4000, 22));
        assert.equal((await reg.request('HEAD', `/v2/cache/b/blobs/${orphan}`)).status, 200);
        await sleep(3_200);
        const result = await collectGarbage(reg.driver, { delayMs: 0, linkWindowMs: 500, listingLagMs: 0, cache });
        assert.ok(result.blobsDeleted >= 1);
        assert.equal((await reg.request('HEAD', `/v2/cache/b/blobs/${orphan}`)).status, 404, 'GC invalidated the cache');
      });

      it('a manifest revision is known to the cache once read or pushed; a manifest DELETE and a GC pass invalidate it before they answer', async () => {
        const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
        const image = await pushImage(reg, 'cache/m', 'v1', { seed: 41 });
        const revisionDir = (digest: string): string => pathFor({ kind: 'manifestRevisionLink', name: 'cache/m', digest: parts(digest) }).slice(0, -'/link'.length);
        // Removed behind the registry's back: the pushed revision is served from the cache (as a
        // blob HEAD is), its bytes from memory.
        await reg.driver.delete(revisionDir(image.digest));
        const cached = await reg.request('GET', `/v2/cache/m/manifests/${image.digest}`, { headers: accept });
        assert.equal(cached.status, 200, 'served from the cache');
        assert.ok(cached.body.equals(image.content));
        // A DELETE through the registry forgets it first.
        const second = await pushImage(reg, 'cache/m', 'v2', { seed: 42 });
        assert.equal((await reg.request('GET', `/v2/cache/m/manifests/${second.digest}`, { headers: accept })).status, 200);
        assert.equal((await reg.request('DELETE', `/v2/cache/m/manifests/${second.digest}`)).status, 202);
        assert.equal((await reg.request('GET', `/v2/cache/m/manifests/${second.digest}`, { headers: accept })).status, 404, 'DELETE invalidated the cache');
        // So does a GC pass that deletes an untagged revision.
        const third = await pushImage(reg, 'cache/m', 'v3', { seed: 43 });
        assert.equal((await reg.request('DELETE', '/v2/cache/m/manifests/v3')).status, 202, 'the tag goes, the revision stays');
        assert.equal((await reg.request('GET', `/v2/cache/m/manifests/${third.digest}`, { headers: accept })).status, 200);
        await sleep(3_200);
        const result = await collectGarbage(reg.driver, { delayMs: 0, linkWindowMs: 500, listingLagMs: 0, cache, deleteUntagged: true });
        assert.ok(result.manifestsDeleted >= 1, JSON.stringify(result));
        assert.equal((await reg.request('GET', `/v2/cache/m/manifests/${third.digest}`, { headers: accept })).status, 404, 'GC invalidated the cache');
      });

      if (kind === 'redis') {
        it('Redis down: every answer still right (from storage), logged once; back: the cache serves again', async () => {
          const digest = await pushBlob(reg, 'cache/c', bytes(6000, 31));
          const gone = await pushBlob(reg, 'cache/c', bytes(6000, 32));
          assert.equal((await reg.request('DELETE', `/v2/cache/c/blobs/${gone}`)).status, 202);
          await redis!.stop();
          for (let i = 0; i < 5; i++) {
            assert.equal((await reg.request('HEAD', `/v2/cache/c/blobs/${digest}`)).status, 200);
            assert.equal((await reg.request('HEAD', `/v2/cache/c/blobs/${gone}`)).status, 404);
          }
          const pushed = await pushBlob(reg, 'cache/c', bytes(6000, 33)); // writes succeed too
          assert.equal((await reg.request('GET', `/v2/cache/c/blobs/${pushed}`)).status, 200);
          assert.equal(warnings.filter((w) => /Redis unavailable/.test(w)).length, 1, warnings.join('\n'));

          await redis!.start();
          let served = false;
          for (let i = 0; i < 50 && !served; i++) {
            await sleep(100);
            assert.equal((await reg.request('HEAD', `/v2/cache/c/blobs/${digest}`)).status, 200); // fills the cache once Redis is back
            served = (await cache.linked('cache/c', parts(digest))) === true;
          }
          assert.ok(served, 'the cache is used again after Redis came back');
          await unlinkInStorage('cache/c', digest);
          assert.equal((await reg.request('HEAD', `/v2/cache/c/blobs/${digest}`)).status, 200, 'served from Redis again');
        });

        it('Redis unreachable but keeping its data (paused): a delete made meanwhile is replayed before Redis serves again', async () => {
          const kept = await pushBlob(reg, 'cache/d', bytes(7000, 41));
          const deleted = await pushBlob(reg, 'cache/d', bytes(7000, 42));
          for (const d of [kept, deleted]) assert.equal((await reg.request('HEAD', `/v2/cache/d/blobs/${d}`)).status, 200);
          assert.equal(await cache.linked('cache/d', parts(deleted)), true, 'both are in Redis');
          warnings.length = 0;
          redis!.pause();
          try {
            assert.equal((await reg.request('DELETE', `/v2/cache/d/blobs/${deleted}`)).status, 202, 'a delete never waits on Redis');
            for (let i = 0; i < 5; i++) {
              assert.equal((await reg.request('HEAD', `/v2/cache/d/blobs/${deleted}`)).status, 404);
              assert.equal((await reg.request('HEAD', `/v2/cache/d/blobs/${kept}`)).status, 200);
            }
          } finally {
            redis!.resume();
          }
          assert.equal(warnings.filter((w) => /Redis unavailable/.test(w)).length, 1, warnings.join('\n'));
          // Redis still holds the deleted blob's entry until the replay reaches it; from then on it serves again.
          let back = false;
          for (let i = 0; i < 100 && !back; i++) {
            await sleep(100);
            assert.equal((await reg.request('HEAD', `/v2/cache/d/blobs/${deleted}`)).status, 404, `attempt ${i}: never the stale entry`);
            back = (await cache.linked('cache/d', parts(kept))) === true;
          }
          assert.ok(back, 'the cache serves again once Redis answers');
          assert.equal(await cache.linked('cache/d', parts(deleted)), undefined, 'the delete was replayed into Redis');
          assert.equal((await reg.request('HEAD', `/v2/cache/d/blobs/${deleted}`)).status, 404);
        });
      }
    });
  }
}
