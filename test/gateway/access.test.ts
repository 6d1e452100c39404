// regate.access on a real gateway (TLS, htpasswd, the embedded registry on a temp filesystem): a
// pull-only user, per-team prefixes through a live groups file, the catalog filtered per user, a
// cross-repository mount that needs pull on its source, names that break the grammar, and a
// group change in service within a second. Upstream mode gets the same rules in front of a real
// Distribution 2.8.2.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, startGateway, type Gateway, type Reply } from '../support/gateway.js';
import { bytes, sha256 } from '../support/test-data.js';
import { makeTempDir, startDistribution, type RegistryHandle } from '../support/processes.js';

const PW = {
  ci: 'ci-Access-pw-1',
  ann: 'ann-Access-pw-1', // team-a
  bo: 'bo-Access-pw-1', // team-b
  root: 'root-Access-pw-1', // admins
  newbie: 'newbie-Access-pw-1', // in no group at first
};
const AS = (user: keyof typeof PW): [string, string] => [user, PW[user]];

function accessConfig(groupsFile: string): Record<string, unknown> {
  return {
    groupsfile: groupsFile,
    rules: [
      { groups: ['admins'], repositories: ['**'], actions: ['pull', 'push', 'delete'] },
      { users: ['ci'], repositories: ['**'], actions: ['pull'] },
      { groups: ['team-a'], repositories: ['team-a/**'], actions: ['pull', 'push'] },
      { groups: ['team-b'], repositories: ['team-b/**'], actions: ['pull', 'push'] },
      { users: ['*'], repositories: ['public/*'], actions: ['pull'] },
    ],
  };
}

const GROUPS = 'admins: root\nteam-a: ann\nteam-b: bo\n';

const errorCode = (r: Reply): string | undefined => (r.json() as { errors: Array<{ code: string }> }).errors[0]?.code;

/** POST, then PUT ?digest= with the bytes (what every registry takes); returns the refusal or the 201. */
async function pushBlob(gw: Gateway, repo: string, user: [string, string], data: Buffer): Promise<Reply> {
  const started = await gw.send('POST', `/v2/${repo}/blobs/uploads/`, { auth: user });
  if (started.status !== 202) return started;
  const location = new URL(started.header('location')!, 'https://registry.invalid');
  location.searchParams.set('digest', sha256(data));
  return gw.send('PUT', `${location.pathname}${location.search}`, {
    auth: user,
    body: data,
    headers: { 'content-type': 'application/octet-stream', 'content-length': data.length },
  });
}

function assertDenied(r: Reply, what: string): void {
  assert.equal(r.status, 403, `${what}: ${r.status} ${r.text()}`);
  assert.equal(errorCode(r), 'DENIED', what);
  assert.equal((r.json() as { errors: Array<{ message: string }> }).errors[0]!.message, 'requested access to the resource is denied');
}

