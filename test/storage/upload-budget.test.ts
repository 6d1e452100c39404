// The uploads' global batch budget: a crowd of uploads in flight never holds more than the budget,
// every one of them still completes with the right bytes, and a waiting upload is served in turn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { wrapDriver } from '../../src/storage/base-driver.js';
import { InMemoryDriver } from '../../src/storage/drivers/inmemory.js';
import { BlobStore } from '../../src/storage/blob-store.js';
import { UploadStore } from '../../src/storage/upload-store.js';
import { acquireBatch, BATCH_BUDGET, BATCH_BYTES, batchesInUse, copyIntoShared, releaseBatch, tryAcquireBatch } from '../../src/storage/upload-batches.js';

test('a chunk copied into a shared batch lands at its offset, touching nothing around it', () => {
  const batch = Buffer.from(new SharedArrayBuffer(64));
  batch.fill(0xee);
  const chunk = randomBytes(20);
  copyIntoShared(batch, 7, chunk.subarray(3, 13));
  assert.ok(batch.subarray(7, 17).equals(chunk.subarray(3, 13)));
  assert.equal(batch[6], 0xee);
  assert.equal(batch[17], 0xee);
  copyIntoShared(batch, 64, Buffer.alloc(0)); // an empty chunk at the very end is nothing to copy
  copyIntoShared(batch, 44, chunk); // up to the last byte
  assert.ok(batch.subarray(44).equals(chunk));
  assert.throws(() => copyIntoShared(batch, 50, chunk), RangeError, 'never past the batch');
});

test('past the budget a batch is waited for, handed over in order, and nothing is lost', async () => {
  const held = await Promise.all(Array.from({ length: BATCH_BUDGET }, () => acquireBatch()));
  assert.equal(batchesInUse(), BATCH_BUDGET);
  assert.equal(tryAcquireBatch(), undefined);
  const order: number[] = [];
  const first = acquireBatch().then((b) => (order.push(1), b));
  const second = acquireBatch().then((b) => (order.push(2), b));
  await sleep(20);
  assert.deepEqual(order, [], 'nobody gets a batch while all are held');
  releaseBatch(held.pop()!);
  releaseBatch(held.pop()!);
  const got = await Promise.all([first, second]);
  assert.deepEqual(order, [1, 2]);
  assert.equal(batchesInUse(), BATCH_BUDGET);
  for (const b of [...held, ...got]) releaseBatch(b);
  assert.equal(batchesInUse(), 0);
});

test('four times the budget of uploads at once: each completes, the budget is never exceeded', async () => {
  const driver = wrapDriver(new InMemoryDriver());
  const blobs = new BlobStore(driver);
  const uploads = new UploadStore(driver, blobs);
  let peak = 0;
  const bodies = Array.from({ length: 4 * BATCH_BUDGET }, () => randomBytes(2 * BATCH_BYTES + 777));
  // Bodies that trickle in (several small pieces with pauses), as slow clients would.
  async function* trickle(data: Buffer): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < data.length; offset += 256 * 1024) {
      peak = Math.max(peak, batchesInUse());
      yield data.subarray(offset, Math.min(data.length, offset + 256 * 1024));
      await sleep(1);
    }
  }
  const results = await Promise.all(
    bodies.map(async (data, i) => {
      const name = `crowd/app${i}`;
      const id = await uploads.create(name);
      const digest = { algorithm: 'sha256', encoded: createHash('sha256').update(data).digest('hex') };
      return uploads.commit(name, id, digest, { body: trickle(data), options: { expectedLength: data.length } });
    }),
  );
  assert.equal(results.length, bodies.length);
  results.forEach((r, i) => assert.equal(r.size, bodies[i]!.length));
  assert.ok(peak <= BATCH_BUDGET, `peak ${peak} batches, budget ${BATCH_BUDGET}`);
  assert.ok(peak > 1, 'uploads ran side by side');
  assert.equal(batchesInUse(), 0, 'every batch was given back');
  const stored = await blobs.getContent({ algorithm: 'sha256', encoded: createHash('sha256').update(bodies[5]!).digest('hex') });
  assert.ok(stored.equals(bodies[5]!));
});

test('uploads whose clients stall give their batches back: another upload completes meanwhile', async () => {
  const driver = wrapDriver(new InMemoryDriver());
  const blobs = new BlobStore(driver);
  const uploads = new UploadStore(driver, blobs);
  const digestOf = (data: Buffer) => ({ algorithm: 'sha256', encoded: createHash('sha256').update(data).digest('hex') });
  let resume!: () => void;
  const gate = new Promise<void>((resolve) => (resume = resolve));
  // More stalled uploads than the budget has batches: each sent a little, then nothing.
  async function* stalls(data: Buffer): AsyncGenerator<Buffer> {
    yield data.subarray(0, 100_000);
    await gate;
    yield data.subarray(100_000);
  }
  const stalled = Array.from({ length: BATCH_BUDGET + 2 }, (_, i) => randomBytes(BATCH_BYTES + 1000 + i));
  const stalledDone = stalled.map(async (data, i) => {
    const name = `stall/app${i}`;
    const id = await uploads.create(name);
    return uploads.commit(name, id, digestOf(data), { body: stalls(data), options: { expectedLength: data.length } });
  });
  stalledDone.forEach((p) => p.catch(() => undefined));
  await sleep(100);
  const other = randomBytes(3 * BATCH_BYTES + 5);
  const name = 'stall/other';
  const id = await uploads.create(name);
  const done = uploads.commit(name, id, digestOf(other), { body: (async function* () { yield other; })(), options: { expectedLength: other.length } });
  const outcome = await Promise.race([done.then(() => 'completed'), sleep(15_000).then(() => 'still waiting')]);
  assert.equal(outcome, 'completed', 'an upload with bytes to send is not held up by stalled ones');
  assert.ok(batchesInUse() <= BATCH_BUDGET);
  resume();
  const results = await Promise.all(stalledDone);
  results.forEach((r, i) => assert.equal(r.size, stalled[i]!.length));
  for (const data of [...stalled, other]) assert.ok((await blobs.getContent(digestOf(data))).equals(data));
  assert.equal(batchesInUse(), 0, 'every batch was given back');
});
