// The live htpasswd store over real files in a temp directory: every way an operator rotates users
// (edit in place, `mv`, Apache's `htpasswd`, regate's own CLI functions, deleting the file, a garbage
// file) must take effect within 1 s, swap the whole map, keep the last good map on errors (logging
// the line number), drop the verified-credentials cache, and never log a password. The unknown-user
// path is checked by spying on the password check (it must run a bcrypt compare against the dummy
// hash), not by timing, apart from a one-sided lower bound that load can only make safer.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { appendFileSync, chmodSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { HtpasswdStore, type HtpasswdReloadErrorEvent, type HtpasswdReloadEvent } from '../../src/auth/htpasswd-store.js';
import { SUSPECT_HOLD_MS } from '../../src/auth/live-file.js';
import { bcryptCost } from '../../src/auth/htpasswd-file.js';
import { DUMMY_BCRYPT_HASH, hashPassword, verifyPassword, type VerifyResult } from '../../src/auth/password.js';
import { addUserToFile, removeUserFromFile, setPasswordInFile } from '../../src/cli/user-command.js';
import { createLogger } from '../../src/log/logger.js';
import { makeTempDir, requireExecutable, runChecked } from '../support/processes.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every password used here: none may ever show up in a log line. */
const PW = {
  alice: 'alice-Pw-1-Zq8',
  alice2: 'alice-Pw-2-Xr4',
  bob: 'bob-Pw-1-Mn3',
  bob2: 'bob-Pw-2-Kd7',
  carol: 'carol-Pw-1-Lp5',
  dave: 'dave-Pw-1-Ht6',
};

const hashes = new Map<string, string>();
async function h(password: string, cost = 4): Promise<string> {
  const key = `${cost}:${password}`;
  if (!hashes.has(key)) hashes.set(key, await hashPassword(password, cost));
  return hashes.get(key)!;
}

interface Ctx {
  dir: string;
  file: string;
  store: HtpasswdStore;
  logs: string[];
  calls: string[]; // hashes handed to the password check
}

let tmp: { path: string; remove(): void };
let ctx: Ctx | undefined;

beforeEach(() => {
  tmp = makeTempDir('regate-htpasswd-store-');
});

afterEach(async () => {
  try {
    if (ctx) {
      await ctx.store.stop();
      for (const line of ctx.logs) {
        for (const password of Object.values(PW)) assert.ok(!line.includes(password), `a log line holds a password: ${line}`);
      }
    }
  } finally {
    ctx = undefined;
    tmp.remove();
  }
});

async function startStore(
  text: string | undefined,
  options: { watch?: boolean; verifier?: (password: string, hash: string) => Promise<VerifyResult>; cacheSize?: number } = {},
): Promise<Ctx> {
  const file = join(tmp.path, 'htpasswd');
  if (text !== undefined) writeFileSync(file, text, { mode: 0o600 });
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  const calls: string[] = [];
  const verifier = options.verifier ?? verifyPassword;
  const store = new HtpasswdStore({
    path: file,
    logger: createLogger({ level: 'debug', formatter: 'json', stream }),
    watch: options.watch,
    cacheSize: options.cacheSize,
    verifier: (password, hash) => {
      calls.push(hash);
      return verifier(password, hash);
    },
  });
  ctx = { dir: tmp.path, file, store, logs, calls };
  await store.start();
  return ctx;
}

/** Polls `condition` every 10 ms; fails unless it holds within `ms`. Returns how long it took. */
async function within(ms: number, what: string, condition: () => boolean | Promise<boolean>): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await condition()) return performance.now() - start;
    if (performance.now() - start > ms) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

function nextEvent<T>(store: HtpasswdStore, name: 'reload' | 'reload-error', ms = 1000): Promise<T> {
  return Promise.race([
    once(store, name).then(([event]) => event as T),
    sleep(ms).then(() => Promise.reject(new Error(`no '${name}' event within ${ms} ms`))),
  ]);
}

async function aliceAndBob(): Promise<string> {
  return `# users\nalice:${await h(PW.alice)}\nbob:${await h(PW.bob)}\n`;
}

