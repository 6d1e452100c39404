// The container image, built from the project's own Dockerfile by a real Docker engine (Debian's
// docker.io, a private dockerd: test/support/dockerd.ts) and run the ways the seeds run registry:2:
//
//   - the image: runtime stage only (no tests, no dev dependencies, no sources), a non-root user,
//     its size printed; `docker run --entrypoint htpasswd IMAGE -Bbn foo foo123` makes a users line;
//   - no config: the embedded defaults (TLS + auth, CA and admin password in `docker logs`), data
//     in /var/lib/registry as registry:2 keeps it, `regate health` (the HEALTHCHECK) answering;
//   - seed 003's `docker run` (test/fixtures/container/003-docker-run.sh: TLS files, htpasswd and
//     config mounted, Swift storage): a key that only root may read stops it with the fix in the
//     log; readable by uid 10001, docker login / push / pull of a multi-layer image;
//   - seed 001's compose file through Debian's docker-compose (v1);
//   - `docker stop` while a push is uploading: the push completes within the drain.
//
// No public registry is reachable here: the Node base is made on this machine
// (test/support/node-base-image.ts) and passed as the NODE_IMAGE build argument.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { importBusyboxImage, startDockerd, type DockerEngine } from '../support/dockerd.js';
import { importNodeBaseImage } from '../support/node-base-image.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { freePort, makeTempDir, REPO_ROOT, runCommand, requireExecutable } from '../support/processes.js';
import { describeResult } from '../support/host-tools.js';
import { bytes } from '../support/test-data.js';
import { verifyPassword } from '../../src/auth/password.js';
import { ensureGeneratedCertificates } from '../../src/gateway/tls.js';
import { createLogger } from '../../src/log/logger.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures');
const IMAGE = 'regate'; // the name the seed fixtures use
const IMAGE_UID = 10001;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const quiet = createLogger({ level: 'error', formatter: 'text', stream: new Writable({ write: (_c, _e, cb) => cb() }) });

let engine: DockerEngine;
let swift: SwiftAio;
const tmp = makeTempDir('regate-container-');

function docker(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): ReturnType<DockerEngine['docker']> {
  return engine.docker(args, options);
}
async function dockerOk(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const result = await engine.docker(args, options);
  assert.equal(result.code, 0, `docker ${args.join(' ')}: ${describeResult(result)}`);
  return result.stdout.toString('utf8');
}
async function logsOf(container: string): Promise<string> {
  const result = await docker(['logs', container]);
  return `${result.stdout.toString('utf8')}${result.stderr}`;
}

