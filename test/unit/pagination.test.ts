import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paginate } from '../../src/registry/pagination.js';
import { RegistryError } from '../../src/registry/errors.js';

const items = ['a', 'b', 'c', 'd', 'e'];
const q = (s: string): URLSearchParams => new URLSearchParams(s);

test('pagination with n and last', () => {
  assert.deepEqual(paginate(items, q(''), '/p', 1000), { items });
  assert.deepEqual(paginate(items, q('n=2'), '/p', 1000), { items: ['a', 'b'], link: '</p?n=2&last=b>; rel="next"' });
  assert.deepEqual(paginate(items, q('n=2&last=b'), '/p', 1000), { items: ['c', 'd'], link: '</p?n=2&last=d>; rel="next"' });
  assert.deepEqual(paginate(items, q('n=2&last=d'), '/p', 1000), { items: ['e'] });
  assert.deepEqual(paginate(items, q('last=bb'), '/p', 1000), { items: ['c', 'd', 'e'] });
  assert.deepEqual(paginate(items, q('last=z'), '/p', 1000), { items: [] });
  assert.deepEqual(paginate(items, q('n=0'), '/p', 1000), { items: [] });
  assert.deepEqual(paginate(items, q(''), '/p', 3, 3), { items: ['a', 'b', 'c'], link: '</p?n=3&last=c>; rel="next"' });
  assert.deepEqual(paginate(items, q('n=10'), '/p', 3), { items: ['a', 'b', 'c'], link: '</p?n=3&last=c>; rel="next"' });
});

test('a huge n is capped by the maximum like any other n', () => {
  assert.equal(paginate(items, q('n=99999999999'), '/p', 2).items.length, 2);
});

test('a bad n is PAGINATION_NUMBER_INVALID', () => {
  for (const n of ['-1', 'x', '1.5', '1e3', ' 5']) {
    assert.throws(() => paginate(items, q(`n=${n}`), '/p', 10), (e: unknown) => e instanceof RegistryError && e.code === 'PAGINATION_NUMBER_INVALID', n);
  }
});
