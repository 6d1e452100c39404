// Manifests, tags, catalog and referrers on a real server, once per driver.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DRIVERS, startTestRegistry, pushImage, pushBlob, sha256, errorCode, bytes, MT, type TestRegistry } from './harness.js';
import { Digest } from '../../src/registry/references.js';
import { PathNotFoundError } from '../../src/storage/driver.js';
import { createRegistryStorage } from '../../src/storage/registry-storage.js';
import { pathFor, referrerEntryPath, referrersIndexedMarkerPath, referrersRootPath } from '../../src/storage/paths.js';

for (const factory of DRIVERS) {
  describe(`manifests (${factory.name})`, () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startTestRegistry(factory, { deleteEnabled: true, manifestMaxBytes: 64 * 1024 });
    });
    after(async () => reg.close());

    const put = (name: string, ref: string, body: Buffer | string, contentType = MT.ociManifest) =>
      reg.request('PUT', `/v2/${name}/manifests/${ref}`, { body, headers: { 'Content-Type': contentType } });

    it('OCI manifest by tag: PUT, GET/HEAD by tag and digest with the right headers', async () => {
      const image = await pushImage(reg, 'm/oci', 'v1');
      for (const ref of ['v1', image.digest]) {
        const get = await reg.request('GET', `/v2/m/oci/manifests/${ref}`);
        assert.equal(get.status, 200);
        assert.ok(get.body.equals(image.content), 'byte-identical');
        assert.equal(get.header('content-type'), MT.ociManifest);
        assert.equal(get.header('docker-content-digest'), image.digest);
        assert.equal(get.header('etag'), `"${image.digest}"`);
        const head = await reg.request('HEAD', `/v2/m/oci/manifests/${ref}`);
        assert.equal(head.status, 200);
        assert.equal(head.header('content-length'), String(image.size));
        assert.equal(head.body.length, 0);
      }
      const notModified = await reg.request('GET', '/v2/m/oci/manifests/v1', { headers: { 'If-None-Match': `"${image.digest}"` } });
      assert.equal(notModified.status, 304);
    });

    it('PUT answers 201 with Location and Docker-Content-Digest; by digest too', async () => {
      const image = await pushImage(reg, 'm/put', 'first');
      const res = await put('m/put', image.digest, image.content);
      assert.equal(res.status, 201);
      assert.equal(res.header('location'), `/v2/m/put/manifests/${image.digest}`);
      assert.equal(res.header('docker-content-digest'), image.digest);
      const mismatch = await put('m/put', sha256('other'), image.content);
      assert.equal(mismatch.status, 400);
      assert.equal(errorCode(mismatch), 'DIGEST_INVALID');
    });

    it('Docker schema2, Docker manifest list and OCI index', async () => {
      const amd = await pushImage(reg, 'm/multi', 'amd64', { mediaType: MT.dockerManifest, seed: 2 });
      const arm = await pushImage(reg, 'm/multi', 'arm64', { mediaType: MT.dockerManifest, seed: 3 });
      const get = await reg.request('GET', '/v2/m/multi/manifests/amd64', { headers: { Accept: MT.dockerManifest } });
      assert.equal(get.header('content-type'), MT.dockerManifest);
      for (const mediaType of [MT.dockerList, MT.ociIndex]) {
        const list = Buffer.from(JSON.stringify({
          schemaVersion: 2,
          mediaType,
          manifests: [
            { mediaType: MT.dockerManifest, digest: amd.digest, size: amd.size, platform: { architecture: 'amd64', os: 'linux' } },
            { mediaType: MT.dockerManifest, digest: arm.digest, size: arm.size, platform: { architecture: 'arm64', os: 'linux' } },
          ],
        }));
        const res = await put('m/multi', 'latest', list, mediaType);
        assert.equal(res.status, 201, res.body.toString());
        const back = await reg.request('GET', '/v2/m/multi/manifests/latest', { headers: { Accept: `${MT.dockerList}, ${MT.ociIndex}, ${MT.dockerManifest}` } });
        assert.ok(back.body.equals(list));
        assert.equal(back.header('content-type'), mediaType);
        const old = await reg.request('GET', '/v2/m/multi/manifests/latest', { headers: { Accept: MT.dockerManifest } });
        if (mediaType === MT.dockerList) {
          // A client that cannot read lists, asking by tag, gets the linux/amd64 image, as Distribution serves it.
          assert.equal(old.status, 200);
          assert.equal(old.header('docker-content-digest'), amd.digest);
        } else {
          assert.equal(old.status, 404, 'an OCI index is not swapped for a child (Distribution answers 404)');
          assert.equal(errorCode(old), 'MANIFEST_UNKNOWN');
        }
        // By digest, the answer is that digest's content or nothing, never another manifest.
        const byDigest = await reg.request('GET', `/v2/m/multi/manifests/${sha256(list)}`, { headers: { Accept: MT.dockerManifest } });
        assert.equal(byDigest.status, 404);
        assert.equal(errorCode(byDigest), 'MANIFEST_UNKNOWN');
      }
    });

    it('content negotiation refuses a type the client cannot read', async () => {
      await pushImage(reg, 'm/neg', 'v1');
      const res = await reg.request('GET', '/v2/m/neg/manifests/v1', { headers: { Accept: MT.dockerManifest } });
      assert.equal(res.status, 404);
      assert.equal(errorCode(res), 'MANIFEST_UNKNOWN');
      assert.equal((await reg.request('GET', '/v2/m/neg/manifests/v1', { headers: { Accept: '*/*' } })).status, 200);
    });

    it('artifacts with any artifactType / config media type', async () => {
      const config = Buffer.from('{}');
      const cfg = await pushBlob(reg, 'm/art', config);
      const blob = await pushBlob(reg, 'm/art', Buffer.from('signature'));
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: MT.ociManifest, artifactType: 'application/vnd.example.sbom',
        config: { mediaType: MT.empty, digest: cfg, size: 2 },
        layers: [{ mediaType: 'application/vnd.example.data', digest: blob, size: 9 }],
      }));
      assert.equal((await put('m/art', 'sbom', manifest)).status, 201);
      const helm = Buffer.from(JSON.stringify({
        schemaVersion: 2, config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: cfg, size: 2 }, layers: [],
      }));
      assert.equal((await put('m/art', 'chart', helm)).status, 201);
    });

    it('refusals: schema1, invalid JSON, wrong media type, unknown blobs, unknown children, too large', async () => {
      const schema1 = await put('m/bad', 'v1', JSON.stringify({ schemaVersion: 1, name: 'm/bad', tag: 'v1', fsLayers: [], history: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws');
      assert.equal(schema1.status, 400);
      assert.equal(errorCode(schema1), 'MANIFEST_INVALID');
      assert.match(schema1.body.toString(), /schema1/);
      assert.equal(errorCode(await put('m/bad', 'v1', '{"schemaVersion": 2,')), 'MANIFEST_INVALID');
      assert.equal(errorCode(await put('m/bad', 'v1', JSON.stringify({ schemaVersion: 2, mediaType: 'text/plain', config: {} }))), 'MANIFEST_INVALID');
      const indexAsManifest = JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] });
      assert.equal(errorCode(await put('m/bad', 'v1', indexAsManifest, MT.ociManifest)), 'MANIFEST_INVALID');

      const unknownBlob = JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: sha256('nope'), size: 4 }, layers: [] });
      const res = await put('m/bad', 'v1', unknownBlob);
      assert.equal(res.status, 400, 'a manifest naming missing blobs is a bad request (Distribution: 400)');
      assert.equal(errorCode(res), 'MANIFEST_BLOB_UNKNOWN');
      const unknownChild = JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ mediaType: MT.ociManifest, digest: sha256('x'), size: 1 }] });
      assert.equal(errorCode(await put('m/bad', 'v1', unknownChild, MT.ociIndex)), 'MANIFEST_BLOB_UNKNOWN');

      const huge = Buffer.alloc(64 * 1024 + 1, 0x20);
      const tooLarge = await put('m/bad', 'v1', huge);
      assert.equal(tooLarge.status, 413);
      assert.equal(errorCode(tooLarge), 'SIZE_INVALID');
      assert.equal((await reg.request('GET', '/v2/m/bad/manifests/v1')).status, 404, 'nothing was stored');
      assert.equal(errorCode(await reg.request('GET', '/v2/m/bad/manifests/v1')), 'MANIFEST_UNKNOWN');
      assert.equal(errorCode(await reg.request('GET', `/v2/m/bad/manifests/${sha256('zzz')}`)), 'MANIFEST_UNKNOWN');
      // A reference that is neither a tag nor a digest names nothing: 404 MANIFEST_UNKNOWN (as
      // Distribution answers), for GET, HEAD and DELETE; only a PUT refuses it as TAG_INVALID.
      for (const ref of ['-bad-tag', '.INVALID_NAME', 'a'.repeat(129)]) {
        const get = await reg.request('GET', `/v2/m/bad/manifests/${ref}`);
        assert.equal(get.status, 404, `GET ${ref}`);
        assert.equal(errorCode(get), 'MANIFEST_UNKNOWN');
        assert.equal((await reg.request('HEAD', `/v2/m/bad/manifests/${ref}`)).status, 404, `HEAD ${ref}`);
        assert.equal(errorCode(await reg.request('DELETE', `/v2/m/bad/manifests/${ref}`)), 'MANIFEST_UNKNOWN');
      }
      const badPut = await put('m/bad', '.INVALID_NAME', '{}');
      assert.equal(badPut.status, 400);
      assert.equal(errorCode(badPut), 'TAG_INVALID');
    });

    it('PUT by digest with ?tag= (next distribution-spec): every tag applied, one OCI-Tag per tag; a bad tag stores nothing', async () => {
      const image = await pushImage(reg, 'm/ocitag', 'seed');
      const tags = Array.from({ length: 12 }, (_, i) => `t${i}`);
      const res = await reg.request('PUT', `/v2/m/ocitag/manifests/${image.digest}?${tags.map((t) => `tag=${t}`).join('&')}`, { body: image.content, headers: { 'Content-Type': MT.ociManifest } });
      assert.equal(res.status, 201);
      assert.deepEqual(res.header('oci-tag')!.split(', '), tags);
      for (const tag of tags) assert.equal((await reg.request('HEAD', `/v2/m/ocitag/manifests/${tag}`)).header('docker-content-digest'), image.digest, tag);
      const list = (await reg.request('GET', '/v2/m/ocitag/tags/list')).json<{ tags: string[] }>();
      assert.deepEqual([...list.tags].sort(), ['seed', ...tags].sort());

      const other = await pushImage(reg, 'm/ocitag-bad', 'seed', { seed: 7 });
      const refused = await reg.request('PUT', `/v2/m/ocitag-bad/manifests/${other.digest}?tag=good&tag=-bad`, { body: other.content, headers: { 'Content-Type': MT.ociManifest } });
      assert.equal(refused.status, 400);
      assert.equal(errorCode(refused), 'TAG_INVALID');
      assert.equal((await reg.request('HEAD', '/v2/m/ocitag-bad/manifests/good')).status, 404, 'no tag applied');
    });

    it('a schema1 manifest another registry stored is still served, with its media type', async () => {
      // Written the way registry:2 stored it: bytes in the blob store, a revision link, a tag.
      const { ManifestStore } = await import('../../src/storage/manifest-store.js');
      const { BlobStore } = await import('../../src/storage/blob-store.js');
      const { TagStore } = await import('../../src/storage/tag-store.js');
      const { Digest } = await import('../../src/registry/references.js');
      const content = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'm/old', tag: 'v1', fsLayers: [], history: [], signatures: [{ header: {}, signature: 'x', protected: 'y' }] }));
      const digest = Digest.ofContent(content);
      await new ManifestStore(reg.driver, new BlobStore(reg.driver)).put('m/old', digest, content);
      await new TagStore(reg.driver).tag('m/old', 'v1', digest);
      const res = await reg.request('GET', '/v2/m/old/manifests/v1');
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(content));
      assert.equal(res.header('content-type'), 'application/vnd.docker.distribution.manifest.v1+prettyjws');
      assert.equal(res.header('docker-content-digest'), digest.toString());
    });

    it('a manifest is visible only in its repository', async () => {
      const image = await pushImage(reg, 'm/scope', 'v1');
      assert.equal((await reg.request('GET', `/v2/m/other/manifests/${image.digest}`)).status, 404);
    });

    it('subject → OCI-Subject, and the referrers API with artifactType filter', async () => {
      const subject = await pushImage(reg, 'm/ref', 'v1', { seed: 5 });
      const subjectDescriptor = { mediaType: MT.ociManifest, digest: subject.digest, size: subject.size };
      const emptyDigest = await pushBlob(reg, 'm/ref', Buffer.from('{}'));
      const referrer = async (artifactType: string, payload: string) => {
        const layer = await pushBlob(reg, 'm/ref', Buffer.from(payload));
        const body = Buffer.from(JSON.stringify({
          schemaVersion: 2, mediaType: MT.ociManifest, artifactType,
          config: { mediaType: MT.empty, digest: emptyDigest, size: 2 },
          layers: [{ mediaType: 'application/octet-stream', digest: layer, size: payload.length }],
          subject: subjectDescriptor, annotations: { 'org.example.kind': artifactType },
        }));
        const digest = sha256(body);
        const res = await put('m/ref', digest, body);
        assert.equal(res.status, 201);
        assert.equal(res.header('oci-subject'), subject.digest);
        return { digest, size: body.length };
      };
      const sig = await referrer('application/vnd.example.signature', 'sig');
      const sbom = await referrer('application/vnd.example.sbom', 'sbom');

      const all = await reg.request('GET', `/v2/m/ref/referrers/${subject.digest}`);
      assert.equal(all.status, 200);
      assert.equal(all.header('content-type'), MT.ociIndex);
      const index = all.json();
      assert.equal(index.schemaVersion, 2);
      assert.equal(index.mediaType, MT.ociIndex);
      const byDigest = Object.fromEntries(index.manifests.map((m: { digest: string }) => [m.digest, m]));
      assert.deepEqual(Object.keys(byDigest).sort(), [sig.digest, sbom.digest].sort());
      assert.deepEqual(byDigest[sig.digest], {
        mediaType: MT.ociManifest, digest: sig.digest, size: sig.size, artifactType: 'application/vnd.example.signature',
        annotations: { 'org.example.kind': 'application/vnd.example.signature' },
      });

      const filtered = await reg.request('GET', `/v2/m/ref/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`);
      assert.equal(filtered.header('oci-filters-applied'), 'artifactType');
      assert.deepEqual(filtered.json().manifests.map((m: { digest: string }) => m.digest), [sbom.digest]);

      const none = await reg.request('GET', `/v2/m/ref/referrers/${sha256('no subject')}`);
      assert.equal(none.status, 200);
      assert.deepEqual(none.json().manifests, []);
      assert.equal(errorCode(await reg.request('GET', '/v2/m/ref/referrers/sha256:bad')), 'DIGEST_INVALID');
    });

    // The stored index: written by the PUT, removed by the DELETE, read for the subject only.
    const pushReferrer = async (name: string, subject: { digest: string; size: number }, artifactType: string, payload: string) => {
      const config = await pushBlob(reg, name, Buffer.from('{}'));
      const layer = await pushBlob(reg, name, Buffer.from(payload));
      const body = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: MT.ociManifest, artifactType,
        config: { mediaType: MT.empty, digest: config, size: 2 },
        layers: [{ mediaType: 'application/octet-stream', digest: layer, size: payload.length }],
        subject: { mediaType: MT.ociManifest, digest: subject.digest, size: subject.size },
      }));
      const res = await put(name, sha256(body), body);
      assert.equal(res.status, 201, res.body.toString());
      return { digest: sha256(body), content: body, size: body.length };
    };
    const listed = async (name: string, subject: string, query = ''): Promise<string[]> => {
      const res = await reg.request('GET', `/v2/${name}/referrers/${subject}${query}`);
      assert.equal(res.status, 200, res.body.toString());
      return res.json().manifests.map((m: { digest: string }) => m.digest);
    };
    const exists = async (path: string): Promise<boolean> => {
      try {
        await reg.driver.stat(path);
        return true;
      } catch (err) {
        if (err instanceof PathNotFoundError) return false;
        throw err;
      }
    };

    it('referrers index: an entry per PUT with subject, read right after the 201, gone after DELETE; sorted by digest', async () => {
      const subject = await pushImage(reg, 'm/refidx', 'v1', { seed: 11 });
      const other = await pushImage(reg, 'm/refidx', 'v2', { seed: 12 });
      assert.ok(await exists(referrersIndexedMarkerPath('m/refidx')), 'a repository regate creates is indexed from its first push');
      const made = [];
      for (let i = 0; i < 5; i++) {
        const r = await pushReferrer('m/refidx', subject, i % 2 ? 'application/vnd.example.sbom' : 'application/vnd.example.signature', `p${i}`);
        // Right after its 201, the query sees it.
        assert.ok((await listed('m/refidx', subject.digest)).includes(r.digest), `referrer ${i} listed right after its PUT`);
        made.push(r);
      }
      const onOther = await pushReferrer('m/refidx', other, 'application/vnd.example.signature', 'o');
      assert.deepEqual(await listed('m/refidx', subject.digest), made.map((r) => r.digest).sort());
      assert.deepEqual(await listed('m/refidx', other.digest), [onOther.digest]);
      assert.ok(await exists(referrerEntryPath('m/refidx', Digest.parse(subject.digest), Digest.parse(made[0]!.digest))), 'stored under the subject');
      assert.deepEqual(
        await listed('m/refidx', subject.digest, '?artifactType=application/vnd.example.sbom'),
        made.filter((_, i) => i % 2).map((r) => r.digest).sort(),
      );

      assert.equal((await reg.request('DELETE', `/v2/m/refidx/manifests/${made[0]!.digest}`)).status, 202);
      assert.deepEqual(await listed('m/refidx', subject.digest), made.slice(1).map((r) => r.digest).sort());
      assert.equal(await exists(referrerEntryPath('m/refidx', Digest.parse(subject.digest), Digest.parse(made[0]!.digest))), false, 'entry removed');

      // The subject itself deleted: its referrers may still be listed (the spec allows it).
      assert.equal((await reg.request('DELETE', `/v2/m/refidx/manifests/${subject.digest}`)).status, 202);
      assert.deepEqual(await listed('m/refidx', subject.digest), made.slice(1).map((r) => r.digest).sort());
    });

    it('referrers index: a repository stored without the index is scanned once, then served from the index', async () => {
      const subject = await pushImage(reg, 'm/legacy', 'v1', { seed: 13 });
      const a = await pushReferrer('m/legacy', subject, 'application/vnd.example.signature', 'a');
      // A referrer that reached storage without the index (as an older regate or Distribution writes it).
      const storage = createRegistryStorage(reg.driver);
      const config = await pushBlob(reg, 'm/legacy', Buffer.from('{}'));
      const b = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: MT.ociManifest, artifactType: 'application/vnd.example.sbom',
        config: { mediaType: MT.empty, digest: config, size: 2 }, layers: [],
        subject: { mediaType: MT.ociManifest, digest: subject.digest, size: subject.size },
        annotations: { 'org.example.legacy': 'yes' },
      }));
      const bDigest = Digest.parse(sha256(b));
      await storage.manifests.put('m/legacy', bDigest, b);
      // …and the whole index dropped, marker included, as in a root written before the index existed.
      await reg.driver.delete(referrersRootPath('m/legacy'));
      assert.equal(await exists(referrersIndexedMarkerPath('m/legacy')), false);

      const res = await reg.request('GET', `/v2/m/legacy/referrers/${subject.digest}`);
      assert.equal(res.status, 200);
      const byDigest = Object.fromEntries(res.json().manifests.map((m: { digest: string }) => [m.digest, m]));
      assert.deepEqual(Object.keys(byDigest), [a.digest, bDigest.toString()].sort());
      assert.deepEqual(byDigest[bDigest.toString()], {
        mediaType: MT.ociManifest, digest: bDigest.toString(), size: b.length, artifactType: 'application/vnd.example.sbom',
        annotations: { 'org.example.legacy': 'yes' },
      });
      assert.ok(await exists(referrersIndexedMarkerPath('m/legacy')), 'marker written after the scan');
      assert.ok(await exists(referrerEntryPath('m/legacy', Digest.parse(subject.digest), bDigest)), 'entry written by the scan');

      // From now on the index answers: a revision written behind its back is not scanned for again.
      const c = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: MT.ociManifest, artifactType: 'application/x-late',
        config: { mediaType: MT.empty, digest: config, size: 2 }, layers: [],
        subject: { mediaType: MT.ociManifest, digest: subject.digest, size: subject.size },
      }));
      await storage.manifests.put('m/legacy', Digest.parse(sha256(c)), c);
      await reg.restart();
      assert.deepEqual(await listed('m/legacy', subject.digest), [a.digest, bDigest.toString()].sort());

      // A DELETE through the API removes a scanned entry like any other.
      assert.equal((await reg.request('DELETE', `/v2/m/legacy/manifests/${bDigest}`)).status, 202);
      assert.deepEqual(await listed('m/legacy', subject.digest), [a.digest]);

      // Two scans at once (two processes after a restart, say) agree and leave the same index.
      await reg.driver.delete(referrersIndexedMarkerPath('m/legacy'));
      const [one, two] = await Promise.all([listed('m/legacy', subject.digest), listed('m/legacy', subject.digest)]);
      assert.deepEqual(one, [a.digest, sha256(c)].sort());
      assert.deepEqual(two, one);
    });

    it('referrers of an unknown repository: an empty list, and nothing is created in storage', async () => {
      assert.deepEqual(await listed('m/never-pushed', sha256('x')), []);
      assert.equal(await exists(pathFor({ kind: 'repository', name: 'm/never-pushed' })), false);
    });

    it('DELETE by digest removes the revision and the tags on it; DELETE by tag removes the tag', async () => {
      const a = await pushImage(reg, 'm/del', 'a', { seed: 7 });
      assert.equal((await put('m/del', 'b', a.content)).status, 201);
      const other = await pushImage(reg, 'm/del', 'c', { seed: 8 });
      assert.equal((await reg.request('DELETE', '/v2/m/del/manifests/c')).status, 202);
      assert.equal((await reg.request('GET', '/v2/m/del/manifests/c')).status, 404);
      assert.equal((await reg.request('GET', `/v2/m/del/manifests/${other.digest}`)).status, 200, 'the revision stays');
      assert.equal((await reg.request('DELETE', `/v2/m/del/manifests/${a.digest}`)).status, 202);
      for (const ref of ['a', 'b', a.digest]) assert.equal((await reg.request('GET', `/v2/m/del/manifests/${ref}`)).status, 404, ref);
      assert.deepEqual((await reg.request('GET', '/v2/m/del/tags/list')).json().tags, []);
      assert.equal(errorCode(await reg.request('DELETE', `/v2/m/del/manifests/${a.digest}`)), 'MANIFEST_UNKNOWN');
      assert.equal(errorCode(await reg.request('DELETE', '/v2/m/del/manifests/nope')), 'MANIFEST_UNKNOWN');
    });

    it('tags list with n/last pagination and Link; unknown repository is NAME_UNKNOWN', async () => {
      const image = await pushImage(reg, 'm/tags', 't0');
      const tags = ['t0', 't1', 't2', 't3', 't4'];
      for (const tag of tags.slice(1)) assert.equal((await put('m/tags', tag, image.content)).status, 201);
      assert.deepEqual((await reg.request('GET', '/v2/m/tags/tags/list')).json(), { name: 'm/tags', tags });
      const page1 = await reg.request('GET', '/v2/m/tags/tags/list?n=2');
      assert.deepEqual(page1.json().tags, ['t0', 't1']);
      assert.equal(page1.header('link'), '</v2/m/tags/tags/list?n=2&last=t1>; rel="next"');
      const page3 = await reg.request('GET', '/v2/m/tags/tags/list?n=2&last=t3');
      assert.deepEqual(page3.json().tags, ['t4']);
      assert.equal(page3.header('link'), undefined);
      assert.equal(errorCode(await reg.request('GET', '/v2/m/tags/tags/list?n=-1')), 'PAGINATION_NUMBER_INVALID');
      const unknown = await reg.request('GET', '/v2/m/never/tags/list');
      assert.equal(unknown.status, 404);
      assert.equal(errorCode(unknown), 'NAME_UNKNOWN');
    });
  });

  describe(`catalog, names and routes (${factory.name})`, () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startTestRegistry(factory, { deleteEnabled: false, catalogMaxEntries: 3 });
    });
    after(async () => reg.close());

    it('catalog lists repositories with pagination', async () => {
      const names = ['c/a', 'c/b', 'c/b/nested', 'c/d', 'e'];
      for (const name of names) await pushImage(reg, name, 'v1', { layers: 1 });
      // An upload session alone does not make a repository (as in Distribution 2.8.2).
      assert.equal((await reg.request('POST', '/v2/c/c-upload-only/blobs/uploads/')).status, 202);
      const full = await reg.request('GET', '/v2/_catalog?n=100');
      assert.deepEqual(full.json().repositories, names.slice(0, 3), 'capped at catalogMaxEntries');
      assert.equal(full.header('link'), '</v2/_catalog?n=3&last=c%2Fb%2Fnested>; rel="next"');
      const next = await reg.request('GET', '/v2/_catalog?n=3&last=c/b/nested');
      assert.deepEqual(next.json().repositories, ['c/d', 'e']);
      const page = await reg.request('GET', '/v2/_catalog?n=2');
      assert.deepEqual(page.json().repositories, ['c/a', 'c/b']);
    });

    it('manifest DELETE is 405 UNSUPPORTED when deletion is disabled', async () => {
      await pushImage(reg, 'keep', 'v1', { layers: 1 });
      const res = await reg.request('DELETE', '/v2/keep/manifests/v1');
      assert.equal(res.status, 405);
      assert.equal(errorCode(res), 'UNSUPPORTED');
      assert.equal((await reg.request('GET', '/v2/keep/manifests/v1')).status, 200);
    });

    const escapes = [
      '/v2/../etc/passwd/manifests/latest',
      '/v2/a/../../b/manifests/latest',
      '/v2/a%2f..%2fb/manifests/latest',
      '/v2/%2e%2e/manifests/latest',
      '/v2/a%00b/manifests/latest',
      '/v2//etc/manifests/latest',
      '/v2/UPPER/manifests/latest',
      `/v2/${'a'.repeat(256)}/manifests/latest`,
      '/v2/a/_manifests/manifests/latest',
      '/v2/../blobs/uploads/',
    ];
    for (const path of escapes) {
      it(`NAME_INVALID for ${path.slice(0, 50)}`, async () => {
        const res = await reg.request(path.endsWith('uploads/') ? 'POST' : 'GET', path);
        assert.equal(res.status, 400);
        assert.equal(errorCode(res), 'NAME_INVALID');
      });
    }

    it('unknown paths and methods answer in the error envelope', async () => {
      const unknown = await reg.request('GET', '/v2/a/unknown/thing/');
      assert.equal(unknown.status, 404);
      assert.ok(errorCode(unknown));
      const method = await reg.request('POST', '/v2/a/manifests/latest');
      assert.equal(method.status, 405);
      assert.equal(errorCode(method), 'UNSUPPORTED');
      assert.equal(method.header('docker-distribution-api-version'), 'registry/2.0');
    });

    it('blob bytes in a tag path cannot be reached through odd digests', async () => {
      const digest = await pushBlob(reg, 'safe/app', bytes(10, 1));
      const res = await reg.request('GET', `/v2/safe/app/blobs/${digest.replace(':', '%3A')}`);
      assert.equal(res.status, 400);
      assert.equal(errorCode(res), 'DIGEST_INVALID');
    });
  });

  describe(`read-only mode (${factory.name})`, () => {
    let reg: TestRegistry;
    before(async () => {
      // Content written while writable, then served by a read-only registry over the same storage.
      const writable = await startTestRegistry(factory, {});
      await pushImage(writable, 'ro/app', 'v1', { layers: 1 });
      reg = writable;
    });
    after(async () => reg.close());

    it('every write answers 405 UNSUPPORTED, reads still work', async () => {
      const { createRegistry } = await import('../../src/registry/registry.js');
      const { createServer } = await import('node:http');
      const readOnly = createRegistry(reg.driver, { readOnly: true, deleteEnabled: true });
      const server = createServer((req, res) => void readOnly.handle(req, res));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      const { rawRequest } = await import('./harness.js');
      try {
        assert.equal((await rawRequest(port, 'GET', '/v2/ro/app/manifests/v1')).status, 200);
        for (const [method, path] of [
          ['POST', '/v2/ro/app/blobs/uploads/'],
          ['PUT', '/v2/ro/app/manifests/v2'],
          ['DELETE', '/v2/ro/app/manifests/v1'],
          ['PATCH', '/v2/ro/app/blobs/uploads/0f0e2c7e-3c1a-4c8b-9a41-7e2b4f6d8a10'],
        ] as const) {
          const res = await rawRequest(port, method, path, { body: '{}' });
          assert.equal(res.status, 405, `${method} ${path}`);
          assert.equal(errorCode(res), 'UNSUPPORTED');
          assert.match(res.body.toString(), /read-only/);
        }
      } finally {
        await new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        });
      }
    });
  });
}
