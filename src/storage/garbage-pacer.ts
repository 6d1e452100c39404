// Every socket read of an upload body arrives as a fresh 64 KiB buffer (Node's HTTP parser copies
// the body out of its read buffer). Their JS handles are tiny, so V8's young generation fills only
// after a hundred megabytes of them, and the bytes wait for a collection that far off: that,
// not the upload batches, is what grew memory with the number of uploads in flight. A young-
// generation collection every few megabytes received frees them soon after use; it is cheap
// (the young generation is 1 MiB, see runtime-flags.ts). Without --expose-gc this does nothing.
const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

type GcFunction = (options: { type: 'minor' | 'major'; execution: 'sync' | 'async' }) => void;
const gc = (globalThis as { gc?: GcFunction }).gc;
let sinceLast = 0;

/** Counts body bytes taken off sockets; now and then asks for a young-generation collection. */
export function noteReceived(bytes: number): void {
  if (!gc) return;
  sinceLast += bytes;
  if (sinceLast < COLLECT_EVERY_BYTES) return;
  sinceLast = 0;
  gc({ type: 'minor', execution: 'sync' });
}
