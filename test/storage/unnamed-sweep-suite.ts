// gc's sweep of Swift segment sets no manifest names, run against each real backend (OpenStack
// Swift and Ceph RGW list and HEAD large-object manifests each their own way; a manifest the sweep
// failed to see would lose a blob's bytes).
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SwiftDriver } from '../../src/storage/drivers/swift.js';

export function runUnnamedSweepTests(backend: string, makeDriver: () => SwiftDriver): void {
  describe(`swift driver on ${backend}: segment sets no manifest names`, () => {
    const MiB = 1024 * 1024;
    const listSegments = async (driver: SwiftDriver): Promise<string[]> => {
      const names: string[] = [];
      for await (const e of driver.client.list({ prefix: 'segments/' })) names.push(e.name);
      return names;
    };

    it('are found by one pass, deleted by the next (a dry run deletes nothing); named sets, open writers included, are kept', async () => {
      const { wrapDriver } = await import('../../src/storage/base-driver.js');
      const { collectGarbage } = await import('../../src/storage/gc.js');
      const driver = makeDriver();
      try {
        const blob = randomBytes(2 * MiB + 9);
        const w = await driver.writer('/blob', false);
        await w.write(blob);
        await w.commit();
        const open = await driver.writer('/upload', false);
        const first = randomBytes(2 * MiB);
        await open.write(first); // two whole segments stored, the writer still open
        const gone = await driver.writer('/gone', false);
        await gone.write(randomBytes(2 * MiB + 1));
        await gone.commit();
        const goneInfo = await driver.client.head('files/gone', true);
        const goneSet = `${decodeURIComponent(goneInfo!.dloManifest!).split('/').slice(1).join('/')}/`;
        assert.equal((await listSegments(driver)).filter((n) => n.startsWith(goneSet)).length, 3);
        await driver.client.delete('files/gone'); // its manifest only: its set is named by nothing now
        await driver.client.put('segments/abc/orphan/0000000000000001', Buffer.alloc(1000, 1));
        const orphans = (await listSegments(driver)).filter((n) => n.startsWith('segments/abc/orphan/')).length;
        assert.equal(orphans, 1);

        const pass1 = await driver.sweepUnnamed({ minAgeMs: 0, dryRun: false });
        assert.deepEqual(pass1, { found: 2, deleted: 0, bytesFreed: 0 }, 'the first pass only records them');
        const young = await driver.sweepUnnamed({ minAgeMs: 3_600_000, dryRun: false });
        assert.equal(young.deleted, 0, 'not before they are old enough');
        const dry = await driver.sweepUnnamed({ minAgeMs: 0, dryRun: true });
        assert.deepEqual(dry, { found: 2, deleted: 2, bytesFreed: 2 * MiB + 1 + 1000 });
        const kept = (await listSegments(driver)).filter((n) => !n.startsWith(goneSet) && !n.startsWith('segments/abc/orphan/'));

        const gc = await collectGarbage(wrapDriver(driver), { delayMs: 0 });
        assert.deepEqual(gc.unnamed, { found: 2, deleted: 2, bytesFreed: 2 * MiB + 1 + 1000 });
        const after = await listSegments(driver);
        assert.deepEqual(after, kept, 'exactly the unnamed sets are deleted');
        assert.ok((await driver.getContent('/blob')).equals(blob), 'a named set is kept');
        const more = randomBytes(MiB + 3);
        await open.write(more);
        await open.close();
        assert.ok((await driver.getContent('/upload')).equals(Buffer.concat([first, more])), 'an open writer\'s set is kept');
        assert.equal(await driver.client.getBuffer('regate-unnamed-segments.json'), undefined, 'nothing left to record');
        assert.deepEqual(await driver.sweepUnnamed({ minAgeMs: 0, dryRun: false }), { found: 0, deleted: 0, bytesFreed: 0 });
      } finally {
        driver.close();
      }
    });
  });
}
