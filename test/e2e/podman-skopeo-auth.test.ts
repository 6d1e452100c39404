// End to end with the daemonless clients (podman 4.3, skopeo 1.9, containers/image 5.23) against a
// registry with TLS + htpasswd Basic auth on 127.0.0.1. Unlike Docker, containers/image does not
// treat loopback as insecure: with `--tls-verify` (the default) the certificate is really checked,
// against the CA given with `--cert-dir` / `--dest-cert-dir` / `--src-cert-dir`.
//
//   podman: login with a wrong password fails; login without the CA fails (x509); login with
//           --tls-verify=false works; login with --cert-dir, push an image imported offline
//           (busybox), rmi, pull (same image ID), logout, then push and pull fail with an auth error.
//   podman through regate in upstream mode (regate.upstream) in front of Distribution 2.8.2: login,
//           push, rmi, pull.
//   skopeo: copy an OCI layout in with --dest-creds, back out with --src-creds, byte for byte;
//           wrong or missing credentials fail.
//
// podman runs with a private store (test/support/podman.ts) and credentials in a temp auth file.
// The registry is whatever `startTarget` starts: regate through TLS + auth (startDistributionTarget
// runs the same tests against CNCF Distribution 2.8.2, the reference they were first proven on).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildOciImage, diffPulledImage, readPulledImage, type BuiltImage } from '../support/image-builder.js';
import { writeBusyboxRootfsTar } from '../support/dockerd.js';
import { describeResult, processesMentioning, requireProgram } from '../support/host-tools.js';
import { startPodman, type Podman } from '../support/podman.js';
import { makeTempDir, runCommand, startDistribution, type CommandResult } from '../support/processes.js';
import { startRegateTarget, targetRequest, type TestUser, type TlsAuthTarget } from '../support/tls-auth-target.js';

const startTarget = startRegateTarget;

const ALICE: TestUser = { username: 'alice', password: 'Corr3ct-h0rse!battery' };
const CAROL: TestUser = { username: 'carol', password: 'carol:has a colon and spaces' };

const AUTH_ERROR = /unauthorized|authentication required|invalid username\/password|no basic auth credentials/i;
const MANIFEST_TYPES = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

const tmp = makeTempDir('regate-e2e-podman-skopeo-');
let target: TlsAuthTarget;
let podman: Podman;
/** A directory holding only the target's CA as ca.crt (for --cert-dir). */
let certDir: string;

before(async () => {
  target = await startTarget({ users: [ALICE, CAROL] });
  podman = startPodman();
  certDir = join(tmp.path, 'certs');
  mkdirSync(certDir);
  copyFileSync(target.caFile, join(certDir, 'ca.crt'));
});

after(async () => {
  try {
    await target?.stop();
    await podman?.stop();
    const left = [...processesMentioning(tmp.path), ...(podman ? processesMentioning(podman.dir) : [])];
    assert.deepEqual(left, [], 'processes left running');
    const conmon = (await runCommand('pgrep', ['-a', 'conmon'])).stdout.toString('utf8');
    assert.ok(!conmon.includes(tmp.path) && !(podman && conmon.includes(podman.dir)), `conmon left running: ${conmon}`);
  } finally {
    tmp.remove();
  }
});

