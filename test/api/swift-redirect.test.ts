// TempURL redirects on a real OpenStack Swift (tempurl middleware in the harness's proxy): with
// `secretkey`, a blob GET answers 307 to a signed URL the client fetches from Swift without a
// token; a blob stored as a large object is never redirected (Swift would serve it through its
// rate-limited manifest); HEAD is never redirected; `storage.redirect.disable` turns it off; the
// key can live on the container (`tempurlcontainerkey`); an expired URL is refused by Swift; and
// skopeo pulls a whole image through the redirects, byte for byte. On a real Ceph RGW: the account
// key works (sha1 signatures); a container key, which RGW 16 ignores, is found out by the probe and
// blobs are served directly instead of redirecting clients into a 401.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { wrapDriver } from '../../src/storage/base-driver.js';
import { SwiftDriver } from '../../src/storage/drivers/swift.js';
import { TempUrlSigner, TEMP_URL_LIFETIME_MS } from '../../src/swift/temp-url.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { startCephRgw, type CephRgw } from '../support/ceph-rgw.js';
import { swiftOptions } from '../support/swift-options.js';
import { makeTempDir, regateConfigYaml, skopeo, startRegate } from '../support/processes.js';
import { buildOciImage } from '../support/image-builder.js';
import { pullAndCompare } from '../support/pull-compare.js';
import { bytes, pushBlob, startTestRegistry, type DriverFactory, type TestRegistry } from './harness.js';

const SECRET = 'tempurl-Secret-Key-123';
let swift: SwiftAio;
const tmp = makeTempDir('regate-redirect-');

before(async () => {
  swift = await startSwiftAio();
});
after(async () => {
  await swift?.stop();
  tmp.remove();
});

function factory(overrides: Parameters<typeof swiftOptions>[2] = {}, backend: Parameters<typeof swiftOptions>[0] = swift): DriverFactory {
  return {
    name: 'swift',
    async make() {
      const driver = new SwiftDriver(swiftOptions(backend, `redirect-${randomBytes(4).toString('hex')}`, { secretKey: SECRET, ...overrides }));
      return { driver: wrapDriver(driver), cleanup: async () => driver.close() };
    },
  };
}

async function withRegistry(
  settings: { redirect: boolean },
  overrides: Parameters<typeof swiftOptions>[2],
  run: (reg: TestRegistry) => Promise<void>,
  backend: Parameters<typeof swiftOptions>[0] = swift,
  logger?: { warn(message: string, meta?: Record<string, unknown>): void; error(message: string): void },
): Promise<void> {
  const reg = await startTestRegistry(factory(overrides, backend), settings, logger);
  try {
    await run(reg);
  } finally {
    await reg.close();
  }
}

