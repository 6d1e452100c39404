// End to end with a real Docker engine (Debian docker.io 20.10, a private dockerd per file, see
// test/support/dockerd.ts) against a registry with TLS + htpasswd Basic auth:
//
//   1. on 127.0.0.1:PORT: login with a wrong password fails; `docker login --password-stdin`, push,
//      `docker rmi`, pull (same image ID), logout; after logout, push and pull fail with an auth error.
//      Docker always treats 127.0.0.0/8 as an insecure registry (it skips certificate checks there),
//      so this run proves auth and the API, not trust.
//   2. on ip6-localhost:PORT (the registry listens on [::1]): the certificate is genuinely verified.
//      Without /etc/docker/certs.d/ip6-localhost:PORT/ca.crt login fails with
//      `x509: certificate signed by unknown authority`; with the CA installed there, login, push,
//      pull and logout work. Only that HOST:PORT directory is created, and it is removed after.
//   4. regate.access: a team pushes under its prefix only ("denied: requested access to the
//      resource is denied" elsewhere), a pull-only user pulls and cannot push, a group change applies.
//   3. push, a second tag of the same layers, rmi and pull with regate storing into a real
//      OpenStack Swift and a real Ceph RGW (1 MiB segments, the smallest allowed), and with regate
//      in upstream mode in front of Distribution 2.8.2 (regate.upstream).
//
// The registry is whatever `startTarget` starts: regate through TLS + auth (startDistributionTarget
// runs the same tests against CNCF Distribution 2.8.2, the reference they were first proven on).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { importBusyboxImage, imageId, installDockerCa, startDockerd, type DockerEngine } from '../support/dockerd.js';
import { describeResult, ensureIp6Localhost, processesMentioning } from '../support/host-tools.js';
import { startRegateTarget, targetRequest, type TestUser, type TlsAuthTarget } from '../support/tls-auth-target.js';
import { startSwiftAio } from '../support/swift-aio.js';
import { startCephRgw } from '../support/ceph-rgw.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, startDistribution } from '../support/processes.js';

const startTarget = startRegateTarget;

const ALICE: TestUser = { username: 'alice', password: 'Corr3ct-h0rse!battery' };
const BOB: TestUser = { username: 'bob', password: 'b0b-has-another-password' };

const AUTH_ERROR = /unauthorized|authentication required|invalid username\/password|no basic auth credentials/i;

let engine: DockerEngine | undefined;

before(async () => {
  // Before dockerd starts: Go caches /etc/hosts for a few seconds once it has read it.
  ensureIp6Localhost();
  engine = await startDockerd();
});

after(async () => {
  const dir = engine?.dir;
  await engine?.stop();
  if (dir) assert.deepEqual(processesMentioning(dir), [], 'dockerd or its containerd is still running');
});

function docker(): DockerEngine {
  assert.ok(engine, 'dockerd did not start');
  return engine;
}

async function login(registry: string, user: TestUser): Promise<ReturnType<DockerEngine['docker']>> {
  return docker().docker(['login', '--username', user.username, '--password-stdin', registry], { input: user.password });
}

/** The manifest digest `docker push` reports (`TAG: digest: sha256:… size: N`). */
function pushedDigest(output: string): string {
  const m = /digest: (sha256:[0-9a-f]{64})/.exec(output);
  assert.ok(m, `no digest in docker push output:\n${output}`);
  return m[1]!;
}

/** The registry has the manifest under the tag, with the pushed digest (checked over verified TLS). */
async function assertInRegistry(target: TlsAuthTarget, repo: string, tag: string, digest: string): Promise<void> {
  const accept = 'application/vnd.docker.distribution.manifest.v2+json';
  const anonymous = await targetRequest(target, 'HEAD', `/v2/${repo}/manifests/${tag}`, { accept });
  assert.equal(anonymous.status, 401, 'the registry answers without credentials');
  const head = await targetRequest(target, 'HEAD', `/v2/${repo}/manifests/${tag}`, { user: ALICE, accept });
  assert.equal(head.status, 200, `HEAD /v2/${repo}/manifests/${tag}`);
  assert.equal(head.headers['docker-content-digest'], digest);
}

