// Rotation the hard way: the users file rewritten hundreds of times, each of the four ways
// operators do it (Apache's `htpasswd` in place, `cp` over it, `mv` over it, `regate user`), while
// authenticated clients keep hitting the server. Users that are never touched must never be refused
// (a file caught between truncate and write must not be served), and a removed user must be refused
// within a second.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { htpasswdLine, startGateway, type Gateway } from '../support/gateway.js';
import { addUserToFile, removeUserFromFile } from '../../src/cli/user-command.js';
import { REGATE_MAIN, requireExecutable, runChecked } from '../support/processes.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const STABLE: Record<string, string> = {
  steady1: 'steady-Pw-1-aQ',
  steady2: 'steady-Pw-2-bR',
  steady3: 'steady-Pw-3-cS',
  steady4: 'steady-Pw-4-dT',
};
const CHURN_PW = 'churn-Pw-9-zZ';
const REWRITES = Number(process.env.ROTATION_REWRITES ?? 200);
/** Spawning node costs ~0.4 s here: the real CLI runs this many of the regate-user rewrites. */
const CLI_REWRITES = 20;

/**
 * An in-place rewrite by a writer that is descheduled mid-way, as a loaded machine does to
 * Apache's htpasswd: truncate, pause, the first line, pause, the rest.
 */
async function slowInPlace(path: string, text: string): Promise<void> {
  const cut = text.indexOf('\n') + 1;
  const fd = openSync(path, 'w');
  try {
    await sleep(5 + Math.random() * 35);
    writeSync(fd, text.slice(0, cut));
    await sleep(5 + Math.random() * 35);
    writeSync(fd, text.slice(cut));
  } finally {
    closeSync(fd);
  }
}

interface Load {
  requests: number;
  rejects: string[];
  stop(): Promise<void>;
}

/** Four clients, each authenticating as one steady user in a loop. */
function startLoad(gw: Gateway): Load {
  let running = true;
  const load: Load = { requests: 0, rejects: [], stop: async () => undefined };
  const loops = Object.entries(STABLE).map(async ([user, password]) => {
    while (running) {
      const res = await gw.send('GET', '/v2/', { auth: [user, password] });
      load.requests++;
      if (res.status !== 200) load.rejects.push(`${user}: ${res.status} at ${new Date().toISOString()}`);
    }
  });
  load.stop = async () => {
    running = false;
    await Promise.all(loops);
  };
  return load;
}

function regateUser(file: string, args: string[], input = ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [REGATE_MAIN, 'user', ...args, '--file', file], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`regate user ${args.join(' ')}: exit ${code}: ${stderr}`))));
    child.stdin.end(input);
  });
}

