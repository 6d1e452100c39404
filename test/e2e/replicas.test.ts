// The reference deployment of deploy/replicas/, run as written: three regate processes with
// deploy/replicas/regate.yml on one Swift container (a real OpenStack Swift all-in-one) with the
// Redis blob-descriptor cache and GC enabled, behind Debian's haproxy with deploy/replicas/haproxy.cfg
// (TLS passed through, each replica checked on /_ping and /debug/health). The replicas listen on
// 127.0.0.2, .3 and .4 with the same ports, as three hosts would; REGISTRY_* variables point the
// file's addresses at the test's own, as an operator's environment would.
//
//   1. docker pushes a multi-layer image (2 to 64 MiB layers) through haproxy while the replica
//      receiving a layer is killed with SIGKILL and restarted: the push completes (docker's own
//      retries are fine), the image pulls back identical through every replica, and scrub finds
//      nothing broken;
//   2. four pushes at a time, repeated while the replicas restart one after the other with the
//      drain (SIGTERM): not one push fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { importBusyboxImage, startDockerd, type DockerEngine } from '../support/dockerd.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { freePort, makeTempDir, regateServeCommand, REGATE_MAIN, REPO_ROOT, requireExecutable, runCommand, spawnServer, type SpawnedServer } from '../support/processes.js';
import { describeResult } from '../support/host-tools.js';
import { bytes } from '../support/test-data.js';
import { htpasswdText } from '../support/gateway.js';
import { ensureGeneratedCertificates } from '../../src/gateway/tls.js';
import { createLogger } from '../../src/log/logger.js';
import { NODE_ENV, NODE_FLAGS } from '../../src/runtime-flags.js';

const DEPLOY = join(REPO_ROOT, 'deploy', 'replicas');
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const USER = { name: 'ci', password: 'replicas-Pw-1' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const quiet = createLogger({ level: 'error', formatter: 'text', stream: new Writable({ write: (_c, _e, cb) => cb() }) });

const tmp = makeTempDir('regate-replicas-');
let swift: SwiftAio;
let redis: TestRedis;
let engine: DockerEngine;
let haproxy: SpawnedServer;
let port = 0;
let debugPort = 0;
let lbPort = 0;
let ca = '';
const replicas: Array<SpawnedServer | undefined> = [undefined, undefined, undefined];

/** A port free on every replica address (they are three hosts here, with the same ports). */
async function portFreeOnAll(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const candidate = await freePort();
    const free = await Promise.all(
      HOSTS.map(
        (host) =>
          new Promise<boolean>((resolve) => {
            const probe = createServer();
            probe.once('error', () => resolve(false));
            probe.listen(candidate, host, () => probe.close(() => resolve(true)));
          }),
      ),
    );
    if (free.every(Boolean)) return candidate;
  }
  throw new Error('no port free on all replica addresses');
}

function replicaEnv(i: number): NodeJS.ProcessEnv {
  return {
    REGISTRY_HTTP_ADDR: `${HOSTS[i]}:${port}`,
    REGISTRY_HTTP_DEBUG_ADDR: `${HOSTS[i]}:${debugPort}`,
    REGISTRY_HTTP_TLS_CERTIFICATE: join(tmp.path, 'tls', 'server.crt'),
    REGISTRY_HTTP_TLS_KEY: join(tmp.path, 'tls', 'server.key'),
    REGISTRY_AUTH_HTPASSWD_PATH: join(tmp.path, 'htpasswd'),
    REGISTRY_STORAGE_SWIFT_AUTHURL: swift.authUrl,
    REGISTRY_STORAGE_SWIFT_USERNAME: swift.username,
    REGISTRY_STORAGE_SWIFT_PASSWORD: swift.password,
    REGISTRY_STORAGE_SWIFT_CONTAINER: 'replicas',
    REGISTRY_REDIS_ADDR: redis.addr,
  };
}

async function startReplica(i: number): Promise<void> {
  replicas[i] = await spawnServer({
    name: `regate${i + 1}`,
    ...regateServeCommand(join(DEPLOY, 'regate.yml'), replicaEnv(i)),
    ready: /listening on https:\/\/127\.0\.0\.\d:(\d+)/,
    timeoutMs: 30_000,
  });
}