describe('docker client against a TLS + htpasswd registry on 127.0.0.1', () => {
  let target: TlsAuthTarget;
  const repo = 'e2e/docker/busybox';
  let ref: string;

  before(async () => {
    target = await startTarget({ users: [ALICE, BOB] });
    ref = `${target.host}/${repo}:v1`;
  });

  after(async () => {
    await target?.stop();
  });

  it('login with a wrong password fails and stores nothing', async () => {
    const result = await login(target.host, { username: ALICE.username, password: 'not-the-password' });
    assert.notEqual(result.code, 0, `login with a wrong password succeeded: ${describeResult(result)}`);
    assert.match(result.stderr, AUTH_ERROR, describeResult(result));
    const unknown = await login(target.host, { username: 'mallory', password: 'whatever' });
    assert.notEqual(unknown.code, 0, `login as an unknown user succeeded: ${describeResult(unknown)}`);
    assert.match(unknown.stderr, AUTH_ERROR, describeResult(unknown));
    assert.equal(docker().savedAuths()[target.host], undefined);
  });

  it('login --password-stdin, push, rmi, pull gives back the same image', async () => {
    const id = await importBusyboxImage(docker(), ref, `docker-client/127/${Date.now()}`);
    const loggedIn = await login(target.host, ALICE);
    assert.equal(loggedIn.code, 0, describeResult(loggedIn));
    assert.match(loggedIn.stdout.toString('utf8'), /Login Succeeded/);
    assert.ok(docker().savedAuths()[target.host], `no credentials for ${target.host} in config.json`);

    const push = await docker().dockerChecked(['push', ref]);
    const digest = pushedDigest(push.stdout.toString('utf8'));
    await assertInRegistry(target, repo, 'v1', digest);

    await docker().dockerChecked(['rmi', ref]);
    assert.notEqual((await docker().docker(['image', 'inspect', ref])).code, 0, 'the image is still there after rmi');

    const pull = await docker().dockerChecked(['pull', ref]);
    assert.match(pull.stdout.toString('utf8'), new RegExp(`Digest: ${digest}`));
    assert.equal(await imageId(docker(), ref), id, 'the pulled image differs from the pushed one');
    // A second user works too.
    const bob = await login(target.host, BOB);
    assert.equal(bob.code, 0, describeResult(bob));
  });

  it('after logout, push and pull fail with an auth error', async () => {
    const logout = await docker().dockerChecked(['logout', target.host]);
    assert.match(logout.stdout.toString('utf8'), /Removing login credentials/);
    assert.equal(docker().savedAuths()[target.host], undefined, 'credentials left in config.json after logout');

    const newRef = `${target.host}/${repo}:after-logout`;
    await importBusyboxImage(docker(), newRef, `docker-client/127/after-logout/${Date.now()}`);
    const push = await docker().docker(['push', newRef]);
    assert.notEqual(push.code, 0, `push after logout succeeded: ${describeResult(push)}`);
    assert.match(push.stderr + push.stdout.toString('utf8'), AUTH_ERROR, describeResult(push));
    const head = await targetRequest(target, 'HEAD', `/v2/${repo}/manifests/after-logout`, { user: ALICE });
    assert.equal(head.status, 404, 'the push after logout stored a manifest');

    // Pull is refused too. Its message is not always the auth error: for an "insecure" registry
    // (all of 127.0.0.0/8) Docker retries a refused pull over plain HTTP and reports that last
    // attempt (a TLS port answering plain HTTP: reset or 400). The certs.d run below checks the
    // message where no such fallback happens.
    await docker().docker(['rmi', ref]);
    const pull = await docker().docker(['pull', ref]);
    assert.notEqual(pull.code, 0, `pull after logout succeeded: ${describeResult(pull)}`);
    assert.match(pull.stderr, new RegExp(`${AUTH_ERROR.source}|connection reset by peer|HTTP request to an HTTPS server|EOF`, 'i'), describeResult(pull));
    assert.notEqual((await docker().docker(['image', 'inspect', ref])).code, 0, 'a pull after logout left an image behind');
  });
});