describe('TempURL redirects (Swift, secretkey)', () => {
  it('a small blob: GET answers 307 to a signed Swift URL that serves the bytes without a token', async () => {
    await withRegistry({ redirect: true }, {}, async (reg) => {
      const data = bytes(200 * 1024, 7);
      const digest = await pushBlob(reg, 'redir/small', data);
      const res = await reg.request('GET', `/v2/redir/small/blobs/${digest}`);
      assert.equal(res.status, 307);
      assert.equal(res.header('docker-content-digest'), digest);
      const location = res.header('location')!;
      assert.ok(location.startsWith(`${swift.proxyUrl}/v1/`), location);
      assert.match(location, /temp_url_sig=[0-9a-f]{64}&temp_url_expires=\d+$/, 'sha256 signature');
      const direct = await fetch(location);
      assert.equal(direct.status, 200);
      assert.ok(Buffer.from(await direct.arrayBuffer()).equals(data));
      // A Range goes to Swift along with the redirect.
      const ranged = await fetch(location, { headers: { range: 'bytes=10-19' } });
      assert.equal(ranged.status, 206);
      assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(10, 20)));

      const head = await reg.request('HEAD', `/v2/redir/small/blobs/${digest}`);
      assert.equal(head.status, 200, 'HEAD is answered here');
      assert.equal(head.header('content-length'), String(data.length));
    });
  });

  it('a blob stored as a large object is served by regate itself, never through a redirect', async () => {
    await withRegistry({ redirect: true }, {}, async (reg) => {
      const data = bytes(3 * 1024 * 1024 + 5, 8); // 1 MiB segments: four of them
      const digest = await pushBlob(reg, 'redir/large', data);
      const res = await reg.request('GET', `/v2/redir/large/blobs/${digest}`);
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(data));
    });
  });

  it('storage.redirect.disable: blobs are served directly', async () => {
    await withRegistry({ redirect: false }, {}, async (reg) => {
      const data = bytes(4096, 9);
      const digest = await pushBlob(reg, 'redir/off', data);
      const res = await reg.request('GET', `/v2/redir/off/blobs/${digest}`);
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(data));
    });
  });

  it('no secretkey, no redirect', async () => {
    await withRegistry({ redirect: true }, { secretKey: undefined }, async (reg) => {
      const digest = await pushBlob(reg, 'redir/nokey', bytes(4096, 10));
      assert.equal((await reg.request('GET', `/v2/redir/nokey/blobs/${digest}`)).status, 200);
    });
  });

  it('tempurlcontainerkey: the key is the container\'s, and the URL works', async () => {
    await withRegistry({ redirect: true }, { tempUrlContainerKey: true, secretKey: 'container-Key-456' }, async (reg) => {
      const data = bytes(10_000, 11);
      const digest = await pushBlob(reg, 'redir/container', data);
      const res = await reg.request('GET', `/v2/redir/container/blobs/${digest}`);
      assert.equal(res.status, 307);
      const direct = await fetch(res.header('location')!);
      assert.equal(direct.status, 200);
      assert.ok(Buffer.from(await direct.arrayBuffer()).equals(data));
    });
  });

  it('an expired URL is refused by Swift; a URL for another object does not open it', async () => {
    const driver = new SwiftDriver(swiftOptions(swift, 'redirect-expiry', { secretKey: SECRET }));
    try {
      const d = wrapDriver(driver);
      await d.putContent('/a', Buffer.from('object a'));
      await d.putContent('/b', Buffer.from('object b'));
      const signer = new TempUrlSigner(driver.client, SECRET, false, 'probe');
      const live = (await signer.sign('files/a', 'GET'))!;
      assert.equal((await fetch(live)).status, 200);
      const expired = (await signer.sign('files/a', 'GET', Date.now() - TEMP_URL_LIFETIME_MS - 60_000))!;
      assert.equal((await fetch(expired)).status, 401);
      const forged = live.replace('/files/a?', '/files/b?');
      assert.equal((await fetch(forged)).status, 401);
    } finally {
      driver.close();
    }
  });

  it('skopeo pulls an image through the redirects, byte for byte', async () => {
    const regate = await startRegate({
      configYaml: regateConfigYaml({ swift: { authurl: swift.authUrl, username: swift.username, password: swift.password, container: 'redirect-e2e', secretkey: SECRET } }),
    });
    try {
      const image = buildOciImage({ dir: join(tmp.path, 'src'), seed: 'redirect-e2e', tag: 'v1' });
      await skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', image.pushRef, `docker://${regate.host}/redirect/app:v1`]);
      await pullAndCompare(regate, image, 'redirect/app', join(tmp.path, 'out'));
      const redirected = regate.output().split('\n').filter((l) => /"method":"GET","path":"\/v2\/redirect\/app\/blobs\/sha256:[0-9a-f]+","status":307/.test(l));
      assert.ok(redirected.length >= 2, `blob GETs answered 307 (config and layers): ${redirected.length}`);
      assert.ok(!regate.output().includes(SECRET), 'the key never reaches the log');
    } finally {
      await regate.stop();
    }
  });
});

describe('TempURL redirects (Ceph RGW)', () => {
  let rgw: CephRgw;
  before(async () => {
    rgw = await startCephRgw();
  });
  after(async () => {
    await rgw?.stop();
  });

  it('the account key: 307 to a sha1-signed URL that RGW serves', async () => {
    await withRegistry({ redirect: true }, {}, async (reg) => {
      const data = bytes(50_000, 12);
      const digest = await pushBlob(reg, 'redir/rgw', data);
      const res = await reg.request('GET', `/v2/redir/rgw/blobs/${digest}`);
      assert.equal(res.status, 307);
      assert.match(res.header('location')!, /temp_url_sig=[0-9a-f]{40}&/);
      const direct = await fetch(res.header('location')!);
      assert.equal(direct.status, 200);
      assert.ok(Buffer.from(await direct.arrayBuffer()).equals(data));
    }, rgw);
  });

  it('a container key RGW ignores: no redirect, the blob is served directly, one warning says why', async () => {
    const warnings: string[] = [];
    const logger = { warn: (message: string, meta?: Record<string, unknown>) => void warnings.push(`${message} ${JSON.stringify(meta)}`), error: () => undefined };
    await withRegistry({ redirect: true }, { tempUrlContainerKey: true, secretKey: 'rgw-container-only-Key' }, async (reg) => {
      const data = bytes(50_000, 13);
      const digest = await pushBlob(reg, 'redir/rgw-container', data);
      for (let i = 0; i < 3; i++) {
        const res = await reg.request('GET', `/v2/redir/rgw-container/blobs/${digest}`);
        assert.equal(res.status, 200);
        assert.ok(res.body.equals(data));
      }
    }, rgw, logger);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /refused a TempURL .* container's key/);
    assert.ok(!warnings[0]!.includes('rgw-container-only-Key'));
  });
});