/** Waits until `check` holds, polling; fails with `what` and the container's log after `ms`. */
async function until(what: string, ms: number, check: () => Promise<boolean>, container?: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms${container ? `\n--- docker logs ${container} ---\n${await logsOf(container)}` : ''}`);
    await sleep(200);
  }
}

async function answers(url: string, ca?: string): Promise<number | undefined> {
  const { request } = await import('node:https');
  const http = await import('node:http');
  return new Promise((resolve) => {
    const req = (url.startsWith('https:') ? request : http.request)(url, { ca, rejectUnauthorized: ca !== undefined, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** A 4-layer image (busybox, then 1, 4 and 16 MiB of distinct bytes), tagged `ref`. */
async function buildMultiLayerImage(ref: string, seed: number): Promise<void> {
  const context = join(tmp.path, `image-${seed}`);
  mkdirSync(context, { recursive: true });
  await importBusyboxImage(engine, `busybox-base:${seed}`, `container-test-${seed}`);
  const sizes = [1, 4, 16];
  sizes.forEach((mib, i) => writeFileSync(join(context, `layer${i}`), bytes(mib * 1024 * 1024, seed * 10 + i)));
  writeFileSync(join(context, 'Dockerfile'), `FROM busybox-base:${seed}\n${sizes.map((_, i) => `COPY layer${i} /layer${i}\n`).join('')}`);
  await dockerOk(['build', '--network', 'host', '-t', ref, context], { timeoutMs: 300_000 });
}

/** Pushes `local` as `remote`, removes both tags, pulls `remote` back: the same image ID. */
async function pushPullRoundTrip(local: string, remote: string): Promise<void> {
  const id = (await dockerOk(['image', 'inspect', '--format', '{{.Id}}', local])).trim();
  await dockerOk(['tag', local, remote]);
  await dockerOk(['push', remote], { timeoutMs: 300_000 });
  await dockerOk(['rmi', remote]);
  await dockerOk(['rmi', local]);
  await dockerOk(['pull', remote], { timeoutMs: 300_000 });
  assert.equal((await dockerOk(['image', 'inspect', '--format', '{{.Id}}', remote])).trim(), id, 'the pulled image is the pushed one');
  await dockerOk(['tag', remote, local]);
}

/** A seed config pointed at the test's Swift and port (its other keys as the seed wrote them). */
function seedConfig(file: string, port: number, container: string): string {
  const config = parseYaml(readFileSync(join(FIXTURES, 'seeds', file), 'utf8')) as Record<string, any>;
  config.storage.swift.authurl = swift.authUrl;
  config.storage.swift.username = swift.username;
  config.storage.swift.password = swift.password;
  config.storage.swift.container = container;
  config.http.addr = `127.0.0.1:${port}`;
  return stringifyYaml(config);
}

before(async () => {
  requireExecutable('docker-compose');
  engine = await startDockerd({ storageDriver: 'overlay2' });
  swift = await startSwiftAio();
  const base = await importNodeBaseImage(engine);
  await dockerOk(['build', '--network', 'host', '--build-arg', `NODE_IMAGE=${base}`, '-t', IMAGE, REPO_ROOT], { timeoutMs: 900_000 });
});

after(async () => {
  await engine?.stop();
  await swift?.stop();
  tmp.remove();
});

describe('the image', () => {
  test('runtime stage only, a non-root user, and lean (its size is printed)', async (t) => {
    const size = Number((await dockerOk(['image', 'inspect', '--format', '{{.Size}}', IMAGE])).trim());
    const base = Number((await dockerOk(['image', 'inspect', '--format', '{{.Size}}', 'regate-test/node:20-bookworm-slim'])).trim());
    t.diagnostic(`image size: ${(size / 1e6).toFixed(1)} MB (the Node base: ${(base / 1e6).toFixed(1)} MB, regate on top: ${((size - base) / 1e6).toFixed(1)} MB)`);
    assert.ok(size - base < 60e6, `regate adds ${((size - base) / 1e6).toFixed(1)} MB to its base`);
    const listing = await dockerOk(['run', '--rm', '--network', 'none', '--entrypoint', 'sh', IMAGE, '-c',
      'id -u; id -g; ls /app; ls /app/dist; for d in typescript kubernetes-models @types/node; do test -e /app/node_modules/$d && echo DEVDEP; done; test -e /app/src && echo SOURCES; test -e /app/.git && echo GIT; true']);
    const [uid, gid, ...rest] = listing.trim().split('\n');
    assert.equal(uid, String(IMAGE_UID));
    assert.equal(gid, String(IMAGE_UID));
    assert.ok(!rest.includes('test') && !rest.includes('SOURCES') && !rest.includes('GIT'), listing);
    assert.ok(rest.includes('src'), `dist/src is there: ${listing}`);
    assert.ok(!rest.includes('DEVDEP'), `no dev dependency (typescript, kubernetes-models, @types/node): ${listing}`);
    const config = JSON.parse(await dockerOk(['image', 'inspect', '--format', '{{json .Config}}', IMAGE])) as Record<string, any>;
    assert.deepEqual(Object.keys(config.ExposedPorts), ['5000/tcp']);
    assert.equal(config.StopSignal, 'SIGTERM');
    assert.deepEqual(config.Healthcheck.Test, ['CMD', 'regate', 'health']);
    assert.deepEqual(Object.keys(config.Volumes), ['/var/lib/registry']);
  });

  test('`docker run --entrypoint htpasswd IMAGE -Bbn foo foo123` prints a bcrypt users line (seed 003)', async () => {
    const line = (await dockerOk(['run', '--rm', '--network', 'none', '--entrypoint', 'htpasswd', IMAGE, '-Bbn', 'foo', 'foo123'])).trim();
    const [user, hash] = line.split(':');
    assert.equal(user, 'foo');
    assert.match(hash!, /^\$2[aby]\$10\$/);
    assert.equal((await verifyPassword('foo123', hash!)).ok, true);
  });
});

describe('no config: the embedded defaults', () => {
  const name = 'regate-defaults';
  let port = 0;
  after(async () => void (await docker(['rm', '-f', '-v', name])));

  test('TLS + auth, the CA and the admin password in docker logs, data in /var/lib/registry, healthy', async () => {
    port = await freePort();
    await dockerOk(['run', '-d', '--network', 'host', '-e', `REGISTRY_HTTP_ADDR=127.0.0.1:${port}`, '--name', name, IMAGE]);
    await until('listening', 30_000, async () => /listening on https:/.test(await logsOf(name)), name);
    const logs = await logsOf(name);
    const password = /^ {2}password: (\S+)$/m.exec(logs)?.[1];
    assert.ok(password, logs);
    assert.match(logs, /change it with: regate user passwd admin --file \/var\/lib\/registry\/htpasswd\/htpasswd/, 'the hint is the image\'s own command');
    const ca = await dockerOk(['exec', name, 'cat', '/var/lib/registry/certs/ca.crt']);
    assert.equal(await answers(`https://127.0.0.1:${port}/v2/`, ca), 401);
    const { send } = await import('../support/gateway.js');
    const target = { https: true, port, ca };
    assert.equal((await send(target, 'GET', '/v2/', { auth: ['admin', password] })).status, 200);
    const pushed = await send(target, 'POST', '/v2/team/app/blobs/uploads/?digest=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', { auth: ['admin', password], headers: { 'content-length': 0 } });
    assert.equal(pushed.status, 201, pushed.text());
    assert.match(await dockerOk(['exec', name, 'ls', '/var/lib/registry/docker/registry/v2/repositories']), /^team$/m, 'registry:2\'s layout at the volume\'s root');
    const health = await docker(['exec', name, 'regate', 'health']);
    assert.equal(health.code, 0, describeResult(health));
  });
});

