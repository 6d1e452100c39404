import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathFor, linkContent, referrerEntryPath, referrersIndexedMarkerPath, referrersRootPath, referrersSubjectPath, type PathSpec } from '../../src/storage/paths.js';

const d = { algorithm: 'sha256', encoded: 'ab'.repeat(32) };
const R = '/docker/registry/v2';
const H = d.encoded;

// The exact strings CNCF Distribution 2.8 uses (storage/paths.go), so both can share one root.
const table: Array<[PathSpec, string]> = [
  [{ kind: 'blobData', digest: d }, `${R}/blobs/sha256/ab/${H}/data`],
  [{ kind: 'blobDir', digest: d }, `${R}/blobs/sha256/ab/${H}`],
  [{ kind: 'repository', name: 'library/ubuntu' }, `${R}/repositories/library/ubuntu`],
  [{ kind: 'layersRoot', name: 'a/b' }, `${R}/repositories/a/b/_layers`],
  [{ kind: 'layerLink', name: 'a/b', digest: d }, `${R}/repositories/a/b/_layers/sha256/${H}/link`],
  [{ kind: 'manifestRevisionsRoot', name: 'foo' }, `${R}/repositories/foo/_manifests/revisions`],
  [{ kind: 'manifestRevisionDir', name: 'foo', digest: d }, `${R}/repositories/foo/_manifests/revisions/sha256/${H}`],
  [{ kind: 'manifestRevisionLink', name: 'foo', digest: d }, `${R}/repositories/foo/_manifests/revisions/sha256/${H}/link`],
  [{ kind: 'tagsRoot', name: 'foo' }, `${R}/repositories/foo/_manifests/tags`],
  [{ kind: 'tagDir', name: 'foo', tag: 'v1' }, `${R}/repositories/foo/_manifests/tags/v1`],
  [{ kind: 'tagCurrentLink', name: 'foo', tag: 'v1' }, `${R}/repositories/foo/_manifests/tags/v1/current/link`],
  [{ kind: 'tagIndexRoot', name: 'foo', tag: 'v1' }, `${R}/repositories/foo/_manifests/tags/v1/index`],
  [{ kind: 'tagIndexLink', name: 'foo', tag: 'v1', digest: d }, `${R}/repositories/foo/_manifests/tags/v1/index/sha256/${H}/link`],
  [{ kind: 'uploadsRoot', name: 'foo' }, `${R}/repositories/foo/_uploads`],
  [{ kind: 'uploadDir', name: 'foo', id: 'u1' }, `${R}/repositories/foo/_uploads/u1`],
  [{ kind: 'uploadData', name: 'foo', id: 'u1' }, `${R}/repositories/foo/_uploads/u1/data`],
  [{ kind: 'uploadStartedAt', name: 'foo', id: 'u1' }, `${R}/repositories/foo/_uploads/u1/startedat`],
  [{ kind: 'uploadHashStates', name: 'foo', id: 'u1', algorithm: 'sha256' }, `${R}/repositories/foo/_uploads/u1/hashstates/sha256`],
];

for (const [spec, expected] of table) {
  test(`pathFor ${spec.kind}`, () => assert.equal(pathFor(spec), expected));
}

test('link content is the digest string', () => {
  assert.equal(linkContent(d).toString(), `sha256:${H}`);
});

test('referrers index paths sit under the repository, one entry per subject and referrer', () => {
  const s = { algorithm: 'sha256', encoded: 'cd'.repeat(32) };
  assert.equal(referrersRootPath('a/b'), `${R}/regate/referrers/a/b/_referrers`);
  assert.equal(referrersIndexedMarkerPath('a/b'), `${R}/regate/referrers/a/b/_referrers/_indexed`);
  assert.equal(referrersSubjectPath('a/b', s), `${R}/regate/referrers/a/b/_referrers/sha256/${s.encoded}`);
  assert.equal(referrerEntryPath('a/b', s, d), `${R}/regate/referrers/a/b/_referrers/sha256/${s.encoded}/sha256/${H}`);
});