describe('podman against a TLS + htpasswd registry', () => {
  const repo = 'e2e/podman/busybox';
  let ref: string;

  before(() => {
    ref = `${target.host}/${repo}:v1`;
  });

  const login = (user: TestUser, tlsArgs: readonly string[]): Promise<CommandResult> =>
    podman.podman(['login', '--authfile', podman.authFile, ...tlsArgs, '--username', user.username, '--password-stdin', target.host], {
      input: user.password,
    });

  const transfer = (verb: 'push' | 'pull', image: string, extra: readonly string[] = []): Promise<CommandResult> =>
    podman.podman([verb, '--authfile', podman.authFile, '--cert-dir', certDir, '--signature-policy', podman.policyFile, ...extra, image]);

  it('login with a wrong password fails and stores nothing', async () => {
    const result = await login({ username: ALICE.username, password: 'not-the-password' }, ['--cert-dir', certDir]);
    assert.notEqual(result.code, 0, describeResult(result));
    assert.match(result.stderr, AUTH_ERROR, describeResult(result));
    assert.equal(podman.savedAuths()[target.host], undefined);
  });

  it('login without the CA fails: x509: certificate signed by unknown authority', async () => {
    const result = await login(ALICE, ['--tls-verify=true']);
    assert.notEqual(result.code, 0, describeResult(result));
    assert.match(result.stderr, /x509: certificate signed by unknown authority/, describeResult(result));
    assert.equal(podman.savedAuths()[target.host], undefined);
  });

  it('login with --tls-verify=false works (certificate not checked), logout removes it', async () => {
    const result = await login(CAROL, ['--tls-verify=false']);
    assert.equal(result.code, 0, describeResult(result));
    assert.match(result.stdout.toString('utf8'), /Login Succeeded/);
    assert.ok(podman.savedAuths()[target.host]);
    await podman.podmanChecked(['logout', '--authfile', podman.authFile, target.host]);
    assert.equal(podman.savedAuths()[target.host], undefined);
  });

  it('login with --cert-dir, push, rmi, pull gives back the same image; logout; then push and pull fail', async () => {
    const tarPath = writeBusyboxRootfsTar(join(tmp.path, 'busybox.tar'), `podman/${Date.now()}`);
    await podman.podmanChecked(['import', tarPath, ref]);
    const id = (await podman.podmanChecked(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.toString('utf8').trim();

    const loggedIn = await login(ALICE, ['--cert-dir', certDir]);
    assert.equal(loggedIn.code, 0, describeResult(loggedIn));
    assert.ok(podman.savedAuths()[target.host], `no credentials for ${target.host} in ${podman.authFile}`);

    const digestFile = join(tmp.path, 'podman-push.digest');
    const push = await transfer('push', ref, ['--digestfile', digestFile]);
    assert.equal(push.code, 0, describeResult(push));
    const digest = readFileSync(digestFile, 'utf8').trim();
    const head = await targetRequest(target, 'HEAD', `/v2/${repo}/manifests/v1`, { user: ALICE, accept: MANIFEST_TYPES });
    assert.equal(head.status, 200);
    assert.equal(head.headers['docker-content-digest'], digest);

    await podman.podmanChecked(['rmi', ref]);
    assert.notEqual((await podman.podman(['image', 'exists', ref])).code, 0, 'image still there after rmi');
    const pull = await transfer('pull', ref);
    assert.equal(pull.code, 0, describeResult(pull));
    const pulledId = (await podman.podmanChecked(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.toString('utf8').trim();
    assert.equal(pulledId, id, 'the pulled image differs from the pushed one');

    await podman.podmanChecked(['logout', '--authfile', podman.authFile, target.host]);
    assert.equal(podman.savedAuths()[target.host], undefined);

    const otherRef = `${target.host}/${repo}:after-logout`;
    await podman.podmanChecked(['tag', ref, otherRef]);
    const pushAfter = await transfer('push', otherRef);
    assert.notEqual(pushAfter.code, 0, `push after logout succeeded: ${describeResult(pushAfter)}`);
    assert.match(pushAfter.stderr, AUTH_ERROR, describeResult(pushAfter));
    await podman.podmanChecked(['rmi', ref, otherRef]);
    const pullAfter = await transfer('pull', ref);
    assert.notEqual(pullAfter.code, 0, `pull after logout succeeded: ${describeResult(pullAfter)}`);
    assert.match(pullAfter.stderr, AUTH_ERROR, describeResult(pullAfter));
  });
});

describe('podman against regate in upstream mode in front of Distribution 2.8.2', () => {
  it('login, push, rmi, pull gives back the same image', async () => {
    const distribution = await startDistribution({ rootDir: join(tmp.path, 'distribution-root') });
    const front = await startTarget({ users: [ALICE], upstream: { url: distribution.url } });
    try {
      const frontCerts = join(tmp.path, 'upstream-certs');
      mkdirSync(frontCerts);
      copyFileSync(front.caFile, join(frontCerts, 'ca.crt'));
      const ref = `${front.host}/e2e/podman/upstream:v1`;
      const tarPath = writeBusyboxRootfsTar(join(tmp.path, 'busybox-upstream.tar'), `podman/upstream/${Date.now()}`);
      await podman.podmanChecked(['import', tarPath, ref]);
      const id = (await podman.podmanChecked(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.toString('utf8').trim();
      const loggedIn = await podman.podman(['login', '--authfile', podman.authFile, '--cert-dir', frontCerts, '--username', ALICE.username, '--password-stdin', front.host], { input: ALICE.password });
      assert.equal(loggedIn.code, 0, describeResult(loggedIn));
      const common = ['--authfile', podman.authFile, '--cert-dir', frontCerts, '--signature-policy', podman.policyFile];
      await podman.podmanChecked(['push', ...common, ref]);
      // The image is in Distribution's own storage.
      assert.equal((await fetch(`${distribution.url}/v2/e2e/podman/upstream/manifests/v1`, { method: 'HEAD', headers: { accept: MANIFEST_TYPES } })).status, 200);
      await podman.podmanChecked(['rmi', ref]);
      await podman.podmanChecked(['pull', ...common, ref]);
      const pulledId = (await podman.podmanChecked(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.toString('utf8').trim();
      assert.equal(pulledId, id, 'the pulled image differs from the pushed one');
      await podman.podmanChecked(['logout', '--authfile', podman.authFile, front.host]);
      await podman.podmanChecked(['rmi', ref]);
    } finally {
      await front.stop();
      await distribution.stop();
    }
  });
});

describe('skopeo copy with credentials', () => {
  let image: BuiltImage;
  let dest: string;
  /** skopeo's environment: an auth file that never holds anything, so only the flags give credentials. */
  let skopeoEnv: NodeJS.ProcessEnv;

  const skopeo = (args: readonly string[]): Promise<CommandResult> =>
    runCommand(requireProgram('skopeo', 'skopeo'), ['--insecure-policy', ...args], { env: skopeoEnv, timeoutMs: 90_000 });

  before(() => {
    image = buildOciImage({ dir: join(tmp.path, 'oci-src'), seed: 'e2e-podman-skopeo-auth', tag: 'v1' });
    dest = `docker://${target.host}/e2e/skopeo/image:v1`;
    skopeoEnv = { ...process.env, REGISTRY_AUTH_FILE: join(tmp.path, 'skopeo-auth-never-written.json') };
  });

  it('wrong or missing --dest-creds: the copy fails with an auth error', async () => {
    const wrong = await skopeo(['copy', '--dest-cert-dir', certDir, '--dest-creds', `${ALICE.username}:wrong`, image.pushRef, dest]);
    assert.notEqual(wrong.code, 0, describeResult(wrong));
    assert.match(wrong.stderr, AUTH_ERROR, describeResult(wrong));
    const none = await skopeo(['copy', '--dest-cert-dir', certDir, image.pushRef, dest]);
    assert.notEqual(none.code, 0, describeResult(none));
    assert.match(none.stderr, AUTH_ERROR, describeResult(none));
    const head = await targetRequest(target, 'HEAD', '/v2/e2e/skopeo/image/manifests/v1', { user: ALICE, accept: MANIFEST_TYPES });
    assert.equal(head.status, 404, 'a refused copy stored a manifest');
  });

  it('copy in with --dest-creds and back out with --src-creds, byte for byte', async () => {
    const push = await skopeo([
      'copy', '--all', '--preserve-digests', '--dest-cert-dir', certDir, '--dest-creds', `${CAROL.username}:${CAROL.password}`, image.pushRef, dest,
    ]);
    assert.equal(push.code, 0, describeResult(push));

    const wrong = await skopeo(['inspect', '--raw', '--cert-dir', certDir, '--creds', `${CAROL.username}:nope`, dest]);
    assert.notEqual(wrong.code, 0, describeResult(wrong));
    assert.match(wrong.stderr, AUTH_ERROR, describeResult(wrong));

    const out = join(tmp.path, 'oci-back');
    const pull = await skopeo([
      'copy', '--all', '--preserve-digests', '--src-cert-dir', certDir, '--src-creds', `${ALICE.username}:${ALICE.password}`, dest, `oci:${out}:v1`,
    ]);
    assert.equal(pull.code, 0, describeResult(pull));
    assert.deepEqual(diffPulledImage(image, readPulledImage(`oci:${out}:v1`)), []);
  });
});

describe('skopeo with per-repository access (regate.access)', () => {
  const CI: TestUser = { username: 'ci', password: 'ci-pull-0nly-pw' };
  const ANN: TestUser = { username: 'ann', password: 'ann-team-a-pw-1' };
  let guarded: TlsAuthTarget;
  let guardedCerts: string;
  let image: BuiltImage;
  let skopeoEnv: NodeJS.ProcessEnv;
  const skopeo = (args: readonly string[]): Promise<CommandResult> =>
    runCommand(requireProgram('skopeo', 'skopeo'), ['--insecure-policy', ...args], { env: skopeoEnv, timeoutMs: 90_000 });

  before(async () => {
    const groupsFile = join(tmp.path, 'access-groups');
    writeFileSync(groupsFile, 'team-a: ann\n');
    guarded = await startTarget({
      users: [CI, ANN],
      regate: {
        access: {
          groupsfile: groupsFile,
          rules: [
            { users: ['ci'], repositories: ['**'], actions: ['pull'] },
            { groups: ['team-a'], repositories: ['team-a/**'], actions: ['pull', 'push'] },
          ],
        },
      },
    });
    guardedCerts = join(tmp.path, 'guarded-certs');
    mkdirSync(guardedCerts);
    copyFileSync(guarded.caFile, join(guardedCerts, 'ca.crt'));
    image = buildOciImage({ dir: join(tmp.path, 'oci-access'), seed: 'e2e-skopeo-access', tag: 'v1' });
    skopeoEnv = { ...process.env, REGISTRY_AUTH_FILE: join(tmp.path, 'skopeo-access-auth-never-written.json') };
  });
  after(async () => guarded?.stop());

  it('a team copies in under its prefix only; a pull-only user copies out and cannot copy in', async () => {
    const creds = (u: TestUser): string => `${u.username}:${u.password}`;
    const own = `docker://${guarded.host}/team-a/app:v1`;
    const pushed = await skopeo(['copy', '--all', '--preserve-digests', '--dest-cert-dir', guardedCerts, '--dest-creds', creds(ANN), image.pushRef, own]);
    assert.equal(pushed.code, 0, describeResult(pushed));
    const elsewhere = await skopeo(['copy', '--dest-cert-dir', guardedCerts, '--dest-creds', creds(ANN), image.pushRef, `docker://${guarded.host}/team-b/app:v1`]);
    assert.notEqual(elsewhere.code, 0, describeResult(elsewhere));
    assert.match(elsewhere.stderr, /requested access to the resource is denied|403 \(Forbidden\)/, describeResult(elsewhere));

    const out = join(tmp.path, 'oci-access-back');
    const pulled = await skopeo(['copy', '--all', '--preserve-digests', '--src-cert-dir', guardedCerts, '--src-creds', creds(CI), own, `oci:${out}:v1`]);
    assert.equal(pulled.code, 0, describeResult(pulled));
    assert.deepEqual(diffPulledImage(image, readPulledImage(`oci:${out}:v1`)), []);
    const ciPush = await skopeo(['copy', '--dest-cert-dir', guardedCerts, '--dest-creds', creds(CI), image.pushRef, `docker://${guarded.host}/team-a/app:ci`]);
    assert.notEqual(ciPush.code, 0, describeResult(ciPush));
    assert.match(ciPush.stderr, /requested access to the resource is denied|403 \(Forbidden\)/, describeResult(ciPush));
    const head = await targetRequest(guarded, 'HEAD', '/v2/team-a/app/manifests/ci', { user: CI, accept: MANIFEST_TYPES });
    assert.equal(head.status, 404, 'the refused copy stored a manifest');
  });
});