describe('docker client with the CA genuinely verified (ip6-localhost, /etc/docker/certs.d)', () => {
  let target: TlsAuthTarget;
  let registry: string;
  let trust: { dir: string; remove(): void } | undefined;

  before(async () => {
    target = await startTarget({ users: [ALICE], bind: '::1' });
    registry = target.hostAs('ip6-localhost');
  });

  after(async () => {
    trust?.remove();
    await target?.stop();
  });

  it('without the CA in certs.d, login fails: x509: certificate signed by unknown authority', async () => {
    const result = await login(registry, ALICE);
    assert.notEqual(result.code, 0, `login succeeded without trusting the CA: ${describeResult(result)}`);
    assert.match(result.stderr, /x509: certificate signed by unknown authority/, describeResult(result));
    assert.equal(docker().savedAuths()[registry], undefined);
  });

  it('with the CA in /etc/docker/certs.d/ip6-localhost:PORT/ca.crt: login, push, rmi, pull, logout', async () => {
    trust = installDockerCa(registry, target.caFile);
    const ref = `${registry}/e2e/docker/verified:v1`;
    const id = await importBusyboxImage(docker(), ref, `docker-client/verified/${Date.now()}`);

    const loggedIn = await login(registry, ALICE);
    assert.equal(loggedIn.code, 0, describeResult(loggedIn));
    assert.ok(docker().savedAuths()[registry], `no credentials for ${registry} in config.json`);

    const push = await docker().dockerChecked(['push', ref]);
    await assertInRegistry(target, 'e2e/docker/verified', 'v1', pushedDigest(push.stdout.toString('utf8')));

    await docker().dockerChecked(['rmi', ref]);
    await docker().dockerChecked(['pull', ref]);
    assert.equal(await imageId(docker(), ref), id);

    await docker().dockerChecked(['logout', registry]);
    assert.equal(docker().savedAuths()[registry], undefined);
    await docker().dockerChecked(['rmi', ref]);
    const pull = await docker().docker(['pull', ref]);
    assert.notEqual(pull.code, 0, `pull after logout succeeded: ${describeResult(pull)}`);
    assert.match(pull.stderr, AUTH_ERROR, describeResult(pull));

    trust.remove();
    trust = undefined;
  });
});

/** What stands behind regate: a storage backend, or a registry in upstream mode. */
const BACKENDS: Array<{ name: string; start(): Promise<{ options: { storage: Record<string, unknown> } | { upstream: Record<string, unknown> }; stop(): Promise<void> }> }> = [
  ...[
    { name: 'storing into OpenStack Swift', start: startSwiftAio },
    { name: 'storing into Ceph RGW', start: startCephRgw },
  ].map(({ name, start }) => ({
    name,
    async start() {
      const backend = await start();
      const swift = { authurl: backend.authUrl, username: backend.username, password: backend.password, container: 'docker-e2e', chunksize: 1048576 };
      return { options: { storage: { swift } }, stop: () => backend.stop() };
    },
  })),
  {
    name: 'in upstream mode in front of Distribution 2.8.2',
    async start() {
      const root = makeTempDir('regate-e2e-docker-upstream-');
      const distribution = await startDistribution({ rootDir: root.path });
      return {
        options: { upstream: { url: distribution.url } },
        async stop() {
          await distribution.stop();
          root.remove();
        },
      };
    },
  },
];

