// A running SHA-256 of an upload. The off-thread kind hashes in a worker so the event loop only
// receives and writes bytes; the two overlap on separate cores. Chunks are copied into 1 MiB
// batches (the worker cannot share the socket's buffers, which the driver is still writing) and
// at most a few batches are in flight per upload, so memory stays flat whatever the layer size.
import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { HashReply, HashRequest } from './hash-worker.js';

export interface RunningHash {
  /** Feeds a chunk; a returned promise means "wait before feeding more" (backpressure). */
  update(chunk: Buffer): Promise<void> | undefined;
  /** The hex digest of everything fed. The hash cannot be used afterwards. */
  digest(): Promise<string>;
  /** Releases the hash without a digest. */
  dispose(): void;
}

/** Hashes on the calling thread; for small inputs and as the fallback. */
export class InlineHash implements RunningHash {
  private readonly hash: Hash;
  constructor(algorithm = 'sha256') {
    this.hash = createHash(algorithm);
  }
  update(chunk: Buffer): undefined {
    this.hash.update(chunk);
    return undefined;
  }
  async digest(): Promise<string> {
    return this.hash.digest('hex');
  }
  dispose(): void {}
}

const BATCH_BYTES = 1024 * 1024;
const MAX_IN_FLIGHT_BYTES = 2 * BATCH_BYTES;

// Batches come back from the worker and are reused: fresh megabytes cost page faults.
const spareBatches: ArrayBuffer[] = [];
const MAX_SPARE_BATCHES = 8;
function takeBatch(): Buffer {
  const spare = spareBatches.pop();
  return spare ? Buffer.from(spare) : Buffer.allocUnsafeSlow(BATCH_BYTES);
}
function returnBatch(data: ArrayBuffer): void {
  if (data.byteLength === BATCH_BYTES && spareBatches.length < MAX_SPARE_BATCHES) spareBatches.push(data);
}

interface Session {
  inFlight: number;
  onDrained?: () => void;
  onDigest?: (hex: string) => void;
  onError?: (err: Error) => void;
}

/** A small pool of hash workers shared by every upload of the process. */
class HashWorkerPool {
  private readonly workers: Worker[] = [];
  private readonly sessions = new Map<number, { worker: Worker; session: Session }>();
  private nextId = 1;
  private nextWorker = 0;

  constructor(private readonly size: number) {}

  open(): { id: number; worker: Worker; session: Session } {
    const worker = this.pick();
    const id = this.nextId++;
    const session: Session = { inFlight: 0 };
    this.sessions.set(id, { worker, session });
    return { id, worker, session };
  }

  close(id: number): void {
    this.sessions.delete(id);
  }

  private pick(): Worker {
    if (this.workers.length < this.size) {
      const worker = new Worker(new URL('./hash-worker.js', import.meta.url));
      worker.on('message', (reply: HashReply) => this.onReply(reply));
      worker.on('error', (err) => this.failAll(worker, err));
      worker.on('exit', () => this.failAll(worker, new Error('hash worker exited')));
      // The pool must not keep the process alive on its own (after the listeners, which re-ref).
      worker.unref();
      this.workers.push(worker);
      return worker;
    }
    const worker = this.workers[this.nextWorker % this.workers.length]!;
    this.nextWorker++;
    return worker;
  }

  private onReply(reply: HashReply): void {
    if (reply.op === 'ack') returnBatch(reply.data);
    const entry = this.sessions.get(reply.id);
    if (!entry) return;
    const { session } = entry;
    if (reply.op === 'ack') {
      session.inFlight -= reply.length;
      if (session.inFlight <= MAX_IN_FLIGHT_BYTES / 2 && session.onDrained) {
        const resolve = session.onDrained;
        session.onDrained = undefined;
        resolve();
      }
    } else {
      this.sessions.delete(reply.id);
      session.onDigest?.(reply.hex);
    }
  }

  private failAll(worker: Worker, err: Error): void {
    const index = this.workers.indexOf(worker);
    if (index >= 0) this.workers.splice(index, 1);
    for (const [id, entry] of this.sessions) {
      if (entry.worker !== worker) continue;
      this.sessions.delete(id);
      entry.session.onError?.(err);
      entry.session.onDrained?.();
    }
  }
}

let pool: HashWorkerPool | undefined;
function sharedPool(): HashWorkerPool {
  // One core stays with the event loop; the rest hash.
  pool ??= new HashWorkerPool(Math.max(1, availableParallelism() - 1));
  return pool;
}

/** SHA-256 in a worker thread. If the worker dies, digest() rejects and the caller re-reads. */
export class OffThreadHash implements RunningHash {
  private readonly id: number;
  private readonly worker: Worker;
  private readonly session: Session;
  private batch: Buffer = takeBatch();
  private filled = 0;
  private failed: Error | undefined;
  private finished = false;

  constructor() {
    const opened = sharedPool().open();
    this.id = opened.id;
    this.worker = opened.worker;
    this.session = opened.session;
    this.session.onError = (err) => (this.failed = err);
  }

  update(chunk: Buffer): Promise<void> | undefined {
    if (this.failed || this.finished) return undefined;
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, BATCH_BYTES - this.filled);
      chunk.copy(this.batch, this.filled, offset, offset + n);
      this.filled += n;
      offset += n;
      if (this.filled === BATCH_BYTES) this.flush();
    }
    if (this.session.inFlight > MAX_IN_FLIGHT_BYTES) {
      return new Promise<void>((resolve) => (this.session.onDrained = resolve));
    }
    return undefined;
  }

  async digest(): Promise<string> {
    if (this.finished) throw new Error('hash already finished');
    this.flush();
    this.finished = true;
    if (this.failed) throw this.failed;
    return new Promise<string>((resolve, reject) => {
      this.session.onDigest = resolve;
      this.session.onError = reject;
      this.post({ op: 'digest', id: this.id });
    });
  }

  dispose(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.filled === 0) returnBatch(this.batch.buffer as ArrayBuffer);
    sharedPool().close(this.id);
    if (!this.failed) this.post({ op: 'drop', id: this.id });
  }

  private flush(): void {
    if (this.filled === 0 || this.failed) return;
    const data = this.batch.buffer;
    const length = this.filled;
    this.session.inFlight += length;
    // The batch's memory moves to the worker (no copy); a fresh batch takes its place.
    this.post({ op: 'update', id: this.id, data: data as ArrayBuffer, length }, [data as ArrayBuffer]);
    this.batch = takeBatch();
    this.filled = 0;
  }

  private post(msg: HashRequest, transfer?: ArrayBuffer[]): void {
    try {
      this.worker.postMessage(msg, transfer);
    } catch (err) {
      this.failed = err as Error;
    }
  }
}
