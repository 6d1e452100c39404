// `regate gc` as an operator runs it (node dist/src/main.js gc --config FILE), on a filesystem root
// a registry wrote: dry run, a real pass, its summary, a bad config; then CNCF Distribution 2.8.2
// serves the same root, so regate's bookkeeping beside the tree does not disturb it; scrub; du.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FilesystemDriver } from '../../src/storage/drivers/filesystem.js';
import { wrapDriver } from '../../src/storage/base-driver.js';
import { makeTempDir, REGATE_MAIN, runCommand, startDistribution } from '../support/processes.js';
import { pushImage, startTestRegistry, MT, type TestRegistry } from '../api/harness.js';

describe('regate gc (the command)', { timeout: 180_000 }, () => {
  const root = makeTempDir('regate-gc-cli-');
  let reg: TestRegistry;
  let kept: { digest: string; content: Buffer };
  let dropped: { digest: string; size: number };
  const configPath = join(root.path, 'config.yml');

  before(async () => {
    const rootdirectory = join(root.path, 'data');
    reg = await startTestRegistry(
      { name: 'filesystem', make: async () => ({ driver: wrapDriver(new FilesystemDriver(rootdirectory)), cleanup: async () => undefined }) },
      { deleteEnabled: true, gcLinkWindowMs: 500 },
    );
    kept = await pushImage(reg, 'cli/app', 'v1', { seed: 1 });
    dropped = await pushImage(reg, 'cli/app', 'v2', { seed: 2 });
    assert.equal((await reg.request('DELETE', '/v2/cli/app/manifests/v2')).status, 202);
    writeFileSync(configPath, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${rootdirectory}\n  delete:\n    enabled: true\nregate:\n  gc:\n    delay: 0s\n    linkwindow: 500ms\n`);
    await new Promise((resolve) => setTimeout(resolve, 3_200)); // past the claims of the pushes above
  });
  after(async () => {
    await reg?.close();
    root.remove();
  });

  test('--dry-run reports and deletes nothing; a pass deletes the untagged image; a second finds nothing', async () => {
    const dry = await runCommand(process.execPath, [REGATE_MAIN, 'gc', '--config', configPath, '--dry-run', '--delete-untagged']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout.toString(), /^dry run: would delete 4 blobs \(.+\) and 1 untagged manifests$/m);
    assert.equal((await reg.request('GET', `/v2/cli/app/manifests/${dropped.digest}`)).status, 200);

    const pass = await runCommand(process.execPath, [REGATE_MAIN, 'gc', '--config', configPath, '--delete-untagged']);
    assert.equal(pass.code, 0, pass.stderr);
    assert.match(pass.stdout.toString(), /^deleted 4 blobs \(.+ KiB\) and 1 untagged manifests$/m);
    assert.match(pass.stdout.toString(), /repositories: 1, manifests kept: 1/);
    assert.equal((await reg.request('GET', `/v2/cli/app/manifests/${dropped.digest}`)).status, 404);

    const again = await runCommand(process.execPath, [REGATE_MAIN, 'gc', '--config', configPath, '--delete-untagged']);
    assert.match(again.stdout.toString(), /^deleted 0 blobs \(0 B\) and 0 untagged manifests$/m);
  });

  test('a config without storage, or a bad --delay, exits 1 naming the problem', async () => {
    const upstream = join(root.path, 'upstream.yml');
    writeFileSync(upstream, 'version: 0.1\nregate:\n  upstream:\n    url: http://127.0.0.1:1\n');
    const noStorage = await runCommand(process.execPath, [REGATE_MAIN, 'gc', '--config', upstream]);
    assert.equal(noStorage.code, 1);
    assert.match(noStorage.stderr, /regate gc: .*storage/);
    const badDelay = await runCommand(process.execPath, [REGATE_MAIN, 'gc', '--config', configPath, '--delay', 'soon']);
    assert.equal(badDelay.code, 1);
    assert.match(badDelay.stderr, /--delay: "soon" is not a duration/);
  });

  test('Distribution 2.8.2 serves the collected root as it is', async () => {
    const distribution = await startDistribution({ rootDir: join(root.path, 'data') });
    try {
      const res = await fetch(`${distribution.url}/v2/cli/app/manifests/v1`, { headers: { Accept: MT.ociManifest } });
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(kept.content));
      const catalog = (await (await fetch(`${distribution.url}/v2/_catalog`)).json()) as { repositories: string[] };
      assert.deepEqual(catalog.repositories, ['cli/app']);
      const doc = JSON.parse(kept.content.toString()) as { layers: { digest: string }[] };
      for (const layer of doc.layers) assert.equal((await fetch(`${distribution.url}/v2/cli/app/blobs/${layer.digest}`, { method: 'HEAD' })).status, 200);
    } finally {
      await distribution.stop();
    }
  });

  test('regate scrub: exit 1 naming a rotten blob; --repair moves it aside and exits 0', async () => {
    const layer = (JSON.parse(kept.content.toString()) as { layers: { digest: string }[] }).layers[1]!.digest;
    const path = join(root.path, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', layer.slice(7, 9), layer.slice(7), 'data');
    const bytes = readFileSync(path);
    bytes[0] = bytes[0]! ^ 1;
    writeFileSync(path, bytes);
    const found = await runCommand(process.execPath, [REGATE_MAIN, 'scrub', '--config', configPath]);
    assert.equal(found.code, 1, found.stderr);
    assert.match(found.stdout.toString(), new RegExp(`^corrupt: ${layer} \\(.+\\): corrupt$`, 'm'));
    assert.match(found.stdout.toString(), /^scrubbed 4 blobs \(.+\): 1 corrupt$/m);
    const repaired = await runCommand(process.execPath, [REGATE_MAIN, 'scrub', '--config', configPath, '--repair']);
    assert.equal(repaired.code, 0, repaired.stdout.toString() + repaired.stderr);
    assert.match(repaired.stdout.toString(), /: 1 corrupt, 1 moved aside$/m);
    assert.equal((await reg.request('HEAD', `/v2/cli/app/blobs/${layer}`)).status, 404);
  });

  test('regate du prints the bytes per repository, deletes nothing, and the registry then serves the report', async () => {
    await pushImage(reg, 'cli/other', 'v1', { seed: 1 }); // the same image as cli/app:v1: all shared
    const du = await runCommand(process.execPath, [REGATE_MAIN, 'du', '--config', configPath]);
    assert.equal(du.code, 0, du.stderr);
    const lines = du.stdout.toString().trim().split('\n');
    assert.match(lines[0]!, /^repository\s+unique\s+shared\s+blobs$/);
    assert.match(lines[1]!, /^cli\/(app|other)\s+0 B\s+\d+(\.\d)? KiB\s+4$/);
    assert.equal(lines.length, 3);
    assert.equal((await reg.request('GET', `/v2/cli/app/manifests/${kept.digest}`)).status, 200, 'nothing deleted');
    const usage = (await reg.request('GET', '/v2/cli/other/_regate/usage')).json<{ measured: boolean; by: string; unique: number; blobs: number }>();
    assert.deepEqual([usage.measured, usage.by, usage.unique, usage.blobs], [true, 'du', 0, 4]);
    const bad = await runCommand(process.execPath, [REGATE_MAIN, 'du', '--config', configPath, '--top', 'many']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--top: "many" is not a whole number/);
  });
});
