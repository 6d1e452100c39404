// Blob and upload workflows of the OCI Distribution API on a real server, once per driver.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import {
  DRIVERS, startTestRegistry, bytes, chunkedBody, sha256, pushBlob, errorCode, type TestRegistry,
} from './harness.js';

for (const factory of DRIVERS) {
  describe(`blobs and uploads (${factory.name})`, () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startTestRegistry(factory, { deleteEnabled: true });
    });
    after(async () => reg.close());

    const startUpload = async (name: string): Promise<string> => {
      const res = await reg.request('POST', `/v2/${name}/blobs/uploads/`);
      assert.equal(res.status, 202);
      const location = res.header('location')!;
      assert.match(location, new RegExp(`^/v2/${name}/blobs/uploads/[0-9a-f-]{36}$`));
      assert.equal(res.header('docker-upload-uuid'), location.split('/').pop());
      assert.equal(res.header('range'), '0-0');
      assert.equal(res.header('docker-distribution-api-version'), 'registry/2.0');
      return location;
    };

    it('GET /v2/ answers 200 with the API version header', async () => {
      const res = await reg.request('GET', '/v2/');
      assert.equal(res.status, 200);
      assert.equal(res.header('docker-distribution-api-version'), 'registry/2.0');
      assert.deepEqual(res.json(), {});
      assert.equal((await reg.request('HEAD', '/v2/')).status, 200);
    });

    it('streamed chunked PATCH, status, then PUT without body', async () => {
      const data = bytes(300_000, 2);
      const location = await startUpload('chunked/app');
      const patch = await reg.request('PATCH', location, { body: chunkedBody(data, 10_000), headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(patch.status, 202);
      assert.equal(patch.header('range'), `0-${data.length - 1}`);
      assert.equal(patch.header('location'), location);
      const status = await reg.request('GET', location);
      assert.equal(status.status, 204);
      assert.equal(status.header('range'), `0-${data.length - 1}`);
      assert.equal(status.header('location'), location);
      assert.ok(status.header('docker-upload-uuid'));
      const digest = sha256(data);
      const put = await reg.request('PUT', `${location}?digest=${digest}`);
      assert.equal(put.status, 201);
      assert.equal(put.header('location'), `/v2/chunked/app/blobs/${digest}`);
      assert.equal(put.header('docker-content-digest'), digest);
      const get = await reg.request('GET', `/v2/chunked/app/blobs/${digest}`);
      assert.equal(get.status, 200);
      assert.ok(get.body.equals(data));
      assert.equal((await reg.request('GET', location)).status, 404, 'the upload session is gone after completion');
    });

    it('ordered Content-Range chunks, and a final chunk on PUT', async () => {
      const data = bytes(250_000, 3);
      const location = await startUpload('ranges/app');
      const first = await reg.request('PATCH', location, { body: data.subarray(0, 100_000), headers: { 'Content-Range': '0-99999' } });
      assert.equal(first.status, 202);
      assert.equal(first.header('range'), '0-99999');
      const second = await reg.request('PATCH', location, { body: data.subarray(100_000, 200_000), headers: { 'Content-Range': '100000-199999' } });
      assert.equal(second.header('range'), '0-199999');
      const digest = sha256(data);
      const put = await reg.request('PUT', `${location}?digest=${digest}`, { body: data.subarray(200_000), headers: { 'Content-Range': '200000-249999' } });
      assert.equal(put.status, 201);
      const get = await reg.request('GET', `/v2/ranges/app/blobs/${digest}`);
      assert.ok(get.body.equals(data));
    });

    it('digest-algorithm=sha512 (next distribution-spec): a chunked sha512 upload commits and is served by its sha512 digest; an unknown algorithm is refused', async () => {
      const data = bytes(300_000, 21);
      const { createHash } = await import('node:crypto');
      const digest = `sha512:${createHash('sha512').update(data).digest('hex')}`;
      const post = await reg.request('POST', '/v2/sha512/app/blobs/uploads/?digest-algorithm=sha512');
      assert.equal(post.status, 202);
      const location = post.header('location')!;
      await reg.request('PATCH', location, { body: data.subarray(0, 100_000), headers: { 'Content-Range': '0-99999' } });
      await reg.request('PATCH', location, { body: data.subarray(100_000), headers: { 'Content-Range': '100000-299999' } });
      const put = await reg.request('PUT', `${location}?digest=${digest}`);
      assert.equal(put.status, 201);
      assert.equal(put.header('docker-content-digest'), digest);
      const get = await reg.request('GET', `/v2/sha512/app/blobs/${digest}`);
      assert.equal(get.status, 200);
      assert.equal(get.header('docker-content-digest'), digest);
      assert.ok(get.body.equals(data));
      const head = await reg.request('HEAD', `/v2/sha512/app/blobs/${digest}`);
      assert.equal(head.header('content-length'), String(data.length));
      assert.equal(head.header('docker-content-digest'), digest);
      const refused = await reg.request('POST', '/v2/sha512/app/blobs/uploads/?digest-algorithm=md5');
      assert.equal(refused.status, 400);
      assert.equal(errorCode(refused), 'DIGEST_INVALID');
    });

    it('out-of-order and repeated chunks are 416 with the current Range', async () => {
      const data = bytes(20_000, 4);
      const location = await startUpload('ooo/app');
      await reg.request('PATCH', location, { body: data.subarray(0, 10_000), headers: { 'Content-Range': '0-9999' } });
      const repeated = await reg.request('PATCH', location, { body: data.subarray(0, 10_000), headers: { 'Content-Range': '0-9999' } });
      assert.equal(repeated.status, 416);
      assert.equal(errorCode(repeated), 'RANGE_INVALID');
      assert.equal(repeated.header('range'), '0-9999');
      assert.equal(repeated.header('location'), location);
      const skipped = await reg.request('PATCH', location, { body: data.subarray(0, 5_000), headers: { 'Content-Range': '15000-19999' } });
      assert.equal(skipped.status, 416);
      assert.equal(skipped.header('range'), '0-9999');
      // A Content-Range that is no range at all cannot be fixed by resuming: 400, not 416.
      const malformed = await reg.request('PATCH', location, { body: 'x', headers: { 'Content-Range': 'garbage' } });
      assert.equal(malformed.status, 400);
      assert.equal(errorCode(malformed), 'BLOB_UPLOAD_INVALID');
      // A closing PUT whose Content-Range does not continue the upload: 416, with or without a body.
      const closingGap = await reg.request('PUT', `${location}?digest=${sha256(data)}`, { body: data.subarray(10_000), headers: { 'Content-Range': '12000-21999' } });
      assert.equal(closingGap.status, 416);
      assert.equal(closingGap.header('range'), '0-9999');
      const closingEmpty = await reg.request('PUT', `${location}?digest=${sha256(data)}`, { headers: { 'Content-Range': '5000-5000', 'Content-Length': '0' } });
      assert.equal(closingEmpty.status, 416);
      assert.equal(closingEmpty.header('range'), '0-9999');
      // The upload is intact and can be finished.
      await reg.request('PATCH', location, { body: data.subarray(10_000), headers: { 'Content-Range': '10000-19999' } });
      assert.equal((await reg.request('PUT', `${location}?digest=${sha256(data)}`)).status, 201);
    });

    it('Content-Range that disagrees with Content-Length is SIZE_INVALID', async () => {
      const location = await startUpload('size/app');
      const res = await reg.request('PATCH', location, { body: Buffer.alloc(10), headers: { 'Content-Range': '0-19' } });
      assert.equal(res.status, 400);
      assert.equal(errorCode(res), 'SIZE_INVALID');
    });

    it('a body shorter than its Content-Length is SIZE_INVALID and stores nothing', async () => {
      const data = bytes(1000, 5);
      const digest = sha256(data);
      const port = Number(new URL(reg.url).port);
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(`POST /v2/short/app/blobs/uploads/?digest=${digest} HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n`);
          socket.end(data); // half-close after 1000 of the announced 2000 bytes
        });
        let got = '';
        socket.on('data', (c) => (got += c.toString()));
        socket.on('close', () => resolve(got));
        socket.on('error', () => resolve(got));
      });
      assert.match(answer, /^HTTP\/1\.1 400[\s\S]*SIZE_INVALID/);
      assert.equal((await reg.request('HEAD', `/v2/short/app/blobs/${digest}`)).status, 404);
    });

    it('monolithic POST ?digest= and digest mismatch (DIGEST_INVALID, nothing stored)', async () => {
      const data = bytes(5000, 6);
      const digest = await pushBlob(reg, 'mono/app', data);
      assert.equal((await reg.request('HEAD', `/v2/mono/app/blobs/${digest}`)).status, 200);

      const wrong = sha256('something else');
      const res = await reg.request('POST', `/v2/mono/app/blobs/uploads/?digest=${wrong}`, { body: data });
      assert.equal(res.status, 400);
      assert.equal(errorCode(res), 'DIGEST_INVALID');
      assert.equal((await reg.request('HEAD', `/v2/mono/app/blobs/${wrong}`)).status, 404);

      const location = await startUpload('mono/app');
      await reg.request('PATCH', location, { body: bytes(100, 7) });
      const bad = await reg.request('PUT', `${location}?digest=${wrong}`);
      assert.equal(errorCode(bad), 'DIGEST_INVALID');
      assert.equal((await reg.request('HEAD', `/v2/mono/app/blobs/${sha256(bytes(100, 7))}`)).status, 404, 'the real content is not visible either');
      assert.equal((await reg.request('GET', location)).status, 404, 'a failed commit cancels the upload');
    });

    it('PUT without digest, with a malformed digest, or an unsupported algorithm', async () => {
      const location = await startUpload('digests/app');
      assert.equal(errorCode(await reg.request('PUT', location)), 'DIGEST_INVALID');
      assert.equal(errorCode(await reg.request('PUT', `${location}?digest=sha256:zzz`)), 'DIGEST_INVALID');
      assert.equal(errorCode(await reg.request('PUT', `${location}?digest=md5:${'a'.repeat(32)}`)), 'DIGEST_INVALID');
    });

    it('the empty blob', async () => {
      const digest = await pushBlob(reg, 'empty/app', Buffer.alloc(0));
      const head = await reg.request('HEAD', `/v2/empty/app/blobs/${digest}`);
      assert.equal(head.status, 200);
      assert.equal(head.header('content-length'), '0');
      const get = await reg.request('GET', `/v2/empty/app/blobs/${digest}`);
      assert.equal(get.body.length, 0);
    });

    it('cancel an upload, then it is unknown; bogus upload ids are unknown', async () => {
      const location = await startUpload('cancel/app');
      await reg.request('PATCH', location, { body: 'abc' });
      assert.equal((await reg.request('DELETE', location)).status, 204);
      for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
        const res = await reg.request(method, method === 'PUT' ? `${location}?digest=${sha256('abc')}` : location, { body: method === 'PATCH' ? 'x' : undefined });
        assert.equal(res.status, 404, method);
        assert.equal(errorCode(res), 'BLOB_UPLOAD_UNKNOWN');
      }
      const bogus = await reg.request('GET', '/v2/cancel/app/blobs/uploads/not-a-uuid');
      assert.equal(errorCode(bogus), 'BLOB_UPLOAD_UNKNOWN');
      const other = await reg.request('GET', `/v2/cancel/other/blobs/uploads/${location.split('/').pop()}`);
      assert.equal(other.status, 404, 'an upload belongs to its repository');
    });

    it('blob GET/HEAD headers, ranges, 416, unknown, and repository scoping', async () => {
      const data = bytes(10_000, 8);
      const digest = await pushBlob(reg, 'get/app', data);
      const head = await reg.request('HEAD', `/v2/get/app/blobs/${digest}`);
      assert.equal(head.status, 200);
      assert.equal(head.header('content-length'), '10000');
      assert.equal(head.header('docker-content-digest'), digest);
      assert.equal(head.header('accept-ranges'), 'bytes');
      assert.equal(head.body.length, 0);
      const range = await reg.request('GET', `/v2/get/app/blobs/${digest}`, { headers: { Range: 'bytes=100-199' } });
      assert.equal(range.status, 206);
      assert.equal(range.header('content-range'), 'bytes 100-199/10000');
      assert.ok(range.body.equals(data.subarray(100, 200)));
      const tail = await reg.request('GET', `/v2/get/app/blobs/${digest}`, { headers: { Range: 'bytes=9990-' } });
      assert.ok(tail.body.equals(data.subarray(9990)));
      const bad = await reg.request('GET', `/v2/get/app/blobs/${digest}`, { headers: { Range: 'bytes=20000-' } });
      assert.equal(bad.status, 416);
      assert.equal(bad.header('content-range'), 'bytes */10000');
      assert.equal(errorCode(bad), 'RANGE_INVALID');
      const unknown = await reg.request('GET', `/v2/get/app/blobs/${sha256('nope')}`);
      assert.equal(unknown.status, 404);
      assert.equal(errorCode(unknown), 'BLOB_UNKNOWN');
      const elsewhere = await reg.request('GET', `/v2/get/other/blobs/${digest}`);
      assert.equal(elsewhere.status, 404, 'a blob is visible only in repositories that link it');
      const badDigest = await reg.request('GET', '/v2/get/app/blobs/sha256:1234');
      assert.equal(errorCode(badDigest), 'DIGEST_INVALID');
    });

    it('cross-repository mount: 201 when mountable, otherwise a normal 202 upload', async () => {
      const data = bytes(4000, 9);
      const digest = await pushBlob(reg, 'mount/source', data);
      const mounted = await reg.request('POST', `/v2/mount/target/blobs/uploads/?mount=${digest}&from=mount/source`);
      assert.equal(mounted.status, 201);
      assert.equal(mounted.header('location'), `/v2/mount/target/blobs/${digest}`);
      assert.equal(mounted.header('docker-content-digest'), digest);
      assert.ok((await reg.request('GET', `/v2/mount/target/blobs/${digest}`)).body.equals(data));
      const missing = await reg.request('POST', `/v2/mount/target/blobs/uploads/?mount=${sha256('absent')}&from=mount/source`);
      assert.equal(missing.status, 202);
      assert.match(missing.header('location')!, /\/blobs\/uploads\//);
      const noFrom = await reg.request('POST', `/v2/mount/third/blobs/uploads/?mount=${digest}`);
      assert.equal(noFrom.status, 202);
    });

    it('an upload continues after a restart (state in storage, hash recomputed)', async () => {
      const data = bytes(200_000, 10);
      const location = await startUpload('restart/app');
      await reg.request('PATCH', location, { body: data.subarray(0, 120_000) });
      await reg.restart();
      const status = await reg.request('GET', location);
      assert.equal(status.header('range'), '0-119999');
      await reg.request('PATCH', location, { body: data.subarray(120_000), headers: { 'Content-Range': '120000-199999' } });
      const put = await reg.request('PUT', `${location}?digest=${sha256(data)}`);
      assert.equal(put.status, 201);
      assert.ok((await reg.request('GET', `/v2/restart/app/blobs/${sha256(data)}`)).body.equals(data));
    });

    it('two clients pushing the same blob at once both succeed and leave one blob', async () => {
      const data = bytes(500_000, 11);
      const digest = sha256(data);
      const push = async (): Promise<number> => {
        const location = await startUpload('race/app');
        await reg.request('PATCH', location, { body: chunkedBody(data, 50_000) });
        return (await reg.request('PUT', `${location}?digest=${digest}`)).status;
      };
      assert.deepEqual(await Promise.all([push(), push(), push()]), [201, 201, 201]);
      const get = await reg.request('GET', `/v2/race/app/blobs/${digest}`);
      assert.ok(get.body.equals(data));
      const blobDir = `/docker/registry/v2/blobs/sha256/${digest.slice(7, 9)}`;
      assert.deepEqual(await reg.driver.list(blobDir), [`${blobDir}/${digest.slice(7)}`]);
    });

    it('blob DELETE unlinks it from the repository', async () => {
      const digest = await pushBlob(reg, 'del/app', bytes(100, 12));
      const res = await reg.request('DELETE', `/v2/del/app/blobs/${digest}`);
      assert.equal(res.status, 202);
      assert.equal((await reg.request('HEAD', `/v2/del/app/blobs/${digest}`)).status, 404);
      const again = await reg.request('DELETE', `/v2/del/app/blobs/${digest}`);
      assert.equal(errorCode(again), 'BLOB_UNKNOWN');
    });
  });

  describe(`deletion disabled (${factory.name})`, () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startTestRegistry(factory, { deleteEnabled: false });
    });
    after(async () => reg.close());

    it('blob DELETE is 405 UNSUPPORTED and the blob stays', async () => {
      const digest = await pushBlob(reg, 'keep/app', bytes(100, 13));
      const res = await reg.request('DELETE', `/v2/keep/app/blobs/${digest}`);
      assert.equal(res.status, 405);
      assert.equal(errorCode(res), 'UNSUPPORTED');
      assert.equal((await reg.request('HEAD', `/v2/keep/app/blobs/${digest}`)).status, 200);
    });

    it('cancelling an upload still works', async () => {
      const res = await reg.request('POST', '/v2/keep/app/blobs/uploads/');
      assert.equal((await reg.request('DELETE', res.header('location')!)).status, 204);
    });
  });
}