describe("seed 003's docker run: TLS files, htpasswd and config mounted, Swift storage", () => {
  const dir = join(tmp.path, 'opt-k8s-registry');
  let port = 0;
  let caPem = '';
  after(async () => void (await docker(['rm', '-f', '-v', 'registry'])));

  async function runSeedCommand(): Promise<void> {
    const command = readFileSync(join(FIXTURES, 'container', '003-docker-run.sh'), 'utf8');
    const result = await runCommand('sh', ['-c', command], { env: { ...engine.env, REGISTRY_DIR: dir, PORT: String(port) }, timeoutMs: 60_000 });
    assert.equal(result.code, 0, describeResult(result));
  }

  test("a key only root may read stops it, and the log says how to fix it; readable by uid 10001 it serves", async () => {
    port = await freePort();
    mkdirSync(join(dir, 'auth'), { recursive: true });
    mkdirSync(join(dir, 'certs'), { recursive: true });
    // As the seed makes its users file: with the registry image itself, redirected by the shell.
    writeFileSync(join(dir, 'auth', 'htpasswd'), await dockerOk(['run', '--rm', '--network', 'none', '--entrypoint', 'htpasswd', IMAGE, '-Bbn', 'foo', 'foo123']));
    const generated = join(tmp.path, 'pki');
    await ensureGeneratedCertificates(generated, ['127.0.0.1', 'localhost'], quiet);
    copyFileSync(join(generated, 'server.crt'), join(dir, 'certs', 'registry.pem'));
    copyFileSync(join(generated, 'server.key'), join(dir, 'certs', 'registry-key.pem'));
    chmodSync(join(dir, 'certs', 'registry-key.pem'), 0o600); // root's, as cfssl leaves it
    caPem = readFileSync(join(generated, 'ca.crt'), 'utf8');
    writeFileSync(join(dir, 'config.yml'), seedConfig('003-tls-htpasswd-ceph-config.yml', port, 'registry-003'));

    await runSeedCommand();
    await until('the container stopped', 30_000, async () => (await dockerOk(['inspect', '--format', '{{.State.Running}}', 'registry'])).trim() === 'false', 'registry');
    const refused = await logsOf('registry');
    assert.match(refused, /http\.tls\.key: cannot read \/certs\/registry-key\.pem/, refused);
    assert.match(refused, /regate runs as uid 10001 .*chown 10001/, refused);
    await dockerOk(['rm', 'registry']);

    chownSync(join(dir, 'certs', 'registry-key.pem'), IMAGE_UID, IMAGE_UID);
    await runSeedCommand();
    await until('serving', 30_000, async () => (await answers(`https://127.0.0.1:${port}/_ping`, caPem)) === 200, 'registry');
  });

  test('docker login, push and pull of a multi-layer image through it', async () => {
    assert.ok(port > 0, 'started by the test before');
    const login = await docker(['login', '--username', 'foo', '--password-stdin', `127.0.0.1:${port}`], { input: 'foo123' });
    assert.equal(login.code, 0, describeResult(login));
    await buildMultiLayerImage('seed003/app:1', 3);
    await pushPullRoundTrip('seed003/app:1', `127.0.0.1:${port}/team/app:1`);
  });

  test('docker stop during a push: the push completes within the drain', async () => {
    assert.ok(port > 0, 'started by the test before');
    const context = join(tmp.path, 'big');
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'big'), bytes(96 * 1024 * 1024, 77));
    writeFileSync(join(context, 'Dockerfile'), 'FROM busybox-base:3\nCOPY big /big\n');
    await dockerOk(['build', '--network', 'host', '-t', `127.0.0.1:${port}/team/big:1`, context], { timeoutMs: 300_000 });
    const before = (await logsOf('registry')).split('\n').length;
    const push = docker(['push', `127.0.0.1:${port}/team/big:1`], { timeoutMs: 300_000 });
    // The big layer's upload has started once its session was opened (the POST's log line).
    await until('the upload started', 60_000, async () => (await logsOf('registry')).split('\n').slice(before).some((l) => l.includes('POST') && l.includes('/v2/team/big/blobs/uploads/')), 'registry');
    const stopped = Date.now();
    const stop = docker(['stop', 'registry'], { timeoutMs: 60_000 });
    const pushed = await push;
    assert.equal(pushed.code, 0, `the push survives docker stop: ${describeResult(pushed)}\n--- registry log ---\n${await logsOf('registry')}`);
    assert.equal((await stop).code, 0);
    const took = Date.now() - stopped;
    assert.ok(took < 10_000, `stopped within docker's 10 s (${took} ms)`);
    const logs = await logsOf('registry');
    assert.match(logs, /draining: \d+ request\(s\) in flight/);
    assert.match(logs, /drained: no request in flight/, 'it stopped once idle, not killed');
    // What was pushed is stored: a restarted container serves it.
    await dockerOk(['start', 'registry']);
    await until('serving again', 30_000, async () => (await answers(`https://127.0.0.1:${port}/_ping`, caPem)) === 200, 'registry');
    await dockerOk(['rmi', `127.0.0.1:${port}/team/big:1`]);
    await dockerOk(['pull', `127.0.0.1:${port}/team/big:1`], { timeoutMs: 300_000 });
  });
});

