// Upload bytes are gathered into 1 MiB batches of shared memory: one driver write and one hash
// message per batch instead of one per 64 KiB socket read, and the worker reads the very memory
// the driver writes from. Batches are recycled, so an upload's memory is two batches whatever
// the layer size.

export const BATCH_BYTES = 1024 * 1024;
// A few spares cover the common case (one or two uploads at a time) without holding tens of
// megabytes after a burst of concurrent pushes.
const MAX_SPARE = 4;
const spare: Buffer[] = [];

export function takeBatch(): Buffer {
  return spare.pop() ?? Buffer.from(new SharedArrayBuffer(BATCH_BYTES));
}

export function returnBatch(batch: Buffer): void {
  if (spare.length < MAX_SPARE) spare.push(batch);
}
