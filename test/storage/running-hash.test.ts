import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { heldMemoriesForTest, OffThreadHash } from '../../src/storage/running-hash.js';
import { acquireBatch, BATCH_BYTES, releaseBatch } from '../../src/storage/upload-batches.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

test('off-thread SHA-256 equals the inline one, for shared batches and plain buffers', async () => {
  const data = randomBytes(3 * BATCH_BYTES + 12345);
  const hash = new OffThreadHash();
  const batch = await acquireBatch();
  try {
    for (let offset = 0; offset < data.length; offset += BATCH_BYTES) {
      const n = data.copy(batch, 0, offset, Math.min(data.length, offset + BATCH_BYTES));
      await hash.update(batch.subarray(0, n)); // the batch is reused at once: the ack must mean "consumed"
    }
  } finally {
    releaseBatch(batch);
  }
  assert.equal(await hash.digest(), sha256(data));

  const plain = new OffThreadHash();
  await Promise.all([plain.update(data.subarray(0, 1000)), plain.update(data.subarray(1000))]);
  assert.equal(await plain.digest(), sha256(data));
});

test('many concurrent sessions stay separate; empty and disposed hashes behave', async () => {
  const inputs = Array.from({ length: 20 }, (_, i) => randomBytes(1000 + i * 7919));
  const hashes = inputs.map(() => new OffThreadHash());
  await Promise.all(hashes.map((h, i) => h.update(inputs[i]!)));
  assert.deepEqual(await Promise.all(hashes.map((h) => h.digest())), inputs.map(sha256));
  assert.equal(await new OffThreadHash().digest(), sha256(Buffer.alloc(0)));
  const disposed = new OffThreadHash();
  disposed.dispose();
  await assert.rejects(disposed.digest());
  await assert.rejects(hashes[0]!.digest(), /finished/);
});

test('a dead hash worker fails its hashes at once, and uploads still complete by re-reading', async () => {
  const { wrapDriver } = await import('../../src/storage/base-driver.js');
  const { InMemoryDriver } = await import('../../src/storage/drivers/inmemory.js');
  const { BlobStore } = await import('../../src/storage/blob-store.js');
  const { UploadStore } = await import('../../src/storage/upload-store.js');
  const driver = wrapDriver(new InMemoryDriver());
  const blobs = new BlobStore(driver);
  const uploads = new UploadStore(driver, blobs);
  const data = randomBytes(3 * BATCH_BYTES);
  const id = await uploads.create('crash/app');
  await uploads.append('crash/app', id, Readable.from([data.subarray(0, BATCH_BYTES + 5)]));

  // Every hash shares the pool's worker on this machine; ending it ends the upload's hash too.
  const victim = new OffThreadHash();
  await victim.update(Buffer.from('x'));
  await victim.terminateWorkerForTest();
  await assert.rejects(victim.update(Buffer.from('y')));
  await assert.rejects(victim.digest());

  await uploads.append('crash/app', id, Readable.from([data.subarray(BATCH_BYTES + 5)]));
  const digest = { algorithm: 'sha256', encoded: sha256(data) };
  const blob = await uploads.commit('crash/app', id, digest);
  assert.equal(blob.size, data.length);
  assert.ok((await blobs.getContent(digest)).equals(data));

  const fresh = new OffThreadHash(); // the pool starts a new worker
  await fresh.update(Buffer.from('abc'));
  assert.equal(await fresh.digest(), sha256(Buffer.from('abc')));

  // Batches the dead worker had been given are given to the new one again, not named by number only.
  const batch = await acquireBatch();
  try {
    data.copy(batch, 0, 0, BATCH_BYTES);
    const again = new OffThreadHash();
    await again.update(batch);
    assert.equal(await again.digest(), sha256(data.subarray(0, BATCH_BYTES)));
  } finally {
    releaseBatch(batch);
  }
});

test('shared memory is given to the worker once, and let go once it is garbage here', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const before = heldMemoriesForTest();
  let memory: Buffer | undefined = Buffer.from(new SharedArrayBuffer(4096));
  memory.fill(7);
  const hash = new OffThreadHash();
  for (let i = 0; i < 3; i++) await hash.update(memory.subarray(i * 1000, i * 1000 + 1000));
  assert.equal(await hash.digest(), sha256(Buffer.alloc(3000, 7)));
  assert.equal(heldMemoriesForTest(), before + 1, 'one memory, held once, whatever the number of updates');
  memory = undefined;
  for (let i = 0; i < 50 && heldMemoriesForTest() > before; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(heldMemoriesForTest(), before);
});