async function get(url: string): Promise<{ status: number | undefined; text: string }> {
  const { request } = await import('node:https');
  const http = await import('node:http');
  return new Promise((resolve) => {
    const req = (url.startsWith('https:') ? request : http.request)(url, { ca, agent: false, timeout: 3000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', () => resolve({ status: undefined, text: '' }));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** The replica is serving and haproxy has seen it up (two checks 500 ms apart pass). */
async function waitHealthy(i: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await get(`https://${HOSTS[i]}:${port}/_ping`)).status !== 200 || (await get(`http://${HOSTS[i]}:${debugPort}/debug/health`)).status !== 200) {
    assert.ok(Date.now() < deadline, `replica ${i + 1} not healthy within 30 s`);
    await sleep(200);
  }
  await sleep(1500);
}

async function docker(args: readonly string[], timeoutMs = 600_000): Promise<ReturnType<DockerEngine['docker']>> {
  return engine.docker(args, { timeoutMs });
}
async function dockerOk(args: readonly string[]): Promise<string> {
  const result = await docker(args);
  assert.equal(result.code, 0, `docker ${args.join(' ')}: ${describeResult(result)}`);
  return result.stdout.toString('utf8');
}

/** An image FROM the busybox base with one layer per size (MiB), distinct bytes per `seed`. */
async function buildImage(ref: string, sizesMiB: number[], seed: number): Promise<void> {
  const context = join(tmp.path, `image-${seed}`);
  mkdirSync(context, { recursive: true });
  sizesMiB.forEach((mib, i) => writeFileSync(join(context, `layer${i}`), bytes(mib * 1024 * 1024, seed * 100 + i)));
  writeFileSync(join(context, 'Dockerfile'), `FROM replicas-base:1\n${sizesMiB.map((_, i) => `COPY layer${i} /layer${i}\n`).join('')}`);
  await dockerOk(['build', '--network', 'host', '-t', ref, context]);
}

async function uploadsInFlight(i: number): Promise<number> {
  const metrics = await get(`http://${HOSTS[i]}:${debugPort}/metrics`);
  const m = /^regate_uploads_in_flight(?:\{[^}]*\})? (\d+)/m.exec(metrics.text);
  return m ? Number(m[1]) : 0;
}

before(async () => {
  requireExecutable('/usr/sbin/haproxy');
  swift = await startSwiftAio();
  redis = await startRedis();
  port = await portFreeOnAll();
  debugPort = await portFreeOnAll();
  lbPort = await freePort();
  const pki = await ensureGeneratedCertificates(join(tmp.path, 'tls'), ['127.0.0.1', 'localhost', ...HOSTS], quiet);
  ca = pki.ca.certPem;
  writeFileSync(join(tmp.path, 'htpasswd'), await htpasswdText({ [USER.name]: USER.password }));
  await Promise.all([0, 1, 2].map((i) => startReplica(i)));
  // -V: haproxy says when it runs ("Using epoll() …") and logs every server going up or down.
  haproxy = await spawnServer({
    name: 'haproxy',
    command: '/usr/sbin/haproxy',
    args: ['-db', '-V', '-f', join(DEPLOY, 'haproxy.cfg')],
    env: {
      ...process.env,
      REGATE_LB_BIND: `127.0.0.1:${lbPort}`,
      REGATE_1: `${HOSTS[0]}:${port}`,
      REGATE_2: `${HOSTS[1]}:${port}`,
      REGATE_3: `${HOSTS[2]}:${port}`,
      REGATE_DEBUG_PORT: String(debugPort),
    },
    ready: /Using \w+\(\) as the polling mechanism/,
  });
  for (let i = 0; i < 3; i++) await waitHealthy(i);
  engine = await startDockerd({ storageDriver: 'overlay2' });
  await importBusyboxImage(engine, 'replicas-base:1', 'replicas');
  for (const host of [`127.0.0.1:${lbPort}`, ...HOSTS.map((h) => `${h}:${port}`)]) {
    const login = await engine.docker(['login', '--username', USER.name, '--password-stdin', host], { input: USER.password });
    assert.equal(login.code, 0, describeResult(login));
  }
});

after(async () => {
  await engine?.stop();
  await haproxy?.stop();
  for (const replica of replicas) await replica?.stop();
  await redis?.stop();
  await swift?.stop();
  tmp.remove();
});

describe('three replicas on one Swift container behind haproxy', () => {
  test('a replica killed (SIGKILL) mid-push and restarted: the push completes, every replica serves the image, scrub finds nothing broken', async (t) => {
    const lb = `127.0.0.1:${lbPort}`;
    await buildImage('replicas/app:1', [2, 8, 32, 64], 1);
    const id = (await dockerOk(['image', 'inspect', '--format', '{{.Id}}', 'replicas/app:1'])).trim();
    await dockerOk(['tag', 'replicas/app:1', `${lb}/team/app:1`]);
    const started = Date.now();
    const push = docker(['push', `${lb}/team/app:1`]);
    let killed = -1;
    while (killed < 0) {
      assert.ok(Date.now() - started < 120_000, 'no upload seen in flight on any replica');
      for (let i = 0; i < 3 && killed < 0; i++) if ((await uploadsInFlight(i)) > 0) killed = i;
      if (killed < 0) await sleep(50);
    }
    process.kill(replicas[killed]!.pid, 'SIGKILL');
    t.diagnostic(`killed replica ${killed + 1} with an upload in flight, ${Date.now() - started} ms into the push`);
    await sleep(1000);
    await startReplica(killed);
    const pushed = await push;
    assert.equal(pushed.code, 0, `the push: ${describeResult(pushed)}`);
    t.diagnostic(`push completed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await waitHealthy(killed);

    for (const host of HOSTS) {
      const ref = `${host}:${port}/team/app:1`;
      await dockerOk(['pull', ref]);
      assert.equal((await dockerOk(['image', 'inspect', '--format', '{{.Id}}', ref])).trim(), id, `the image pulled through ${host}`);
      await dockerOk(['rmi', ref]);
    }

    const env = { ...process.env, ...NODE_ENV, ...replicaEnv(0) };
    const scrub = await runCommand(process.execPath, [...NODE_FLAGS, REGATE_MAIN, 'scrub', '--config', join(DEPLOY, 'regate.yml')], { env, timeoutMs: 300_000 });
    assert.equal(scrub.code, 0, `scrub: ${describeResult(scrub)}`);
    const gc = await runCommand(process.execPath, [...NODE_FLAGS, REGATE_MAIN, 'gc', '--dry-run', '--delay', '0s', '--config', join(DEPLOY, 'regate.yml')], { env, timeoutMs: 300_000 });
    assert.equal(gc.code, 0, `gc: ${describeResult(gc)}`);
    t.diagnostic(`gc --dry-run: ${gc.stdout.toString('utf8').trim().split('\n').slice(-3).join(' | ')}`);
  });

  test('four pushes at a time while the replicas restart one after the other (SIGTERM, drain): none fails', async (t) => {
    const lb = `127.0.0.1:${lbPort}`;
    for (let w = 0; w < 4; w++) await buildImage(`replicas/worker${w}:1`, [4, 12], 10 + w);
    let restarting = true;
    const results: Array<{ worker: number; code: number | null; detail: string }> = [];
    const workers = [0, 1, 2, 3].map(async (w) => {
      for (let round = 0; restarting || round === 0; round++) {
        const ref = `${lb}/team/worker${w}:${round}`;
        const tagged = await docker(['tag', `replicas/worker${w}:1`, ref]);
        const result = tagged.code === 0 ? await docker(['push', ref]) : tagged;
        results.push({ worker: w, code: result.code, detail: describeResult(result) });
      }
    });
    try {
      await sleep(1500);
      for (let i = 0; i < 3; i++) {
        const replica = replicas[i]!;
        const signalled = Date.now();
        process.kill(replica.pid, 'SIGTERM');
        while (!replica.exited()) {
          assert.ok(Date.now() - signalled < 40_000, `replica ${i + 1} did not stop within 40 s`);
          await sleep(100);
        }
        t.diagnostic(`replica ${i + 1} stopped ${Date.now() - signalled} ms after SIGTERM`);
        assert.match(replica.output(), /drained: no request in flight/, `replica ${i + 1} stopped once idle, not at the drain deadline`);
        await startReplica(i);
        await waitHealthy(i);
      }
    } finally {
      restarting = false;
      await Promise.all(workers);
    }
    const failed = results.filter((r) => r.code !== 0);
    t.diagnostic(`${results.length} pushes during the rolling restart, ${failed.length} failed`);
    assert.deepEqual(failed, []);
    assert.ok(results.length >= 4);
  });
});
