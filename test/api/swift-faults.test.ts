// The registry over a real OpenStack Swift when things go wrong: the proxy stopped mid-push, a token
// that expires (or is refused) mid-upload, listings that lag (here: that show nothing at all), a
// segment PUT that fails once, two registries appending to one session at the same moment. A
// fault-injecting hook on the real client does the injecting; Swift itself is real.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { wrapDriver } from '../../src/storage/base-driver.js';
import { SwiftDriver } from '../../src/storage/drivers/swift.js';
import type { SwiftOptions } from '../../src/swift/swift-options.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { swiftOptions } from '../support/swift-options.js';
import { regateConfigYaml, startRegate } from '../support/processes.js';
import { bytes, errorCode, sha256, startTestRegistry, type TestRegistry } from './harness.js';

let swift: SwiftAio;
let shortTokens: SwiftAio;
const open: Array<TestRegistry> = [];

before(async () => {
  swift = await startSwiftAio();
  shortTokens = await startSwiftAio({ tokenLifeSeconds: 2 });
});
after(async () => {
  for (const reg of open) await reg.close();
  await swift?.stop();
  await shortTokens?.stop();
});

async function registryOver(backend: SwiftAio, container: string, overrides: Partial<SwiftOptions> = {}): Promise<{ reg: TestRegistry; inner: SwiftDriver }> {
  const inner = new SwiftDriver(swiftOptions(backend, container, overrides));
  // Quick retries keep the "backend is down" answers fast; the policy's shape is the same.
  inner.client.retry = { attempts: 4, baseDelayMs: 50, maxDelayMs: 400 };
  const reg = await startTestRegistry({ name: 'swift', make: async () => ({ driver: wrapDriver(inner), cleanup: async () => inner.close() }) });
  open.push(reg);
  return { reg, inner };
}

async function startUpload(reg: TestRegistry, name: string): Promise<string> {
  const res = await reg.request('POST', `/v2/${name}/blobs/uploads/`);
  assert.equal(res.status, 202);
  return res.header('location')!;
}

