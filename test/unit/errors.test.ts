import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_TABLE, RegistryError, errorEnvelope } from '../../src/registry/errors.js';

// The OCI distribution-spec error codes and the statuses Distribution answers them with.
const expected: Record<string, number> = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  TAG_INVALID: 400,
  RANGE_INVALID: 416,
  PAGINATION_NUMBER_INVALID: 400,
  UNAVAILABLE: 503,
  UNKNOWN: 500,
};

test('the error table is exactly the spec codes plus Distribution extras, with their statuses', () => {
  assert.deepEqual(Object.fromEntries(Object.entries(ERROR_TABLE).map(([k, v]) => [k, v.status])), expected);
  for (const entry of Object.values(ERROR_TABLE)) assert.ok(entry.message.length > 0);
});

test('envelope shape', () => {
  const err = new RegistryError('BLOB_UNKNOWN', { digest: 'sha256:x' });
  assert.deepEqual(errorEnvelope(err), { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: { digest: 'sha256:x' } }] });
  assert.deepEqual(errorEnvelope(new RegistryError('DENIED')), { errors: [{ code: 'DENIED', message: ERROR_TABLE.DENIED.message }] });
});

test('status override for size limits', () => {
  assert.equal(new RegistryError('SIZE_INVALID', undefined, { status: 413 }).status, 413);
  assert.equal(new RegistryError('SIZE_INVALID').status, 400);
});
