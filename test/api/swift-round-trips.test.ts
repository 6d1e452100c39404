// What a push and a pull wait on when Swift is far away (issue 29): the requests regate sends for one
// layer, counted on the real client by request hooks, on OpenStack Swift and on Ceph RGW. These are
// the round trips docs/benchmarks.md lists; each test fails when a read comes back that the upload
// path dropped, or when a shortcut serves or stores the wrong bytes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { wrapDriver } from '../../src/storage/base-driver.js';
import { SwiftDriver } from '../../src/storage/drivers/swift.js';
import { PathNotFoundError } from '../../src/storage/driver.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { startCephRgw, type CephRgw } from '../support/ceph-rgw.js';
import { swiftOptions } from '../support/swift-options.js';
import { PassThrough } from 'node:stream';
import { InMemoryBlobDescriptorCache, type BlobDescriptorCache } from '../../src/storage/blob-descriptor-cache.js';
import { bytes, chunkedBody, sha256, startTestRegistry, type TestRegistry } from './harness.js';

let swift: SwiftAio;
let rgw: CephRgw;
const open: TestRegistry[] = [];

before(async () => {
  [swift, rgw] = await Promise.all([startSwiftAio(), startCephRgw()]);
});
after(async () => {
  for (const reg of open) await reg.close();
  await swift?.stop();
  await rgw?.stop();
});

/** `count` registries (processes, as behind a load balancer) on one fresh container. */
async function registriesOn(backend: SwiftAio | CephRgw, count: number, caches: Array<BlobDescriptorCache | undefined> = []): Promise<Array<{ reg: TestRegistry; inner: SwiftDriver }>> {
  const container = `rtt-${randomBytes(3).toString('hex')}`;
  return Promise.all(Array.from({ length: count }, async (_, i) => {
    const cache = caches[i];
    const inner = new SwiftDriver(swiftOptions(backend, container));
    const reg = await startTestRegistry({ name: 'swift', make: async () => ({ driver: wrapDriver(inner), cleanup: async () => inner.close() }) }, { deleteEnabled: true }, undefined, cache);
    open.push(reg);
    return { reg, inner };
  }));
}

const registryOn = async (backend: SwiftAio | CephRgw): Promise<{ reg: TestRegistry; inner: SwiftDriver }> => (await registriesOn(backend, 1))[0]!;
const pairOn = (backend: SwiftAio | CephRgw): Promise<Array<{ reg: TestRegistry; inner: SwiftDriver }>> => registriesOn(backend, 2);

const patchAt = (reg: TestRegistry, location: string, data: Buffer, from?: number) =>
  reg.request('PATCH', location, { body: data, headers: { 'Content-Type': 'application/octet-stream', ...(from === undefined ? {} : { 'Content-Range': `${from}-${from + data.length - 1}` }) } });
