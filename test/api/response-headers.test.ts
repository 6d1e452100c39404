// distribution-spec (main): Docker-Content-Digest on every blob and manifest GET and HEAD, and
// Content-Length on every HEAD, whatever was asked for (tag or digest, whole or a range, an image
// or an index, and for HEAD the errors too). The header logic sits above the driver: the two local
// drivers run it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DRIVERS, startTestRegistry, pushImage, pushBlob, sha256, bytes, MT, type TestRegistry, type Response } from './harness.js';

function assertDigest(res: Response, digest: string, what: string): void {
  assert.equal(res.header('docker-content-digest'), digest, `${what}: Docker-Content-Digest`);
}

function assertLength(res: Response, length: number, what: string): void {
  assert.equal(res.header('content-length'), String(length), `${what}: Content-Length`);
}

for (const factory of DRIVERS.filter((d) => d.name === 'filesystem' || d.name === 'inmemory')) {
  describe(`response headers on every GET and HEAD (${factory.name})`, () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startTestRegistry(factory, { deleteEnabled: true });
    });
    after(async () => reg.close());

    it('blobs: whole and ranged, GET and HEAD', async () => {
      const data = bytes(10_000, 3);
      const digest = await pushBlob(reg, 'hdr/blob', data);
      const path = `/v2/hdr/blob/blobs/${digest}`;
      for (const method of ['GET', 'HEAD']) {
        const whole = await reg.request(method, path);
        assert.equal(whole.status, 200);
        assertDigest(whole, digest, `${method} whole`);
        assertLength(whole, data.length, `${method} whole`);
        const ranged = await reg.request(method, path, { headers: { range: 'bytes=100-199' } });
        assert.equal(ranged.status, 206);
        assertDigest(ranged, digest, `${method} ranged`);
        assertLength(ranged, 100, `${method} ranged`);
      }
      const empty = Buffer.alloc(0);
      const emptyDigest = await pushBlob(reg, 'hdr/blob', empty);
      const head = await reg.request('HEAD', `/v2/hdr/blob/blobs/${emptyDigest}`);
      assertDigest(head, emptyDigest, 'HEAD empty blob');
      assertLength(head, 0, 'HEAD empty blob');
    });

    it('manifests: by tag and by digest, an image, a Docker manifest and an index, GET and HEAD', async () => {
      const oci = await pushImage(reg, 'hdr/img', 'v1', { seed: 1 });
      const docker = await pushImage(reg, 'hdr/img', 'docker', { seed: 2, mediaType: MT.dockerManifest });
      const index = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociIndex,
        manifests: [{ mediaType: MT.ociManifest, digest: oci.digest, size: oci.size, platform: { architecture: 'amd64', os: 'linux' } }],
      }));
      assert.equal((await reg.request('PUT', '/v2/hdr/img/manifests/multi', { body: index, headers: { 'content-type': MT.ociIndex } })).status, 201);
      const cases: Array<[string, string, number, string]> = [
        ['v1', oci.digest, oci.size, MT.ociManifest],
        [oci.digest, oci.digest, oci.size, MT.ociManifest],
        ['docker', docker.digest, docker.size, MT.dockerManifest],
        ['multi', sha256(index), index.length, MT.ociIndex],
        [sha256(index), sha256(index), index.length, MT.ociIndex],
      ];
      for (const [reference, digest, size, accept] of cases) {
        for (const method of ['GET', 'HEAD']) {
          const res = await reg.request(method, `/v2/hdr/img/manifests/${reference}`, { headers: { accept } });
          assert.equal(res.status, 200, `${method} ${reference}`);
          assertDigest(res, digest, `${method} ${reference}`);
          assertLength(res, size, `${method} ${reference}`);
          if (method === 'GET') assert.equal(sha256(res.body), digest, `GET ${reference}: the body is what the digest says`);
        }
      }
    });

    it('malformed input: a mount from a name that is no repository starts a plain upload; HEAD gives an upload\'s status', async () => {
      const digest = await pushBlob(reg, 'hdr/src', bytes(500, 5));
      const started = await reg.request('POST', `/v2/hdr/dst/blobs/uploads/?mount=${digest}&from=Not..A/Name`);
      assert.equal(started.status, 202, started.body.toString());
      const location = started.header('location')!;
      assert.ok(location.includes('/v2/hdr/dst/blobs/uploads/'));
      const status = await reg.request('HEAD', location);
      assert.equal(status.status, 204);
      assert.equal(status.header('range'), '0-0');
      assert.equal(status.header('docker-upload-uuid'), location.split('/').pop()!.split('?')[0]);
      const ranged = await reg.request('GET', `/v2/hdr/src/blobs/${digest}`, { headers: { range: 'items=0-9' } });
      assert.equal(ranged.status, 200, 'an unknown range unit is ignored (RFC 9110 §14.2)');
      assert.equal(ranged.body.length, 500);
    });

    it('a HEAD that fails still says how long its (unsent) error body is', async () => {
      for (const path of ['/v2/hdr/img/manifests/nope', `/v2/hdr/img/blobs/${sha256('missing')}`, '/v2/hdr/img/manifests/.INVALID']) {
        const get = await reg.request('GET', path);
        const head = await reg.request('HEAD', path);
        assert.equal(head.status, 404, path);
        assert.equal(head.body.length, 0, `${path}: HEAD has no body`);
        assertLength(head, get.body.length, `HEAD ${path}`);
      }
    });
  });
}