function patch(reg: TestRegistry, location: string, data: Buffer, from: number) {
  return reg.request('PATCH', location, {
    body: data,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${from}-${from + data.length - 1}` },
  });
}

async function finish(reg: TestRegistry, location: string, digest: string) {
  return reg.request('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`);
}

async function pull(reg: TestRegistry, name: string, digest: string): Promise<Buffer> {
  const res = await reg.request('GET', `/v2/${name}/blobs/${digest}`);
  assert.equal(res.status, 200, `GET ${name}@${digest}: ${res.status} ${res.body.toString().slice(0, 200)}`);
  return res.body;
}

describe('Swift faults', () => {
  it('the Swift proxy stopped mid-push: a clear 503, nothing visible, and the push completes once it is back', async () => {
    const { reg } = await registryOver(swift, `faults-${randomBytes(3).toString('hex')}`);
    const data = bytes(5 * 1024 * 1024 + 7, 31);
    const digest = sha256(data);
    const half = 3 * 1024 * 1024;
    const location = await startUpload(reg, 'faults/down');
    assert.equal((await patch(reg, location, data.subarray(0, half), 0)).status, 202);
    await swift.stopProxy();
    try {
      const during = await patch(reg, location, data.subarray(half), half);
      assert.equal(during.status, 503, during.body.toString());
      assert.equal(errorCode(during), 'UNAVAILABLE');
      const closing = await finish(reg, location, digest);
      assert.ok(closing.status >= 500, `PUT while Swift is down answered ${closing.status}`);
    } finally {
      await swift.startProxy();
    }
    assert.equal((await reg.request('HEAD', `/v2/faults/down/blobs/${digest}`)).status, 404, 'nothing visible after the failure');
    const status = await reg.request('GET', location);
    assert.equal(status.status, 204);
    assert.equal(status.header('range'), `0-${half - 1}`, 'the bytes stored before the outage are kept');
    assert.equal((await patch(reg, location, data.subarray(half), half)).status, 202);
    assert.equal((await finish(reg, location, digest)).status, 201);
    assert.ok((await pull(reg, 'faults/down', digest)).equals(data));
  });

  it('a token that expires during a chunked upload is renewed; the blob is intact', async () => {
    const { reg, inner } = await registryOver(shortTokens, `tokens-${randomBytes(3).toString('hex')}`);
    const data = bytes(4 * 1024 * 1024, 32);
    const digest = sha256(data);
    const location = await startUpload(reg, 'faults/token');
    const piece = 1024 * 1024;
    for (let offset = 0; offset < data.length; offset += piece) {
      assert.equal((await patch(reg, location, data.subarray(offset, offset + piece), offset)).status, 202);
      await new Promise((r) => setTimeout(r, 900)); // the 2 s token dies during the upload
    }
    assert.equal((await finish(reg, location, digest)).status, 201);
    assert.ok((await pull(reg, 'faults/token', digest)).equals(data));
    assert.ok(inner.client.tokens.authCount >= 2, `authenticated ${inner.client.tokens.authCount} times`);
  });

  it('a token Swift refuses (401) triggers one re-auth and the request is retried', async () => {
    // storageurl + a bogus authtoken: the first request is refused, authurl gets a real token.
    const probe = new SwiftDriver(swiftOptions(swift, 'probe'));
    const session = await probe.client.tokens.session();
    probe.close();
    const { reg, inner } = await registryOver(swift, `reauth-${randomBytes(3).toString('hex')}`, { storageUrl: session.storageUrl, authToken: 'AUTH_tk-not-a-token' });
    const data = bytes(100_000, 33);
    const res = await reg.request('POST', `/v2/faults/reauth/blobs/uploads/?digest=${sha256(data)}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(res.status, 201, res.body.toString());
    assert.equal(inner.client.tokens.authCount, 1);
    assert.ok((await pull(reg, 'faults/reauth', sha256(data))).equals(data));
  });

  it('listings that show nothing do not break a push and pull: sizes and reads never depend on them', async () => {
    const { reg, inner } = await registryOver(swift, `lag-${randomBytes(3).toString('hex')}`);
    inner.client.hooks.filterListing = () => [];
    const data = bytes(3 * 1024 * 1024 + 5, 34);
    const digest = sha256(data);
    const location = await startUpload(reg, 'faults/lag');
    assert.equal((await patch(reg, location, data.subarray(0, 2_000_000), 0)).status, 202);
    const status = await reg.request('GET', location);
    assert.equal(status.header('range'), `0-${2_000_000 - 1}`, 'the upload size comes from the object, not a listing');
    assert.equal((await patch(reg, location, data.subarray(2_000_000), 2_000_000)).status, 202);
    assert.equal((await finish(reg, location, digest)).status, 201);
    const head = await reg.request('HEAD', `/v2/faults/lag/blobs/${digest}`);
    assert.equal(head.header('content-length'), String(data.length));
    assert.ok((await pull(reg, 'faults/lag', digest)).equals(data));
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: data.length }, layers: [] }));
    const put = await reg.request('PUT', '/v2/faults/lag/manifests/v1', { body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(put.status, 201, put.body.toString());
    assert.ok((await reg.request('GET', '/v2/faults/lag/manifests/v1')).body.equals(manifest));
  });

  it('a segment PUT that fails once is retried; the blob is intact', async () => {
    const { reg, inner } = await registryOver(swift, `segfail-${randomBytes(3).toString('hex')}`);
    let segmentPuts = 0;
    inner.client.hooks.beforeRequest = (method, object) => {
      if (method === 'PUT' && object?.startsWith('segments/') && ++segmentPuts === 3) {
        throw Object.assign(new Error('injected: connection reset'), { code: 'ECONNRESET' });
      }
    };
    const data = bytes(4 * 1024 * 1024 + 99, 35);
    const digest = sha256(data);
    const res = await reg.request('POST', `/v2/faults/segfail/blobs/uploads/?digest=${digest}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(res.status, 201, res.body.toString());
    assert.ok(segmentPuts > 3, 'the failure was injected and the upload went on');
    assert.ok((await pull(reg, 'faults/segfail', digest)).equals(data));
  });

  it('two registries on one container: a push whose requests alternate completes, and simultaneous appends never interleave', async () => {
    const container = `shared-${randomBytes(3).toString('hex')}`;
    const a = (await registryOver(swift, container)).reg;
    const b = (await registryOver(swift, container)).reg;
    const data = bytes(6 * 1024 * 1024 + 3, 36);
    const digest = sha256(data);
    const location = await startUpload(a, 'shared/app');
    const piece = 1_500_000;
    const regs = [b, a];
    let i = 0;
    for (let offset = 0; offset < data.length; offset += piece, i++) {
      const res = await patch(regs[i % 2]!, location, data.subarray(offset, offset + piece), offset);
      assert.equal(res.status, 202, `PATCH ${i} at ${offset}`);
    }
    assert.equal((await finish(b, location, digest)).status, 201);
    assert.ok((await pull(a, 'shared/app', digest)).equals(data));
    assert.ok((await pull(b, 'shared/app', digest)).equals(data));

    // The same chunk sent to both at the same moment: one takes it, the other answers 416.
    for (let round = 0; round < 3; round++) {
      const blob = bytes(2 * 1024 * 1024, 40 + round);
      const loc = await startUpload(a, 'shared/race');
      const [ra, rb] = await Promise.all([patch(a, loc, blob, 0), patch(b, loc, blob, 0)]);
      const statuses = [ra.status, rb.status].sort();
      assert.ok(statuses[0] === 202 && (statuses[1] === 416 || statuses[1] === 202), `round ${round}: ${statuses}`);
      // Whatever happened, the session holds exactly one copy of the chunk (never both, never a mix).
      const status = await a.request('GET', loc);
      assert.equal(status.header('range'), `0-${blob.length - 1}`, `round ${round}: ${statuses}`);
      assert.equal((await finish(b, loc, sha256(blob))).status, 201, `round ${round}`);
      assert.ok((await pull(a, 'shared/race', sha256(blob))).equals(blob));
    }
  });

  it('health.storagedriver: after `threshold` failed checks regate answers 503 saying why, and recovers by itself', async () => {
    const regate = await startRegate({
      configYaml: regateConfigYaml(
        { swift: { authurl: swift.authUrl, username: swift.username, password: swift.password, container: `health-${randomBytes(3).toString('hex')}` } },
        { health: { storagedriver: { enabled: true, interval: '200ms', threshold: 2 } } },
      ),
    });
    try {
      const until = async (want: number): Promise<Response> => {
        for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 100))) {
          const res = await fetch(`${regate.url}/v2/`);
          if (res.status === want || Date.now() > deadline) return res;
        }
      };
      assert.equal((await until(200)).status, 200);
      await swift.stopProxy();
      let down: Response;
      try {
        down = await until(503);
      } finally {
        await swift.startProxy();
      }
      assert.equal(down.status, 503);
      const body = (await down.json()) as { errors: Array<{ code: string; detail: { reason: string } }> };
      assert.equal(body.errors[0]?.code, 'UNAVAILABLE');
      assert.match(body.errors[0]!.detail.reason, /storage backend \(swift\) failed its health check/);
      assert.equal((await until(200)).status, 200, 'healthy again once Swift is back');
    } finally {
      await regate.stop();
    }
  });
});
