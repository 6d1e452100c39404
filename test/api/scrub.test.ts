// Scrub on a real filesystem and a real OpenStack Swift: bytes that rotted but kept their size are
// found, a re-push does not heal them (the blob "exists"), and after --repair it does.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DRIVERS, startTestRegistry, pushImage, pushBlob, type TestRegistry } from './harness.js';
import { scrub } from '../../src/storage/scrub.js';
import { pathFor } from '../../src/storage/paths.js';
import { CLOCK_SLACK_MS } from '../../src/storage/gc-fence.js';
import { sha256 } from '../support/test-data.js';

const LINK_WINDOW_MS = 500;
/** Past the link window and clock slack, plus 1 s: Swift's Last-Modified rounds up to the second. */
const SETTLE_MS = LINK_WINDOW_MS + CLOCK_SLACK_MS + 1_600;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

for (const factory of DRIVERS.filter((d) => d.name === 'filesystem' || d.name === 'swift')) {
  describe(`scrub on ${factory.name}`, { timeout: 300_000 }, () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startTestRegistry(factory, { gcLinkWindowMs: LINK_WINDOW_MS });
    });
    after(async () => reg?.close());

    it('finds a blob whose bytes rotted, and --repair lets the next push store it again', async () => {
      const image = await pushImage(reg, 'scrub/app', 'v1', { seed: 7 });
      const layerDigest = (JSON.parse(image.content.toString()) as { layers: { digest: string }[] }).layers[0]!.digest;
      const digest = { algorithm: 'sha256', encoded: layerDigest.slice(7) };
      const good = await reg.driver.getContent(pathFor({ kind: 'blobData', digest }));
      const rotten = Buffer.from(good);
      rotten[10] = rotten[10]! ^ 0xff; // same size, other bytes
      await reg.driver.putContent(pathFor({ kind: 'blobData', digest }), rotten);

      const found = await scrub(reg.driver, { linkWindowMs: LINK_WINDOW_MS });
      assert.equal(found.blobs, 4, 'config, two layers, manifest');
      assert.deepEqual(found.corrupt.map((c) => c.digest), [layerDigest]);
      assert.equal(found.corrupt[0]!.actual, sha256(rotten));
      assert.equal(found.corrupt[0]!.movedTo, undefined, 'without --repair nothing moves');

      // Without repair a re-push of the layer is skipped: the stored blob has the right size.
      await pushBlob(reg, 'scrub/app', good);
      assert.equal(sha256((await reg.request('GET', `/v2/scrub/app/blobs/${layerDigest}`)).body), sha256(rotten));

      await sleep(SETTLE_MS); // past the re-push's claim
      const repaired = await scrub(reg.driver, { repair: true, linkWindowMs: LINK_WINDOW_MS });
      assert.equal(repaired.corrupt.length, 1);
      assert.match(repaired.corrupt[0]!.movedTo ?? '', /^\/docker\/registry\/v2\/regate\/quarantine\/sha256\//);
      assert.equal((await reg.request('HEAD', `/v2/scrub/app/blobs/${layerDigest}`)).status, 404, 'a moved-aside blob is not served');
      assert.ok((await reg.driver.getContent(repaired.corrupt[0]!.movedTo!)).equals(rotten), 'the bytes are kept for inspection');

      await pushBlob(reg, 'scrub/app', good);
      const pulled = await reg.request('GET', `/v2/scrub/app/blobs/${layerDigest}`);
      assert.equal(pulled.status, 200);
      assert.ok(pulled.body.equals(good), 'the next push stored the bytes again');
      assert.equal((await scrub(reg.driver)).corrupt.length, 0);
    });

    it('a corrupt blob that a request claimed a moment ago is reported, not moved', async () => {
      const data = Buffer.from('x'.repeat(3000));
      const layerDigest = await pushBlob(reg, 'scrub/busy', data);
      const digest = { algorithm: 'sha256', encoded: layerDigest.slice(7) };
      await reg.driver.putContent(pathFor({ kind: 'blobData', digest }), Buffer.from('y'.repeat(3000)));
      const result = await scrub(reg.driver, { repair: true, linkWindowMs: LINK_WINDOW_MS });
      const entry = result.corrupt.find((c) => c.digest === layerDigest);
      assert.ok(entry);
      assert.equal(entry.movedTo, undefined);
      assert.match(entry.notRepaired ?? '', /linking it right now/);
    });
  });
}
