import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseContentRange, parseRange } from '../../src/registry/range.js';

test('blob Range header', () => {
  const size = 100;
  assert.deepEqual(parseRange(undefined, size), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=0-9', size), { kind: 'partial', start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', size), { kind: 'partial', start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=90-1000', size), { kind: 'partial', start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', size), { kind: 'partial', start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-1000', size), { kind: 'partial', start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=100-', size), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=9-0', size), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', size), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-', size), { kind: 'unsatisfiable' });
  // RFC 9110 §14.2: a unit the server does not know is ignored (the whole blob).
  assert.deepEqual(parseRange('items=0-1', size), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=0-1,5-6', size), { kind: 'whole' });
  // Overlapping or adjacent ranges are one range.
  assert.deepEqual(parseRange('bytes=0-5,3-9', size), { kind: 'partial', start: 0, end: 9 });
  assert.deepEqual(parseRange('Bytes=0-0', size), { kind: 'partial', start: 0, end: 0 });
  assert.deepEqual(parseRange('bytes=abc', size), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-10', 0), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('nonsense', size), { kind: 'whole' });
});

test('upload Content-Range header', () => {
  assert.equal(parseContentRange(undefined), undefined);
  assert.deepEqual(parseContentRange('0-99'), { start: 0, end: 99 });
  assert.deepEqual(parseContentRange('bytes 100-199/200'), { start: 100, end: 199 });
  assert.deepEqual(parseContentRange('bytes 100-199/*'), { start: 100, end: 199 });
  assert.equal(parseContentRange('99-0'), 'invalid');
  assert.equal(parseContentRange('abc'), 'invalid');
  assert.equal(parseContentRange('-5'), 'invalid');
});