describe("seed 001's docker-compose.yml (compose v1), config mounted, Swift storage", () => {
  const dir = join(tmp.path, 'compose');
  let env: NodeJS.ProcessEnv = {};
  after(async () => {
    if (env.DOCKER_HOST) await runCommand('docker-compose', ['-p', 'regateseed', 'down', '-v'], { cwd: dir, env, timeoutMs: 120_000 });
  });

  test('docker-compose up -d, then push and pull through it (plain HTTP without auth, as the seed config says)', async () => {
    const port = await freePort();
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(FIXTURES, 'container', '001-docker-compose.yml'), join(dir, 'docker-compose.yml'));
    writeFileSync(join(dir, 'config.yml'), seedConfig('001-ceph-swift-config.yml', port, 'registry-001'));
    env = { ...engine.env };
    const up = await runCommand('docker-compose', ['-p', 'regateseed', 'up', '-d'], { cwd: dir, env, timeoutMs: 120_000 });
    assert.equal(up.code, 0, describeResult(up));
    await until('serving', 30_000, async () => (await answers(`http://127.0.0.1:${port}/_ping`)) === 200);
    await buildMultiLayerImage('seed001/app:1', 1);
    await pushPullRoundTrip('seed001/app:1', `127.0.0.1:${port}/library/app:1`);
  });
});


