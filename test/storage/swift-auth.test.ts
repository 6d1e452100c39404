// Swift auth paths against the real all-in-one: v1 (tempauth) with refused credentials, Keystone
// v2.0 with a tenant and v3 request shapes through the harness's minimal token endpoint (see
// test/support/keystone-minimal.ts: no Keystone that runs here speaks v2.0), endpoint choice by
// region and interface, and secrets kept out of every error message.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { wrapDriver } from '../../src/storage/base-driver.js';
import { SwiftDriver } from '../../src/storage/drivers/swift.js';
import { detectAuthVersion } from '../../src/swift/auth.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { startMinimalKeystone, type MinimalKeystone } from '../support/keystone-minimal.js';
import { swiftOptions } from '../support/swift-options.js';

let swift: SwiftAio;
let keystone: MinimalKeystone;
const PASSWORD = 'ks-secret-Pa55word';

before(async () => {
  swift = await startSwiftAio();
  keystone = await startMinimalKeystone({
    v1: { authUrl: swift.authUrl, username: swift.username, password: swift.password },
    username: 'admin',
    password: PASSWORD,
    tenant: 'admin',
    region: 'RegionOne',
  });
});
after(async () => {
  await keystone?.close();
  await swift?.stop();
});

async function roundTrip(driver: SwiftDriver): Promise<void> {
  const d = wrapDriver(driver);
  try {
    await d.putContent('/auth/check', Buffer.from('through the catalog'));
    assert.deepEqual(await d.getContent('/auth/check'), Buffer.from('through the catalog'));
  } finally {
    driver.close();
  }
}

async function failure(driver: SwiftDriver): Promise<Error> {
  try {
    await wrapDriver(driver).putContent('/auth/check', Buffer.from('x'));
  } catch (err) {
    return err as Error;
  } finally {
    driver.close();
  }
  throw new Error('expected the call to fail');
}

describe('Swift auth', () => {
  it('picks the auth version from the URL unless authversion says otherwise', () => {
    const o = swiftOptions(swift, 'c');
    assert.equal(detectAuthVersion({ ...o, authUrl: 'http://k:5000/v3' }), 3);
    assert.equal(detectAuthVersion({ ...o, authUrl: 'http://k:5000/v2.0' }), 2);
    assert.equal(detectAuthVersion({ ...o, authUrl: 'http://rgw:7480/auth/v1' }), 1);
    assert.equal(detectAuthVersion({ ...o, authUrl: 'http://k:5000/', authVersion: 3 }), 3);
  });

  it('v1: refused credentials are a clear error without the key in it', async () => {
    const err = await failure(new SwiftDriver(swiftOptions(swift, 'v1-bad', { password: 'wrong-key-xyz' })));
    assert.match(err.message, /refused the credentials of user demo:swift/);
    assert.ok(!err.message.includes('wrong-key-xyz'));
  });

  it('Keystone v2.0 with a tenant (seed 002): the object-store endpoint of the configured region', async () => {
    await roundTrip(new SwiftDriver(swiftOptions(swift, 'v2-ok', { authUrl: `${keystone.url}/v2.0`, username: 'admin', password: PASSWORD, tenant: 'admin', region: 'RegionOne' })));
    const sent = keystone.requests.at(-1)!;
    assert.equal(sent.path, '/v2.0/tokens');
    assert.deepEqual(sent.body, { auth: { passwordCredentials: { username: 'admin', password: PASSWORD }, tenantName: 'admin' } });
  });

  it('Keystone v2.0: a wrong password or an unknown region fails clearly, naming no secret', async () => {
    const bad = await failure(new SwiftDriver(swiftOptions(swift, 'v2-bad', { authUrl: `${keystone.url}/v2.0`, username: 'admin', password: 'not-it-123', tenant: 'admin' })));
    assert.match(bad.message, /Keystone v2\.0 at .* refused the credentials \(HTTP 401\)/);
    assert.ok(!bad.message.includes('not-it-123'));
    const region = await failure(new SwiftDriver(swiftOptions(swift, 'v2-region', { authUrl: `${keystone.url}/v2.0`, username: 'admin', password: PASSWORD, tenant: 'admin', region: 'Mars' })));
    assert.match(region.message, /no public object-store endpoint in region Mars/);
    assert.ok(!region.message.includes(PASSWORD));
  });

  it('Keystone v3: password with user and project domains, and application credentials without a scope', async () => {
    await roundTrip(
      new SwiftDriver(swiftOptions(swift, 'v3-pw', { authUrl: `${keystone.url}/v3`, username: 'admin', password: PASSWORD, domain: 'Default', tenant: 'admin', tenantDomain: 'Default', region: 'RegionOne', endpointType: 'internal' })),
    );
    assert.deepEqual(keystone.requests.at(-1)!.body, {
      auth: {
        identity: { methods: ['password'], password: { user: { password: PASSWORD, name: 'admin', domain: { name: 'Default' } } } },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    });
    await roundTrip(new SwiftDriver(swiftOptions(swift, 'v3-app', { authUrl: `${keystone.url}/v3`, applicationCredentialId: 'app-1', applicationCredentialSecret: PASSWORD, region: 'RegionOne' })));
    assert.deepEqual(keystone.requests.at(-1)!.body, {
      auth: { identity: { methods: ['application_credential'], application_credential: { secret: PASSWORD, id: 'app-1' } } },
    });
    await roundTrip(new SwiftDriver(swiftOptions(swift, 'v3-trust', { authUrl: `${keystone.url}/v3`, username: 'admin', password: PASSWORD, trustId: 'trust-9', region: 'RegionOne' })));
    assert.deepEqual(keystone.requests.at(-1)!.body.auth.scope, { 'OS-TRUST:trust': { id: 'trust-9' } });
  });

  it('a token is reused across requests, not fetched per request', async () => {
    const driver = new SwiftDriver(swiftOptions(swift, 'reuse'));
    const d = wrapDriver(driver);
    try {
      for (let i = 0; i < 20; i++) await d.putContent(`/reuse/${i}`, Buffer.from(String(i)));
      assert.equal(driver.client.tokens.authCount, 1);
    } finally {
      driver.close();
    }
  });
});
