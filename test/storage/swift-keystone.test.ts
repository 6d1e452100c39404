// Keystone v3 against a real Keystone (Debian's python3-keystone under uwsgi) and a Swift proxy
// that authenticates through it (authtoken + keystoneauth) over the all-in-one's servers: password
// auth with user and project in different domains, by name and by id, application credentials by
// id and by name, a trust, refusals that name no secret, a role that keystoneauth refuses, a token
// revoked under the driver (one re-auth), tokens that expire between requests, and a push and pull
// through `regate serve` configured the way seed 002 configures Keystone.
//
// Keystone's tokens live 20 s here, so the refresh before expiry happens within the test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { wrapDriver } from '../../src/storage/base-driver.js';
import { SwiftDriver } from '../../src/storage/drivers/swift.js';
import type { SwiftOptions } from '../../src/swift/swift-options.js';
import { KEYSTONE_VALIDATION_CACHE_SECONDS, startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { startKeystone, provisionRegistryTenant, type Keystone, type RegistryTenant } from '../support/keystone.js';
import { freePort, makeTempDir, regateConfigYaml, skopeo, startRegate } from '../support/processes.js';
import { buildOciImage } from '../support/image-builder.js';
import { pullAndCompare } from '../support/pull-compare.js';

const TOKEN_LIFE_SECONDS = 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let swift: SwiftAio;
let keystone: Keystone;
let tenant: RegistryTenant;
let proxyUrl: string;
const tmp = makeTempDir('regate-keystone-');

before(async () => {
  swift = await startSwiftAio();
  keystone = await startKeystone({ tokenLifeSeconds: TOKEN_LIFE_SECONDS });
  const port = await freePort();
  tenant = await provisionRegistryTenant(keystone, `http://127.0.0.1:${port}`);
  proxyUrl = await swift.startKeystoneProxy({
    port,
    keystoneUrl: keystone.url,
    serviceUser: keystone.adminUser,
    servicePassword: keystone.adminPassword,
    serviceProject: keystone.adminProject,
  });
});
after(async () => {
  await keystone?.stop();
  await swift?.stop();
  tmp.remove();
});

function v3(container: string, identity: Partial<SwiftOptions>): SwiftOptions {
  return {
    authUrl: `${keystone.url}/v3`,
    container,
    region: 'RegionOne',
    endpointType: 'public',
    insecureSkipVerify: false,
    prefix: '',
    chunkSize: 1024 * 1024,
    tempUrlContainerKey: false,
    tempUrlMethods: [],
    maxSockets: 16,
    ...identity,
  };
}

const passwordIdentity = (): Partial<SwiftOptions> => ({
  username: tenant.user.name,
  password: tenant.user.password,
  domain: tenant.user.domainName,
  tenant: tenant.project.name,
  tenantDomain: tenant.project.domainName,
});

/** A write and a read through the driver; the driver creates the container when it is missing. */
async function roundTrip(driver: SwiftDriver, path = '/keystone/check'): Promise<void> {
  const d = wrapDriver(driver);
  const bytes = Buffer.from(`through Keystone ${path}`);
  await d.putContent(path, bytes);
  assert.deepEqual(await d.getContent(path), bytes);
}

async function failure(driver: SwiftDriver): Promise<Error> {
  try {
    await wrapDriver(driver).putContent('/keystone/check', Buffer.from('x'));
  } catch (err) {
    return err as Error;
  } finally {
    driver.close();
  }
  throw new Error('expected the call to fail');
}

/**
 * The container as Keystone's own token for the user sees it: proves where the driver wrote.
 * Now and then (a few runs in a hundred, under CI load) the authtoken proxy refuses a token
 * Keystone has just issued with a 401, fast, for a few seconds in a row (once three tries 1.1 s
 * apart all met it); a token fetched later is accepted. This probe is the test's own look, not the
 * driver's behaviour, so it asks for a new token then, for up to about 12 s, and a final refusal
 * says what each try was answered.
 */
async function objectThroughKeystone(container: string, object: string): Promise<string> {
  const refusals: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const login = await keystone.call('POST', '/v3/auth/tokens', {
      auth: { identity: { methods: ['password'], password: { user: { id: tenant.user.id, password: tenant.user.password } } }, scope: { project: { id: tenant.project.id } } },
    });
    const res = await fetch(`${proxyUrl}/v1/AUTH_${tenant.project.id}/${container}/${object}`, { headers: { 'x-auth-token': login.headers.get('x-subject-token')! } });
    if (res.status === 401 && attempt < 8) {
      refusals.push(`login ${login.status}, GET 401 ${(await res.text()).slice(0, 120)}`);
      await sleep(500 * attempt);
      continue;
    }
    assert.equal(res.status, 200, `GET ${container}/${object} through the Keystone proxy (earlier tries: ${refusals.join('; ') || 'none'})`);
    return res.text();
  }
}