describe('regate.access on the embedded registry', () => {
  let gw: Gateway;
  let groupsFile: string;
  const data = bytes(4096, 7);
  const tmp = makeTempDir('regate-access-groups-');
  after(() => tmp.remove());

  before(async () => {
    groupsFile = join(tmp.path, 'groups');
    writeFileSync(groupsFile, GROUPS);
    gw = await startGateway({ users: { ...PW }, config: { regate: { access: accessConfig(groupsFile) } } });
    // root (admin) seeds every repository the tests read.
    for (const repo of ['team-a/app', 'team-b/app', 'public/base', 'secret/vault']) {
      assert.equal((await pushBlob(gw, repo, AS('root'), data)).status, 201, repo);
    }
  });
  after(async () => gw?.close());

  test('a pull-only user pulls but cannot push or delete: 403 DENIED', async () => {
    assert.equal((await gw.send('GET', `/v2/team-a/app/blobs/${sha256(data)}`, { auth: AS('ci') })).status, 200);
    assert.equal((await gw.send('HEAD', `/v2/secret/vault/blobs/${sha256(data)}`, { auth: AS('ci') })).status, 200);
    assertDenied(await pushBlob(gw, 'team-a/app', AS('ci'), bytes(100, 1)), 'ci push');
    assertDenied(await gw.send('POST', '/v2/team-a/app/blobs/uploads/', { auth: AS('ci') }), 'ci upload start');
    assertDenied(await gw.send('PUT', '/v2/team-a/app/manifests/latest', { auth: AS('ci'), body: '{}', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } }), 'ci manifest put');
    assertDenied(await gw.send('DELETE', `/v2/team-a/app/blobs/${sha256(data)}`, { auth: AS('ci') }), 'ci delete');
  });

  test('teams push only under their prefix, and pull only there (plus public/*)', async () => {
    assert.equal((await pushBlob(gw, 'team-a/app', AS('ann'), bytes(200, 2))).status, 201);
    assert.equal((await pushBlob(gw, 'team-a/tools/lint', AS('ann'), bytes(200, 2))).status, 201, '** crosses components');
    assertDenied(await pushBlob(gw, 'team-b/app', AS('ann'), bytes(200, 2)), 'ann into team-b');
    assertDenied(await pushBlob(gw, 'team-a', AS('bo'), bytes(200, 2)), 'bo into team-a');
    assertDenied(await gw.send('GET', `/v2/team-b/app/blobs/${sha256(data)}`, { auth: AS('ann') }), 'ann reads team-b');
    assert.equal((await gw.send('GET', `/v2/public/base/blobs/${sha256(data)}`, { auth: AS('ann') })).status, 200);
    assertDenied(await gw.send('GET', `/v2/team-b/app/tags/list`, { auth: AS('newbie') }), 'newbie reads team-b');
    // Deleting was never given to teams.
    assertDenied(await gw.send('DELETE', `/v2/team-a/app/blobs/${sha256(data)}`, { auth: AS('ann') }), 'ann delete');
    // Admins do everything.
    assert.equal((await gw.send('DELETE', `/v2/team-a/tools/lint/blobs/${sha256(bytes(200, 2))}`, { auth: AS('root') })).status, 202);
  });

  test('the catalog lists only the repositories the user may pull', async () => {
    const list = async (user: keyof typeof PW): Promise<string[]> => {
      const r = await gw.send('GET', '/v2/_catalog', { auth: AS(user) });
      assert.equal(r.status, 200);
      return (r.json() as { repositories: string[] }).repositories;
    };
    assert.deepEqual(await list('ann'), ['public/base', 'team-a/app', 'team-a/tools/lint']);
    assert.deepEqual(await list('bo'), ['public/base', 'team-b/app']);
    assert.deepEqual(await list('newbie'), ['public/base']);
    assert.deepEqual(await list('ci'), ['public/base', 'secret/vault', 'team-a/app', 'team-a/tools/lint', 'team-b/app']);
  });

  test('a cross-repository mount needs pull on the source: without it a plain upload starts', async () => {
    const digest = sha256(data);
    const refused = await gw.send('POST', `/v2/team-a/copy/blobs/uploads/?mount=${digest}&from=secret/vault`, { auth: AS('ann') });
    assert.equal(refused.status, 202, `no mount from an unreadable repository: ${refused.text()}`);
    assert.ok(refused.header('location')?.includes('/v2/team-a/copy/blobs/uploads/'));
    assert.equal((await gw.send('HEAD', `/v2/team-a/copy/blobs/${digest}`, { auth: AS('root') })).status, 404, 'nothing was mounted');
    const mounted = await gw.send('POST', `/v2/team-a/copy/blobs/uploads/?mount=${digest}&from=public/base`, { auth: AS('ann') });
    assert.equal(mounted.status, 201);
    assert.equal((await gw.send('HEAD', `/v2/team-a/copy/blobs/${digest}`, { auth: AS('ann') })).status, 200);
  });

  test('a name outside the grammar is 400 NAME_INVALID before any rule is tried', async () => {
    for (const path of ['/v2/team-a%2Fx/tags/list', '/v2/Team-A/app/tags/list', '/v2/team-a/../secret/vault/tags/list']) {
      const r = await gw.send('GET', path, { auth: AS('ann') });
      assert.equal(r.status, 400, path);
      assert.equal(errorCode(r), 'NAME_INVALID', path);
    }
  });

  test('a group change is in service within a second', async () => {
    assertDenied(await pushBlob(gw, 'team-b/newbie', AS('newbie'), bytes(300, 3)), 'before');
    writeFileSync(groupsFile, `${GROUPS}team-b: newbie\n`);
    const took = await eventually('newbie in team-b', 1000, async () => (await pushBlob(gw, 'team-b/newbie', AS('newbie'), bytes(300, 3))).status === 201);
    assert.ok(took <= 1000);
    writeFileSync(groupsFile, GROUPS);
    await eventually('newbie out of team-b', 1000, async () => (await gw.send('GET', '/v2/team-b/newbie/tags/list', { auth: AS('newbie') })).status === 403);
  });

  test('the base endpoint and pings are untouched; no credentials is still 401', async () => {
    assert.equal((await gw.send('GET', '/v2/', { auth: AS('newbie') })).status, 200);
    assert.equal((await gw.send('GET', '/_ping')).status, 200);
    assert.equal((await gw.send('GET', '/v2/team-a/app/tags/list')).status, 401);
  });
});