for (const store of BACKENDS) {
  describe(`docker client against regate ${store.name}`, () => {
    let backend: Awaited<ReturnType<typeof store.start>> | undefined;
    let target: TlsAuthTarget;
    const repo = 'e2e/docker/object-store';

    before(async () => {
      backend = await store.start();
      target = await startRegateTarget({ users: [ALICE], ...backend.options });
    });

    after(async () => {
      await target?.stop();
      await backend?.stop();
    });

    it('login, push, rmi, pull gives back the same image; a second tag of the same layers', async () => {
      const ref = `${target.host}/${repo}:v1`;
      const id = await importBusyboxImage(docker(), ref, `docker-client/${store.name}/${Date.now()}`);
      const loggedIn = await login(target.host, ALICE);
      assert.equal(loggedIn.code, 0, describeResult(loggedIn));
      const digest = pushedDigest((await docker().dockerChecked(['push', ref])).stdout.toString('utf8'));
      await assertInRegistry(target, repo, 'v1', digest);

      // The same layers under another tag: docker finds them there and pushes no byte again.
      const second = `${target.host}/${repo}:v2`;
      await docker().dockerChecked(['tag', ref, second]);
      const again = (await docker().dockerChecked(['push', second])).stdout.toString('utf8');
      assert.match(again, /Layer already exists/);
      assert.equal(pushedDigest(again), digest);

      await docker().dockerChecked(['rmi', ref, second]);
      const pull = await docker().dockerChecked(['pull', second]);
      assert.match(pull.stdout.toString('utf8'), new RegExp(`Digest: ${digest}`));
      assert.equal(await imageId(docker(), second), id, 'the pulled image differs from the pushed one');
      await docker().dockerChecked(['logout', target.host]);
    });
  });
}

describe('docker client with per-repository access (regate.access)', () => {
  const CI: TestUser = { username: 'ci', password: 'ci-pull-0nly-pw' };
  const ANN: TestUser = { username: 'ann', password: 'ann-team-a-pw-1' };
  const DENIED = /denied: requested access to the resource is denied/;
  let target: TlsAuthTarget;
  const tmp = makeTempDir('regate-docker-access-');
  const groupsFile = join(tmp.path, 'groups');

  before(async () => {
    writeFileSync(groupsFile, 'team-a: ann\n');
    target = await startTarget({
      users: [ALICE, CI, ANN],
      regate: {
        access: {
          groupsfile: groupsFile,
          rules: [
            { users: ['alice'], repositories: ['**'], actions: ['pull', 'push', 'delete'] },
            { users: ['ci'], repositories: ['**'], actions: ['pull'] },
            { groups: ['team-a'], repositories: ['team-a/**'], actions: ['pull', 'push'] },
            { groups: ['team-b'], repositories: ['team-b/**'], actions: ['pull', 'push'] },
          ],
        },
      },
    });
  });
  after(async () => {
    await target?.stop();
    tmp.remove();
  });

  it('a team pushes under its prefix only; a pull-only user pulls and cannot push; a group change applies', async () => {
    const own = `${target.host}/team-a/busybox:v1`;
    const other = `${target.host}/team-b/busybox:v1`;
    await importBusyboxImage(docker(), own, `docker-access/${Date.now()}`);
    await docker().dockerChecked(['tag', own, other]);

    assert.equal((await login(target.host, ANN)).code, 0);
    await docker().dockerChecked(['push', own]);
    const refused = await docker().docker(['push', other]);
    assert.notEqual(refused.code, 0, `push outside the team's prefix succeeded: ${describeResult(refused)}`);
    assert.match(refused.stderr + refused.stdout.toString('utf8'), DENIED, describeResult(refused));

    assert.equal((await login(target.host, CI)).code, 0);
    await docker().dockerChecked(['rmi', own]);
    await docker().dockerChecked(['pull', own]);
    const ciRef = `${target.host}/team-a/busybox:from-ci`;
    await docker().dockerChecked(['tag', own, ciRef]);
    const ciPush = await docker().docker(['push', ciRef]);
    assert.notEqual(ciPush.code, 0, `a pull-only user pushed: ${describeResult(ciPush)}`);
    assert.match(ciPush.stderr + ciPush.stdout.toString('utf8'), DENIED, describeResult(ciPush));

    // ann joins team-b: within a second the push that was refused goes through.
    writeFileSync(groupsFile, 'team-a: ann\nteam-b: ann\n');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await login(target.host, ANN)).code, 0);
    await docker().dockerChecked(['push', other]);
    await docker().dockerChecked(['logout', target.host]);
  });
});
