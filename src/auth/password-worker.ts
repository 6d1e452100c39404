// Worker thread entry: checks passwords (bcrypt, and the legacy formats) off the event loop, at
// the lowest CPU priority, so a burst of logins takes only the CPU that transfers leave idle.
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

/**
 * On Linux a thread is a task with its own nice value: setpriority() on the thread's id lowers
 * this thread alone, not the process. Elsewhere the thread keeps the process's priority.
 */
function lowerThisThread(): { tid?: number; nice?: number; error?: string } {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return { error: 'no thread id' };
    setPriority(tid, PASSWORD_THREAD_NICE);
    return { tid, nice: PASSWORD_THREAD_NICE };
  } catch (err) {
    return { error: (err as Error).message };
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
