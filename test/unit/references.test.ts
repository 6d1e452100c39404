import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Digest, parseManifestReference, validateName, validateUploadId } from '../../src/registry/references.js';
import { RegistryError } from '../../src/registry/errors.js';

const H = 'a'.repeat(64);

const validNames = ['a', 'library/ubuntu', 'a.b/c_d/e__f/g-h/i---j', 'x0/y1', 'a'.repeat(255), 'foo/manifests/bar'];
const invalidNames = [
  '', 'A', 'a/', '/a', 'a//b', '../a', 'a/../b', 'a/./b', '.', '..', 'a.', '-a', 'a-', 'a___b', 'a%2fb', 'a%2e%2e',
  'a\u0000b', 'a/b/', 'a'.repeat(256), 'a b', 'a:b', '_catalog', 'a/_manifests',
];

for (const name of validNames) test(`valid name ${name.slice(0, 40)}`, () => assert.equal(validateName(name), name));
for (const name of invalidNames) {
  test(`invalid name ${JSON.stringify(name.slice(0, 40))}`, () => {
    assert.throws(() => validateName(name), (e: unknown) => e instanceof RegistryError && e.code === 'NAME_INVALID' && e.status === 400);
  });
}

const digests: Array<[string, boolean]> = [
  [`sha256:${H}`, true],
  [`sha512:${'b'.repeat(128)}`, true],
  [`sha256:${'A'.repeat(64)}`, false],
  [`sha256:${H.slice(1)}`, false],
  [`sha256:${H}0`, false],
  [`md5:${'a'.repeat(32)}`, false],
  ['sha256:', false],
  [':abc', false],
  [`sha256:../${H}`, false],
  [`sha256%3a${H}`, false],
];
for (const [value, ok] of digests) {
  test(`digest ${value.slice(0, 30)} ${ok ? 'valid' : 'invalid'}`, () => {
    if (ok) assert.equal(Digest.parse(value).toString(), value);
    else assert.throws(() => Digest.parse(value), (e: unknown) => e instanceof RegistryError && e.code === 'DIGEST_INVALID');
  });
}

test('digest of content', () => {
  assert.equal(Digest.ofContent(Buffer.from('')).toString(), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('manifest references: tags and digests', () => {
  assert.deepEqual(parseManifestReference('latest'), { tag: 'latest' });
  assert.equal(parseManifestReference(`sha256:${H}`).digest?.toString(), `sha256:${H}`);
  assert.equal(parseManifestReference('_a.B-9').tag, '_a.B-9');
  for (const bad of ['.a', '-a', 'a'.repeat(129), 'a/b', '..', 'a%2f']) {
    assert.throws(() => parseManifestReference(bad), (e: unknown) => e instanceof RegistryError && e.code === 'TAG_INVALID', bad);
  }
  assert.equal(parseManifestReference('a'.repeat(128)).tag, 'a'.repeat(128));
});

test('upload ids must be UUIDs', () => {
  assert.equal(validateUploadId('0f0e2c7e-3c1a-4c8b-9a41-7e2b4f6d8a10'), '0f0e2c7e-3c1a-4c8b-9a41-7e2b4f6d8a10');
  for (const bad of ['..', 'x', '0f0e2c7e-3c1a-4c8b-9a41-7e2b4f6d8a10/..', '']) {
    assert.throws(() => validateUploadId(bad), (e: unknown) => e instanceof RegistryError && e.code === 'BLOB_UPLOAD_UNKNOWN');
  }
});