const finishAt = (reg: TestRegistry, location: string, digest: string) => reg.request('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`);

/** Every request `inner` sends while `run` runs, as "METHOD object" ("METHOD <container>" for the container's). */
async function requestsDuring(inner: SwiftDriver, run: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  inner.client.hooks.beforeRequest = (method, object) => void seen.push(`${method} ${object ?? CONTAINER}`);
  try {
    await run();
  } finally {
    inner.client.hooks.beforeRequest = undefined;
  }
  return seen;
}

const CONTAINER = '<container>';
const about = (seen: string[], part: string): string[] => seen.filter((s) => s.includes(part));
/**
 * Requests for objects (not counted: the container's existence check and the probe of whether the
 * backend refuses creates, each made once per process).
 */
const objectRequests = (seen: string[]): string[] => seen.filter((s) => !s.endsWith(CONTAINER) && !s.includes('regate-probe-'));

for (const [label, backend] of [['OpenStack Swift', () => swift], ['Ceph RGW', () => rgw]] as const) {
  describe(`Swift round trips of a push and a pull (${label})`, () => {
    // OpenStack Swift refuses a create of an object that exists (If-None-Match), so the PATCH's
    // create is its look; Ceph RGW's Swift API ignores the header, so there the data is read first.
    const refusesCreates = label === 'OpenStack Swift';
    it(`a layer pushed as skopeo does (HEAD, POST, one PATCH with its length, PUT): ${refusesCreates ? 10 : 11} requests, no session read back, the copy beside the claim's read, no listing`, async () => {
      const { reg, inner } = await registryOn(backend());
      const layer = bytes(300 * 1024 + 5, 90);
      const digest = sha256(layer);
      const seen = await requestsDuring(inner, async () => {
        assert.equal((await reg.request('HEAD', `/v2/rtt/skopeo/blobs/${digest}`)).status, 404);
        // A second HEAD right after (skopeo asks twice) is answered from the miss just seen.
        assert.equal((await reg.request('HEAD', `/v2/rtt/skopeo/blobs/${digest}`)).status, 404);
        const location = (await reg.request('POST', '/v2/rtt/skopeo/blobs/uploads/')).header('location')!;
        const patched = await reg.request('PATCH', location, { body: layer, headers: { 'Content-Type': 'application/octet-stream' } });
        assert.equal(patched.status, 202);
        const put = await reg.request('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`);
        assert.equal(put.status, 201, put.body.toString());
      });
      const requests = objectRequests(seen);
      assert.equal(about(seen, '/_layers/').filter((s) => s.startsWith('GET')).length, 1, `one link read for two HEADs:\n${seen.join('\n')}`);
      assert.equal(about(seen, '/startedat').filter((s) => s.startsWith('HEAD')).length, 0, `the session's start time is never read back:\n${seen.join('\n')}`);
      const dataReads = refusesCreates ? 0 : 1;
      assert.equal(about(seen, '/_uploads/').filter((s) => s.includes('/data') && s.startsWith('HEAD')).length, dataReads, `the data is read ${dataReads} times (never at the commit: the copy is conditional on its ETag):\n${seen.join('\n')}`);
      assert.equal(seen.filter((s) => s.startsWith('PUT') && s.includes('segments/')).length, 0, 'one plain object, no segment');
      assert.ok(!seen.includes(`GET ${CONTAINER}`), `no listing:\n${seen.join('\n')}`);
      assert.ok(requests.length <= 10 + dataReads, `${requests.length} requests:\n${seen.join('\n')}`);
      // The blob is copied beside the condemned marker's read, after the use marker was written.
      const at = (prefix: string): number => seen.findIndex((s) => s.startsWith(prefix));
      const copy = at('PUT files/docker/registry/v2/blobs/');
      assert.ok(at('PUT files/docker/registry/v2/regate/blob-use/') < copy && copy < at('PUT files/docker/registry/v2/repositories/rtt/skopeo/_layers/'), seen.join('\n'));
      const got = await reg.request('GET', `/v2/rtt/skopeo/blobs/${digest}`);
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(layer));
      // Nothing of the session is left.
      const left: string[] = [];
      for await (const e of inner.client.list({ prefix: 'files/docker/registry/v2/repositories/rtt/skopeo/_uploads/' })) left.push(e.name);
      assert.deepEqual(left, []);
    });

    it('a layer pushed as docker does (one chunked PATCH, no length): one plain object by one PUT, committed by a copy as a layer of known length; past a segment, the rest as segments', async () => {
      const { reg, inner } = await registryOn(backend());
      const small = bytes(700 * 1024 + 11, 101); // under the tests' 1 MiB segment
      const location = (await reg.request('POST', '/v2/rtt/docker/blobs/uploads/')).header('location')!;
      const seen = await requestsDuring(inner, async () => {
        const patched = await reg.request('PATCH', location, { body: chunkedBody(small), headers: { 'Content-Type': 'application/octet-stream' } });
        assert.equal(patched.status, 202, patched.body.toString());
        assert.equal((await finishAt(reg, location, sha256(small))).status, 201);
      });
      assert.equal(seen.filter((s) => s.includes('segments/')).length, 0, `no segment:\n${seen.join('\n')}`);
      assert.equal(about(seen, '/_uploads/').filter((s) => s.startsWith('PUT') && s.includes('/data')).length, 1, `the data is one PUT:\n${seen.join('\n')}`);
      assert.ok(objectRequests(seen).length <= (refusesCreates ? 8 : 9), `${objectRequests(seen).length} requests:\n${seen.join('\n')}`);
      assert.ok((await reg.request('GET', `/v2/rtt/docker/blobs/${sha256(small)}`)).body.equals(small));

      // Larger than a segment: the plain object becomes the first segment, the rest follows.
      const large = bytes(2 * 1024 * 1024 + 5 * 1024 + 3, 102);
      const second = (await reg.request('POST', '/v2/rtt/docker/blobs/uploads/')).header('location')!;
      const patched = await reg.request('PATCH', second, { body: chunkedBody(large), headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(patched.status, 202, patched.body.toString());
      assert.equal(patched.header('range'), `0-${large.length - 1}`);
      assert.equal((await finishAt(reg, second, sha256(large))).status, 201);
      assert.ok((await reg.request('GET', `/v2/rtt/docker/blobs/${sha256(large)}`)).body.equals(large));
      const left: string[] = [];
      for await (const e of inner.client.list({ prefix: 'files/docker/registry/v2/repositories/rtt/docker/_uploads/' })) left.push(e.name);
      assert.deepEqual(left, []);
    });

    it('two chunked PATCHes of one session at once, in two processes: the one whose data the other replaced stops at its first segment (416), never appends its bytes to the other\'s', async () => {
      const [a, b] = await pairOn(backend());
      const long = bytes(2 * 1024 * 1024 + 17, 103); // past the tests' 1 MiB segment
      const short = bytes(100 * 1024 + 9, 104);
      const location = (await a.reg.request('POST', '/v2/rtt/both/blobs/uploads/')).header('location')!;
      // a's body: its first 512 KiB, then nothing until b's PATCH is done.
      const body = new PassThrough();
      const aPatch = a.reg.request('PATCH', location, { body, headers: { 'Content-Type': 'application/octet-stream' } });
      body.write(long.subarray(0, 512 * 1024));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const bPatch = await b.reg.request('PATCH', location, { body: chunkedBody(short), headers: { 'Content-Type': 'application/octet-stream' } });
      body.end(long.subarray(512 * 1024));
      const aAnswer = await aPatch;
      // Whichever create won, the session holds one writer's bytes, never a's after b's.
      const status = await a.reg.request('GET', location);
      const held = Number(status.header('range')!.split('-')[1]) + 1;
      if (bPatch.status === 202 && aAnswer.status === 416) {
        assert.equal(held, short.length, 'b\'s bytes, and nothing of a\'s after them');
        assert.equal((await finishAt(a.reg, location, sha256(short))).status, 201);
        assert.ok((await b.reg.request('GET', `/v2/rtt/both/blobs/${sha256(short)}`)).body.equals(short));
      } else {
        // a's create came last (Swift keeps the newest): a's whole body, b's refused or replaced.
        assert.equal(aAnswer.status, 202, `${aAnswer.status} ${aAnswer.body.toString()} / b ${bPatch.status}`);
        assert.equal(held, long.length);
        assert.equal((await finishAt(a.reg, location, sha256(long))).status, 201);
        assert.ok((await b.reg.request('GET', `/v2/rtt/both/blobs/${sha256(long)}`)).body.equals(long));
      }
    });

    it('a pull of a layer: its link beside the blob\'s own GET (2 requests); a large one\'s segments straight after; a range by the version found', async () => {
      const { reg, inner } = await registryOn(backend());
      const small = bytes(200 * 1024, 91);
      const large = bytes(2 * 1024 * 1024 + 77, 92); // segments (1 MiB in the tests)
      for (const layer of [small, large]) {
        const location = (await reg.request('POST', `/v2/rtt/pull/blobs/uploads/?digest=${sha256(layer)}`, { body: layer, headers: { 'Content-Type': 'application/octet-stream' } })).header('location');
        assert.ok(location);
      }
      const small$ = await requestsDuring(inner, async () => {
        const got = await reg.request('GET', `/v2/rtt/pull/blobs/${sha256(small)}`);
        assert.ok(got.body.equals(small));
      });
      assert.deepEqual(objectRequests(small$).map((s) => s.split(' ')[0]), ['GET', 'GET'], small$.join('\n'));
      const large$ = await requestsDuring(inner, async () => {
        const got = await reg.request('GET', `/v2/rtt/pull/blobs/${sha256(large)}`);
        assert.ok(got.body.equals(large));
      });
      // The link and the manifest's own GET, then the segments themselves: no HEAD at all.
      assert.equal(large$.filter((s) => s.startsWith('HEAD')).length, 0, large$.join('\n'));
      assert.equal(objectRequests(large$).length, 2 + 3, large$.join('\n'));
      // A range: the link and the blob's HEAD at once, then the bytes by the version found.
      const ranged$ = await requestsDuring(inner, async () => {
        const got = await reg.request('GET', `/v2/rtt/pull/blobs/${sha256(small)}`, { headers: { Range: 'bytes=10-19' } });
        assert.equal(got.status, 206);
        assert.ok(got.body.equals(small.subarray(10, 20)));
      });
      assert.equal(objectRequests(ranged$).length, 3, ranged$.join('\n'));
      // A blob this repository does not link is unknown here, whatever the store holds.
      assert.equal((await reg.request('GET', `/v2/rtt/other/blobs/${sha256(small)}`)).status, 404);
      const ranged = await reg.request('GET', `/v2/rtt/pull/blobs/${sha256(large)}`, { headers: { Range: 'bytes=1048570-1048590' } });
      assert.equal(ranged.status, 206);
      assert.ok(ranged.body.equals(large.subarray(1048570, 1048591)));
    });

    it('a read by version never serves other bytes: a plain object rewritten since its stat is not found', async () => {
      const { inner } = await registryOn(backend());
      const driver = wrapDriver(inner);
      await driver.putContent('/v/plain', Buffer.from('first content'));
      const { version } = await driver.stat('/v/plain');
      await driver.putContent('/v/plain', Buffer.from('other content'));
      const sink = new PassThrough();
      sink.resume();
      await assert.rejects(driver.pipeTo('/v/plain', sink, { offset: 0, length: 13, version }), PathNotFoundError);
    });

    it('PATCHes spread over two processes and the commit where the first went: judged on what is stored (201), not on what that process wrote', async () => {
      const [a, b] = await pairOn(backend());
      const first = bytes(200 * 1024 + 1, 95);
      const second = bytes(100 * 1024 + 3, 96);
      const location = (await a.reg.request('POST', '/v2/rtt/spread/blobs/uploads/')).header('location')!;
      assert.equal((await patchAt(a.reg, location, first, 0)).status, 202);
      assert.equal((await patchAt(b.reg, location, second, first.length)).status, 202);
      const whole = Buffer.concat([first, second]);
      const put = await finishAt(a.reg, location, sha256(whole));
      assert.equal(put.status, 201, put.body.toString());
      assert.ok((await b.reg.request('GET', `/v2/rtt/spread/blobs/${sha256(whole)}`)).body.equals(whole));
    });

    it('a session created here whose first PATCH here comes after another process wrote its data: appended to, not replaced', async () => {
      const [a, b] = await pairOn(backend());
      const first = bytes(120 * 1024 + 9, 99);
      const second = bytes(80 * 1024 + 1, 100);
      const location = (await a.reg.request('POST', '/v2/rtt/later/blobs/uploads/')).header('location')!;
      assert.equal((await patchAt(b.reg, location, first, 0)).status, 202);
      // a created the session and has not written to it: its create is refused (or, on Ceph RGW, it looks first).
      const patched = await patchAt(a.reg, location, second, first.length);
      assert.equal(patched.status, 202, patched.body.toString());
      assert.equal(patched.header('range'), `0-${first.length + second.length - 1}`);
      const whole = Buffer.concat([first, second]);
      assert.equal((await finishAt(a.reg, location, sha256(whole))).status, 201);
      assert.ok((await b.reg.request('GET', `/v2/rtt/later/blobs/${sha256(whole)}`)).body.equals(whole));
    });

    it('the data appended to by another process between the commit\'s checks and its copy: the copy is refused (it is conditional on the verified ETag), no blob holds other bytes', async () => {
      const [a, b] = await pairOn(backend());
      const mine = bytes(300 * 1024 + 7, 97);
      const more = bytes(50 * 1024 + 1, 98);
      const location = (await a.reg.request('POST', '/v2/rtt/race/blobs/uploads/')).header('location')!;
      assert.equal((await patchAt(a.reg, location, mine)).status, 202);
      // a's commit has verified its bytes and is about to copy them into the blob store.
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let reached!: () => void;
      const atCopy = new Promise<void>((r) => (reached = r));
      let held = false;
      a.inner.client.hooks.beforeRequest = async (method, object) => {
        if (held || method !== 'PUT' || !object?.includes('/blobs/sha256/')) return;
        held = true;
        reached();
        await released;
      };
      const put = finishAt(a.reg, location, sha256(mine));
      await atCopy;
      assert.equal((await patchAt(b.reg, location, more)).status, 202, 'the other process appends meanwhile');
      release();
      const answer = await put;
      a.inner.client.hooks.beforeRequest = undefined;
      assert.equal(answer.status, 416, answer.body.toString());
      const blob = await a.reg.request('GET', `/v2/rtt/race/blobs/${sha256(mine)}`);
      assert.equal(blob.status, 404, 'no blob under a digest its bytes do not have');
      const whole = Buffer.concat([mine, more]);
      assert.equal((await finishAt(b.reg, location, sha256(whole))).status, 201);
      assert.ok((await a.reg.request('GET', `/v2/rtt/race/blobs/${sha256(whole)}`)).body.equals(whole));
    });

    it('a manifest by tag: the tag, then its revision link beside the bytes; once read, the bytes come from memory', async () => {
      const { reg, inner } = await registryOn(backend());
      const config = Buffer.from('{}');
      await reg.request('POST', `/v2/rtt/tag/blobs/uploads/?digest=${sha256(config)}`, { body: config, headers: { 'Content-Type': 'application/octet-stream' } });
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [] }));
      const put = await reg.request('PUT', '/v2/rtt/tag/manifests/v1', { body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(put.status, 201, put.body.toString());
      const seen = await requestsDuring(inner, async () => {
        const got = await reg.request('GET', '/v2/rtt/tag/manifests/v1', { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
        assert.ok(got.body.equals(manifest));
      });
      assert.deepEqual(objectRequests(seen).map((s) => s.split(' ')[0]), ['GET', 'GET'], seen.join('\n'));
      // Deleted by digest: the tag goes, and so does what the cached bytes could answer.
      assert.equal((await reg.request('DELETE', `/v2/rtt/tag/manifests/${sha256(manifest)}`)).status, 202);
      assert.equal((await reg.request('GET', `/v2/rtt/tag/manifests/${sha256(manifest)}`)).status, 404);
      assert.equal((await reg.request('GET', '/v2/rtt/tag/manifests/v1')).status, 404);
    });

    it('a manifest with the blob descriptor cache (storage.cache.blobdescriptor): by digest no request, by tag only the tag', async () => {
      // Two processes, as behind a load balancer: the first with the cache, the second without.
      const [{ reg, inner }, other] = await registriesOn(backend(), 2, [new InMemoryBlobDescriptorCache(1000)]);
      const config = Buffer.from('{"cached":true}');
      await reg.request('POST', `/v2/rtt/cached/blobs/uploads/?digest=${sha256(config)}`, { body: config, headers: { 'Content-Type': 'application/octet-stream' } });
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [] }));
      const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
      assert.equal((await reg.request('PUT', '/v2/rtt/cached/manifests/v1', { body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } })).status, 201);
      const byDigest = await requestsDuring(inner, async () => {
        assert.ok((await reg.request('GET', `/v2/rtt/cached/manifests/${sha256(manifest)}`, { headers: accept })).body.equals(manifest));
      });
      assert.deepEqual(objectRequests(byDigest), [], byDigest.join('\n'));
      const byTag = await requestsDuring(inner, async () => {
        assert.ok((await reg.request('GET', '/v2/rtt/cached/manifests/v1', { headers: accept })).body.equals(manifest));
      });
      assert.deepEqual(objectRequests(byTag).map((s) => s.split(' ')[0]), ['GET'], byTag.join('\n'));
      assert.ok(objectRequests(byTag)[0]!.includes('/_manifests/tags/v1/current/link'), byTag.join('\n'));
      // The tag is read every time (the one pointer that moves): moved by the other process, it is
      // seen at once.
      const moved = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [], annotations: { moved: 'yes' } }));
      assert.equal((await other!.reg.request('PUT', '/v2/rtt/cached/manifests/v1', { body: moved, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } })).status, 201);
      assert.ok((await reg.request('GET', '/v2/rtt/cached/manifests/v1', { headers: accept })).body.equals(moved));
    });
  });
}
