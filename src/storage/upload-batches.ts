// (The upload path as a whole: docs/architecture.md, "The upload path".)
// Upload bytes are gathered into 1 MiB batches of shared memory: one driver write and one hash
// message per batch instead of one per 64 KiB socket read, and the worker reads the very memory
// the driver writes from. Batches are recycled, and all uploads of the process draw them from one
// budget: past it, an upload waits (its socket is not read, so TCP backpressure holds the client)
// until a batch is released. Memory stays bounded whatever the number of uploads in flight.

export const BATCH_BYTES = 1024 * 1024;

/**
 * Batches all uploads may hold at once. On 2 cores a handful of uploads already keeps the hash
 * worker and the writes busy (measured: 16 MiB gives the same throughput at 32 and 128 concurrent
 * pushes as unbounded batches did, at a fraction of the memory). 8 MiB against 12, alternating runs:
 * 128 concurrent 64 MiB pushes 493–524 vs 408–439 MB/s at 114–117 vs 120–122 MiB peak RSS; 32
 * concurrent 500–507 vs 524–576 MB/s (within this machine's run-to-run swing) at 104–108 vs 115 MiB.
 * 6 MiB saves a few MiB more but lost throughput at 128 in one run of two.
 */
export const BATCH_BUDGET = 8;

// Spares kept for reuse once nobody is waiting: enough for a lone upload's pipeline.
const MAX_SPARE = 4;
const spare: Buffer[] = [];
/** Uploads waiting for a batch, served in arrival order so none starves. */
const waiting: Array<(batch: Buffer) => void> = [];
let outstanding = 0;

function fresh(): Buffer {
  outstanding++;
  return spare.pop() ?? Buffer.from(new SharedArrayBuffer(BATCH_BYTES));
}

/**
 * Copies `source` into shared memory at `at`. Not `source.copy(batch)`: in Node 20 that is
 * TypedArray#set, which V8 performs with relaxed atomic stores when the target is a
 * SharedArrayBuffer (measured: 48 ms per GiB against 17 for a plain memcpy, and 20% of the event
 * loop's time during a push, profiled with perf). Buffer#fill with a Buffer value of exactly the
 * range's length is one memcpy in C++.
 */
export function copyIntoShared(target: Buffer, at: number, source: Buffer): void {
  if (source.length > 0) target.fill(source, at, at + source.length);
}

/** A batch from the budget, waiting for one to be released when all are taken. */
export function acquireBatch(): Promise<Buffer> {
  if (outstanding < BATCH_BUDGET && waiting.length === 0) return Promise.resolve(fresh());
  return new Promise((resolve) => waiting.push(resolve));
}

/** A further batch only if one is free right now and nobody waits (extra pipeline depth is optional). */
export function tryAcquireBatch(): Buffer | undefined {
  if (outstanding >= BATCH_BUDGET || waiting.length > 0) return undefined;
  return fresh();
}

/** Gives a batch back; a waiting upload gets it directly. Its bytes must no longer be in use. */
export function releaseBatch(batch: Buffer): void {
  const next = waiting.shift();
  if (next) {
    next(batch);
    return;
  }
  outstanding--;
  if (spare.length < MAX_SPARE) spare.push(batch);
}

/** Uploads waiting for a batch right now. */
export function batchWaiters(): number {
  return waiting.length;
}

/** For tests: batches currently held by uploads. */
export function batchesInUse(): number {
  return outstanding;
}