describe('Swift through a real Keystone v3', () => {
  it('password: user and project in different domains, by name; the container is created in the project', async () => {
    const driver = new SwiftDriver(v3('ks-password', passwordIdentity()));
    try {
      await roundTrip(driver);
    } finally {
      driver.close();
    }
    assert.equal(await objectThroughKeystone('ks-password', 'files/keystone/check'), 'through Keystone /keystone/check');
  });

  it('password by ids (userid, tenantid) and by domain id', async () => {
    for (const identity of [
      { userId: tenant.user.id, password: tenant.user.password, tenantId: tenant.project.id },
      { username: tenant.user.name, domainId: tenant.user.domainId, password: tenant.user.password, tenantId: tenant.project.id },
    ]) {
      const driver = new SwiftDriver(v3('ks-ids', identity));
      try {
        await roundTrip(driver);
      } finally {
        driver.close();
      }
    }
  });

  it('application credential by id and secret, and by name with its user', async () => {
    for (const identity of [
      { applicationCredentialId: tenant.appCredential.id, applicationCredentialSecret: tenant.appCredential.secret },
      { applicationCredentialName: tenant.appCredential.name, applicationCredentialSecret: tenant.appCredential.secret, username: tenant.user.name, domain: tenant.user.domainName },
    ]) {
      const driver = new SwiftDriver(v3('ks-appcred', identity));
      try {
        await roundTrip(driver);
      } finally {
        driver.close();
      }
    }
    assert.equal(await objectThroughKeystone('ks-appcred', 'files/keystone/check'), 'through Keystone /keystone/check');
  });

  it('trust: the trustee works in the trustor\'s project', async () => {
    const driver = new SwiftDriver(v3('ks-trust', { username: tenant.trustee.name, password: tenant.trustee.password, trustId: tenant.trustee.trustId }));
    try {
      await roundTrip(driver);
    } finally {
      driver.close();
    }
    assert.equal(await objectThroughKeystone('ks-trust', 'files/keystone/check'), 'through Keystone /keystone/check');
  });

  it('a wrong password or a wrong application-credential secret is refused clearly, naming no secret', async () => {
    const bad = await failure(new SwiftDriver(v3('ks-bad', { ...passwordIdentity(), password: 'not-the-Pa55word' })));
    assert.match(bad.message, /Keystone v3 at http:\/\/127\.0\.0\.1:\d+\/v3 refused the credentials \(HTTP 401\)/);
    assert.ok(!bad.message.includes('not-the-Pa55word'));
    const badSecret = await failure(new SwiftDriver(v3('ks-bad', { applicationCredentialId: tenant.appCredential.id, applicationCredentialSecret: 'wrong-secret-42' })));
    assert.match(badSecret.message, /refused the credentials \(HTTP 401\)/);
    assert.ok(!badSecret.message.includes('wrong-secret-42') && !badSecret.message.includes(tenant.appCredential.secret));
  });

  it('a user with only the member role is refused by keystoneauth (403), clearly', async () => {
    const err = await failure(new SwiftDriver(v3('ks-member', {
      username: tenant.memberOnly.name,
      password: tenant.memberOnly.password,
      domain: tenant.memberOnly.domainName,
      tenant: tenant.project.name,
      tenantDomain: tenant.project.domainName,
    })));
    assert.match(err.message, /HTTP 403/);
    assert.ok(!err.message.includes(tenant.memberOnly.password));
  });

  it(`tokens that expire between requests (${TOKEN_LIFE_SECONDS} s here) are renewed`, async () => {
    const driver = new SwiftDriver(v3('ks-expiry', { applicationCredentialId: tenant.appCredential.id, applicationCredentialSecret: tenant.appCredential.secret }));
    try {
      await roundTrip(driver, '/first');
      await sleep((TOKEN_LIFE_SECONDS + 1) * 1000);
      await roundTrip(driver, '/second');
    } finally {
      driver.close();
    }
  });

  it('regate serve with storage.swift on Keystone v3 (application credential): skopeo pushes and pulls back byte-identical', async () => {
    const regate = await startRegate({
      configYaml: regateConfigYaml({
        swift: {
          authurl: `${keystone.url}/v3`,
          authversion: 3,
          applicationcredentialid: tenant.appCredential.id,
          applicationcredentialsecret: tenant.appCredential.secret,
          region: 'RegionOne',
          container: 'ks-registry',
          chunksize: 1048576,
        },
      }),
    });
    try {
      const image = buildOciImage({ dir: join(tmp.path, 'src'), seed: 'keystone-e2e', tag: 'v1' });
      await skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', image.pushRef, `docker://${regate.host}/keystone/app:v1`]);
      await pullAndCompare(regate, image, 'keystone/app', join(tmp.path, 'out'));
      assert.ok(!regate.output().includes(tenant.appCredential.secret), 'the secret never reaches the log');
    } catch (err) {
      console.log(regate.output().split('\n').filter((l) => /error|warn/.test(l)).join('\n'));
      throw err;
    } finally {
      await regate.stop();
    }
  });
  // Last: it revokes the user's tokens, which must not touch the tests before it.
  it('a token revoked under the driver: one re-auth, and the request goes through', async () => {
    const driver = new SwiftDriver(v3('ks-revoke', passwordIdentity()));
    try {
      await roundTrip(driver, '/before');
      const admin = await keystone.adminToken();
      const probe = await keystone.call('POST', '/v3/auth/tokens', {
        auth: { identity: { methods: ['password'], password: { user: { id: tenant.user.id, password: tenant.user.password } } }, scope: { project: { id: tenant.project.id } } },
      });
      const oldToken = probe.headers.get('x-subject-token')!;
      // Setting the password (to the same value) revokes every token the user holds.
      const reset = await keystone.call('PATCH', `/v3/users/${tenant.user.id}`, { user: { password: tenant.user.password } }, admin);
      assert.equal(reset.status, 200, JSON.stringify(reset.body));
      // Revocation is by issue time at one-second resolution: a token issued in the same second counts as revoked.
      await sleep(1100);
      const refused = await fetch(`${proxyUrl}/v1/AUTH_${tenant.project.id}/ks-revoke`, { headers: { 'x-auth-token': oldToken } });
      assert.equal(refused.status, 401, 'a token issued before the revocation is refused');
      // Wait until Keystone hands out tokens the proxy accepts again (its revocation check has a
      // one-second resolution and a busy single-threaded Keystone can lag): what is tested here is
      // the driver's renewal, not Keystone's timing.
      const settle = async (): Promise<void> => {
        for (let i = 0; ; i++) {
          const fresh = await keystone.call('POST', '/v3/auth/tokens', {
            auth: { identity: { methods: ['password'], password: { user: { id: tenant.user.id, password: tenant.user.password } } }, scope: { project: { id: tenant.project.id } } },
          });
          const accepted = await fetch(`${proxyUrl}/v1/AUTH_${tenant.project.id}/ks-revoke`, { headers: { 'x-auth-token': fresh.headers.get('x-subject-token')! } });
          if (accepted.status < 300) break;
          assert.ok(i < 20, `a fresh token is still refused (${accepted.status}) 10 s after the revocation`);
          await sleep(500);
        }
        // The proxy may still hold the driver's old token as validated: wait that out, so the next
        // request really meets the revocation and the driver's renewal is what lets it through.
        await sleep(KEYSTONE_VALIDATION_CACHE_SECONDS * 1000 + 200);
      };
      await settle();
      try {
        await roundTrip(driver, '/after');
      } catch (err) {
        // Under CI load this Keystone + proxy pair has, once in a while, refused fresh tokens again
        // for several seconds after accepting one (cause not found: it vanished when instrumented).
        // The driver holds a refused token either way: once Keystone has settled again, its
        // renewal must let the request through.
        if (!/HTTP 401/.test(String(err))) throw err;
        await settle();
        await roundTrip(driver, '/after');
      }
    } finally {
      driver.close();
    }
  });
});
