// A running SHA-256 of an upload, computed in a worker thread so the event loop only receives and
// writes bytes; the two overlap on separate cores. Uploads hand it 1 MiB batches in
// shared memory (see upload-batches.ts), so nothing is copied on the way to the worker. Without a
// worker's answer the upload store re-reads the stored bytes, so the stored bytes stay the truth.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { HashReply, HashRequest } from './hash-worker.js';
import { copyIntoShared } from './upload-batches.js';

export interface RunningHash {
  /** Hashes the bytes; resolves once they are consumed and their memory may be reused. */
  update(chunk: Buffer): Promise<void>;
  /** The hex digest of everything fed. The hash cannot be used afterwards. */
  digest(): Promise<string>;
  /** Releases the hash without a digest. */
  dispose(): void;
}

interface Session {
  /** Set when the session's worker died: every later call fails at once instead of waiting. */
  failed?: Error;
  /** Resolvers of updates not yet acknowledged, in order (a worker handles a session in order). */
  pending: Array<{ resolve: () => void; reject: (err: Error) => void }>;
  onDigest?: { resolve: (hex: string) => void; reject: (err: Error) => void };
}

// Posting a SharedArrayBuffer costs the event loop ~150 µs while uploads stream (measured during
// a Swift push: 0.2 s per GiB; ~5 µs in isolation), posting a number next to nothing. So each
// worker is given a batch's memory once, under a number, and afterwards told only the number; the
// worker lets go of it once the batch is garbage here.
const memoryNumbers = new WeakMap<SharedArrayBuffer, number>();
let nextMemoryNumber = 1;
const collected = new FinalizationRegistry<number>((memory) => pool?.forget(memory));

function numberOf(memory: SharedArrayBuffer): number {
  let n = memoryNumbers.get(memory);
  if (n === undefined) {
    n = nextMemoryNumber++;
    memoryNumbers.set(memory, n);
    collected.register(memory, n);
  }
  return n;
}

/** A small pool of hash workers shared by every upload of the process. */
class HashWorkerPool {
  private readonly workers: Worker[] = [];
  /** The memory numbers each worker holds. */
  private readonly held = new Map<Worker, Set<number>>();
  /** Replies each worker still owes: while any are owed, the worker keeps the process alive. */
  private readonly owed = new Map<Worker, number>();
  private readonly sessions = new Map<number, { worker: Worker; session: Session }>();
  private nextId = 1;
  private nextWorker = 0;

  constructor(private readonly size: number) {}

  open(): { id: number; worker: Worker; session: Session } {
    const worker = this.pick();
    const id = this.nextId++;
    const session: Session = { pending: [] };
    this.sessions.set(id, { worker, session });
    return { id, worker, session };
  }

  close(id: number): void {
    this.sessions.delete(id);
  }

  /** How to name `memory` to `worker`: by number, with the memory itself the first time. */
  refer(worker: Worker, memory: SharedArrayBuffer): { memory: number; data?: SharedArrayBuffer } {
    const n = numberOf(memory);
    let held = this.held.get(worker);
    if (!held) this.held.set(worker, (held = new Set()));
    if (held.has(n)) return { memory: n };
    held.add(n);
    return { memory: n, data: memory };
  }

  /** For tests: memory numbers all workers hold. */
  heldCount(): number {
    let n = 0;
    for (const held of this.held.values()) n += held.size;
    return n;
  }

  /** Memory that is garbage here: workers drop their hold on it. */
  forget(memory: number): void {
    for (const [worker, held] of this.held) {
      if (!held.delete(memory)) continue;
      try {
        worker.postMessage({ op: 'forget', memory } satisfies HashRequest);
      } catch {
        // A worker that cannot be posted to is dead, and its memory with it.
      }
    }
  }

  /** Called before posting a message that will be answered. */
  expectReply(worker: Worker): void {
    const owed = (this.owed.get(worker) ?? 0) + 1;
    this.owed.set(worker, owed);
    if (owed === 1) worker.ref();
  }

  private replied(worker: Worker): void {
    const owed = (this.owed.get(worker) ?? 1) - 1;
    this.owed.set(worker, owed);
    if (owed === 0) worker.unref();
  }

