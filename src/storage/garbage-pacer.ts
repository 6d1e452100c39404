// Every socket read of an upload body arrives as a fresh 64 KiB buffer (Node's HTTP parser copies
// the body out of its read buffer). Their JS handles are tiny, so V8's young generation fills only
// after a hundred megabytes of them, and the bytes wait for a collection that far off: that,
// not the upload batches, is what grew memory with the number of uploads in flight. A young-
// generation collection every few megabytes received frees them soon after use; it is cheap
// (the young generation is 1 MiB, see runtime-flags.ts).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

type GcFunction = (options: { type: 'minor' | 'major'; execution: 'sync' | 'async' }) => void;

/**
 * V8's gc(): the global one under --expose-gc, else the one a new context gets once the flag is
 * set at run time, so `node dist/src/main.js` started without regate's flags still paces its
 * collections (the bound on memory under many uploads depends on it). The global stays unset either way.
 */
function findGc(): GcFunction | undefined {
  const exposed = (globalThis as { gc?: GcFunction }).gc;
  if (exposed) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const fromContext: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    return typeof fromContext === 'function' ? (fromContext as GcFunction) : undefined;
  } catch {
    return undefined;
  }
}

const gc = findGc();
let sinceLast = 0;

/** Whether collections are paced (false only where V8 refuses to expose gc()). */
export const gcPacing = gc !== undefined;

/** Counts body bytes taken off sockets; now and then asks for a young-generation collection. */
export function noteReceived(bytes: number): void {
  if (!gc) return;
  sinceLast += bytes;
  if (sinceLast < COLLECT_EVERY_BYTES) return;
  sinceLast = 0;
  gc({ type: 'minor', execution: 'sync' });
}
