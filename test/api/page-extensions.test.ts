// regate's own endpoints for the web page, on the filesystem, OpenStack Swift and Ceph RGW:
// tags newest push first across pages (one flat listing on an object store), and the bytes a
// repository holds as the last GC pass or `regate du` measured them (unique and shared).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DRIVERS, errorCode, pushImage, startTestRegistry, type TestRegistry } from './harness.js';
import { collectGarbage } from '../../src/storage/gc.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Apart enough for every backend's listed modification times (Swift's are in microseconds, RGW's in milliseconds). */
const PUSH_GAP_MS = 15;

for (const factory of DRIVERS.filter((d) => d.name !== 'inmemory')) {
  describe(`web page endpoints on ${factory.name}`, { timeout: 300_000 }, () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startTestRegistry(factory, { deleteEnabled: true });
    });
    after(async () => reg?.close());

    it('_regate/tags: newest push first, across pages with the cursor the Link header hands out; a retag moves a tag to the front', async () => {
      const image = await pushImage(reg, 'page/tags', 'a-first');
      const put = async (tag: string): Promise<void> => {
        await sleep(PUSH_GAP_MS);
        const res = await reg.request('PUT', `/v2/page/tags/manifests/${tag}`, { body: image.content, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
        assert.equal(res.status, 201);
      };
      for (const tag of ['c-second', 'b-third', 'e-fourth', 'd-fifth']) await put(tag);

      const all: string[] = [];
      let path: string | undefined = '/v2/page/tags/_regate/tags?n=2';
      let pages = 0;
      while (path) {
        const res = await reg.request('GET', path);
        assert.equal(res.status, 200);
        const body = res.json<{ total: number; tags: Array<{ tag: string; pushedAt: string }> }>();
        assert.equal(body.total, 5);
        for (const t of body.tags) assert.ok(!Number.isNaN(Date.parse(t.pushedAt)));
        all.push(...body.tags.map((t) => t.tag));
        const link = res.header('link');
        path = link ? /<([^>]+)>/.exec(link)![1] : undefined;
        pages++;
      }
      assert.equal(pages, 3);
      assert.deepEqual(all, ['d-fifth', 'e-fourth', 'b-third', 'c-second', 'a-first']);

      await put('c-second'); // pushed again: now the newest
      const again = (await reg.request('GET', '/v2/page/tags/_regate/tags')).json<{ tags: Array<{ tag: string }> }>();
      assert.deepEqual(again.tags.map((t) => t.tag), ['c-second', 'd-fifth', 'e-fourth', 'b-third', 'a-first']);
      assert.equal((await reg.request('DELETE', '/v2/page/tags/manifests/e-fourth')).status, 202);
      const untagged = (await reg.request('GET', '/v2/page/tags/_regate/tags')).json<{ tags: Array<{ tag: string }> }>();
      assert.deepEqual(untagged.tags.map((t) => t.tag), ['c-second', 'd-fifth', 'b-third', 'a-first']);

      const missing = await reg.request('GET', '/v2/page/nothing/_regate/tags');
      assert.equal(missing.status, 404);
      assert.equal(errorCode(missing), 'NAME_UNKNOWN');
      const badCursor = await reg.request('GET', '/v2/page/tags/_regate/tags?last=not-a-cursor');
      assert.equal(badCursor.status, 400);
    });

    it('_regate/usage: unique and shared bytes from the last GC mark or regate du, with when it was measured', async () => {
      const none = (await reg.request('GET', '/v2/page/usage-a/_regate/usage')).json<{ measured: boolean }>();
      assert.equal(none.measured, false);
      const a = await pushImage(reg, 'page/usage-a', 'v1', { seed: 41 });
      await pushImage(reg, 'page/usage-b', 'v1', { seed: 42 });
      // usage-c holds the same image as usage-a: all of it is shared between them.
      const manifest = JSON.parse(a.content.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
      for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
        assert.equal((await reg.request('POST', `/v2/page/usage-c/blobs/uploads/?mount=${d}&from=page/usage-a`)).status, 201);
      }
      assert.equal((await reg.request('PUT', '/v2/page/usage-c/manifests/v1', { body: a.content, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } })).status, 201);
      const result = await collectGarbage(reg.driver, { dryRun: true, usageReport: 'du', delayMs: 0 });
      const sizeOfA = JSON.parse(a.content.toString()) as { config: { size: number }; layers: Array<{ size: number }> };
      const imageBytes = a.size + sizeOfA.config.size + sizeOfA.layers.reduce((s, l) => s + l.size, 0);
      assert.deepEqual(result.usage['page/usage-a'], { unique: 0, shared: imageBytes, blobs: 4 });
      assert.deepEqual(result.usage['page/usage-c'], { unique: 0, shared: imageBytes, blobs: 4 });
      assert.equal(result.usage['page/usage-b']!.shared, 0);
      assert.ok(result.usage['page/usage-b']!.unique > 2000);

      // The registry notices the new report within a couple of seconds.
      let body: { measured: boolean; by?: string; measuredAt?: string; unique?: number; shared?: number; blobs?: number } = { measured: false };
      for (let i = 0; i < 40 && !body.measured; i++) {
        body = (await reg.request('GET', '/v2/page/usage-b/_regate/usage')).json();
        if (!body.measured) await sleep(100);
      }
      assert.equal(body.measured, true);
      assert.equal(body.by, 'du');
      assert.ok(Math.abs(Date.parse(body.measuredAt!) - Date.now()) < 120_000);
      assert.deepEqual({ unique: body.unique, shared: body.shared, blobs: body.blobs }, result.usage['page/usage-b']);
    });
  });
}
