import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accepts, MEDIA_TYPES, parseManifest } from '../../src/registry/manifests.js';
import { RegistryError } from '../../src/registry/errors.js';

const H = (c: string): string => `sha256:${c.repeat(64)}`;
const desc = (mediaType: string, c: string, size = 10): object => ({ mediaType, digest: H(c), size });
const buf = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const invalid = (e: unknown): boolean => e instanceof RegistryError && e.code === 'MANIFEST_INVALID';

test('OCI image manifest with subject and artifactType', () => {
  const m = parseManifest(
    buf({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, artifactType: 'application/x-sig', config: desc(MEDIA_TYPES.ociEmpty, 'a', 2), layers: [desc('application/x', 'b')], subject: desc(MEDIA_TYPES.ociManifest, 'c') }),
  );
  assert.equal(m.kind, 'image');
  assert.equal(m.blobs.length, 2);
  assert.equal(m.subject?.digest.toString(), H('c'));
  assert.equal(m.artifactType, 'application/x-sig');
});

test('artifactType falls back to the config media type', () => {
  const m = parseManifest(buf({ schemaVersion: 2, config: desc('application/vnd.example.config', 'a'), layers: [] }), MEDIA_TYPES.ociManifest);
  assert.equal(m.artifactType, 'application/vnd.example.config');
  assert.equal(m.mediaType, MEDIA_TYPES.ociManifest);
});

test('index and manifest list', () => {
  for (const mediaType of [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList]) {
    const m = parseManifest(buf({ schemaVersion: 2, mediaType, manifests: [desc(MEDIA_TYPES.ociManifest, 'd')] }));
    assert.equal(m.kind, 'index');
    assert.equal(m.manifests[0]!.digest.toString(), H('d'));
  }
  assert.equal(parseManifest(buf({ schemaVersion: 2, manifests: [] })).mediaType, MEDIA_TYPES.ociIndex);
});

test('docker schema2', () => {
  const m = parseManifest(buf({ schemaVersion: 2, mediaType: MEDIA_TYPES.dockerManifest, config: desc('application/vnd.docker.container.image.v1+json', 'a'), layers: [desc('application/vnd.docker.image.rootfs.diff.tar.gzip', 'b')] }), MEDIA_TYPES.dockerManifest);
  assert.equal(m.mediaType, MEDIA_TYPES.dockerManifest);
});

test('refusals', () => {
  assert.throws(() => parseManifest(Buffer.from('{not json')), invalid);
  assert.throws(() => parseManifest(Buffer.from('[]')), invalid);
  assert.throws(() => parseManifest(buf({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] })), (e: unknown) => invalid(e) && /schema1/.test((e as Error).message));
  assert.throws(() => parseManifest(buf({ schemaVersion: 2 }), MEDIA_TYPES.dockerSchema1Signed), invalid);
  assert.throws(() => parseManifest(buf({ schemaVersion: 3, config: desc('a/b', 'a') })), invalid);
  assert.throws(() => parseManifest(buf({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] }), MEDIA_TYPES.ociManifest), invalid);
  assert.throws(() => parseManifest(buf({ schemaVersion: 2, mediaType: 'application/x-other', config: desc('a/b', 'a') })), invalid);
  assert.throws(() => parseManifest(buf({ schemaVersion: 2, layers: [] })), invalid);
  assert.throws(() => parseManifest(buf({ schemaVersion: 2, config: { mediaType: 'a/b', digest: 'sha256:zz', size: 1 } })), invalid);
  assert.throws(() => parseManifest(buf({ schemaVersion: 2, config: { mediaType: 'a/b', digest: H('a'), size: -1 } })), invalid);
  assert.throws(() => parseManifest(buf({ schemaVersion: 2, config: desc('a/b', 'a'), layers: {} })), invalid);
});

test('Accept negotiation', () => {
  assert.ok(accepts(undefined, MEDIA_TYPES.ociIndex));
  assert.ok(accepts('*/*', MEDIA_TYPES.ociIndex));
  assert.ok(accepts(`${MEDIA_TYPES.dockerManifest}, ${MEDIA_TYPES.ociIndex};q=0.5`, MEDIA_TYPES.ociIndex));
  assert.ok(!accepts(MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociIndex));
  // q-values: q=0 refuses a type, even under a wildcard.
  assert.ok(!accepts(`${MEDIA_TYPES.dockerManifest}, ${MEDIA_TYPES.ociIndex};q=0`, MEDIA_TYPES.ociIndex));
  assert.ok(!accepts(`*/*, ${MEDIA_TYPES.ociIndex};q=0`, MEDIA_TYPES.ociIndex));
  assert.ok(accepts('application/*;q=0.1', MEDIA_TYPES.ociIndex));
  assert.ok(accepts('application/json', MEDIA_TYPES.ociManifest));
  assert.ok(accepts('not a media type', MEDIA_TYPES.ociManifest));
  assert.ok(!accepts(`${MEDIA_TYPES.ociIndex};q=0`, MEDIA_TYPES.ociIndex));
});