describe('regate.access in upstream mode, in front of Distribution 2.8.2', () => {
  let distribution: RegistryHandle;
  let gw: Gateway;
  const tmp = makeTempDir('regate-access-upstream-');
  after(() => tmp.remove());

  before(async () => {
    distribution = await startDistribution({ rootDir: join(tmp.path, 'root') });
    const groupsFile = join(tmp.path, 'groups');
    writeFileSync(groupsFile, GROUPS);
    gw = await startGateway({
      users: { ...PW },
      config: { storage: null, regate: { upstream: { url: distribution.url }, access: accessConfig(groupsFile) } },
    });
    for (const repo of ['team-a/app', 'team-b/app', 'public/base']) {
      assert.equal((await pushBlob(gw, repo, AS('root'), bytes(512, 9))).status, 201, repo);
    }
  });
  after(async () => {
    await gw?.close();
    await distribution?.stop();
  });

  test('the same rules: denied pushes never reach the upstream; the catalog is filtered', async () => {
    assertDenied(await pushBlob(gw, 'team-b/app', AS('ann'), bytes(100, 4)), 'ann into team-b');
    assert.equal((await pushBlob(gw, 'team-a/app', AS('ann'), bytes(100, 4))).status, 201);
    assertDenied(await pushBlob(gw, 'public/base', AS('ci'), bytes(100, 4)), 'ci push');
    const catalog = await gw.send('GET', '/v2/_catalog', { auth: AS('bo') });
    assert.equal(catalog.status, 200);
    assert.deepEqual((catalog.json() as { repositories: string[] }).repositories, ['public/base', 'team-b/app']);
    // Distribution itself has what root pushed, and nothing ann was denied.
    const direct = (await (await fetch(`${distribution.url}/v2/_catalog`)).json()) as { repositories: string[] };
    assert.deepEqual(direct.repositories, ['public/base', 'team-a/app', 'team-b/app']);
    const tags = await fetch(`${distribution.url}/v2/team-b/app/blobs/${sha256(bytes(100, 4))}`, { method: 'HEAD' });
    assert.equal(tags.status, 404);
  });

  test('catalog paging with n=1 shows only visible names: the Link never names another one', async () => {
    const seen: string[] = [];
    let path: string | undefined = '/v2/_catalog?n=1';
    for (let i = 0; path && i < 10; i++) {
      const page = await gw.send('GET', path, { auth: AS('bo') });
      assert.equal(page.status, 200);
      seen.push(...(page.json() as { repositories: string[] }).repositories);
      const link = page.header('link');
      if (link) assert.doesNotMatch(decodeURIComponent(link), /team-a/, 'the Link names a repository bo may not see');
      path = link ? /<([^>]+)>/.exec(link)![1] : undefined;
    }
    assert.deepEqual(seen, ['public/base', 'team-b/app']);
  });

  test('a cross-repository mount needs pull on the source: from an unreadable one the upstream gets a plain upload', async () => {
    const digest = sha256(bytes(512, 9)); // in team-b/app and public/base, pushed by root
    const refused = await gw.send('POST', `/v2/team-a/mounted/blobs/uploads/?mount=${digest}&from=team-b/app`, { auth: AS('ann') });
    assert.equal(refused.status, 202, `no mount from an unreadable repository: ${refused.status} ${refused.text()}`);
    const direct = await fetch(`${distribution.url}/v2/team-a/mounted/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(direct.status, 404, 'Distribution mounted nothing: the from it got was dropped');
    const mounted = await gw.send('POST', `/v2/team-a/mounted/blobs/uploads/?mount=${digest}&from=public/base`, { auth: AS('ann') });
    assert.equal(mounted.status, 201, `a readable source mounts: ${mounted.text()}`);
    assert.equal((await fetch(`${distribution.url}/v2/team-a/mounted/blobs/${digest}`, { method: 'HEAD' })).status, 200);
  });

  test('nothing the upstream would read differently gets through: %-encoded paths, duplicate or unparsable mount sources, form bodies', async () => {
    const encoded = await gw.send('GET', `/v2/team-a/app/manifests/x%2Fblobs%2F${sha256(bytes(512, 9))}`, { auth: AS('ann') });
    assert.equal(encoded.status, 400);
    const digest = sha256(bytes(512, 9));
    for (const query of [`mount=${digest}&from=team-a/app&from=team-b/app`, `mount=${digest}&from=public/x%ZZ&from=team-b/app`, `mount=${digest}&from=team-b/app;x`]) {
      const started = await gw.send('POST', `/v2/team-a/copy/blobs/uploads/?${query}`, { auth: AS('ann') });
      assert.equal(started.status, 202, `${query}: ${started.text()}`);
    }
    const direct = await fetch(`${distribution.url}/v2/team-a/copy/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(direct.status, 404, 'nothing was mounted from team-b/app');
    const form = await gw.send('POST', '/v2/team-a/copy/blobs/uploads/', {
      auth: AS('ann'),
      body: `mount=${digest}&from=team-b/app`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 400);
  });

  test('the catalog is GET only: another method is 405 here, never served or forwarded', async () => {
    const r = await gw.send('POST', '/v2/_catalog', { auth: AS('bo') });
    assert.equal(r.status, 405);
  });

  test('a path that is no API endpoint is refused here, never forwarded', async () => {
    const r = await gw.send('GET', '/v2/team-a/app/_something/else', { auth: AS('ann') });
    assert.equal(r.status, 404);
  });
});
