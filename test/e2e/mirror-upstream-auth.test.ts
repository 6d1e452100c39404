// Mirrors in front of upstreams that want credentials, all real: CNCF Distribution 2.8.2 with its
// token auth (`auth.token`, JWTs from a token server the harness runs, signed as Docker Hub's are)
// and another with htpasswd (Basic). A token is asked for once per repository however many pulls
// need it at once, with the mirror's credentials only when the realm is on the upstream's own
// host; a mirror without credentials pulls public repositories anonymously and says why it cannot
// pull a private one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '../support/test-data.js';
import { buildOciImage, type BuiltImage } from '../support/image-builder.js';
import { makeTempDir, skopeo, startDistribution, type RegistryHandle } from '../support/processes.js';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { errorCode, htpasswdText, startGateway, type Gateway } from '../support/gateway.js';

const USER: [string, string] = ['dev', 'mirror-auth-9'];
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

const tmp = makeTempDir('regate-mirror-auth-');
let tokens: TokenServer;
let tokenUpstream: RegistryHandle;
let basicUpstream: RegistryHandle;
let gw: Gateway;
let privateImage: BuiltImage;
let publicImage: BuiltImage;

before(async () => {
  tokens = await startTokenServer({ dir: tmp.path, users: { seed: 'seed-pw', puller: 'pull-pw' }, publicRepositories: ['library/public'] });
  tokenUpstream = await startDistribution({ rootDir: join(tmp.path, 'token-upstream'), extraYaml: tokens.distributionAuthYaml() });
  const htpasswd = join(tmp.path, 'upstream.htpasswd');
  writeFileSync(htpasswd, await htpasswdText({ seed: 'seed-pw', puller: 'pull-pw' }));
  basicUpstream = await startDistribution({ rootDir: join(tmp.path, 'basic-upstream'), extraYaml: `auth:\n  htpasswd:\n    realm: basic-upstream\n    path: ${htpasswd}\n` });
  privateImage = buildOciImage({ dir: join(tmp.path, 'private'), seed: 'mirror-auth-private' });
  publicImage = buildOciImage({ dir: join(tmp.path, 'public'), seed: 'mirror-auth-public' });
  const seed = ['--dest-tls-verify=false', '--dest-creds', 'seed:seed-pw'];
  await skopeo(['copy', ...seed, privateImage.pushRef, `docker://${tokenUpstream.host}/team/private:1`]);
  await skopeo(['copy', ...seed, publicImage.pushRef, `docker://${tokenUpstream.host}/library/public:1`]);
  await skopeo(['copy', ...seed, privateImage.pushRef, `docker://${basicUpstream.host}/team/app:1`]);
  const port = new URL(tokenUpstream.url).port;
  gw = await startGateway({
    users: { [USER[0]]: USER[1] },
    config: {
      regate: {
        mirrors: [
          { name: 'tok.io', url: tokenUpstream.url, username: 'puller', password: 'pull-pw' },
          { name: 'anon.io', url: tokenUpstream.url },
          { name: 'basic.io', url: basicUpstream.url, username: 'puller', password: 'pull-pw' },
          // The same upstream by another host name than its token realm's: no credentials go there.
          { name: 'elsewhere.io', url: `http://localhost:${port}`, username: 'puller', password: 'pull-pw' },
        ],
      },
    },
  });
});

after(async () => {
  await gw?.close();
  await tokenUpstream?.stop();
  await basicUpstream?.stop();
  await tokens?.close();
  tmp.remove();
});

const get = (path: string) => gw.send('GET', path, { auth: USER, headers: { Accept: ACCEPT } });

async function pullAll(repo: string, image: BuiltImage): Promise<void> {
  const manifest = await get(`/v2/${repo}/manifests/1`);
  assert.equal(manifest.status, 200, manifest.text());
  assert.ok(manifest.body.equals(image.top.bytes));
  for (const blob of image.blobs.values()) {
    if (blob.digest === image.top.digest) continue;
    const got = await get(`/v2/${repo}/blobs/${blob.digest}`);
    assert.equal(got.status, 200);
    assert.equal(sha256(got.body), blob.digest);
  }
}

describe('mirrors of upstreams that want credentials', { timeout: 300_000 }, () => {
  it('Bearer tokens: 8 pulls at once ask the realm once, with the mirror\'s credentials; the image is the upstream\'s', async () => {
    const challenge = await fetch(`${tokenUpstream.url}/v2/team/private/manifests/1`);
    assert.equal(challenge.status, 401, 'the upstream wants a token');
    assert.match(challenge.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
    await Promise.all(Array.from({ length: 8 }, () => pullAll('tok.io/team/private', privateImage)));
    const asked = tokens.requests.filter((r) => r.scope === 'repository:team/private:pull');
    assert.equal(asked.length, 1, JSON.stringify(tokens.requests));
    assert.equal(asked[0]!.user, 'puller');
    assert.equal(asked[0]!.service, tokens.service);
  });

  it('anonymous: a public repository pulls with an anonymous token; a private one is refused, and the client is told why', async () => {
    await pullAll('anon.io/library/public', publicImage);
    assert.ok(tokens.requests.some((r) => r.scope === 'repository:library/public:pull' && r.user === undefined));
    const refused = await get('/v2/anon.io/team/private/manifests/1');
    assert.equal(refused.status, 503);
    assert.equal(errorCode(refused), 'UNAVAILABLE');
    assert.match(refused.text(), /\(auth\)/);
  });

  it('credentials never go to a token realm on another host than the upstream\'s', async () => {
    const before = tokens.requests.length;
    const refused = await get('/v2/elsewhere.io/team/private/manifests/1');
    assert.equal(refused.status, 503);
    const asked = tokens.requests.slice(before);
    assert.ok(asked.length >= 1);
    assert.ok(asked.every((r) => r.user === undefined && !r.refused), JSON.stringify(asked));
    assert.ok(!gw.logs.some((l) => l.includes('pull-pw')), 'the password is never logged');
  });

  it('Basic: an htpasswd upstream pulls with the mirror\'s credentials', async () => {
    const challenge = await fetch(`${basicUpstream.url}/v2/team/app/manifests/1`);
    assert.equal(challenge.status, 401, 'the upstream wants credentials');
    assert.match(challenge.headers.get('www-authenticate') ?? '', /^Basic /);
    await pullAll('basic.io/team/app', privateImage);
  });
});
