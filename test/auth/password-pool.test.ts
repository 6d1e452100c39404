// The password pool: the same answers as verifyPassword for every hash format, computed in worker
// threads that run under SCHED_IDLE at nice 19 (read back from /proc, per thread), at most `size` at a time, the
// threads ending when idle, and a thread that dies mid-check answered in-thread, never wrongly.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PasswordPool } from '../../src/auth/password-pool.js';
import { PASSWORD_THREAD_NICE } from '../../src/auth/password-worker.js';
import { hashPassword } from '../../src/auth/password.js';

const require = createRequire(import.meta.url);
const apacheMd5 = require('apache-md5') as (password: string, salt?: string) => string;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The nice value of one thread of this process, from /proc/self/task/<tid>/stat (field 19). */
function niceOf(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

/** The scheduling policy of one thread of this process (/proc/self/task/<tid>/sched; 5 is SCHED_IDLE). */
function policyOf(tid: number): number {
  const m = /^policy\s*:\s*(\d+)$/m.exec(readFileSync(`/proc/self/task/${tid}/sched`, 'utf8'));
  return Number(m?.[1]);
}
const SCHED_IDLE = 5;
const SCHED_NORMAL = 0;

let pool: PasswordPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

describe('PasswordPool', () => {
  test('answers as verifyPassword does: bcrypt, $apr1$, {SHA}, garbage', async () => {
    pool = new PasswordPool({ size: 2 });
    const bcrypt = await hashPassword('right-pw', 4);
    const apr1 = apacheMd5('apr-pw');
    const sha = `{SHA}${createHash('sha1').update('sha-pw').digest('base64')}`;
    assert.deepEqual(await pool.verify('right-pw', bcrypt), { ok: true });
    assert.deepEqual(await pool.verify('wrong-pw', bcrypt), { ok: false });
    assert.deepEqual(await pool.verify('apr-pw', apr1), { ok: true, legacy: 'apr1' });
    assert.deepEqual(await pool.verify('nope', apr1), { ok: false, legacy: 'apr1' });
    assert.deepEqual(await pool.verify('sha-pw', sha), { ok: true, legacy: 'sha' });
    assert.deepEqual(await pool.verify('x', 'plaintext'), { ok: false });
  });

  test('its threads run under SCHED_IDLE at nice 19; the main thread keeps its priority', async () => {
    pool = new PasswordPool({ size: 2 });
    const hash = await hashPassword('pw', 4);
    await Promise.all([pool.verify('pw', hash), pool.verify('pw', hash), pool.verify('pw', hash)]);
    const threads = await pool.threadPriorities();
    assert.equal(threads.length, 2);
    for (const t of threads) {
      assert.equal(t.error, undefined);
      assert.equal(t.nice, PASSWORD_THREAD_NICE);
      assert.equal(niceOf(t.tid!), 19, `thread ${t.tid} as the kernel sees it`);
      assert.equal(t.policy, 'idle');
      assert.equal(policyOf(t.tid!), SCHED_IDLE, `thread ${t.tid}'s policy as the kernel sees it`);
    }
    assert.equal(niceOf(process.pid), 0, 'the event loop thread is not lowered');
    assert.equal(policyOf(process.pid), SCHED_NORMAL, 'the event loop thread keeps the normal policy');
  });

  test('at most `size` checks run at once; the rest wait in order and all complete', async () => {
    pool = new PasswordPool({ size: 2 });
    const hash = await hashPassword('pw', 8);
    const checks = Array.from({ length: 10 }, (_, i) => pool!.verify(i % 2 ? 'pw' : 'bad', hash));
    const during = pool.stats;
    assert.equal(during.threads, 2);
    assert.equal(during.busy, 2);
    assert.equal(during.queued, 8);
    const results = await Promise.all(checks);
    assert.deepEqual(results.map((r) => r.ok), Array.from({ length: 10 }, (_, i) => i % 2 === 1));
    assert.equal(pool.stats.queued, 0);
  });

  test('idle threads end by themselves', async () => {
    pool = new PasswordPool({ size: 2, idleMs: 50 });
    const hash = await hashPassword('pw', 4);
    await Promise.all([pool.verify('pw', hash), pool.verify('pw', hash)]);
    assert.ok(pool.stats.threads >= 1);
    for (let i = 0; i < 100 && pool.stats.threads > 0; i++) await sleep(20);
    assert.equal(pool.stats.threads, 0);
    assert.deepEqual(await pool.verify('pw', hash), { ok: true }, 'a new thread starts when needed');
  });

  test('a check whose thread dies is answered in-thread, correctly', async () => {
    pool = new PasswordPool({ size: 1 });
    const hash = await hashPassword('pw', 10);
    const first = pool.verify('pw', hash);
    const second = pool.verify('bad', hash);
    const [thread] = await pool.threadPriorities();
    // End the thread mid-check as a fatal error in it would (no signal can target one thread).
    await (pool as unknown as { slots: Set<{ worker: { terminate(): Promise<number> } }> }).slots.values().next().value!.worker.terminate();
    assert.ok(thread!.tid! > 0);
    assert.deepEqual(await first, { ok: true });
    assert.deepEqual(await second, { ok: false });
  });
});