describe('HtpasswdStore', () => {
  test('loads the file; right passwords pass, wrong ones and unknown users fail', async () => {
    const { store } = await startStore(await aliceAndBob());
    assert.deepEqual(store.users(), ['alice', 'bob']);
    assert.equal(store.generation, 1);
    assert.equal(await store.verify('alice', PW.alice), true);
    assert.equal(await store.verify('bob', PW.bob), true);
    assert.equal(await store.verify('alice', PW.bob), false);
    assert.equal(await store.verify('alice', ''), false);
    assert.equal(await store.verify('mallory', PW.alice), false);
    assert.equal(await store.verify('', ''), false);
  });

  test('edited in place (same inode): a removed user fails within 1 s, the others keep working', async () => {
    const { store, file } = await startStore(await aliceAndBob());
    assert.equal(await store.verify('alice', PW.alice), true);
    const inode = statSync(file).ino;
    writeFileSync(file, `# users\nbob:${await h(PW.bob)}\n`); // O_TRUNC: same inode
    assert.equal(statSync(file).ino, inode);
    const took = await within(1000, 'removed user rejected', async () => !(await store.verify('alice', PW.alice)));
    assert.ok(took <= 1000);
    assert.deepEqual(store.users(), ['bob']);
    assert.equal(await store.verify('bob', PW.bob), true);
  });

  test('replaced with `mv` (new inode): a changed password fails within 1 s and the new one works', async () => {
    const { store, file, dir } = await startStore(await aliceAndBob());
    assert.equal(await store.verify('alice', PW.alice), true);
    const inode = statSync(file).ino;
    const next = join(dir, 'htpasswd.new');
    writeFileSync(next, `# users\nalice:${await h(PW.alice2)}\nbob:${await h(PW.bob)}\n`);
    await runChecked('mv', [next, file]);
    assert.notEqual(statSync(file).ino, inode);
    await within(1000, 'old password rejected', async () => !(await store.verify('alice', PW.alice)));
    assert.equal(await store.verify('alice', PW.alice2), true);
    assert.equal(await store.verify('bob', PW.bob), true);
  });

  test("rewritten by Apache's htpasswd -B (add, change, delete)", async () => {
    const htpasswd = requireExecutable('htpasswd');
    const { store, file } = await startStore(await aliceAndBob());
    assert.equal(await store.verify('bob', PW.bob), true);

    await runChecked(htpasswd, ['-B', '-C', '4', '-b', file, 'carol', PW.carol]);
    await within(1000, 'added user accepted', () => store.verify('carol', PW.carol));

    await runChecked(htpasswd, ['-B', '-C', '4', '-b', file, 'bob', PW.bob2]);
    await within(1000, 'old password rejected', async () => !(await store.verify('bob', PW.bob)));
    assert.equal(await store.verify('bob', PW.bob2), true);

    await runChecked(htpasswd, ['-D', file, 'alice']);
    await within(1000, 'deleted user rejected', async () => !(await store.verify('alice', PW.alice)));
    assert.deepEqual(store.users(), ['bob', 'carol']);
  });

  test("rewritten by regate's CLI functions (lock + atomic rename)", async () => {
    const { store, file } = await startStore(await aliceAndBob());
    assert.equal(await store.verify('alice', PW.alice), true);

    await addUserToFile(file, 'carol', PW.carol, 4);
    await within(1000, 'added user accepted', () => store.verify('carol', PW.carol));

    await setPasswordInFile(file, 'alice', PW.alice2, 4);
    await within(1000, 'old password rejected', async () => !(await store.verify('alice', PW.alice)));
    assert.equal(await store.verify('alice', PW.alice2), true);

    await removeUserFromFile(file, 'bob');
    await within(1000, 'removed user rejected', async () => !(await store.verify('bob', PW.bob)));
    assert.deepEqual(store.users(), ['alice', 'carol']);
  });

  test('polling alone (no fs.watch, as on NFS) still applies a change within 1 s', async () => {
    const { store, file } = await startStore(await aliceAndBob(), { watch: false });
    assert.equal(await store.verify('alice', PW.alice), true);
    writeFileSync(file, `bob:${await h(PW.bob)}\n`);
    await within(1000, 'removed user rejected', async () => !(await store.verify('alice', PW.alice)));
  });

  test('a garbage file keeps the last good map whole and logs the line number; the fix then applies', async () => {
    const { store, file, logs } = await startStore(await aliceAndBob());
    assert.equal(await store.verify('bob', PW.bob), true);
    const failed = nextEvent<HtpasswdReloadErrorEvent>(store, 'reload-error');
    // bob is gone from this file, but the file is refused: nothing of it may be applied.
    writeFileSync(file, `# users\nalice:${await h(PW.alice2)}\nthis line is garbage\n`);
    const event = await failed;
    assert.equal(event.reason, 'parse');
    assert.deepEqual(
      event.errors.map((e) => e.line),
      [3],
    );
    assert.equal(event.users, 2);
    assert.equal(await store.verify('bob', PW.bob), true, 'previous map still in service');
    assert.equal(await store.verify('alice', PW.alice), true, 'no merge: the old alice stays');
    assert.equal(await store.verify('alice', PW.alice2), false, 'no merge: the new alice is not applied');
    await within(500, 'line number logged', () => logs.some((l) => /"level":"error"/.test(l) && /line 3/.test(l)));
    assert.ok(!logs.some((l) => l.includes('garbage')), 'the bad line itself is not logged');

    const reloaded = nextEvent<HtpasswdReloadEvent>(store, 'reload');
    writeFileSync(file, `alice:${await h(PW.alice2)}\n`);
    assert.equal((await reloaded).users, 1);
    assert.equal(await store.verify('bob', PW.bob), false);
    assert.equal(await store.verify('alice', PW.alice2), true);
  });

  test('a plaintext password on reload is refused like garbage (line number logged)', async () => {
    const { store, file, logs } = await startStore(await aliceAndBob());
    const failed = nextEvent<HtpasswdReloadErrorEvent>(store, 'reload-error');
    writeFileSync(file, `${await aliceAndBob()}dave:${PW.dave}\n`);
    const event = await failed;
    assert.deepEqual(event.errors.map((e) => [e.line, /plaintext passwords are not accepted/.test(e.message)]), [[4, true]]);
    assert.equal(await store.verify('dave', PW.dave), false);
    await within(500, 'line number logged', () => logs.some((l) => /line 4/.test(l) && /plaintext/.test(l)));
  });

  test('at start, a file with errors serves its valid lines and logs each bad line', async () => {
    const text = `alice:${await h(PW.alice)}\nnot a user line\nbob:plaintext\ncarol:${await h(PW.carol)}\n`;
    const { store, logs } = await startStore(text);
    assert.deepEqual(store.users(), ['alice', 'carol']);
    assert.equal(await store.verify('carol', PW.carol), true);
    await within(500, 'both lines logged', () => logs.some((l) => /line 2/.test(l)) && logs.some((l) => /line 3/.test(l)));
  });

  test('missing at start: nobody authenticates, then the created file applies', async () => {
    const { store, file } = await startStore(undefined);
    assert.deepEqual(store.users(), []);
    assert.equal(await store.verify('alice', PW.alice), false);
    writeFileSync(file, `alice:${await h(PW.alice)}\n`);
    await within(1000, 'created file applied', () => store.verify('alice', PW.alice));
  });

  test('a file that suddenly holds no users keeps them in service until it has stayed empty for 2 s, then serves none', async () => {
    // An in-place rewrite (htpasswd, cp) is empty for an instant; an operator emptying the file
    // for good is believed only once it has stayed so for SUSPECT_HOLD_MS. Both sides are checked.
    const { store, file } = await startStore(await aliceAndBob());
    writeFileSync(file, '# nobody\n'); // parses to no users, well past the 120 ms settle time
    const written = performance.now();
    let inService = 0;
    while (performance.now() - written < 1700) {
      await sleep(100);
      const ok = await store.verify('alice', PW.alice);
      // Only a sample that ended inside the hold counts (a late timer must not turn into a failure).
      if (performance.now() - written < SUSPECT_HOLD_MS - 100) {
        assert.equal(ok, true, `alice refused ${Math.round(performance.now() - written)} ms after the file was emptied`);
        inService += 1;
      }
    }
    assert.ok(inService >= 5, `only ${inService} samples inside the hold`);
    const took = await within(SUSPECT_HOLD_MS + 1500, 'the empty file believed', async () => !(await store.verify('alice', PW.alice)));
    assert.ok(performance.now() - written >= SUSPECT_HOLD_MS, `believed ${Math.round(performance.now() - written)} ms after, before the hold (${took} ms polling)`);
    assert.deepEqual(store.users(), []);
    assert.equal(await store.verify('bob', PW.bob), false);
  });

  test('a file that disappears keeps the previous map until it is back', async () => {
    const { store, file, dir } = await startStore(await aliceAndBob());
    const failed = nextEvent<HtpasswdReloadErrorEvent>(store, 'reload-error');
    renameSync(file, join(dir, 'moved-away'));
    assert.equal((await failed).reason, 'missing');
    assert.equal(await store.verify('alice', PW.alice), true);
    writeFileSync(file, `bob:${await h(PW.bob)}\n`);
    await within(1000, 'new file applied', async () => !(await store.verify('alice', PW.alice)));
    assert.equal(await store.verify('bob', PW.bob), true);
  });

  test('verified credentials are cached (one bcrypt per credential), and the cache is dropped on every reload', async () => {
    const { store, file, calls } = await startStore(await aliceAndBob());
    assert.equal(await store.verify('alice', PW.alice), true);
    assert.equal(await store.verify('alice', PW.alice), true);
    assert.equal(calls.length, 1, 'second check served from the cache');

    // Concurrent checks of the same credentials share one compare.
    const results = await Promise.all(Array.from({ length: 8 }, () => store.verify('bob', PW.bob)));
    assert.deepEqual(results, Array(8).fill(true));
    assert.equal(calls.length, 2);

    // Failures are not cached.
    assert.equal(await store.verify('alice', 'nope'), false);
    assert.equal(await store.verify('alice', 'nope'), false);
    assert.equal(calls.length, 4);

    // Any reload (here: a comment appended, same users and hashes) drops the cache.
    const reloaded = nextEvent<HtpasswdReloadEvent>(store, 'reload');
    appendFileSync(file, '# touched\n');
    assert.equal((await reloaded).generation, 2);
    assert.equal(await store.verify('alice', PW.alice), true);
    assert.equal(calls.length, 5, 'compared again after the reload');
  });

  test('a file rewritten with identical bytes (touch, chmod, unchanged rewrite) keeps the map and the cache', async () => {
    const text = await aliceAndBob();
    const { store, file, calls } = await startStore(text);
    assert.equal(await store.verify('alice', PW.alice), true);
    assert.equal(calls.length, 1);
    const future = new Date(Date.now() + 5000);
    utimesSync(file, future, future);
    chmodSync(file, 0o640);
    const replacement = `${file}.new`;
    writeFileSync(replacement, text, { mode: 0o600 });
    renameSync(replacement, file);
    await store.checkNow();
    await sleep(400); // longer than the poll interval: every change has been looked at
    await store.checkNow();
    assert.equal(store.generation, 1, 'no reload for unchanged content');
    assert.equal(await store.verify('alice', PW.alice), true);
    assert.equal(calls.length, 1, 'still served from the cache');
    // A real change still applies.
    appendFileSync(file, '# changed\n');
    await within(1000, 'reload after a real change', () => store.generation === 2);
  });

  test('the cache is bounded (LRU)', async () => {
    const { store, calls } = await startStore(await aliceAndBob(), { cacheSize: 1 });
    await store.verify('alice', PW.alice);
    await store.verify('bob', PW.bob); // evicts alice
    await store.verify('bob', PW.bob);
    assert.equal(calls.length, 2);
    await store.verify('alice', PW.alice);
    assert.equal(calls.length, 3);
  });

  test('a reload while a compare runs: the answer is decided again against the new map', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let gated = true;
    const { store, file } = await startStore(await aliceAndBob(), {
      verifier: async (password, hash) => {
        if (gated) {
          gated = false;
          await gate;
        }
        return verifyPassword(password, hash);
      },
    });
    const pending = store.verify('alice', PW.alice); // held inside the compare
    const reloaded = nextEvent<HtpasswdReloadEvent>(store, 'reload');
    writeFileSync(file, `bob:${await h(PW.bob)}\n`);
    await reloaded;
    release();
    assert.equal(await pending, false, 'alice was removed while her password was being checked');
    assert.equal(await store.verify('alice', PW.alice), false, 'and nothing was cached for her');
  });

  test('an unknown user costs a bcrypt compare against DUMMY_BCRYPT_HASH (cost-10 file)', async () => {
    const { store, calls } = await startStore(`alice:${await h(PW.alice, 10)}\n`);
    assert.equal(store.dummyHash, DUMMY_BCRYPT_HASH);
    const started = performance.now();
    assert.equal(await store.verify('nobody', PW.alice), false);
    const took = performance.now() - started;
    assert.deepEqual(calls, [DUMMY_BCRYPT_HASH]);
    // A cost-10 bcrypt takes tens of ms in JS; a lookup that skipped it would take ~0. (Lower bound only.)
    assert.ok(took >= 10, `unknown-user check took only ${took.toFixed(2)} ms`);
    assert.equal(await store.verify('alice', 'wrong'), false);
    assert.equal(calls.length, 2);
  });

  test("the dummy hash follows the cost of the file's users, and never lets anyone in", async () => {
    // A check that says yes to everything: unknown users must still fail.
    const { store, calls } = await startStore(await aliceAndBob(), { verifier: async () => ({ ok: true }) });
    await within(1000, 'dummy hash at cost 4', () => bcryptCost(store.dummyHash) === 4);
    assert.notEqual(store.dummyHash, await h(PW.alice));
    assert.equal(await store.verify('nobody', 'anything'), false);
    assert.deepEqual(calls, [store.dummyHash]);
  });

  test('legacy hashes work with a warning naming the user, once per user per load, never the password', async () => {
    const htpasswd = requireExecutable('htpasswd');
    const { store, file, logs } = await startStore(await aliceAndBob());
    await runChecked(htpasswd, ['-m', '-b', file, 'carol', PW.carol]); // $apr1$
    await runChecked(htpasswd, ['-s', '-b', file, 'dave', PW.dave]); // {SHA}
    await within(1000, 'legacy users loaded', () => store.users().includes('dave'));
    const warnings = (): string[] => logs.filter((l) => /"level":"warn"/.test(l) && /legacy/.test(l));

    assert.equal(await store.verify('carol', 'wrong'), false);
    assert.equal(warnings().length, 0, 'no warning for a failed check');
    assert.equal(await store.verify('carol', PW.carol), true);
    assert.equal(await store.verify('carol', PW.carol), true);
    assert.equal(await store.verify('dave', PW.dave), true);
    await within(500, 'two warnings', () => warnings().length === 2);
    assert.ok(warnings().some((l) => l.includes('"user":"carol"') && l.includes('$apr1$')));
    assert.ok(warnings().some((l) => l.includes('"user":"dave"') && l.includes('{SHA}')));

    const reloaded = nextEvent<HtpasswdReloadEvent>(store, 'reload');
    appendFileSync(file, '# touched\n');
    await reloaded;
    assert.equal(await store.verify('carol', PW.carol), true);
    await within(500, 'warned again after a reload', () => warnings().length === 3);
  });

  test('stop() closes watchers and timers (the process can exit)', async () => {
    const { store, file } = await startStore(await aliceAndBob());
    await store.stop();
    writeFileSync(file, `bob:${await h(PW.bob)}\n`);
    await sleep(400);
    assert.equal(await store.verify('alice', PW.alice), true, 'no reload after stop');
    assert.equal(store.generation, 1);
  });

  test('a removed directory entry mid-watch does not crash the store', async () => {
    const { store, file } = await startStore(await aliceAndBob());
    rmSync(file);
    await sleep(300);
    writeFileSync(file, `bob:${await h(PW.bob)}\n`);
    await within(1000, 'recreated file applied', async () => !(await store.verify('alice', PW.alice)));
  });
});