  private pick(): Worker {
    if (this.workers.length < this.size) {
      // Hashing allocates next to nothing: a small heap keeps the thread's footprint small.
      const worker = new Worker(new URL('./hash-worker.js', import.meta.url), {
        resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 },
      });
      worker.on('message', (reply: HashReply) => {
        this.replied(worker);
        this.onReply(reply);
      });
      worker.on('error', (err) => this.failAll(worker, err));
      worker.on('exit', () => this.failAll(worker, new Error('hash worker exited')));
      // An idle pool must not keep the process alive (unref after the listeners, which re-ref).
      worker.unref();
      this.workers.push(worker);
      return worker;
    }
    const worker = this.workers[this.nextWorker % this.workers.length]!;
    this.nextWorker++;
    return worker;
  }

  private onReply(reply: HashReply): void {
    const entry = this.sessions.get(reply.id);
    if (!entry) return;
    if (reply.op === 'ack') {
      entry.session.pending.shift()?.resolve();
    } else {
      this.sessions.delete(reply.id);
      entry.session.onDigest?.resolve(reply.hex);
    }
  }

  private failAll(worker: Worker, err: Error): void {
    const index = this.workers.indexOf(worker);
    if (index >= 0) this.workers.splice(index, 1);
    this.owed.delete(worker);
    this.held.delete(worker);
    for (const [id, entry] of this.sessions) {
      if (entry.worker !== worker) continue;
      this.sessions.delete(id);
      entry.session.failed = err;
      for (const p of entry.session.pending.splice(0)) p.reject(err);
      entry.session.onDigest?.reject(err);
    }
  }
}

let pool: HashWorkerPool | undefined;
function sharedPool(): HashWorkerPool {
  // One core stays with the event loop; the rest hash.
  pool ??= new HashWorkerPool(Math.max(1, availableParallelism() - 1));
  return pool;
}

/** For tests: how many shared memories the hash workers hold. */
export function heldMemoriesForTest(): number {
  return pool?.heldCount() ?? 0;
}

/** SHA-256 in a worker thread. If the worker dies, the hash fails and the caller re-reads. */
export class OffThreadHash implements RunningHash {
  /** For tests: ends this hash's worker as a crash would (the pool starts a new one when needed). */
  async terminateWorkerForTest(): Promise<void> {
    await this.worker.terminate();
  }

  private readonly id: number;
  private readonly worker: Worker;
  private readonly session: Session;
  private finished = false;

  constructor() {
    const opened = sharedPool().open();
    this.id = opened.id;
    this.worker = opened.worker;
    this.session = opened.session;
  }

  update(chunk: Buffer): Promise<void> {
    if (this.finished) return Promise.reject(new Error('hash already finished'));
    if (this.session.failed) return Promise.reject(this.session.failed);
    let message: HashRequest;
    if (chunk.buffer instanceof SharedArrayBuffer) {
      const memory = sharedPool().refer(this.worker, chunk.buffer);
      message = { op: 'update', id: this.id, ...memory, offset: chunk.byteOffset, length: chunk.length };
    } else {
      // Not from the batch pool: the worker needs memory it can see, for this update only.
      const shared = new SharedArrayBuffer(chunk.length);
      copyIntoShared(Buffer.from(shared), 0, chunk);
      message = { op: 'update', id: this.id, memory: 0, data: shared, offset: 0, length: chunk.length };
    }
    return new Promise<void>((resolve, reject) => {
      this.session.pending.push({ resolve, reject });
      sharedPool().expectReply(this.worker);
      this.post(message);
    });
  }

  digest(): Promise<string> {
    if (this.finished) return Promise.reject(new Error('hash already finished'));
    this.finished = true;
    if (this.session.failed) return Promise.reject(this.session.failed);
    return new Promise<string>((resolve, reject) => {
      this.session.onDigest = { resolve, reject };
      sharedPool().expectReply(this.worker);
      this.post({ op: 'digest', id: this.id });
    });
  }

  dispose(): void {
    if (this.finished) return;
    this.finished = true;
    sharedPool().close(this.id);
    for (const p of this.session.pending.splice(0)) p.resolve();
    if (!this.session.failed) this.post({ op: 'drop', id: this.id });
  }

  private post(msg: HashRequest): void {
    try {
      this.worker.postMessage(msg);
    } catch (err) {
      this.session.failed = err as Error;
      for (const p of this.session.pending.splice(0)) p.reject(err as Error);
      this.session.onDigest?.reject(err as Error);
    }
  }
}