describe('users file rotation under load', { timeout: 600_000 }, () => {
  let gw: Gateway;
  let apache: string;
  let cp: string;
  let withChurn: string;
  let withoutChurn: string;

  before(async () => {
    apache = requireExecutable('htpasswd');
    cp = requireExecutable('cp');
    // The churn user's expected refusals come from another address and must not throttle anyone.
    gw = await startGateway({ users: { ...STABLE }, config: { regate: { auth: { maxfailures: 1_000_000 } } } });
    const steady = await Promise.all(Object.entries(STABLE).map(([u, p]) => htpasswdLine(u, p)));
    withoutChurn = `${steady.join('\n')}\n`;
    // churn first: a file cut short at a line end then lacks steady users, not churn.
    withChurn = `${await htpasswdLine('churn', CHURN_PW)}\n${withoutChurn}`;
  });
  after(async () => gw?.close());

  const churnStatus = async (): Promise<number> => (await gw.send('GET', '/v2/', { auth: ['churn', CHURN_PW], localAddress: '127.0.0.2' })).status;

  /** Waits until churn is refused; returns how long that took. */
  async function refusedWithin(ms: number, how: string): Promise<number> {
    const started = Date.now();
    for (;;) {
      if ((await churnStatus()) === 401) return Date.now() - started;
      if (Date.now() - started > ms) assert.fail(`${how}: the removed user was still accepted after ${ms} ms`);
      await sleep(10);
    }
  }

  async function acceptedEventually(how: string): Promise<void> {
    const started = Date.now();
    while ((await churnStatus()) !== 200) {
      if (Date.now() - started > 3000) assert.fail(`${how}: the added user was not accepted within 3 s`);
      await sleep(10);
    }
  }

  const kinds: Array<{ name: string; add(): Promise<void>; remove(): Promise<void> }> = [
    {
      name: "Apache's htpasswd (in place)",
      add: async () => void (await runChecked(apache, ['-B', '-C', '4', '-b', gw.htpasswdPath, 'churn', CHURN_PW])),
      remove: async () => void (await runChecked(apache, ['-D', gw.htpasswdPath, 'churn'])),
    },
    {
      name: 'cp over the file',
      add: async () => void (await runChecked(cp, [join(gw.dir, 'with-churn'), gw.htpasswdPath])),
      remove: async () => void (await runChecked(cp, [join(gw.dir, 'without-churn'), gw.htpasswdPath])),
    },
    {
      name: 'mv over the file',
      add: async () => {
        writeFileSync(`${gw.htpasswdPath}.next`, withChurn);
        renameSync(`${gw.htpasswdPath}.next`, gw.htpasswdPath);
      },
      remove: async () => {
        writeFileSync(`${gw.htpasswdPath}.next`, withoutChurn);
        renameSync(`${gw.htpasswdPath}.next`, gw.htpasswdPath);
      },
    },
    {
      name: 'a slow in-place writer',
      add: () => slowInPlace(gw.htpasswdPath, withChurn),
      remove: () => slowInPlace(gw.htpasswdPath, withoutChurn),
    },
    {
      name: "regate user's edit functions (lock, temp file, rename)",
      add: () => addUserToFile(gw.htpasswdPath, 'churn', CHURN_PW, 4),
      remove: () => removeUserFromFile(gw.htpasswdPath, 'churn'),
    },
  ];

  const cli = {
    name: 'the regate user command',
    rewrites: CLI_REWRITES,
    add: () => regateUser(gw.htpasswdPath, ['add', 'churn', '--password-stdin', '--cost', '4'], `${CHURN_PW}\n`),
    remove: () => regateUser(gw.htpasswdPath, ['rm', 'churn']),
  };

  for (const kind of [...kinds.map((k) => ({ ...k, rewrites: REWRITES })), cli]) {
    const REWRITES = kind.rewrites;
    test(`${REWRITES} rewrites by ${kind.name}: no steady user refused, a removed user refused within 1 s`, async () => {
      writeFileSync(join(gw.dir, 'with-churn'), withChurn);
      writeFileSync(join(gw.dir, 'without-churn'), withoutChurn);
      writeFileSync(gw.htpasswdPath, withoutChurn);
      await gw.running.users?.checkNow();
      const load = startLoad(gw);
      const latencies: number[] = [];
      const every = REWRITES <= 20 ? 2 : 20;
      try {
        for (let i = 0; i < REWRITES; i += 2) {
          await kind.add();
          // Every tenth pair is checked end to end; the others come quickly, often faster than the
          // file is allowed to settle, which is exactly when a half-written file could slip through.
          if (i % every === 0) await acceptedEventually(kind.name);
          else await sleep(Math.random() * 40);
          await kind.remove();
          if (i % every === 0) latencies.push(await refusedWithin(1000, kind.name));
          else await sleep(Math.random() * 40);
        }
      } finally {
        await load.stop();
      }
      assert.deepEqual(load.rejects, [], `steady users refused during ${kind.name} (${load.requests} requests)`);
      assert.ok(load.requests > REWRITES, `the load ran (${load.requests} requests)`);
      // The last rewrite removed churn: once settled it is refused.
      latencies.push(await refusedWithin(1000, kind.name));
      assert.ok(latencies.length >= REWRITES / every, 'removals were timed');
    });
  }
});
