// Password checks in a small pool of worker threads at the lowest CPU priority (SCHED_IDLE, nice 19).
//
// bcrypt is slow on purpose (≈ 50 ms at cost 10 with bcryptjs here). On the event loop, a burst of
// cache misses (many users at once, or everyone right after a reload drops the cache) would stall
// every transfer in flight; in an ordinary thread it would still take half the CPU from them on a
// 2-core machine. At the idle policy the kernel gives the checks only what the transfers leave idle, and
// they still finish quickly once the machine is quiet.
//
// One check per thread at a time, the rest wait in order in the main thread; the threads start on
// first use and end after `idleMs` without work, so an idle registry pays nothing for them. If a
// thread cannot be started or dies, the checks it held are answered by the in-thread
// verifyPassword instead: slower for the event loop, never a wrong answer.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { PasswordReply, PasswordRequest, ThreadPriority } from './password-worker.js';
import { verifyPassword, type VerifyResult } from './password.js';

export interface PasswordPoolOptions {
  /** Threads (default: one per core but one, at least one). */
  size?: number;
  /** A thread with nothing to do for this long ends (default 30 s). */
  idleMs?: number;
}

interface Job {
  id: number;
  password: string;
  hash: string;
  resolve(result: VerifyResult): void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  /** What the thread said about its priority when it started (tests, diagnostics). */
  ready: Promise<ThreadPriority>;
}

export class PasswordPool {
  private readonly size: number;
  private readonly idleMs: number;
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(options: PasswordPoolOptions = {}) {
    // One core is left to the transfers: even at the idle policy, checks running on every core
    // cost a TLS push on 2 cores about a fifth more of its speed than checks on one (measured with
    // `npm run bench -- auth-load`), while 200 logins at once still answer within 17 s.
    this.size = Math.max(1, Math.floor(options.size ?? availableParallelism() - 1));
    this.idleMs = Math.max(10, options.idleMs ?? 30_000);
  }

  /** verifyPassword, off the event loop. Never rejects. */
  verify = (password: string, hash: string): Promise<VerifyResult> => {
    if (this.closed) return verifyPassword(password, hash);
    return new Promise<VerifyResult>((resolve) => {
      this.queue.push({ id: this.nextId++, password, hash, resolve });
      this.dispatch();
    });
  };

  /** Checks waiting for a thread, and threads running (tests, metrics). */
  get stats(): { queued: number; threads: number; busy: number } {
    let busy = 0;
    for (const slot of this.slots) if (slot.job) busy++;
    return { queued: this.queue.length, threads: this.slots.size, busy };
  }

  /** The priority report of every running thread (tests). */
  threadPriorities(): Promise<ThreadPriority[]> {
    return Promise.all([...this.slots].map((s) => s.ready));
  }

  /** Ends the threads; checks still waiting are answered in-thread. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) answerInThread(job);
    await Promise.all([...this.slots].map((slot) => this.retire(slot)));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = [...this.slots].find((s) => !s.job);
      if (!slot && this.slots.size < this.size) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      this.run(slot, job);
    }
  }

  private run(slot: Slot, job: Job): void {
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    slot.job = job;
    slot.worker.ref();
    try {
      slot.worker.postMessage({ id: job.id, password: job.password, hash: job.hash } satisfies PasswordRequest);
    } catch {
      this.fail(slot);
    }
  }

  private spawn(): Slot | undefined {
    let worker: Worker;
    try {
      worker = new Worker(new URL('./password-worker.js', import.meta.url), {
        resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 },
      });
    } catch {
      return undefined;
    }
    let announce: (value: ThreadPriority) => void = () => undefined;
    const slot: Slot = {
      worker,
      job: undefined,
      idleTimer: undefined,
      ready: new Promise((resolve) => (announce = resolve)),
    };
    worker.on('message', (msg: PasswordReply | { ready: ThreadPriority }) => {
      if ('ready' in msg) {
        announce(msg.ready);
        return;
      }
      const job = slot.job;
      if (!job || job.id !== msg.id) return;
      slot.job = undefined;
      job.resolve('result' in msg ? msg.result : { ok: false });
      this.settle(slot);
    });
    worker.on('error', () => this.fail(slot));
    worker.on('exit', () => this.fail(slot));
    this.slots.add(slot);
    return slot;
  }

  /** A thread finished a job: give it the next one, or let it idle (and end after idleMs). */
  private settle(slot: Slot): void {
    if (this.queue.length > 0) {
      this.run(slot, this.queue.shift()!);
      return;
    }
    slot.worker.unref();
    slot.idleTimer = setTimeout(() => void this.retire(slot), this.idleMs);
    slot.idleTimer.unref();
  }

  /** A thread died or could not take its job: retire it (its job answered in-thread) and carry on. */
  private fail(slot: Slot): void {
    if (!this.slots.has(slot)) return;
    void this.retire(slot);
    if (!this.closed) this.dispatch();
  }

  /** Ends a thread; a job it still held is answered in-thread. */
  private async retire(slot: Slot): Promise<void> {
    if (!this.slots.delete(slot)) return;
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    const job = slot.job;
    slot.job = undefined;
    if (job) answerInThread(job);
    await slot.worker.terminate().catch(() => undefined);
  }
}

/** The fallback when no thread can take a job: slower for the event loop, never a wrong answer. */
function answerInThread(job: Job): void {
  void verifyPassword(job.password, job.hash).then(job.resolve, () => job.resolve({ ok: false }));
}

let shared: PasswordPool | undefined;

/** The process's pool (HtpasswdStore's default password check). */
export function sharedPasswordPool(): PasswordPool {
  shared ??= new PasswordPool();
  return shared;
}
