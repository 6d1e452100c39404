// Worker thread entry: checks passwords (bcrypt, and the legacy formats) off the event loop, at
// the lowest CPU priority, so a burst of logins takes only the CPU that transfers leave idle.
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { verifyPassword, type VerifyResult } from './password.js';

export interface PasswordRequest {
  id: number;
  password: string;
  hash: string;
}

export type PasswordReply = { id: number; result: VerifyResult } | { id: number; error: string };

/** The nice value the pool's threads run at (19: the lowest priority). */
export const PASSWORD_THREAD_NICE = 19;

export interface ThreadPriority {
  tid?: number;
  nice?: number;
  /** 'idle' when the thread runs under SCHED_IDLE, else the normal policy at `nice`. */
  policy?: 'idle' | 'normal';
  error?: string;
}

const CHRT = '/usr/bin/chrt';

/**
 * On Linux a thread is a task with its own nice value and scheduling policy: setpriority() on the
 * thread's id lowers this thread alone, not the process. Nice 19 is not enough on its own: the
 * kernel's EEVDF scheduler (Linux 6.6 on) lets a running task finish its time slice before a
 * waking one preempts it, whatever their nice values, so each hand-off of a transfer between its
 * threads (socket, hash worker, disk) could wait behind a password check for milliseconds.
 * Under SCHED_IDLE a waking normal task preempts at once. No syscall binding exists in Node, so
 * util-linux's chrt sets it, once per thread (allowed without privileges since Linux 2.6.39).
 * Elsewhere the thread keeps the process's priority.
 */
function lowerThisThread(): ThreadPriority {
  let tid: number;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return { error: 'no thread id' };
    setPriority(tid, PASSWORD_THREAD_NICE);
  } catch (err) {
    return { error: (err as Error).message };
  }
  try {
    execFileSync(CHRT, ['--idle', '-p', '0', String(tid)], { stdio: 'ignore', timeout: 5_000 });
    return { tid, nice: PASSWORD_THREAD_NICE, policy: 'idle' };
  } catch {
    return { tid, nice: PASSWORD_THREAD_NICE, policy: 'normal' };
  }
}

const port = parentPort;
if (port) {
  port.postMessage({ ready: lowerThisThread() });
  port.on('message', (msg: PasswordRequest) => {
    verifyPassword(msg.password, msg.hash).then(
      (result) => port.postMessage({ id: msg.id, result } satisfies PasswordReply),
      (err: Error) => port.postMessage({ id: msg.id, error: err.message } satisfies PasswordReply),
    );
  });
}
